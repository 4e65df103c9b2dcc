"""Connected components per segment, block by block, merged exactly across block borders.

Each block (one storage shard, or a cut of an in-memory array) is labelled by
``cc3d.connected_components`` (components never join different segment ids) and returns its
six border faces in component ids. Components of neighbouring blocks that touch across a cut
plane (face neighbours for 6-connectivity; also edge or corner neighbours for 18 and 26, which
includes blocks meeting only at an edge or a corner) and hold the same segment id are joined
with a union-find over the whole region (``scipy.sparse.csgraph``). The result is the number of
connected pieces of every segment, as if the whole volume had been labelled at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._store import Store
from ..errors import InvalidParameterError
from ..geometry import Bbox
from ..parallel import run_tasks
from ..volume import VolumeLayer

__all__ = ["count_components", "segment_components"]

_SHIFTS = {
    6: [(0, 0)],
    18: [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)],
    26: [(du, dv) for du in (-1, 0, 1) for dv in (-1, 0, 1)],
}


@dataclass
class _BlockResult:
    start_zyx: tuple[int, int, int]
    stop_zyx: tuple[int, int, int]
    n: int
    segment: np.ndarray  # (n + 1,) uint64, segment id of each local component (0: none)
    faces: dict[tuple[int, int], np.ndarray]  # (axis, 0 low | 1 high) -> 2-D local ids


def _label_block(
    labels_zyx: np.ndarray, start_zyx: tuple[int, int, int], connectivity: int
) -> _BlockResult:
    import cc3d

    arr = np.ascontiguousarray(labels_zyx)
    cc, n = cc3d.connected_components(arr, connectivity=connectivity, return_N=True)  # type: ignore[call-overload]
    cc = np.asarray(cc)
    seg = np.zeros(int(n) + 1, np.uint64)
    seg[cc.reshape(-1)] = arr.reshape(-1).astype(np.uint64, copy=False)
    faces = {}
    for ax in range(3):
        faces[(ax, 0)] = np.ascontiguousarray(np.take(cc, 0, axis=ax)).astype(np.int64)
        faces[(ax, 1)] = np.ascontiguousarray(np.take(cc, -1, axis=ax)).astype(np.int64)
    stop = tuple(a + s for a, s in zip(start_zyx, arr.shape))
    return _BlockResult(start_zyx, stop, int(n), seg, faces)


def _merge(
    results: Sequence[_BlockResult], shape_zyx: Sequence[int], connectivity: int
) -> pd.DataFrame:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    offsets = np.cumsum([0] + [r.n for r in results])
    total = int(offsets[-1])
    segment = np.zeros(total + 1, np.uint64)  # global id 0 = background
    for r, off in zip(results, offsets[:-1]):
        segment[off + 1 : off + 1 + r.n] = r.segment[1:]
    pairs_a: list[np.ndarray] = []
    pairs_b: list[np.ndarray] = []
    for ax in range(3):
        others = [a for a in range(3) if a != ax]
        cuts = sorted({r.start_zyx[ax] for r in results if r.start_zyx[ax] > 0})
        plane_shape = tuple(int(shape_zyx[a]) for a in others)
        for c in cuts:
            lo = np.zeros(plane_shape, np.int64)  # global ids on the slab at c - 1
            hi = np.zeros(plane_shape, np.int64)  # and at c
            for r, off in zip(results, offsets[:-1]):
                sl = tuple(slice(r.start_zyx[a], r.stop_zyx[a]) for a in others)
                if r.stop_zyx[ax] == c:
                    f = r.faces[(ax, 1)]
                    lo[sl] = np.where(f > 0, f + off, 0)
                elif r.start_zyx[ax] == c:
                    f = r.faces[(ax, 0)]
                    hi[sl] = np.where(f > 0, f + off, 0)
            h, w = plane_shape
            for du, dv in _SHIFTS[connectivity]:
                a = lo[max(0, -du) : h - max(0, du), max(0, -dv) : w - max(0, dv)]
                b = hi[max(0, du) : h - max(0, -du), max(0, dv) : w - max(0, -dv)]
                keep = (a > 0) & (b > 0)
                a, b = a[keep], b[keep]
                same = segment[a] == segment[b]
                if same.any():
                    pairs_a.append(a[same])
                    pairs_b.append(b[same])
    if pairs_a:
        ia = np.concatenate(pairs_a)
        ib = np.concatenate(pairs_b)
    else:
        ia = ib = np.zeros(0, np.int64)
    graph = coo_matrix((np.ones(len(ia), np.int8), (ia, ib)), shape=(total + 1, total + 1))
    _, root = connected_components(graph, directed=False)
    df = pd.DataFrame({"segment_id": segment[1:], "root": root[1:]}).drop_duplicates()
    out = df.groupby("segment_id", sort=True).size().rename("components").reset_index()
    out["segment_id"] = out["segment_id"].astype(np.uint64)
    out["components"] = out["components"].astype(np.int64)
    return out


def _check_connectivity(connectivity: int) -> None:
    if connectivity not in _SHIFTS:
        raise InvalidParameterError(
            f"connectivity must be 6, 18 or 26 (face, edge, corner neighbours), got {connectivity}"
        )


def count_components(
    labels_zyx: np.ndarray,
    *,
    connectivity: int = 26,
    block_zyx: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Connected pieces of every segment of an in-memory ``[z, y, x]`` label array.

    Parameters
    ----------
    labels_zyx : numpy.ndarray
        3-D integer labels, 0 = background (not counted).
    connectivity : {6, 18, 26}
        Voxel neighbourhood.
    block_zyx : (z, y, x), optional
        Label block by block and merge (the same result; used to check the merge and to
        bound memory per step). Default: the whole array as one block.

    Returns
    -------
    pandas.DataFrame
        ``segment_id`` (uint64), ``components`` (int64), sorted by segment id.

    Examples
    --------
    >>> lab = np.zeros((1, 4, 4), np.uint32); lab[0, 0, 0] = lab[0, 3, 3] = 5
    >>> count_components(lab, block_zyx=(1, 2, 2))["components"].tolist()
    [2]
    """
    _check_connectivity(connectivity)
    arr = np.asarray(labels_zyx)
    if arr.ndim != 3 or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidParameterError(
            f"labels must be a 3-D integer array, got {arr.ndim}-D {arr.dtype}"
        )
    block = tuple(int(b) for b in (block_zyx or arr.shape))
    results = []
    for z in range(0, arr.shape[0], block[0]):
        for y in range(0, arr.shape[1], block[1]):
            for x in range(0, arr.shape[2], block[2]):
                sub = arr[z : z + block[0], y : y + block[1], x : x + block[2]]
                results.append(_label_block(sub, (z, y, x), connectivity))
    return _merge(results, arr.shape, connectivity)


