"""Neuroglancer precomputed skeletons (for the viewer).

``info``: ``{"@type": "neuroglancer_skeletons", "vertex_attributes": [radius float32,
compartment float32]}``; one file per id: uint32 vertex count, uint32 edge count, float32
x, y, z vertices (nm), uint32 edge pairs (child, parent), then each vertex attribute.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ._skeleton import Skeleton

__all__ = ["encode_skeleton", "write_precomputed_skeletons"]


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
