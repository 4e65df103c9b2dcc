"""Levels of detail for Neuroglancer's multi-resolution meshes, from our meshes.

LOD 0 is the mesh as made (simplified at ``simplify_nm``, else at most a voxel from the
marching-cubes surface); LOD ``k`` is LOD ``k - 1`` simplified again at ``base * 2**k`` (so
its vertices lie within ``base * (2**(k + 1) - 1)`` of the LOD-0 surface), until the object
fits one node or ``max_lods`` is reached. Each segment of an object gets its own patch at
every LOD (the face's segment, as in the legacy writer), so the viewer shows an object by
its segments without inner walls. Encoding and files: :mod:`connectoscope.precomputed`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..precomputed import encode_multires_mesh, face_segments, write_multires_meshes
from ._mesh import Mesh
from ._simplify import simplify_mesh

__all__ = ["mesh_lods", "write_multires"]


def mesh_lods(
    mesh: Mesh, *, base_error: float, node_nm: Sequence[float], max_lods: int = 5
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """``[(vertices nm, faces, segments per vertex), ...]`` finest first."""
    v = np.asarray(mesh.vertices, np.float64)
    f = np.asarray(mesh.faces, np.int64)
    segs = mesh.segments
    extent = float(np.max((v.max(axis=0) - v.min(axis=0)) / np.asarray(node_nm))) if len(v) else 0
    n = max(1, min(int(max_lods), 1 + math.ceil(math.log2(max(extent, 1.0)))))
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = [(v, f, segs)]
    for k in range(1, n):
        v, f2, src = simplify_mesh(v, f, base_error * 2.0**k)
        if len(f2) == 0:
            break
        f = f2.astype(np.int64)
        segs = segs[src] if segs is not None else None
        out.append((v, f, segs))
    return out


def write_multires(
    folder: str | os.PathLike[str],
    meshes: Mapping[int, Mesh],
    segments: Mapping[int, np.ndarray] | None,
    *,
    base_error: float,
    node_nm: Sequence[float],
    grid_origin_nm: Sequence[float],
    vertex_quantization_bits: int = 16,
    max_lods: int = 5,
) -> int:
    """Encode every object's LODs by segment and write the sharded folder.

    Parameters
    ----------
    folder : path-like
        Receives ``info`` and the ``.shard`` files.
    meshes : mapping of int to Mesh
        One closed surface per group, vertices nm.
    segments : mapping of int to array, optional
        ``{group: segment ids}`` (default: the group id is the segment id).
    base_error : float
        Error of LOD 0 in nm (the quantisation may add at most half of it).
    node_nm : (x, y, z)
        Edge of a LOD-0 node, nm.
    grid_origin_nm : (x, y, z)
        Origin of the node grids (the volume's corner minus one node), nm.

    Returns
    -------
    int
        Number of segment ids written.
    """
    encoded: dict[int, tuple[bytes, bytes]] = {}
    for gid, mesh in meshes.items():
        segs = np.asarray(
            segments.get(gid, [gid]) if segments is not None else [gid], np.uint64
        ).reshape(-1)
        lods = mesh_lods(mesh, base_error=base_error, node_nm=node_nm, max_lods=max_lods)
        errors = [base_error * (2.0 ** (k + 1) - 1) / 2 for k in range(len(lods))]
        scales = [base_error * 2.0**k for k in range(len(lods))]
        per_seg: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {int(s): [] for s in segs}
        for v, f, vs in lods:
            if vs is not None and len(segs) > 1:
                fseg = face_segments(vs, f, segs)
            else:
                fseg = np.full(len(f), segs[0], np.uint64)
            for s in per_seg:
                per_seg[s].append((v, f[fseg == s]))
        for s, s_lods in per_seg.items():
            if not any(len(f) for _, f in s_lods):
                continue
            encoded[s] = encode_multires_mesh(
                s_lods,
                chunk_shape=node_nm,
                grid_origin=grid_origin_nm,
                lod_scales=scales,
                vertex_quantization_bits=vertex_quantization_bits,
                max_error=errors,
                segment_id=s,
            )
    write_multires_meshes(Path(folder), encoded, vertex_quantization_bits=vertex_quantization_bits)
    return len(encoded)
