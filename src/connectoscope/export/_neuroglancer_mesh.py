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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConnectoscopeWarning, DataFormatError

if TYPE_CHECKING:  # pragma: no cover
    from ..segmentation import ObjectMaps
    from ..surfaces import Mesh

__all__ = [
    "encode_legacy_fragment",
    "read_legacy_mesh",
    "write_legacy_meshes",
    "write_segment_properties",
]

INFO = {"@type": "neuroglancer_legacy_mesh", "segment_properties": "segment_properties"}
#: Most segments written as inline Neuroglancer segment properties (JSON size).
MAX_INLINE_IDS = 1_000_000


def encode_legacy_fragment(vertices_nm: np.ndarray, faces: np.ndarray) -> bytes:
    """One legacy fragment: uint32 vertex count, float32 xyz vertices, uint32 indices.

    >>> b = encode_legacy_fragment(np.zeros((3, 3)), np.array([[0, 1, 2]]))
    >>> len(b) == 4 + 3 * 12 + 12
    True
    """
    v = np.ascontiguousarray(vertices_nm, "<f4").reshape(-1, 3)
    f = np.ascontiguousarray(faces, "<u4").reshape(-1, 3)
    return np.uint32(len(v)).astype("<u4").tobytes() + v.tobytes() + f.tobytes()


def _decode(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    n = int(np.frombuffer(raw[:4], "<u4")[0])
    v = np.frombuffer(raw[4 : 4 + 12 * n], "<f4").reshape(-1, 3)
    f = np.frombuffer(raw[4 + 12 * n :], "<u4").reshape(-1, 3)
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
        v, f = _decode((folder / name).read_bytes())
        vs.append(v)
        fs.append(f + n)
        n += len(v)
    if not vs:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint32)
    return np.concatenate(vs), np.concatenate(fs)


def _face_segments(mesh: Mesh, allowed: np.ndarray) -> np.ndarray:
    """The segment of each face: the one shared by two of its vertices, else the first."""
    assert mesh.segments is not None
    s = mesh.segments[mesh.faces.astype(np.int64)]
    out = np.where((s[:, 1] == s[:, 2]) & (s[:, 0] != s[:, 1]), s[:, 1], s[:, 0])
    bad = ~np.isin(out, allowed)
    if bad.any() and (~bad).any():
        vals, counts = np.unique(out[~bad], return_counts=True)
        out[bad] = vals[np.argmax(counts)]
    elif bad.any():
        out[:] = allowed[0]
    return out


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_legacy_meshes(
    folder: str | os.PathLike[str],
    meshes: Mapping[int, Mesh],
    segments: Mapping[int, np.ndarray] | None = None,
    *,
    prefix: str = "mesh",
) -> int:
    """Write Neuroglancer legacy meshes keyed by segment id.

    Parameters
    ----------
    folder : path-like
        The mesh folder (created; ``info`` written when absent).
    meshes : mapping of int to Mesh
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
        _write_atomic(info, json.dumps(INFO).encode())
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
                _write_atomic(
                    folder / name,
                    encode_legacy_fragment(mesh.vertices[used], inv.reshape(-1, 3)),
                )
                frags[int(s)].append(name)
        else:
            name = f"frag_{prefix}_{gid}"
            _write_atomic(folder / name, encode_legacy_fragment(mesh.vertices, mesh.faces))
            for s in frags:
                frags[s].append(name)
        for s, names in frags.items():
            _write_atomic(folder / f"{s}:0", json.dumps({"fragments": names}).encode())
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
    objects: ObjectMaps,
    *,
    segment_ids: Iterable[int] = (),
    meshed_ids: Iterable[int] = (),
    max_ids: int = MAX_INLINE_IDS,
) -> Path:
    """Write ``segment_properties/info`` under ``folder``.

    Every segment of any kind (plus ``segment_ids``) gets: a ``label`` (``"neuron 1,
    spinehead 9"``), one ``number`` property per kind (its object id of that kind, 0 for
    none) and ``tags`` naming the kinds it belongs to. Neuroglancer then answers the query
    ``neuron=1`` with the segments ChimeraX selects with ``where neuron=1``.

    The properties are inline JSON: above ``max_ids`` segments, only ``meshed_ids`` (the
    segments that have meshes) plus ``segment_ids`` are written, with a warning.

    Returns
    -------
    pathlib.Path
        The ``info`` file.
    """
    kinds = objects.kinds
    pools = [objects.segments(k) for k in kinds]
    extra = np.fromiter((int(s) for s in segment_ids), np.uint64)
    ids = np.unique(np.concatenate([*pools, extra])) if pools or extra.size else extra
    ids = ids[ids != 0]
    if len(ids) > max_ids:
        meshed = np.fromiter((int(s) for s in meshed_ids), np.uint64)
        keep = np.unique(np.concatenate([meshed, extra]))
        warnings.warn(
            f"{len(ids):,} segments belong to object kinds, more than {max_ids:,} inline "
            f"segment properties; writing the {len(keep):,} meshed ones only",
            ConnectoscopeWarning,
            stacklevel=2,
        )
        ids = keep[keep != 0]
    values = {k: objects.lookup(k, ids) for k in kinds}
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
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "@type": "neuroglancer_segment_properties",
        "inline": {"ids": [str(i) for i in ids.tolist()], "properties": props},
    }
    _write_atomic(out / "info", json.dumps(doc).encode())
    return out / "info"
