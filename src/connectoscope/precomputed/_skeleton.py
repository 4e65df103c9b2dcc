"""Neuroglancer precomputed skeletons: arrays in, bytes and files out, and back.

``info``: ``{"@type": "neuroglancer_skeletons", "vertex_attributes": [...]}``; one file per
id: uint32 vertex count, uint32 edge count, float32 x, y, z vertices (nm), uint32 edge
pairs, then each vertex attribute (all little endian). Our writer stores ``radius`` and
``compartment`` (float32) and edges as (child, parent).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import write_bytes_atomic, write_json_atomic
from ..errors import DataFormatError

__all__ = [
    "DEFAULT_VERTEX_ATTRIBUTES",
    "decode_skeleton",
    "encode_skeleton",
    "skeleton_info",
    "write_skeletons",
]

#: The vertex attributes our writer stores, as the ``info`` file lists them.
DEFAULT_VERTEX_ATTRIBUTES: list[dict[str, Any]] = [
    {"id": "radius", "data_type": "float32", "num_components": 1},
    {"id": "compartment", "data_type": "float32", "num_components": 1},
]


def skeleton_info(
    vertex_attributes: list[dict[str, Any]] | None = None,
    *,
    segment_properties: str | None = None,
) -> dict[str, Any]:
    """The ``info`` document of a skeleton folder."""
    info: dict[str, Any] = {
        "@type": "neuroglancer_skeletons",
        "vertex_attributes": list(vertex_attributes or DEFAULT_VERTEX_ATTRIBUTES),
    }
    if segment_properties:
        info["segment_properties"] = segment_properties
    return info


def encode_skeleton(
    vertices_nm: np.ndarray,
    edges: np.ndarray,
    attributes: Mapping[str, np.ndarray] | None = None,
    *,
    vertex_attributes: list[dict[str, Any]] | None = None,
) -> bytes:
    """Binary encoding of one skeleton.

    Parameters
    ----------
    vertices_nm : (N, 3) float
        x, y, z in nm (stored as float32).
    edges : (E, 2) int
        Vertex index pairs.
    attributes : mapping of str to (N,) or (N, k) array
        One array per entry of ``vertex_attributes`` (default radius and compartment).

    >>> b = encode_skeleton(np.zeros((2, 3)), np.array([[1, 0]]),
    ...                     {"radius": np.ones(2), "compartment": np.zeros(2)})
    >>> v, e, a = decode_skeleton(b)
    >>> e.tolist(), a["radius"].tolist()
    ([[1, 0]], [1.0, 1.0])
    """
    specs = vertex_attributes or DEFAULT_VERTEX_ATTRIBUTES
    v = np.ascontiguousarray(vertices_nm, "<f4").reshape(-1, 3)
    e = np.ascontiguousarray(edges, "<u4").reshape(-1, 2)
    attrs = attributes or {}
    parts = [np.array([len(v), len(e)], "<u4").tobytes(), v.tobytes(), e.tobytes()]
    for spec in specs:
        dt = np.dtype(spec["data_type"]).newbyteorder("<")
        k = int(spec.get("num_components", 1))
        a = attrs.get(spec["id"])
        arr = np.zeros((len(v), k), dt) if a is None else np.asarray(a, dt).reshape(len(v), k)
        parts.append(np.ascontiguousarray(arr).tobytes())
    return b"".join(parts)


def decode_skeleton(
    data: bytes,
    *,
    vertex_attributes: list[dict[str, Any]] | None = None,
    source: str = "skeleton",
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Inverse of :func:`encode_skeleton`.

    Returns
    -------
    (vertices, edges, attributes)
        ``(N, 3)`` float64 nm (float32 precision), ``(E, 2)`` int64, and one array per
        vertex attribute (``(N,)`` when it has one component).

    Raises
    ------
    DataFormatError
        The byte count does not match the counts and attributes (names ``source``).
    """
    attrs = vertex_attributes if vertex_attributes is not None else DEFAULT_VERTEX_ATTRIBUTES
    if len(data) < 8:
        raise DataFormatError(f"{source}: {len(data)} bytes, too short for a precomputed skeleton")
    nv, ne = (int(x) for x in np.frombuffer(data[:8], "<u4"))
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
    if ne and int(e.max()) >= nv:
        raise DataFormatError(f"{source}: an edge refers to vertex {int(e.max())} of {nv}")
    feats: dict[str, np.ndarray] = {}
    for a in attrs:
        dt = np.dtype(a["data_type"]).newbyteorder("<")
        k = int(a.get("num_components", 1))
        arr = np.frombuffer(data, dt, nv * k, off)
        off += nv * k * dt.itemsize
        feats[str(a["id"])] = arr.reshape(nv, k)[:, 0].copy() if k == 1 else arr.reshape(nv, k)
    return v, e, feats


#: A skeleton with no vertices and no edges (what members other than an object's
#: representative are given: see :func:`segment_skeleton_keys`).
EMPTY_SKELETON = struct.pack("<II", 0, 0)


def segment_skeleton_keys(
    object_id: int, segments: Mapping[int, np.ndarray] | None
) -> list[tuple[int, bool]]:
    """The segment ids ``object_id``'s skeleton is looked up by, each with whether it holds
    the skeleton: Neuroglancer asks for every member of a shown object, so the smallest (the
    representative of the object's equivalence class in the viewer) holds it and the others
    an empty skeleton, and the viewer draws the object once, not once per segment. Without
    ``segments`` (or an entry for the object) the object id is the segment id."""
    ids = segments.get(object_id, [object_id]) if segments is not None else [object_id]
    members = np.unique(np.asarray(ids, np.uint64).reshape(-1)).tolist()
    return [(int(seg), k == 0) for k, seg in enumerate(members)]


def _link(src: Path, link: Path) -> None:
    """``link`` names the same bytes as ``src`` (a hard link; a copy where links fail)."""
    link.unlink(missing_ok=True)
    try:
        os.link(src, link)
    except OSError:
        write_bytes_atomic(link, src.read_bytes())


def write_skeletons(
    folder: str | os.PathLike[str],
    encoded: Mapping[int, bytes],
    *,
    segments: Mapping[int, np.ndarray] | None = None,
    info: dict[str, Any] | None = None,
) -> Path:
    """Write ``info`` and one file per skeleton into ``folder`` (unsharded).

    ``encoded`` maps an object id to its bytes (:func:`encode_skeleton`); it is stored as
    ``object_<id>``. With ``segments`` (object id -> segment ids) the object's smallest
    segment id gets the skeleton (a hard link, a copy where links fail) and every other
    member an empty one (:func:`segment_skeleton_keys`).
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "info", info or skeleton_info())
    empty: Path | None = None
    for sid, data in encoded.items():
        target = write_bytes_atomic(out / f"object_{int(sid)}", data)
        for seg, holds in segment_skeleton_keys(int(sid), segments):
            src = target
            if not holds:
                if empty is None:
                    empty = write_bytes_atomic(out / "object_empty", EMPTY_SKELETON)
                src = empty
            _link(src, out / str(seg))
    return out
