"""Block-wise meshing: zmesh marching cubes, our bounded-error simplifier, stitching.

A region is cut into blocks. Each block task reads its labels with a 1-voxel overlap on its
high faces, maps segment ids to group ids (object ids of the selection's kind, or the
segment ids themselves), runs zmesh's multi-label marching cubes without closing the
surface on faces shared with another block, and, with an error in nm, simplifies each
group's piece with :func:`._simplify.simplify_mesh` keeping its seam vertices fixed, and
finds the segment under every vertex. Faces on the border of the region are padded with
background so surfaces close there. Then each group's pieces are stitched (see
:mod:`._stitch`) and simplified once more across the former seams, with the quadrics the
pieces carried, so the error is still measured against the original surface and a
block-wise mesh has about as many triangles as one made in a single call.

zmesh's marching cubes holds the GIL: blocks run in worker *processes*
(:func:`connectoscope.parallel.run_tasks`), largest first (the pool hands out one task at a
time, so work is balanced by voxels); with many groups (dense meshing) the stitching runs in
the workers too, in batches balanced by triangle count; with a few (one object) it runs here,
where the pieces already are.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._store import Store
from ..errors import InvalidParameterError
from ..geometry import Bbox, VoxelSize, VoxelSizeLike
from ..parallel import default_workers, run_tasks
from ..volume import VolumeLayer
from ._mesh import Mesh
from ._stitch import stitch_pieces

__all__ = ["DEFAULT_BLOCK", "BlockTask", "GroupTable", "mesh_blocks", "mesh_labels", "plan_blocks"]

#: Default block edge (voxels, x, y, z) of block-wise meshing.
DEFAULT_BLOCK = (256, 256, 256)
#: Below this many voxels a region is meshed in this process (starting workers costs more).
_INPROCESS_VOXELS = 2**24

Piece = tuple[np.ndarray, np.ndarray, Any, Any, Any]


@dataclass(frozen=True)
class GroupTable:
    """Which segment ids make which group: ``segment_ids`` (sorted uint64) -> ``group_ids``.

    ``None`` as a table means the labels are the groups (every non-zero label its own).
    """

    segment_ids: np.ndarray
    group_ids: np.ndarray

    @classmethod
    def from_groups(cls, groups: Mapping[int, np.ndarray]) -> GroupTable:
        """From ``{group_id: segment ids}`` (a selection's groups)."""
        segs = [np.asarray(s, np.uint64).reshape(-1) for s in groups.values()]
        gids = [np.full(len(s), int(g), np.uint64) for g, s in zip(groups, segs)]
        seg = np.concatenate(segs) if segs else np.zeros(0, np.uint64)
        gid = np.concatenate(gids) if gids else np.zeros(0, np.uint64)
        order = np.argsort(seg, kind="stable")
        return cls(seg[order], gid[order])

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """Group id of each id (uint64; 0 where the id is in no group)."""
        ids = np.asarray(ids).astype(np.uint64, copy=False)
        out = np.zeros(ids.shape, np.uint64)
        if self.segment_ids.size == 0 or ids.size == 0:
            return out
        pos = np.minimum(np.searchsorted(self.segment_ids, ids), self.segment_ids.size - 1)
        hit = self.segment_ids[pos] == ids
        out[hit] = self.group_ids[pos[hit]]
        return out


@dataclass(frozen=True)
class BlockTask:
    """One block to mesh (picklable: worker processes receive it).

    Boxes are ``(x, y, z)`` voxels of the meshing level; ``read_stop`` includes the 1-voxel
    overlap on high faces shared with the next block. ``pad_lo``/``pad_hi`` say which faces
    lie on the region border (padded with background so the surface closes there).
    """

    read_start: tuple[int, int, int]
    read_stop: tuple[int, int, int]
    pad_lo: tuple[bool, bool, bool]
    pad_hi: tuple[bool, bool, bool]
    voxel_size: tuple[float, float, float]
    simplify_nm: float | None = None
    vertex_segments: bool = False
    table: GroupTable | None = None
    array: np.ndarray | None = field(default=None, repr=False)
    ds_path: str | None = None
    layer: str = "segmentation"
    level: int = 0

    @property
    def voxels(self) -> int:
        return int(np.prod([b - a for a, b in zip(self.read_start, self.read_stop)]))

    def read(self) -> np.ndarray:
        """The block's labels, ``[z, y, x]`` (overlap included, padding not)."""
        if self.array is not None:
            return self.array

        assert self.ds_path is not None
        layer = VolumeLayer(Store(self.ds_path), self.layer)
        return layer.read(Bbox(self.read_start, self.read_stop), level=self.level)


def plan_blocks(
    start_xyz: Sequence[int], stop_xyz: Sequence[int], block_xyz: Sequence[int]
) -> list[tuple[tuple[int, int, int], tuple[int, int, int], tuple[bool, ...], tuple[bool, ...]]]:
    """Cut the region ``[start, stop)`` into blocks on the grid of multiples of ``block_xyz``.

    Returns
    -------
    list of (read_start, read_stop, pad_lo, pad_hi)
        Each block reads its core plus one voxel on high faces inside the region.
    """
    if any(int(b) < 2 for b in block_xyz):
        raise InvalidParameterError(f"block edges must be 2 voxels or more, got {tuple(block_xyz)}")
    axes = []
    for a, b, s in zip(start_xyz, stop_xyz, block_xyz):
        # cuts on the global grid of multiples of the block edge (shard-aligned reads)
        a, b, s = int(a), int(b), int(s)
        cuts = [a, *range((a // s + 1) * s, b, s), b]
        axes.append(list(itertools.pairwise(cuts)))
    out = []
    for z0, z1 in axes[2]:
        for y0, y1 in axes[1]:
            for x0, x1 in axes[0]:
                core = ((x0, x1), (y0, y1), (z0, z1))
                rs = tuple(c[0] for c in core)
                re = tuple(min(c[1] + 1, int(b)) for c, b in zip(core, stop_xyz))
                lo = tuple(c[0] == int(a) for c, a in zip(core, start_xyz))
                hi = tuple(c[1] >= int(b) for c, b in zip(core, stop_xyz))
                out.append((rs, re, lo, hi))
    return out


def _vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    tri = v[f.astype(np.int64)]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n = np.zeros_like(v)
    idx = f.astype(np.int64).reshape(-1)
    for ax in range(3):
        n[:, ax] = np.bincount(idx, np.repeat(fn[:, ax], 3), minlength=len(v))
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    return np.divide(n, norm, out=np.zeros_like(n), where=norm > 0)


_CORNERS = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], np.int64)


def _segments_under(
    v: np.ndarray, f: np.ndarray, grouped: np.ndarray, labels: np.ndarray, gid: int
) -> np.ndarray:
    """Segment id of the voxel of group ``gid`` under each vertex.

    ``v`` are local voxel positions (x, y, z) in the padded block ``grouped``/``labels``
    (``[z, y, x]``). The probe point sits half a voxel inside along the vertex normal; of
    the 8 voxel centres around the vertex, the nearest one of the group wins.
    """
    probe = v - 0.5 * _vertex_normals(v, f)
    shape = np.array(grouped.shape[::-1]) - 1
    corners = np.floor(v).astype(np.int64)[:, None, :] + _CORNERS[None, :, :]
    corners = np.clip(corners, 0, shape)
    g = grouped[corners[..., 2], corners[..., 1], corners[..., 0]]
    d = ((corners - probe[:, None, :]) ** 2).sum(axis=2)
    d[g != gid] = np.inf
    best = np.argmin(d, axis=1)
    pick = corners[np.arange(len(v)), best]
    lost = ~np.isfinite(d[np.arange(len(v)), best])
    if lost.any():
        pick[lost] = np.clip(np.rint(probe[lost]).astype(np.int64), 0, shape)
    return labels[pick[:, 2], pick[:, 1], pick[:, 0]].astype(np.uint64)


def _seam_vertices(local: np.ndarray, shape_xyz: Sequence[int], task: BlockTask) -> np.ndarray:
    """Vertices on a block face shared with another block (the open seam): they lie on the
    first or last sample plane of an axis that is not padded (``local`` in voxels of the
    padded block)."""
    fixed = np.zeros(len(local), bool)
    for ax in range(3):
        if not task.pad_lo[ax]:
            fixed |= local[:, ax] <= 0.0
        if not task.pad_hi[ax]:
            fixed |= local[:, ax] >= shape_xyz[ax] - 1
    return fixed


def mesh_block(task: BlockTask) -> dict[int, Piece]:
    """Mesh one block: ``{group_id: (vertices, faces, segments, quadrics, weights)}``.

    Vertices are float64 ``(x, y, z)`` in voxels of the level (global); segments the
    segment id under each vertex (when ``task.vertex_segments``), else None. With
    ``task.simplify_nm`` each piece is simplified here (its seam vertices fixed) and its
    vertices' plane quadrics (nm, global frame) come along for the second pass after
    stitching; else quadrics and weights are None.
    """
    import fastremap
    import zmesh

    from ._simplify import simplify_mesh

    labels = np.ascontiguousarray(task.read())
    if task.table is not None:
        uniq = fastremap.unique(labels)
        gids = task.table.lookup(uniq)
        if not gids.any():
            return {}
        grouped = fastremap.remap(
            labels.astype(np.uint64, copy=False),
            {int(u): int(g) for u, g in zip(uniq.tolist(), gids.tolist())},
            preserve_missing_labels=True,
            in_place=False,
        )
    else:
        grouped = labels
        if not grouped.any():
            return {}
    pad = tuple((int(lo), int(hi)) for lo, hi in zip(task.pad_lo[::-1], task.pad_hi[::-1]))
    grouped = np.pad(grouped, pad)
    shape_xyz = grouped.shape[::-1]
    mesher = zmesh.Mesher((1.0, 1.0, 1.0))
    mesher.mesh(grouped.T)  # zmesh indexes x, y, z: the Fortran view of [z, y, x]
    vs = np.asarray(task.voxel_size, np.float64)
    origin = np.asarray(task.read_start, np.float64) - np.asarray(task.pad_lo, np.float64)
    padded_labels = np.pad(labels, pad) if task.vertex_segments else None
    out: dict[int, Piece] = {}
    for gid in mesher.ids():
        if gid == 0:
            continue
        m = mesher.get(gid, normals=False, reduction_factor=0)
        mesher.erase(gid)
        if len(m.faces) == 0:
            continue
        local = m.vertices.astype(np.float64)
        faces = m.faces
        segs = None
        if padded_labels is not None:
            segs = _segments_under(local, faces, grouped, padded_labels, int(gid))
        quad: tuple[np.ndarray, np.ndarray] | tuple[None, None] = (None, None)
        if task.simplify_nm is not None:
            fixed = _seam_vertices(local, shape_xyz, task)
            nm = (local + origin) * vs  # global frame: quadrics agree across blocks
            v_nm, faces, src, q, w = simplify_mesh(
                nm, faces, task.simplify_nm, fixed=fixed, return_quadrics=True
            )
            global_vx = v_nm / vs
            # seam vertices did not move: keep their exact half-voxel positions
            keep = fixed[src]
            global_vx[keep] = local[src[keep]] + origin
            if segs is not None:
                segs = segs[src]
            quad = (q, w)
        else:
            global_vx = local + origin
        out[int(gid)] = (global_vx, np.asarray(faces, np.uint32), segs, *quad)
    mesher.clear()
    return out


def _finish_group(
    args: tuple[int, list[Piece], tuple[float, float, float], float | None],
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray | None]:
    """Stitch one group's pieces; with an error, simplify the result once more across the
    former seams (the pieces' quadrics keep the error measured against the original
    surface). Returns ``(group, vertices in voxels, faces, segments)``."""
    from ._simplify import simplify_mesh

    gid, ps, vs_t, err = args
    vs = np.asarray(vs_t, np.float64)
    if err is None or len(ps) == 1:
        v, f, segs = stitch_pieces([p[0] for p in ps], [p[1] for p in ps], [p[2] for p in ps])
        return gid, v, f, segs
    v, f, segs, (q, w) = stitch_pieces(
        [p[0] for p in ps],
        [p[1] for p in ps],
        [p[2] for p in ps],
        sums=[(p[3], p[4]) for p in ps],
    )
    v_nm, f, src = simplify_mesh(v * vs, f, err, quadrics=(q, w))
    return gid, v_nm / vs, f, (segs[src] if segs is not None else None)


def _finish_batch(
    batch: list[tuple[int, list[Piece], tuple[float, float, float], float | None]],
) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]]:
    return [_finish_group(a) for a in batch]


