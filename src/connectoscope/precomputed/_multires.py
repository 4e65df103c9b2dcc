"""Neuroglancer multi-resolution meshes (``neuroglancer_multilod_draco``), sharded.

Arrays in, bytes and files out, and back. One segment's mesh is a list of levels of detail
(LODs), each ``(vertices nm, faces)``; LOD ``k`` is cut into octree nodes of edge
``chunk_shape * 2**k`` on one grid anchored at ``grid_origin`` (the same for every segment,
so every LOD's grid is aligned to the volume's chunk grid). A node's triangles are cut at the
node's faces and, for ``k > 0``, at the planes of its ``2 x 2 x 2`` children (the format's
rule), so no triangle crosses a grid plane; their vertices are quantised to
``vertex_quantization_bits`` inside the node and stored as a Draco mesh with integer
positions (Draco's own quantisation is an identity here: range ``2**bits - 1``, origin 0).
Vertices on a shared grid plane quantise to the same position from both nodes, so a LOD has
no cracks between its nodes; between nodes shown at different LODs the gap is at most the
coarser LOD's error (the format cannot do better without freezing every grid plane).

Storage (``folder/info`` + sharded files): the value of a segment id is its manifest, and its
fragment data lie immediately before the manifest in the shard (``data_encoding`` raw).
Specification: Neuroglancer's ``src/datasource/precomputed/meshes.md``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import write_json_atomic
from .._deps import require
from ..errors import DataFormatError, InvalidParameterError
from ._sharding import locate_sharded, sharding_spec, write_sharded

__all__ = [
    "MultiresManifest",
    "cut_mesh_at_planes",
    "decode_multires_manifest",
    "decode_multires_mesh",
    "encode_multires_mesh",
    "multires_info",
    "read_multires_mesh",
    "write_multires_meshes",
]


def multires_info(
    *,
    vertex_quantization_bits: int = 16,
    sharding: dict[str, Any] | None = None,
    segment_properties: str | None = "segment_properties",
) -> dict[str, Any]:
    """The ``info`` document: stored model coordinates are nm (identity transform)."""
    if vertex_quantization_bits not in (10, 16):
        raise InvalidParameterError(
            f"vertex_quantization_bits must be 10 or 16 (the format's), got "
            f"{vertex_quantization_bits}"
        )
    info: dict[str, Any] = {
        "@type": "neuroglancer_multilod_draco",
        "vertex_quantization_bits": int(vertex_quantization_bits),
        "transform": [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        "lod_scale_multiplier": 1.0,
    }
    if sharding is not None:
        info["sharding"] = sharding
    if segment_properties:
        info["segment_properties"] = segment_properties
    return info


# --------------------------------------------------------------------------- cutting
def _split_once(
    v: np.ndarray, f: np.ndarray, axis: int, plane: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split the triangles ``f`` (each crossing its own ``plane`` value along ``axis``)."""
    s = v[f][:, :, axis] - plane[:, None]
    sign = np.where(s > eps, 1, np.where(s < -eps, -1, 0))
    # rotate each triangle so that corner 0 is the lonely one: the corner on the plane when
    # there is one, else the corner alone on its side (orientation kept)
    zero = sign == 0
    has_zero = zero.any(axis=1)
    lonely = np.where(has_zero, np.argmax(zero, axis=1), np.argmax(_odd_one(sign), axis=1))
    r = (lonely[:, None] + np.arange(3)[None, :]) % 3
    g = np.take_along_axis(f, r, axis=1)

    def cut(a: np.ndarray, b: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.minimum(a, b), np.maximum(a, b)  # same edge, same point, both sides
        pa, pb = v[lo], v[hi]
        t = (at - pa[:, axis]) / (pb[:, axis] - pa[:, axis])
        p = pa + t[:, None] * (pb - pa)
        p[:, axis] = at
        return np.stack([lo, hi], axis=1), p

    faces: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    pts: list[np.ndarray] = []
    n_new = 0
    zi = np.flatnonzero(has_zero)
    if len(zi):  # corner 0 on the plane, corners 1 and 2 on opposite sides
        gi = g[zi]
        k, p = cut(gi[:, 1], gi[:, 2], plane[zi])
        ids = len(v) + np.arange(len(p))
        n_new += len(p)
        keys.append(k)
        pts.append(p)
        faces += [np.stack([gi[:, 0], gi[:, 1], ids], 1), np.stack([gi[:, 0], ids, gi[:, 2]], 1)]
    ai = np.flatnonzero(~has_zero)
    if len(ai):  # corner 0 alone on its side
        gi = g[ai]
        k01, p01 = cut(gi[:, 0], gi[:, 1], plane[ai])
        k02, p02 = cut(gi[:, 0], gi[:, 2], plane[ai])
        id01 = len(v) + n_new + np.arange(len(gi))
        id02 = id01 + len(gi)
        keys += [k01, k02]
        pts += [p01, p02]
        faces += [
            np.stack([gi[:, 0], id01, id02], 1),
            np.stack([id01, gi[:, 1], gi[:, 2]], 1),
            np.stack([id01, gi[:, 2], id02], 1),
        ]
    key = np.concatenate(keys)
    pt = np.concatenate(pts)
    # one vertex per cut edge (the triangles on both sides share it)
    _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    remap = np.arange(len(v) + len(pt))
    remap[len(v) :] = len(v) + inv.reshape(-1)
    return np.concatenate([v, pt[first]]), remap[np.concatenate(faces)]


def _odd_one(sign: np.ndarray) -> np.ndarray:
    """Per triangle (no zero corner), a one-hot row marking the corner alone on its side."""
    total = sign.sum(axis=1, keepdims=True)  # +1: two positive, one negative; -1: reverse
    return sign == -np.sign(total)


def cut_mesh_at_planes(
    vertices: np.ndarray,
    faces: np.ndarray,
    origin: Sequence[float],
    step: Sequence[float],
) -> tuple[np.ndarray, np.ndarray]:
    """Cut triangles so that none crosses a plane ``origin + k * step`` (per axis).

    Parameters
    ----------
    vertices : (N, 3) float, x, y, z
    faces : (M, 3) int
    origin, step : (x, y, z)
        The grid planes.

    Returns
    -------
    (vertices, faces)
        ``(N', 3)`` float64 (the input vertices first, then the cut points, each shared by
        the triangles on both sides of its edge) and ``(M', 3)`` int64, same orientation.
    """
    v = np.asarray(vertices, np.float64).reshape(-1, 3)
    f = np.asarray(faces, np.int64).reshape(-1, 3)
    for axis in range(3):
        o, st = float(origin[axis]), float(step[axis])
        eps = st * 1e-9
        for _ in range(10_000):
            if not len(f):
                break
            p = v[f][:, :, axis]
            lo, hi = p.min(axis=1), p.max(axis=1)
            plane = o + (np.floor((lo - o) / st + 1e-9) + 1) * st
            cross = (plane < hi - eps) & (plane > lo + eps)
            if not cross.any():
                break
            v, split = _split_once(v, f[cross], axis, plane[cross], eps)
            f = np.concatenate([f[~cross], split])
    return v, f


# --------------------------------------------------------------------------- encoding
def _morton(pos: np.ndarray) -> np.ndarray:
    """Z-curve code of node positions (x fastest)."""
    out = np.zeros(len(pos), np.uint64)
    p = pos.astype(np.uint64)
    for bit in range(21):
        for d in range(3):
            out |= ((p[:, d] >> np.uint64(bit)) & np.uint64(1)) << np.uint64(3 * bit + d)
    return out


@dataclass(frozen=True)
class MultiresManifest:
    """A decoded manifest: ``positions[k]`` ``(n_k, 3)`` node positions of LOD ``k`` and
    ``sizes[k]`` their fragment byte sizes; shapes and origin in stored model units (nm)."""

    chunk_shape: tuple[float, float, float]
    grid_origin: tuple[float, float, float]
    lod_scales: tuple[float, ...]
    vertex_offsets: np.ndarray
    positions: list[np.ndarray]
    sizes: list[np.ndarray]

    @property
    def num_lods(self) -> int:
        return len(self.lod_scales)

    @property
    def data_size(self) -> int:
        return int(sum(int(s.sum()) for s in self.sizes))


def encode_multires_mesh(
    lods: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    chunk_shape: Sequence[float],
    grid_origin: Sequence[float],
    lod_scales: Sequence[float],
    vertex_quantization_bits: int = 16,
    max_error: Sequence[float] | None = None,
    segment_id: int = 0,
) -> tuple[bytes, bytes]:
    """Encode one segment's levels of detail.

    Parameters
    ----------
    lods : sequence of (vertices, faces)
        LOD 0 (finest) first; ``(N, 3)`` float nm and ``(M, 3)`` int each.
    chunk_shape : (x, y, z) nm
        Edge of a LOD-0 node.
    grid_origin : (x, y, z) nm
        Origin of every LOD's node grid.
    lod_scales : sequence of float
        Per LOD, the detail (nm) Neuroglancer compares with the screen's pixel size.
    vertex_quantization_bits : {10, 16}
    max_error : sequence of float, optional
        Per LOD, the largest position error (nm) the quantisation may add; refused with an
        error naming ``segment_id`` when the node's quantisation step is coarser.
    segment_id : int
        Named in errors.

    Returns
    -------
    (fragment_data, manifest)
        The concatenated Draco fragments (LOD 0 first, nodes in Z-curve order) and the
        binary manifest.
    """
    DracoPy = require("DracoPy", "multi-resolution meshes")
    bits = int(vertex_quantization_bits)
    if bits not in (10, 16):
        raise InvalidParameterError(f"vertex_quantization_bits must be 10 or 16, got {bits}")
    qmax = (1 << bits) - 1
    cs = np.asarray(chunk_shape, np.float64)
    go = np.asarray(grid_origin, np.float64)
    n_lods = len(lods)
    if len(lod_scales) != n_lods:
        raise InvalidParameterError(f"{len(lod_scales)} lod_scales for {n_lods} LODs")
    frags: list[list[bytes]] = []
    positions: list[np.ndarray] = []
    prev: np.ndarray | None = None
    for k, (v, f) in enumerate(lods):
        node = cs * 2.0**k
        if max_error is not None:
            step = float((node / qmax).max())
            if step > float(max_error[k]):
                raise InvalidParameterError(
                    f"segment {segment_id}: LOD {k} nodes of {node.max():g} nm quantised to "
                    f"{bits} bits have steps of {step:.3g} nm, coarser than the allowed "
                    f"{float(max_error[k]):g} nm; use vertex_quantization_bits=16 or a smaller "
                    "chunk shape"
                )
        cut = node / 2 if k > 0 else node
        cv, cf = cut_mesh_at_planes(v, f, go.tolist(), cut.tolist())
        nodes: dict[tuple[int, int, int], bytes] = {}
        if len(cf):
            cen = cv[cf].mean(axis=1)
            pos = np.floor((cen - go) / node).astype(np.int64)
            if pos.min() < 0:
                raise InvalidParameterError(
                    f"segment {segment_id}: vertices lie below the grid origin {tuple(go)}"
                )
            order = np.lexsort((pos[:, 0], pos[:, 1], pos[:, 2]))
            pos_s = pos[order]
            bounds = np.flatnonzero(np.r_[True, (pos_s[1:] != pos_s[:-1]).any(axis=1), True])
            for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
                p = pos_s[a]
                tri = cf[order[a:b]]
                used, inv = np.unique(tri.reshape(-1), return_inverse=True)
                local = (cv[used] - (go + p * node)) / node * qmax
                if local.min() < -1e-3 or local.max() > qmax + 1e-3:
                    raise DataFormatError(
                        f"segment {segment_id}: a LOD {k} triangle leaves its node {tuple(p)}"
                    )
                q = np.clip(np.rint(local), 0, qmax)
                fq = inv.reshape(-1, 3).astype(np.uint32)
                keep = (fq[:, 0] != fq[:, 1]) & (fq[:, 1] != fq[:, 2]) & (fq[:, 0] != fq[:, 2])
                nodes[(int(p[0]), int(p[1]), int(p[2]))] = DracoPy.encode(
                    q.astype(np.float32),
                    fq[keep],
                    quantization_bits=bits,
                    quantization_range=float(qmax),
                    quantization_origin=[0.0, 0.0, 0.0],
                    compression_level=5,
                )
        keys = set(nodes)
        if prev is not None:  # every finer node has its parent at this LOD (the octree)
            keys |= {(int(a) >> 1, int(b) >> 1, int(c) >> 1) for a, b, c in prev.tolist()}
        pos_k = np.array(sorted(keys), np.int64).reshape(-1, 3)
        pos_k = pos_k[np.argsort(_morton(pos_k), kind="stable")]
        positions.append(pos_k)
        frags.append([nodes.get((int(a), int(b), int(c)), b"") for a, b, c in pos_k.tolist()])
        prev = pos_k
    head = [
        struct.pack("<3f", *cs.tolist()),
        struct.pack("<3f", *go.tolist()),
        struct.pack("<I", n_lods),
        np.asarray(lod_scales, "<f4").tobytes(),
        np.zeros((n_lods, 3), "<f4").tobytes(),
        np.array([len(p) for p in positions], "<u4").tobytes(),
    ]
    for pos_k, fr in zip(positions, frags):
        head.append(np.ascontiguousarray(pos_k.T, "<u4").tobytes())
        head.append(np.array([len(x) for x in fr], "<u4").tobytes())
    data = b"".join(x for fr in frags for x in fr)
    return data, b"".join(head)


def decode_multires_manifest(raw: bytes, *, source: str = "manifest") -> MultiresManifest:
    """Parse a binary manifest (raises :class:`DataFormatError` naming ``source``)."""
    try:
        cs = struct.unpack_from("<3f", raw, 0)
        go = struct.unpack_from("<3f", raw, 12)
        (n,) = struct.unpack_from("<I", raw, 24)
        off = 28
        scales = np.frombuffer(raw, "<f4", n, off)
        off += 4 * n
        voff = np.frombuffer(raw, "<f4", 3 * n, off).reshape(n, 3)
        off += 12 * n
        counts = np.frombuffer(raw, "<u4", n, off)
        off += 4 * n
        positions, sizes = [], []
        for c in counts.tolist():
            positions.append(np.frombuffer(raw, "<u4", 3 * c, off).reshape(3, c).T.copy())
            off += 12 * c
            sizes.append(np.frombuffer(raw, "<u4", c, off).astype(np.int64))
            off += 4 * c
    except (struct.error, ValueError) as e:
        raise DataFormatError(f"{source}: truncated multi-resolution manifest ({e})") from e
    if off != len(raw):
        raise DataFormatError(f"{source}: {len(raw) - off} bytes after the manifest")
    return MultiresManifest(cs, go, tuple(float(s) for s in scales), voff, positions, sizes)


def decode_multires_mesh(
    manifest: MultiresManifest, data: bytes, *, vertex_quantization_bits: int = 16
) -> list[list[tuple[tuple[int, int, int], np.ndarray, np.ndarray]]]:
    """Decode every fragment: per LOD, ``[(node position, vertices nm, faces), ...]``."""
    DracoPy = require("DracoPy", "multi-resolution meshes")
    qmax = (1 << int(vertex_quantization_bits)) - 1
    cs = np.asarray(manifest.chunk_shape, np.float64)
    go = np.asarray(manifest.grid_origin, np.float64)
    if len(data) != manifest.data_size:
        raise DataFormatError(
            f"fragment data holds {len(data)} bytes, the manifest lists {manifest.data_size}"
        )
    out = []
    off = 0
    for k in range(manifest.num_lods):
        node = cs * 2.0**k
        lod = []
        for p, size in zip(manifest.positions[k], manifest.sizes[k].tolist()):
            raw = data[off : off + size]
            off += size
            if not size:
                continue
            m = DracoPy.decode(raw)
            q = np.asarray(m.points, np.float64).reshape(-1, 3)
            v = go + manifest.vertex_offsets[k] + node * (p + q / qmax)
            lod.append(((int(p[0]), int(p[1]), int(p[2])), v, np.asarray(m.faces).reshape(-1, 3)))
        out.append(lod)
    return out


# --------------------------------------------------------------------------- files
def write_multires_meshes(
    folder: str | os.PathLike[str],
    encoded: Mapping[int, tuple[bytes, bytes]],
    *,
    vertex_quantization_bits: int = 16,
    segment_properties: str | None = "segment_properties",
    spec: dict[str, Any] | None = None,
) -> list[Path]:
    """Write ``info`` and sharded files holding every segment's fragments and manifest.

    Parameters
    ----------
    folder : path-like
    encoded : mapping of int to (bytes, bytes)
        Segment id -> ``(fragment_data, manifest)`` from :func:`encode_multires_mesh`.
    spec : dict, optional
        Sharding parameters (default :func:`sharding_spec` for the number of segments,
        raw data encoding: Draco is compressed already).

    Returns
    -------
    list of Path
        The shard files written.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    ids = np.array(sorted(int(k) for k in encoded), np.uint64)
    if spec is None:
        spec = sharding_spec(len(ids), data_encoding="raw", keys_per_minishard=256)
    if spec.get("data_encoding", "raw") != "raw":
        raise InvalidParameterError("multi-resolution meshes need sharding data_encoding raw")
    vals = [encoded[int(i)] for i in ids.tolist()]
    buf = np.frombuffer(b"".join(d + m for d, m in vals), np.uint8)
    sizes = np.array([len(d) + len(m) for d, m in vals], np.int64)
    offsets = np.r_[0, np.cumsum(sizes)]
    prefix = np.array([len(d) for d, _ in vals], np.int64)
    # the info last: a reader never sees an info without its shards
    for stale in out.glob("*.shard"):
        stale.unlink()
    files = write_sharded(out, ids, buf, offsets, spec, unindexed_prefix=prefix)
    write_json_atomic(
        out / "info",
        multires_info(
            vertex_quantization_bits=vertex_quantization_bits,
            sharding=spec,
            segment_properties=segment_properties,
        ),
    )
    return files


def read_multires_mesh(
    folder: str | os.PathLike[str], segment_id: int
) -> list[list[tuple[tuple[int, int, int], np.ndarray, np.ndarray]]] | None:
    """One segment's decoded LODs from a sharded multi-resolution folder (None: absent)."""
    import json

    folder = Path(folder)
    info = json.loads((folder / "info").read_text())
    if info.get("@type") != "neuroglancer_multilod_draco" or "sharding" not in info:
        raise DataFormatError(f"{folder}: not a sharded neuroglancer_multilod_draco folder")
    where = locate_sharded(folder, int(segment_id), info["sharding"])
    if where is None:
        return None
    path, offset, size = where
    with open(path, "rb") as f:
        f.seek(offset)
        raw = f.read(size)
        man = decode_multires_manifest(raw, source=f"{path} (segment {segment_id})")
        start = offset - man.data_size
        if start < 0:
            raise DataFormatError(f"{path}: fragment data of segment {segment_id} out of range")
        f.seek(start)
        data = f.read(man.data_size)
    return decode_multires_mesh(
        man, data, vertex_quantization_bits=int(info["vertex_quantization_bits"])
    )
