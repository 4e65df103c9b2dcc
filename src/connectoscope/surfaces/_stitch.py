"""Stitching block meshes into one closed surface per object.

Every block is meshed with the marching-cubes samples of its high faces shared with the next
block (a 1-voxel overlap), and without closing the surface on faces inside the region. The
two blocks of a seam then produce the same open boundary: the same vertices (on half-voxel
positions of the shared sample plane) and the same boundary edges. zmesh's simplifier keeps
open-boundary vertices where they are, so this holds after simplification too. Stitching
merges the vertices of open edges that sit at the same half-voxel position; nothing else is
touched, so no vertex moves and no seam vertex is left twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["open_edge_vertices", "stitch_pieces"]

_BITS = 21  # half-voxel units per axis packed into one int64 key (2**21 half voxels)


def open_edge_vertices(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """Boolean mask of the vertices on edges used by exactly one face (open boundary)."""
    if len(faces) == 0:
        return np.zeros(n_vertices, bool)
    f = np.asarray(faces, np.int64)
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    edges.sort(axis=1)
    key = edges[:, 0] * np.int64(n_vertices) + edges[:, 1]
    uniq, counts = np.unique(key, return_counts=True)
    single = uniq[counts == 1]
    mask = np.zeros(n_vertices, bool)
    mask[single // n_vertices] = True
    mask[single % n_vertices] = True
    return mask


def _half_voxel_keys(points_vx: np.ndarray) -> np.ndarray:
    """One int64 per point from its position rounded to half voxels."""
    h = np.rint(points_vx * 2.0).astype(np.int64) + 4  # vertices start at -0.5 (padding)
    if h.size and (h.min() < 0 or h.max() >= 2**_BITS):
        # beyond 2**20 voxels per axis: fall back to a row-wise unique
        _, inv = np.unique(h, axis=0, return_inverse=True)
        return inv.reshape(-1).astype(np.int64)
    return (h[:, 0] << (2 * _BITS)) | (h[:, 1] << _BITS) | h[:, 2]


def stitch_pieces(
    vertices: Sequence[np.ndarray],
    faces: Sequence[np.ndarray],
    extras: Sequence[np.ndarray | None] | None = None,
    *,
    sums: Sequence[Sequence[np.ndarray]] | None = None,
) -> Any:
    """Join the block pieces of one object.

    Parameters
    ----------
    vertices : sequence of numpy.ndarray
        Per piece, ``(N_i, 3)`` float64 positions in voxels of the meshing level (global).
    faces : sequence of numpy.ndarray
        Per piece, ``(M_i, 3)`` vertex indices into that piece.
    extras : sequence of numpy.ndarray, optional
        Per piece, one value per vertex (the segment under it) carried along.
    sums : sequence of sequences of numpy.ndarray, optional
        Per piece, arrays with one row per vertex that are *added* where seam vertices
        merge (the simplifier's quadrics and weights).

    Returns
    -------
    (vertices, faces, extra) or (vertices, faces, extra, summed)
        ``(N, 3)`` float64 voxels, ``(M, 3)`` uint32, the merged per-vertex values, and
        (with ``sums``) the list of summed arrays.
    """
    if len(vertices) == 1:
        ex = extras[0] if extras else None
        out = (np.asarray(vertices[0]), np.asarray(faces[0], np.uint32), ex)
        return (*out, list(sums[0])) if sums is not None else out
    v_all = np.concatenate(vertices)
    offsets = np.cumsum([0] + [len(v) for v in vertices[:-1]])
    f_all = np.concatenate([np.asarray(f, np.int64) + o for f, o in zip(faces, offsets)])
    ex_all: np.ndarray | None = None
    if extras is not None and all(e is not None for e in extras):
        ex_all = np.concatenate(extras)  # type: ignore[arg-type]
    boundary = np.concatenate([open_edge_vertices(f, len(v)) for v, f in zip(vertices, faces)])
    keys = np.empty(len(v_all), np.int64)
    keys[boundary] = _half_voxel_keys(v_all[boundary])
    # vertices inside a piece stay distinct: negative keys (packed keys are >= 0)
    inner = np.flatnonzero(~boundary)
    keys[inner] = -1 - inner.astype(np.int64)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # keep the pieces' vertex order
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    new_index = rank[inverse.reshape(-1)]
    v = v_all[first[order]]
    f = new_index[f_all]
    ok = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    ex = ex_all[first[order]] if ex_all is not None else None
    if sums is None:
        return v, f[ok].astype(np.uint32), ex
    summed = []
    for k in range(len(sums[0])):
        col = np.concatenate([np.asarray(s[k]) for s in sums])
        acc = np.zeros((len(v), *col.shape[1:]), col.dtype)
        np.add.at(acc, new_index, col)
        summed.append(acc)
    return v, f[ok].astype(np.uint32), ex, summed
