"""Neuroglancer precomputed skeletons (for the viewer).

``info``: ``{"@type": "neuroglancer_skeletons", "vertex_attributes": [radius float32,
compartment float32]}``; one file per id: uint32 vertex count, uint32 edge count, float32
x, y, z vertices (nm), uint32 edge pairs (child, parent), then each vertex attribute.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._skeleton import Skeleton

__all__ = ["decode_skeleton", "encode_skeleton", "write_precomputed_skeletons"]


def encode_skeleton(sk: Skeleton) -> bytes:
    """Binary precomputed encoding of one skeleton."""
    has = np.flatnonzero(sk.parent >= 0)
    edges = np.stack([has, sk.parent[has]], axis=1).astype("<u4")
    parts = [
        np.array([len(sk), len(edges)], "<u4").tobytes(),
        np.ascontiguousarray(sk.vertices, "<f4").tobytes(),
        edges.tobytes(),
        np.asarray(sk.features["radius"], "<f4").tobytes(),
        np.asarray(sk.features["compartment"], "<f4").tobytes(),
    ]
    return b"".join(parts)


def write_precomputed_skeletons(
    folder: Path,
    skeletons: Mapping[int, Skeleton],
    *,
    segments: Mapping[int, np.ndarray] | None = None,
) -> None:
    """Write ``info`` and one file per skeleton id into ``folder``; with ``segments`` (object
    id -> segment ids) each segment id also gets the object's skeleton (a hard link), since
    Neuroglancer looks skeletons up by the segment ids shown."""
    folder.mkdir(parents=True, exist_ok=True)
    info = {
        "@type": "neuroglancer_skeletons",
        "vertex_attributes": [
            {"id": "radius", "data_type": "float32", "num_components": 1},
            {"id": "compartment", "data_type": "float32", "num_components": 1},
        ],
        "segment_properties": "../meshes/segment_properties",
    }
    (folder / "info").write_text(json.dumps(info))
    import os

    for sid, sk in skeletons.items():
        target = folder / f"object_{int(sid)}"
        target.write_bytes(encode_skeleton(sk))
        ids = segments.get(sid, np.array([sid])) if segments is not None else np.array([sid])
        for seg in ids.tolist():
            link = folder / str(int(seg))
            if link.exists():
                link.unlink()
            try:
                os.link(target, link)
            except OSError:
                link.write_bytes(target.read_bytes())


def decode_skeleton(
    data: bytes, *, vertex_attributes: list[dict[str, Any]] | None = None, source: str = "skeleton"
) -> Skeleton:
    """Skeleton from the binary precomputed encoding (inverse of :func:`encode_skeleton`).

    ``vertex_attributes`` is the ``info`` list (default: radius and compartment, float32, as
    we write them). Vertex indices become node ids; edges (in any orientation) are
    oriented from the lowest vertex index of each piece (our root, as we write parents first). Precomputed stores float32, so coordinates come back rounded to float32.
    """
    from ..errors import DataFormatError

    attrs: list[dict[str, Any]] = (
        vertex_attributes
        if vertex_attributes is not None
        else [
            {"id": "radius", "data_type": "float32", "num_components": 1},
            {"id": "compartment", "data_type": "float32", "num_components": 1},
        ]
    )
    if len(data) < 8:
        raise DataFormatError(f"{source}: {len(data)} bytes, too short for a precomputed skeleton")
    nv, ne = (int(v) for v in np.frombuffer(data[:8], "<u4"))
    need = 8 + nv * 12 + ne * 8
    for a in attrs:
        need += nv * np.dtype(a["data_type"]).itemsize * int(a.get("num_components", 1))
    if len(data) != need:
        raise DataFormatError(
            f"{source}: {len(data)} bytes, expected {need} for {nv} vertices, {ne} edges and "
            f"attributes {[a['id'] for a in attrs]} (is the info file the right one?)"
        )
    off = 8
    v = np.frombuffer(data, "<f4", nv * 3, off).reshape(nv, 3).astype(np.float64)
    off += nv * 12
    e = np.frombuffer(data, "<u4", ne * 2, off).reshape(ne, 2).astype(np.int64)
    off += ne * 8
    feats: dict[str, np.ndarray] = {}
    for a in attrs:
        dt = np.dtype(a["data_type"]).newbyteorder("<")
        k = int(a.get("num_components", 1))
        arr = np.frombuffer(data, dt, nv * k, off)
        off += nv * k * dt.itemsize
        feats[str(a["id"])] = arr.reshape(nv, k)[:, 0] if k == 1 else arr.reshape(nv, k)
    if "compartment" in feats:
        feats["compartment"] = np.rint(feats["compartment"]).astype(np.int32)
    if "radius" in feats:
        feats["radius"] = feats["radius"].astype(np.float64)
    from ._nml import _orient

    # edges may come in any orientation (other writers): root every piece at its lowest
    # vertex index, which for our files (parents first) is the original root
    parent = _orient(nv, e, np.arange(nv), None, source)
    return Skeleton.from_parents(
        np.arange(nv), parent, v, features=feats, source=source, name=source.rsplit("/", 1)[-1]
    )