def _balanced_batches(sizes: Sequence[int], n: int) -> list[list[int]]:
    """Indices split into about ``n`` batches of similar total size (largest first)."""
    order = np.argsort(-np.asarray(sizes, np.int64), kind="stable")
    loads = np.zeros(max(1, n), np.int64)
    out: list[list[int]] = [[] for _ in range(max(1, n))]
    for i in order.tolist():
        k = int(np.argmin(loads))
        out[k].append(i)
        loads[k] += int(sizes[i]) + 1
    return [b for b in out if b]


def mesh_blocks(
    tasks: Sequence[BlockTask],
    *,
    voxel_size: Sequence[float],
    origin_nm: Sequence[float],
    workers: int | None = None,
    smooth: int = 0,
) -> dict[int, Mesh]:
    """Run block tasks (in worker threads when ``workers`` > 1, or on the Dask cluster handed over) and stitch the pieces.

    Each block's pieces are meshed and simplified (seams fixed) in the workers; then each
    group's pieces are stitched and, with an error, simplified once more across the former
    seams, in batches of groups balanced by triangle count (in the workers too).

    Parameters
    ----------
    tasks : sequence of BlockTask
    voxel_size : (x, y, z) nm of the level meshed.
    origin_nm : (x, y, z) nm of the centre of voxel ``(0, 0, 0)`` of that level.
    workers : int, optional
        Worker threads (default: number of cores, or 1 for small regions).
    smooth : int
        Taubin smoothing iterations applied to each stitched surface (0: none).

    Returns
    -------
    dict of int to Mesh
        One closed surface per group, vertices in nm.
    """

    if smooth < 0:
        raise InvalidParameterError(f"smooth must be 0 or more iterations, got {smooth}")
    if workers is None:
        small = sum(t.voxels for t in tasks) < _INPROCESS_VOXELS
        workers = 1 if small else min(default_workers(), len(tasks))
    workers = max(1, min(workers, len(tasks))) if tasks else 1
    # threads: zmesh's marching cubes is a small share, our simplifier (most of the time)
    # releases the GIL, and threads ship no pieces between processes (1 -> 2 workers on dense
    # pinky40: 1.8x with threads, 1.5x with processes; one object 1.6x against 0.7x)
    results = run_tasks(
        mesh_block,
        _by_voxels(tasks),
        workers=workers,
        mode="threads",
        desc="surfaces",
        unit="block",
    )
    pieces: dict[int, list[Piece]] = {}
    for res in results:
        for gid, piece in res.items():
            pieces.setdefault(gid, []).append(piece)
    vs = np.asarray(voxel_size, np.float64)
    org = np.asarray(origin_nm, np.float64)
    err = tasks[0].simplify_nm if tasks else None
    vs_t = (float(vs[0]), float(vs[1]), float(vs[2]))
    jobs = [(gid, pieces[gid], vs_t, err) for gid in sorted(pieces)]
    multi = [j for j in jobs if len(j[1]) > 1]
    finished: list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]] = []
    # a few groups (one object): stitch here, shipping the pieces twice would cost more
    if workers > 1 and len(multi) >= 2 * workers and err is not None:
        sizes = [sum(len(p[1]) for p in j[1]) for j in multi]
        batches = _balanced_batches(sizes, 4 * workers)
        for part in run_tasks(
            _finish_batch,
            [[multi[i] for i in b] for b in batches],
            workers=workers,
            mode="threads",
            desc="stitching",
            unit="batch",
        ):
            finished.extend(part)
        finished.extend(_finish_group(j) for j in jobs if len(j[1]) == 1)
    else:
        finished = [_finish_group(j) for j in jobs]
    meshes: dict[int, Mesh] = {}
    for gid, v, f, segs in sorted(finished, key=lambda r: r[0]):
        nm = v * vs + org
        if smooth:
            nm = _taubin(nm, f, smooth)
        meshes[gid] = Mesh(gid, nm.astype(np.float32), f, segments=segs)
    return meshes


