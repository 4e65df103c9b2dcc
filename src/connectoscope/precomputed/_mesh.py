"""Neuroglancer precomputed legacy meshes and segment properties.

Layout of a mesh folder (``DS/meshes/``)::

    info                         {"@type": "neuroglancer_legacy_mesh",
                                  "segment_properties": "segment_properties"}
    <segment id>:0               {"fragments": ["frag_<prefix>_<group>_<segment>", ...]}
    frag_<prefix>_<group>_<seg>  uint32 vertex count, float32 x, y, z vertices (nm),
                                 uint32 triangle indices (little endian)
    segment_properties/info      {"@type": "neuroglancer_segment_properties", "inline": ...}

Neuroglancer looks meshes up by the segmentation's segment ids. An object's closed surface
is split into one fragment per segment (each face goes to the segment under it) and each
segment's manifest lists its own fragment: showing every segment of ``neuron=1`` (the
segment-properties query, same words as ChimeraX ``where neuron=1``) draws the neuron's
surface exactly once, with no inner walls between its segments, and a single segment shows
its own patch of the surface.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from .._atomic import write_bytes_atomic
from ..errors import ConnectoscopeWarning, DataFormatError

__all__ = [
    "MeshLike",
    "decode_legacy_fragment",
    "encode_legacy_fragment",
    "face_segments",
    "read_legacy_mesh",
    "write_legacy_meshes",
    "write_segment_properties",
]


class MeshLike(Protocol):
    """What the writers need of a mesh: ``vertices`` ``(N, 3)`` nm, ``faces`` ``(M, 3)``
    vertex indices, and optionally ``segments`` ``(N,)`` the segment id under each vertex."""

    @property
    def vertices(self) -> np.ndarray: ...

    @property
    def faces(self) -> np.ndarray: ...

    @property
    def segments(self) -> np.ndarray | None: ...


INFO = {"@type": "neuroglancer_legacy_mesh", "segment_properties": "segment_properties"}


def encode_legacy_fragment(vertices_nm: np.ndarray, faces: np.ndarray) -> bytes:
    """One legacy fragment: uint32 vertex count, float32 xyz vertices, uint32 indices.

    >>> b = encode_legacy_fragment(np.zeros((3, 3)), np.array([[0, 1, 2]]))
    >>> len(b) == 4 + 3 * 12 + 12
    True
    """
    v = np.ascontiguousarray(vertices_nm, "<f4").reshape(-1, 3)
    f = np.ascontiguousarray(faces, "<u4").reshape(-1, 3)
    return np.uint32(len(v)).astype("<u4").tobytes() + v.tobytes() + f.tobytes()


def decode_legacy_fragment(
    raw: bytes, *, source: str = "fragment"
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`encode_legacy_fragment`: ``(N, 3)`` float32 vertices (nm) and
    ``(M, 3)`` uint32 faces.

    Raises
    ------
    DataFormatError
        The byte count does not match the vertex count (names ``source``).
    """
    if len(raw) < 4:
        raise DataFormatError(f"{source}: {len(raw)} bytes, too short for a mesh fragment")
    n = int(np.frombuffer(raw[:4], "<u4")[0])
    rest = len(raw) - 4 - 12 * n
    if rest < 0 or rest % 12:
        raise DataFormatError(
            f"{source}: {len(raw)} bytes do not hold {n} vertices and whole triangles"
        )
    v = np.frombuffer(raw[4 : 4 + 12 * n], "<f4").reshape(-1, 3)
    f = np.frombuffer(raw[4 + 12 * n :], "<u4").reshape(-1, 3)
    if len(f) and int(f.max()) >= n:
        raise DataFormatError(f"{source}: a triangle refers to vertex {int(f.max())} of {n}")
    return v, f


def read_legacy_mesh(
    folder: str | os.PathLike[str], segment_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """The mesh Neuroglancer shows for ``segment_id``: its fragments joined.

    Returns
    -------
    (vertices, faces)
        ``(N, 3)`` float32 nm and ``(M, 3)`` uint32.
    """
    folder = Path(folder)
    manifest = folder / f"{int(segment_id)}:0"
    if not manifest.is_file():
        raise DataFormatError(f"{folder}: no mesh manifest for segment {segment_id}")
    vs, fs, n = [], [], 0
    for name in json.loads(manifest.read_text())["fragments"]:
        v, f = decode_legacy_fragment((folder / name).read_bytes(), source=str(folder / name))
        vs.append(v)
        fs.append(f + n)
        n += len(v)
    if not vs:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint32)
    return np.concatenate(vs), np.concatenate(fs)


def _face_segments(mesh: MeshLike, allowed: np.ndarray) -> np.ndarray:
    assert mesh.segments is not None
    return face_segments(mesh.segments, mesh.faces, allowed)


