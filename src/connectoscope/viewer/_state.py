"""Neuroglancer state for a dataset: EM image, segmentation with meshes, skeletons."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ..dataset import Dataset
    from ..segmentation import Selection

__all__ = ["annotation_layer", "viewer_state", "viewer_url"]


def viewer_state(
    dataset: Dataset, base_url: str, *, selection: Selection | None = None
) -> dict[str, Any]:
    """The Neuroglancer state JSON for ``dataset`` served at ``base_url`` (``.../data``).

    Parameters
    ----------
    dataset : Dataset
    base_url : str
        Where the dataset directory is served (``http://127.0.0.1:PORT/data`` for
        :func:`view`; any static host with HTTP Range and CORS for a public Neuroglancer).
    selection : Selection, optional
        Segments to show (``where``/``each``); their synapses only, when given.

    Returns
    -------
    dict
        Layers: ``em`` (OME-Zarr image), ``segmentation`` (OME-Zarr labels + precomputed
        meshes, segment properties and skeletons when present, the selection's segments
        visible), ``synapses`` (precomputed point annotations, when written: see
        :func:`connectoscope.viewer.write_dataset_annotations`). Positions are voxels of the
        finest level, dimensions in metres (Neuroglancer's convention).
    """
    data = base_url.rstrip("/")
    layers: list[dict[str, Any]] = []
    if dataset.has_layer("image"):
        layers.append({"type": "image", "name": "em", "source": f"zarr3://{data}/volume.ome.zarr/"})
    if dataset.has_layer("segmentation"):
        sources: list[Any] = [f"zarr3://{data}/volume.ome.zarr/labels/segmentation/"]
        if (dataset.layout.meshes / "info").exists():
            sources.append(f"precomputed://{data}/meshes")
        if (dataset.layout.skeletons / "info").exists():
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
    ann = annotation_layer(dataset, data, selection=selection)
    if ann is not None:
        layers.append(ann)
    vs = dataset.voxel_size
    state: dict[str, Any] = {
        "dimensions": {"x": [vs.x * 1e-9, "m"], "y": [vs.y * 1e-9, "m"], "z": [vs.z * 1e-9, "m"]},
        "layers": layers,
        "layout": "4panel",
        "showDefaultAnnotations": False,
    }
    if dataset.has_layer("segmentation"):
        z, y, x = dataset.segmentation.shape_zyx(0)
        # the volume's centre in the dataset's nm (offset included), in units of the voxel
        centre_nm = dataset.frame.to_nm([[x / 2 - 0.5, y / 2 - 0.5, z / 2 - 0.5]])[0]
        state["position"] = (centre_nm / np.asarray(vs.xyz)).tolist()
        state["crossSectionScale"] = max(x, y) / 512
        state["projectionScale"] = max(x, y) * 1.5
    return state


def annotation_layer(
    dataset: Dataset, base_url: str, *, selection: Selection | None = None
) -> dict[str, Any] | None:
    """The ``synapses`` annotation layer of the state, or None when no annotations exist.

    Points are linked to the ``segmentation`` layer through the ``pre_segment`` and
    ``post_segment`` relationships; with a selection, only the selected segments' synapses
    are shown (Neuroglancer's ``filterBySegmentation``, served by the relationship indices).
    """
    info_path = dataset.layout.synapse_annotations / "info"
    if not info_path.is_file():
        return None
    info = json.loads(info_path.read_text())
    rels = [r["id"] for r in info.get("relationships", [])]
    layer: dict[str, Any] = {
        "type": "annotation",
        "name": "synapses",
        "source": f"precomputed://{base_url.rstrip('/')}/"
        f"{dataset.layout.relative(dataset.layout.synapse_annotations)}",
        "annotationColor": "#ffcc00",
    }
    if dataset.has_layer("segmentation") and rels:
        layer["linkedSegmentationLayer"] = {r: "segmentation" for r in rels}
        if selection is not None:
            layer["filterBySegmentation"] = rels
    if any(p["id"] == "size" for p in info.get("properties", [])):
        layer["shader"] = (
            "void main() {\n  setColor(defaultColor());\n"
            "  setPointMarkerSize(clamp(2.0 + 0.25 * sqrt(prop_size()), 3.0, 14.0));\n}\n"
        )
    return layer


def viewer_url(base: str, state: dict[str, Any]) -> str:
    """``base/#!{state}`` with the JSON escaped for a URL fragment."""
    return f"{base.rstrip('/')}/#!" + quote(
        json.dumps(state, separators=(",", ":")), safe=':/,[]{}"='
    )