def _by_voxels(tasks: Sequence[BlockTask]) -> list[BlockTask]:
    """Largest blocks first, so the last tasks to start are the short ones (the pool hands
    tasks out one at a time: the work is balanced by voxels, not by block count)."""
    return sorted(tasks, key=lambda t: -t.voxels)


def _taubin(v: np.ndarray, f: np.ndarray, iterations: int) -> np.ndarray:
    import trimesh
    from trimesh.smoothing import filter_taubin

    tm = trimesh.Trimesh(v, f, process=False, validate=False)
    filter_taubin(tm, lamb=0.5, nu=0.53, iterations=int(iterations))
    return np.asarray(tm.vertices, np.float64)


def mesh_labels(
    labels_zyx: np.ndarray,
    voxel_size_xyz: VoxelSizeLike,
    *,
    offset_nm: Sequence[float] = (0.0, 0.0, 0.0),
    simplify_nm: float | None = None,
    ids: Sequence[int] | None = None,
    groups: Mapping[int, np.ndarray] | None = None,
    block_xyz: Sequence[int] | None = None,
    workers: int | None = 1,
    smooth: int = 0,
    vertex_segments: bool = False,
) -> dict[int, Mesh]:
    """One closed surface per label (or per group of labels) of a ``[z, y, x]`` volume.

    Parameters
    ----------
    labels_zyx : numpy.ndarray
        3-D integer labels, 0 = background.
    voxel_size_xyz : (x, y, z) nm, ``"X,Y,Z"`` or VoxelSize
        Voxel size, every value > 0.
    offset_nm : (x, y, z) nm
        Position of the centre of voxel ``(0, 0, 0)``.
    simplify_nm : float, optional
        Simplify with at most this displacement of any vertex, in nm (None: no simplification).
    ids : sequence of int, optional
        Mesh only these labels.
    groups : mapping of int to array, optional
        ``{group_id: label ids}``: one surface per group (overrides ``ids``).
    block_xyz : (x, y, z) voxels, optional
        Mesh block by block (default: one block up to 256 per axis).
    workers : int, optional
        Worker threads (1: this thread; None: automatic).
    smooth : int
        Taubin smoothing iterations.
    vertex_segments : bool
        Record the label under each vertex in :attr:`Mesh.segments`.

    Returns
    -------
    dict of int to Mesh
        Vertices in nm, x, y, z.

    Examples
    --------
    >>> lab = np.zeros((4, 6, 6), np.uint32); lab[1:3, 1:5, 1:5] = 7
    >>> m = mesh_labels(lab, (4, 4, 40), block_xyz=(3, 3, 2))[7]  # 8 blocks, stitched
    >>> m.is_closed, m.bounds_nm
    (True, ((2.0, 2.0, 20.0), (18.0, 18.0, 100.0)))
    """
    arr = np.asarray(labels_zyx)
    if arr.ndim != 3 or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidParameterError(
            f"labels must be a 3-D integer [z, y, x] array, got {arr.ndim}-D {arr.dtype}"
        )
    if groups is None and ids is not None:
        groups = {int(i): np.array([i], np.uint64) for i in ids}
    vs = VoxelSize.parse(voxel_size_xyz).xyz
    table = GroupTable.from_groups(groups) if groups is not None else None
    shape_xyz = arr.shape[::-1]
    block = tuple(block_xyz) if block_xyz is not None else DEFAULT_BLOCK
    tasks = []
    for rs, re, lo, hi in plan_blocks((0, 0, 0), shape_xyz, block):
        sub = arr[rs[2] : re[2], rs[1] : re[1], rs[0] : re[0]]
        tasks.append(
            BlockTask(
                rs,
                re,
                lo,  # type: ignore[arg-type]
                hi,  # type: ignore[arg-type]
                vs,
                simplify_nm=simplify_nm,
                vertex_segments=vertex_segments,
                table=table,
                array=np.ascontiguousarray(sub),
            )
        )
    return mesh_blocks(tasks, voxel_size=vs, origin_nm=offset_nm, workers=workers, smooth=smooth)