def face_segments(segments: np.ndarray, faces: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """The segment of each face: the one shared by two of its vertices, else the first;
    faces whose segment is not in ``allowed`` take the most common allowed one.

    Parameters
    ----------
    segments : (N,) uint64
        Segment under each vertex.
    faces : (M, 3) int
    allowed : (K,) uint64
        The segments of the object.

    Returns
    -------
    (M,) uint64
    """
    s = np.asarray(segments)[np.asarray(faces).astype(np.int64)]
    out = np.where((s[:, 1] == s[:, 2]) & (s[:, 0] != s[:, 1]), s[:, 1], s[:, 0])
    bad = ~np.isin(out, allowed)
    if bad.any() and (~bad).any():
        vals, counts = np.unique(out[~bad], return_counts=True)
        out[bad] = vals[np.argmax(counts)]
    elif bad.any():
        out[:] = allowed[0]
    return out


def write_legacy_meshes(
    folder: str | os.PathLike[str],
    meshes: Mapping[int, MeshLike],
    segments: Mapping[int, np.ndarray] | None = None,
    *,
    prefix: str = "mesh",
) -> int:
    """Write Neuroglancer legacy meshes keyed by segment id.

    Parameters
    ----------
    folder : path-like
        The mesh folder (created; ``info`` written when absent).
    meshes : mapping of int to MeshLike
        One surface per group (object id, or segment id for plain selections).
    segments : mapping of int to array, optional
        ``{group: segment ids}``: the segments that show the group. Default: the group id
        itself is the segment id.
    prefix : str
        Names the fragment files (``frag_<prefix>_<group>_<segment>``), so surfaces of
        different kinds do not overwrite each other's fragments.

    Returns
    -------
    int
        Number of manifests written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    info = folder / "info"
    if not info.exists():
        write_bytes_atomic(info, json.dumps(INFO).encode())
    n = 0
    for gid, mesh in meshes.items():
        segs = np.asarray(
            segments.get(gid, [gid]) if segments is not None else [gid], np.uint64
        ).reshape(-1)
        frags: dict[int, list[str]] = {int(s): [] for s in segs.tolist()}
        if mesh.segments is not None and len(segs) > 1:
            fseg = _face_segments(mesh, segs)
            for s in np.unique(fseg).tolist():
                f = mesh.faces[fseg == s]
                used, inv = np.unique(f.reshape(-1), return_inverse=True)
                name = f"frag_{prefix}_{gid}_{s}"
                write_bytes_atomic(
                    folder / name,
                    encode_legacy_fragment(mesh.vertices[used], inv.reshape(-1, 3)),
                )
                frags[int(s)].append(name)
        else:
            name = f"frag_{prefix}_{gid}"
            write_bytes_atomic(folder / name, encode_legacy_fragment(mesh.vertices, mesh.faces))
            for s in frags:
                frags[s].append(name)
        for s, names in frags.items():
            write_bytes_atomic(folder / f"{s}:0", json.dumps({"fragments": names}).encode())
            n += 1
    return n


def _number_type(values: np.ndarray) -> str | None:
    """The Neuroglancer number type holding ``values`` (None: none does, 32 bits at most)."""
    if values.size == 0 or (values.min() >= -(2**31) and values.max() < 2**31):
        return "int32"
    if values.min() >= 0 and values.max() < 2**32:
        return "uint32"
    return None


def write_segment_properties(
    folder: str | os.PathLike[str],
    segment_ids: np.ndarray,
    numbers: Mapping[str, np.ndarray],
) -> Path:
    """Write ``segment_properties/info`` under ``folder``.

    Every segment gets a ``label`` (``"neuron 1, spinehead 9"``), one ``number`` property
    per kind (its object id of that kind, 0 for none) and ``tags`` naming the kinds it
    belongs to. Neuroglancer then answers the query ``neuron=1`` with the segments ChimeraX
    selects with ``where neuron=1``.

    Parameters
    ----------
    folder : path-like
        The mesh (or skeleton) folder.
    segment_ids : (N,) uint64
        The segments to describe.
    numbers : mapping of str to (N,) int
        Per kind, the object id of each segment (0: not part of such an object).

    Returns
    -------
    pathlib.Path
        The ``info`` file.
    """
    ids = np.asarray(segment_ids, np.uint64).reshape(-1)
    kinds = list(numbers)
    values = {k: np.asarray(numbers[k]).reshape(-1) for k in kinds}
    for k, v in values.items():
        if len(v) != len(ids):
            raise DataFormatError(f"segment properties: {k} has {len(v)} values for {len(ids)} ids")
    labels = [
        ", ".join(f"{k} {int(values[k][i])}" for k in kinds if values[k][i])
        for i in range(len(ids))
    ]
    props: list[dict[str, object]] = [{"id": "label", "type": "label", "values": labels}]
    for k in kinds:
        v = values[k]
        dtype = _number_type(v)
        if dtype is None:
            warnings.warn(
                f"{k} object ids reach {int(v.max())}, beyond the 32-bit Neuroglancer number "
                f"properties: the viewer gets no {k}=N query (the label and the {k} tag keep "
                "it); renumber the objects below 2**32 to get one",
                ConnectoscopeWarning,
                stacklevel=2,
            )
            continue
        props.append(
            {
                "id": k,
                "type": "number",
                "data_type": dtype,
                "values": v.astype(np.int64).tolist(),
            }
        )
    if kinds:
        member = np.stack([values[k] != 0 for k in kinds], axis=1)
        props.append(
            {
                "id": "tags",
                "type": "tags",
                "tags": list(kinds),
                "values": [np.flatnonzero(row).tolist() for row in member],
            }
        )
    out = Path(folder) / "segment_properties"
    doc = {
        "@type": "neuroglancer_segment_properties",
        "inline": {"ids": [str(i) for i in ids.tolist()], "properties": props},
    }
    write_bytes_atomic(out / "info", json.dumps(doc).encode())
    return out / "info"
