"""Neuroglancer precomputed legacy meshes and segment properties.

``meshes/info``: ``{"@type": "neuroglancer_legacy_mesh", "segment_properties":
"segment_properties"}``; per segment id a manifest ``<id>:0`` = ``{"fragments": [...]}``;
a fragment file = uint32 vertex count, float32 x, y, z vertices (nm), uint32 triangle
indices. Object meshes are written once (``obj_<kind>_<id>``) and every segment id of the
object points to them, so selecting any segment of a neuron shows the whole neuron.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._mesh import Mesh

if TYPE_CHECKING:  # pragma: no cover
    from ..segmentation import ObjectMaps

__all__ = ["write_legacy_meshes", "write_segment_properties"]


def _fragment(mesh: Mesh) -> bytes:
    v = np.ascontiguousarray(mesh.vertices, "<f4")
    f = np.ascontiguousarray(mesh.faces, "<u4")
    return np.uint32(len(v)).tobytes() + v.tobytes() + f.tobytes()


def write_legacy_meshes(
    folder: Path, meshes: Mapping[int, Mesh], segments: Mapping[int, np.ndarray], *, prefix: str
) -> int:
    """Write fragments and manifests; ``segments[group]`` lists the segment ids that show
    group ``group``'s mesh. Returns the number of manifests written."""
    folder.mkdir(parents=True, exist_ok=True)
    info = folder / "info"
    if not info.exists():
        info.write_text(
            json.dumps(
                {"@type": "neuroglancer_legacy_mesh", "segment_properties": "segment_properties"}
            )
        )
    n = 0
    for gid, mesh in meshes.items():
        name = f"{prefix}_{gid}"
        (folder / name).write_bytes(_fragment(mesh))
        for seg in segments.get(gid, np.array([gid])).tolist():
            (folder / f"{int(seg)}:0").write_text(json.dumps({"fragments": [name]}))
            n += 1
    return n


def write_segment_properties(folder: Path, objects: ObjectMaps) -> Path:
    """``segment_properties/info`` with one number property per kind, so the viewer query
    ``neuron=1`` matches ChimeraX ``where neuron=1``."""
    kinds = objects.kinds
    ids = (
        np.unique(np.concatenate([objects.segments(k) for k in kinds]))
        if kinds
        else np.zeros(0, np.uint64)
    )
    props = []
    for k in kinds:
        vals = objects.lookup(k, ids)
        props.append(
            {"id": k, "type": "number", "data_type": "int32", "values": vals.astype(int).tolist()}
        )
    labels = [""] * len(ids)
    for k in reversed(kinds):  # the first kind (alphabetical) that applies names the segment
        vals = objects.lookup(k, ids)
        for i in np.flatnonzero(vals):
            labels[i] = f"{k} {int(vals[i])}"
    props.insert(0, {"id": "label", "type": "label", "values": labels})
    out = folder / "segment_properties"
    out.mkdir(parents=True, exist_ok=True)
    (out / "info").write_text(
        json.dumps(
            {
                "@type": "neuroglancer_segment_properties",
                "inline": {"ids": [str(i) for i in ids.tolist()], "properties": props},
            }
        )
    )
    return out / "info"
