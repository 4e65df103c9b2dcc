"""Neuroglancer state for a dataset: EM image, segmentation with meshes, skeletons."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:  # pragma: no cover
    from ..dataset import Dataset
    from ..segmentation import Selection

__all__ = ["viewer_state", "viewer_url"]


def viewer_state(
    dataset: Dataset, base_url: str, *, selection: Selection | None = None
) -> dict[str, Any]:
    """The Neuroglancer state JSON for ``dataset`` served at ``base_url`` (``.../data``).

    Layers: ``em`` (OME-Zarr image), ``segmentation`` (OME-Zarr labels + precomputed meshes
    and segment properties when present, the selection's segments visible), ``skeletons``.
    """
    data = base_url.rstrip("/")
    layers: list[dict[str, Any]] = []
    if dataset.has_layer("image"):
        layers.append({"type": "image", "name": "em", "source": f"zarr3://{data}/volume.ome.zarr/"})
    if dataset.has_layer("segmentation"):
        sources: list[Any] = [f"zarr3://{data}/volume.ome.zarr/labels/segmentation/"]
        if (dataset.path / "meshes" / "info").exists():
            sources.append(f"precomputed://{data}/meshes")
        if (dataset.path / "skeletons" / "info").exists():
            sources.append(f"precomputed://{data}/skeletons")
        seg: dict[str, Any] = {"type": "segmentation", "name": "segmentation", "source": sources}
        if selection is not None:
            ids = sorted(
                {
                    int(s)
                    for segs in selection.groups(dataset.objects).values()
                    for s in segs.tolist()
                }
            )
            seg["segments"] = [str(i) for i in ids]
        layers.append(seg)
    vs = dataset.voxel_size
    state: dict[str, Any] = {
        "dimensions": {"x": [vs.x * 1e-9, "m"], "y": [vs.y * 1e-9, "m"], "z": [vs.z * 1e-9, "m"]},
        "layers": layers,
        "layout": "4panel",
        "showDefaultAnnotations": False,
    }
    if dataset.has_layer("segmentation"):
        z, y, x = dataset.segmentation.shape_zyx(0)
        state["position"] = [x / 2, y / 2, z / 2]
        state["crossSectionScale"] = max(x, y) / 512
        state["projectionScale"] = max(x, y) * 1.5
    return state


def viewer_url(base: str, state: dict[str, Any]) -> str:
    """``base/#!{state}`` with the JSON escaped for a URL fragment."""
    return f"{base.rstrip('/')}/#!" + quote(
        json.dumps(state, separators=(",", ":")), safe=':/,[]{}"='
    )
