"""Reading precomputed skeletons from any writer, local or remote, sharded or not.

A ``neuroglancer_skeletons`` folder: ``info`` (``vertex_attributes``, optional ``transform``
(3 x 4, row major: stored vertex -> model space, nm), optional ``sharding``) and one value per
segment id (file ``<id>``, ``<id>.gz``, or the sharded value of the id). The encoding is
:func:`~connectoscope.precomputed.decode_skeleton`'s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._kvstore import Location
from ..errors import DataFormatError, SourceNotFoundError
from ._layer import PrecomputedLayer, open_layer
from ._skeleton import decode_skeleton

__all__ = ["SkeletonArrays", "read_skeleton", "skeleton_layer_info"]


@dataclass(frozen=True)
class SkeletonArrays:
    """A skeleton read from a precomputed layer.

    Attributes
    ----------
    vertices : (N, 3) float64
        x, y, z in model space (nm), ``transform`` applied.
    edges : (E, 2) int64
        Vertex index pairs, as stored.
    attributes : dict of str to ndarray
        Each vertex attribute of the ``info`` (``(N,)`` or ``(N, k)``).
    segment_id : int
    """

    vertices: np.ndarray
    edges: np.ndarray
    attributes: dict[str, np.ndarray]
    segment_id: int


def _skeleton_layer(url: str | os.PathLike[str] | Location) -> PrecomputedLayer:
    layer = open_layer(url)
    if layer.type == "neuroglancer_skeletons":
        return layer
    sk = layer.info.get("skeletons")
    if sk and "scales" in layer.info:
        return open_layer(layer.loc.child(str(sk)), expect=("neuroglancer_skeletons",))
    if layer.type == "" and "vertex_attributes" in layer.info:
        return layer
    raise DataFormatError(
        f"{layer.url}: @type {layer.type!r} is not a skeleton layer (expected "
        "neuroglancer_skeletons, or a volume whose info names a skeletons folder)"
    )


def read_skeleton(url: str | os.PathLike[str] | Location, segment_id: int) -> SkeletonArrays:
    """Read one segment's skeleton from a precomputed skeleton layer (path or URL).

    Raises
    ------
    SourceNotFoundError
        No skeleton for that id.
    DataFormatError
        Bytes that do not match the ``info``'s vertex attributes.
    """
    layer = _skeleton_layer(url)
    sid = int(segment_id)
    sharded = layer.sharded()
    raw = sharded.get(sid) if sharded is not None else layer.get(str(sid))
    if raw is None:
        raise SourceNotFoundError(f"{layer.url}: no skeleton for segment {sid}")
    attrs = layer.info.get("vertex_attributes") or []
    v, e, feats = decode_skeleton(raw, vertex_attributes=attrs, source=f"{layer.url}/{sid}")
    tr = layer.info.get("transform")
    if tr is not None:
        m = np.asarray(tr, np.float64).reshape(3, 4)
        v = v @ m[:, :3].T + m[:, 3]
    return SkeletonArrays(v, e, feats, sid)


def skeleton_layer_info(url: str | os.PathLike[str] | Location) -> dict[str, Any]:
    """Type, vertex attributes, transform, sharding and (local, unsharded) id count."""
    layer = _skeleton_layer(url)
    out: dict[str, Any] = {
        "url": layer.url,
        "type": layer.type or "neuroglancer_skeletons",
        "vertex_attributes": layer.info.get("vertex_attributes", []),
    }
    for k in ("transform", "sharding", "segment_properties", "spatial_index"):
        if layer.info.get(k):
            out[k] = layer.info[k]
    lp = layer.loc.local_path
    if lp is not None and layer.sharded() is None:
        out["segments"] = sum(1 for p in lp.iterdir() if p.name.split(".")[0].isdigit())
    return out
