"""Reading precomputed meshes from any writer, local or remote.

* ``neuroglancer_legacy_mesh``: a manifest ``<id>:<lod>`` (JSON ``{"fragments": [...]}``)
  lists fragment files, each ``uint32`` vertex count, ``float32`` x, y, z vertices, ``uint32``
  triangle indices; a manifest or fragment may be stored gzip'd, as ``name.gz`` or under its
  own name. Vertices are in the layer's model space (nm for our writer and most others).
* ``neuroglancer_multilod_draco``: per segment a binary manifest (``<id>.index``, or the
  sharded value of the id) with the chunk shape, grid origin, LOD scales, vertex offsets and
  per-LOD fragment positions and byte sizes; fragment data (Draco-encoded meshes, decoded
  with DracoPy) sits in file ``<id>`` (unsharded) or just before the manifest in the shard.
  Quantised vertex ``q`` of a fragment at grid position ``p`` of LOD ``k`` lies at
  ``grid_origin + vertex_offsets[k] + chunk_shape * 2**k * (p + q / (2**bits - 1))``; the
  ``transform`` (3 x 4, row major) maps that to model space.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._kvstore import Location
from ..errors import DataFormatError, DependencyMissingError, SourceNotFoundError
from ._layer import PrecomputedLayer, open_layer

__all__ = ["MeshArrays", "mesh_info", "read_mesh"]

MESH_TYPES = ("neuroglancer_legacy_mesh", "neuroglancer_multilod_draco")


@dataclass(frozen=True)
class MeshArrays:
    """A mesh read from a precomputed layer.

    Attributes
    ----------
    vertices : (N, 3) float32
        x, y, z in the layer's model space (nm for most writers).
    faces : (M, 3) uint32
    segment_id : int
    fragments : int
        Fragments joined (legacy) or decoded (multi-resolution, at the LOD read).
    lod : int
    """

    vertices: np.ndarray
    faces: np.ndarray
    segment_id: int
    fragments: int
    lod: int = 0

    @property
    def segments(self) -> np.ndarray | None:
        """None (the :class:`MeshLike` protocol: no per-vertex segment ids)."""
        return None


def _mesh_layer(url: str | os.PathLike[str] | Location) -> PrecomputedLayer:
    layer = open_layer(url)
    if layer.type in MESH_TYPES:
        return layer
    mesh = layer.info.get("mesh")
    if mesh and (layer.type == "neuroglancer_multiscale_volume" or "scales" in layer.info):
        return open_layer(layer.loc.child(str(mesh)), expect=MESH_TYPES)
    if layer.type == "":
        # legacy mesh folders are often written with an info lacking @type: treat as legacy
        layer.info.setdefault("@type", "neuroglancer_legacy_mesh")
        return layer
    raise DataFormatError(
        f"{layer.url}: @type {layer.type!r} is not a mesh layer (expected "
        f"{' or '.join(MESH_TYPES)}, or a volume whose info names a mesh folder)"
    )


def read_mesh(
    url: str | os.PathLike[str] | Location, segment_id: int, *, lod: int = 0
) -> MeshArrays:
    """Read one segment's mesh from a precomputed mesh layer (local path or URL).

    Parameters
    ----------
    url : path-like or URL
        The mesh folder, or a segmentation volume whose ``info`` names one (``"mesh"``).
    segment_id : int
    lod : int
        Multi-resolution meshes: the level of detail (0 = finest).

    Returns
    -------
    MeshArrays
        Vertices (float32, model space), faces (uint32).
        :func:`connectoscope.surfaces._foreign.read_precomputed_mesh` gives a surfaces
        ``Mesh``.

    Raises
    ------
    SourceNotFoundError
        No mesh for the segment.
    DataFormatError
        A corrupt manifest or fragment (names the segment and fragment).
    """
    layer = _mesh_layer(url)
    sid = int(segment_id)
    if layer.type == "neuroglancer_multilod_draco":
        return _read_multilod(layer, sid, lod)
    return _read_legacy(layer, sid)


def _read_legacy(layer: PrecomputedLayer, sid: int) -> MeshArrays:
    from ._mesh import decode_legacy_fragment

    raw = layer.get(f"{sid}:0")
    if raw is None:
        raise SourceNotFoundError(f"{layer.url}: no mesh for segment {sid} (no manifest {sid}:0)")
    try:
        frags = json.loads(raw)["fragments"]
    except (ValueError, KeyError, TypeError) as err:
        raise DataFormatError(f"{layer.url}/{sid}:0: not a mesh manifest ({err})") from None
    vs, fs, n = [], [], 0
    for name in frags:
        data = layer.get(str(name))
        if data is None:
            raise SourceNotFoundError(
                f"{layer.url}: segment {sid}: fragment {name} listed in {sid}:0 is missing "
                f"(also as {name}.gz)"
            )
        v, f = decode_legacy_fragment(data, source=f"{layer.url}/{name} (segment {sid})")
        vs.append(v)
        fs.append(f.astype(np.uint32) + np.uint32(n))
        n += len(v)
    if not vs:
        return MeshArrays(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint32), sid, 0)
    return MeshArrays(np.concatenate(vs), np.concatenate(fs), sid, len(vs))


@dataclass(frozen=True)
class _Manifest:
    chunk_shape: np.ndarray
    grid_origin: np.ndarray
    lod_scales: np.ndarray
    vertex_offsets: np.ndarray
    positions: list[np.ndarray]  # per lod (n, 3) uint32
    sizes: list[np.ndarray]  # per lod (n,) byte sizes


def _parse_manifest(raw: bytes, where: str) -> _Manifest:
    try:
        off = 0
        chunk = np.frombuffer(raw, "<f4", 3, off)
        off += 12
        origin = np.frombuffer(raw, "<f4", 3, off)
        off += 12
        nl = int(np.frombuffer(raw, "<u4", 1, off)[0])
        off += 4
        scales = np.frombuffer(raw, "<f4", nl, off)
        off += 4 * nl
        voff = np.frombuffer(raw, "<f4", 3 * nl, off).reshape(nl, 3)
        off += 12 * nl
        nf = np.frombuffer(raw, "<u4", nl, off).astype(np.int64)
        off += 4 * nl
        positions, sizes = [], []
        for k in range(nl):
            n = int(nf[k])
            positions.append(np.frombuffer(raw, "<u4", 3 * n, off).reshape(3, n).T)
            off += 12 * n
            sizes.append(np.frombuffer(raw, "<u4", n, off).astype(np.int64))
            off += 4 * n
    except ValueError as err:
        raise DataFormatError(f"{where}: truncated multi-resolution manifest ({err})") from None
    if off != len(raw):
        raise DataFormatError(f"{where}: manifest has {len(raw) - off} trailing bytes")
    return _Manifest(chunk, origin, scales, voff, positions, sizes)


def _read_multilod(layer: PrecomputedLayer, sid: int, lod: int) -> MeshArrays:
    try:
        import DracoPy
    except ImportError:
        raise DependencyMissingError(
            "multi-resolution (Draco) meshes need DracoPy: pip install DracoPy"
        ) from None
    sharded = layer.sharded()
    if sharded is None:
        raw = layer.get(f"{sid}.index")
        if raw is None:
            raise SourceNotFoundError(f"{layer.url}: no mesh for segment {sid} (no {sid}.index)")
        m = _parse_manifest(raw, f"{layer.url}/{sid}.index")
        total = int(sum(int(s.sum()) for s in m.sizes))
        data = layer.get(str(sid)) if total else b""
        if data is None or len(data) < total:
            raise DataFormatError(
                f"{layer.url}/{sid}: fragment data of segment {sid} missing or truncated"
            )
        base = 0
    else:
        where = sharded.locate(sid)
        if where is None:
            raise SourceNotFoundError(f"{layer.url}: no mesh for segment {sid} in the shards")
        name, a, b = where
        raw = sharded.read_range(name, a, b)
        m = _parse_manifest(raw, f"{layer.url}/{name} (segment {sid})")
        total = int(sum(int(s.sum()) for s in m.sizes))
        if total > a:
            raise DataFormatError(f"{layer.url}/{name}: segment {sid}: fragment data out of range")
        data = sharded.read_range(name, a - total, a) if total else b""
        base = 0
    nl = len(m.sizes)
    if not 0 <= lod < nl:
        raise DataFormatError(f"{layer.url}: segment {sid} has LODs 0..{nl - 1}, not {lod}")
    bits = int(layer.info.get("vertex_quantization_bits", 16))
    tr = np.asarray(
        layer.info.get("transform", [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]), np.float64
    ).reshape(3, 4)
    off = base + int(sum(int(s.sum()) for s in m.sizes[:lod]))
    vs, fs, n = [], [], 0
    scale = m.chunk_shape.astype(np.float64) * (2.0**lod)
    origin = m.grid_origin.astype(np.float64) + m.vertex_offsets[lod]
    frags = 0
    for i, size in enumerate(m.sizes[lod].tolist()):
        blob = data[off : off + size]
        off += size
        if size == 0:
            continue
        try:
            dm = DracoPy.decode(blob)
            q = np.asarray(dm.points, np.float64).reshape(-1, 3)
            f = np.asarray(dm.faces, np.int64).reshape(-1, 3)
        except Exception as err:
            raise DataFormatError(
                f"{layer.url}: segment {sid}, LOD {lod}, fragment {i} (position "
                f"{tuple(int(v) for v in m.positions[lod][i])}): unreadable Draco data ({err})"
            ) from None
        pos = m.positions[lod][i].astype(np.float64)
        local = origin + scale * (pos + q / float((1 << bits) - 1))
        model = local @ tr[:, :3].T + tr[:, 3]
        vs.append(model.astype(np.float32))
        fs.append((f + n).astype(np.uint32))
        n += len(model)
        frags += 1
    if not vs:
        return MeshArrays(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint32), sid, 0, lod)
    return MeshArrays(np.concatenate(vs), np.concatenate(fs), sid, frags, lod)


def mesh_info(url: str | os.PathLike[str] | Location) -> dict[str, Any]:
    """What a mesh layer is: type, sharding, quantisation, transform (JSON-ready)."""
    layer = _mesh_layer(url)
    out: dict[str, Any] = {"url": layer.url, "type": layer.type}
    for k in ("vertex_quantization_bits", "transform", "lod_scale_multiplier", "sharding"):
        if k in layer.info:
            out[k] = layer.info[k]
    if layer.info.get("segment_properties"):
        out["segment_properties"] = layer.info["segment_properties"]
    lp = layer.loc.local_path
    if lp is not None and layer.sharded() is None:
        if layer.type == "neuroglancer_legacy_mesh":
            ids = {p.name.split(":")[0] for p in lp.iterdir() if ":" in p.name}
        else:
            ids = {p.name[: -len(".index")] for p in lp.iterdir() if p.name.endswith(".index")}
        out["segments"] = len({i for i in ids if i.isdigit()})
    return out