@dataclass(frozen=True)
class _ComponentTask:
    ds_path: str
    layer: str
    level: int
    start_zyx: tuple[int, int, int]
    stop_zyx: tuple[int, int, int]
    connectivity: int


def _component_task(task: _ComponentTask) -> _BlockResult:

    layer = VolumeLayer(Store(task.ds_path), task.layer)
    box = Bbox(task.start_zyx[::-1], task.stop_zyx[::-1])
    return _label_block(layer.read(box, level=task.level), task.start_zyx, task.connectivity)


def segment_components(
    dataset: Store,
    *,
    level: int = 0,
    connectivity: int = 26,
    layer: str = "segmentation",
    workers: int | None = None,
) -> pd.DataFrame:
    """Connected pieces of every segment of a dataset's label layer, one task per shard.

    Parameters
    ----------
    dataset : Store
    level : int
    connectivity : {6, 18, 26}
    layer : str
    workers : int, optional
        Worker processes (default: all cores).

    Returns
    -------
    pandas.DataFrame
        ``segment_id`` (uint64), ``components`` (int64).
    """

    _check_connectivity(connectivity)
    vol = VolumeLayer(dataset, layer)
    shape = vol.shape_zyx(level)
    lev = vol.levels[level]
    tasks = [
        _ComponentTask(str(dataset.path), layer, level, start, stop, connectivity)
        for start, stop in lev.shard_boxes()
    ]
    results = run_tasks(
        _component_task,
        tasks,
        workers=1 if len(tasks) < 2 else workers,
        desc="components",
        unit="shard",
    )
    return _merge(results, shape, connectivity)
