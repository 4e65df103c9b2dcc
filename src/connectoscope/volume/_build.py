"""Writing pyramids shard by shard: ingest from a source, resumable, one task per shard.

Every output shard is written by exactly one task (whole shard regions, so no two writers
ever touch one shard file). After a shard is written its task creates an empty completion
record ``.progress/<layer>/<level>/<shard>.done``; a re-run skips recorded shards, so a run
killed at any point resumes and yields byte-identical output. The layer is marked
``complete`` in the dataset metadata only after every level is done.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._lock import holds_layer
from .._progress import progress
from .._store import Layout, Store
from ..errors import DatasetExistsError, InvalidParameterError
from ..geometry import VoxelSize, int3
from ..parallel import run_graph
from ..sources import BaseSource, SourceReader
from ._downsample import downsample_image, downsample_labels
from ._modes import check_rule, describe_rule, downsample_labels_rule
from ._omezarr import (
    LevelSpec,
    choose_chunk_shard,
    create_level,
    open_level,
    write_ome_metadata,
)
from ._shardio import write_shard
from ._verify import check_grid, warn_file_count
from ._volume_layer import VolumeLayer

__all__ = ["StorageSpec", "build_layer", "levels_for"]


@dataclass(frozen=True)
class StorageSpec:
    """How a layer is stored: chunk and shard shapes (``x, y, z`` voxels).

    ``None`` picks the defaults: chunks of about 1 MB (128 x 128 in x, y), shards 64 planes
    deep and 2 x 2 chunks wide. A custom shard is rounded up to whole chunks; a custom chunk
    without a shard gets shards of 4 chunks per axis.

    >>> StorageSpec(chunk_xyz=(64, 64, 16)).to_dict()
    {'chunk_xyz': [64, 64, 16], 'shard_xyz': None}
    """

    chunk_xyz: tuple[int, int, int] | None = None
    shard_xyz: tuple[int, int, int] | None = None
    #: Label pyramids: ``countless``, ``mode-smallest`` or ``mode-first`` (volume/_modes.py).
    label_downsampling: str = "countless"

    def __post_init__(self) -> None:

        check_rule(self.label_downsampling)
        for name in ("chunk_xyz", "shard_xyz"):
            v = getattr(self, name)
            if v is None:
                continue
            t = int3(v)
            if min(t) < 1:
                raise InvalidParameterError(
                    f"{name}: every value must be >= 1 voxel, got {t} (CLI: --{name[:5]} X,Y,Z)"
                )
            object.__setattr__(self, name, t)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "chunk_xyz": list(self.chunk_xyz) if self.chunk_xyz else None,
            "shard_xyz": list(self.shard_xyz) if self.shard_xyz else None,
        }
        if self.label_downsampling != "countless":
            d["label_downsampling"] = self.label_downsampling
        return d


@dataclass(frozen=True)
class _ShardTask:
    """One output shard of one level (picklable: paths and boxes, plus the source at level 0).

    ``piece_step`` is the factor ``(x, y, z)`` to the next level when the next level's task
    takes this shard's downsampled data from memory (``None``: nobody needs it, or the box is
    not aligned to the factor and the next level reads the store instead).
    """

    ds_path: str
    relpath: str
    progress_name: str
    level: int
    index: int
    start: tuple[int, int, int]
    stop: tuple[int, int, int]
    label: bool
    source: Any  # SourceReader at level 0 (when not done), else None
    step_xyz: tuple[int, int, int] = (1, 1, 1)  # factor from the previous level
    prev_shape: tuple[int, int, int] = (0, 0, 0)
    done: bool = False
    piece_step: tuple[int, int, int] | None = None
    from_store: bool = False  # build from the previous level in the store, not from pieces
    spec: LevelSpec | None = None  # this level's shapes (for the shard writer)
    rule: str = "countless"  # label downsampling rule (volume/_modes.py)

    @property
    def record(self) -> Path:
        return _record(self.ds_path, self.progress_name, self.level, self.index)

    @property
    def nbytes(self) -> int:
        return int(np.prod([b - a for a, b in zip(self.start, self.stop)]))


def _record(ds_path: str, progress_name: str, level: int, index: int) -> Path:
    return Layout(Path(ds_path)).progress(progress_name) / str(level) / f"{index}.done"


#: One shard's downsampled data handed to the next level: (start_zyx there, array).
_Piece = tuple[tuple[int, int, int], np.ndarray]

_OPEN: dict[str, Any] = {}
_OPEN_LOCK = threading.Lock()


def _array(path: Path) -> Any:
    """The level's TensorStore, opened once per process (thread-safe handle).

    Keyed by the metadata file's change time too, so a warm worker never reuses the handle
    of a level that was replaced (``overwrite``) since it opened it.
    """
    try:
        stamp = (path / "zarr.json").stat().st_mtime_ns
    except OSError:
        stamp = 0
    key = f"{path}@{stamp}"
    with _OPEN_LOCK:
        arr = _OPEN.get(key)
        if arr is None:
            arr = _OPEN[key] = open_level(path)
        return arr


def _forget_arrays(prefix: Path) -> None:
    with _OPEN_LOCK:
        for key in [k for k in _OPEN if k.startswith(str(prefix))]:
            del _OPEN[key]


_SCRATCH = threading.local()


def _scratch(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A reusable per-thread array for one task's shard data (never returned by a task).

    Shard tasks allocate the same 64 MB again and again; fresh memory costs a page fault per
    page on first touch, so each thread keeps its last two buffers.
    """
    pool: dict[tuple[Any, ...], np.ndarray] | None = getattr(_SCRATCH, "pool", None)
    if pool is None:
        pool = _SCRATCH.pool = {}
    key = (shape, np.dtype(dtype).str)
    buf = pool.pop(key, None)
    if buf is None:
        buf = np.empty(shape, dtype)
    pool[key] = buf
    while len(pool) > 2:
        pool.pop(next(iter(pool)))
    return buf


def _box(start: Sequence[int], stop: Sequence[int]) -> tuple[slice, ...]:
    return tuple(slice(a, b) for a, b in zip(start, stop))


def _kernel(label: bool, rule: str = "countless") -> Any:
    if label and rule != "countless":
        from functools import partial

        return partial(downsample_labels_rule, rule=rule)
    return downsample_labels if label else downsample_image


def _assemble(task: _ShardTask, pieces: Sequence[Any]) -> np.ndarray | None:
    """This shard's data from the finer level's downsampled pieces (None if one is missing)."""
    got = [r[1] for r in pieces]
    if not got or any(p is None for p in got):
        return None
    shape = tuple(b - a for a, b in zip(task.start, task.stop))
    if len(got) == 1:
        (pstart, arr) = got[0]
        if tuple(pstart) == task.start and arr.shape == shape:
            return arr
    dtype = got[0][1].dtype
    out = np.empty(shape, dtype)
    covered = 0
    for pstart, arr in got:
        lo = [max(a, p) for a, p in zip(task.start, pstart)]
        hi = [min(b, p + n) for b, p, n in zip(task.stop, pstart, arr.shape)]
        if any(h <= low for low, h in zip(lo, hi)):
            continue
        out[
            _box([a - s for a, s in zip(lo, task.start)], [b - s for b, s in zip(hi, task.start)])
        ] = arr[_box([a - p for a, p in zip(lo, pstart)], [b - p for b, p in zip(hi, pstart)])]
        covered += int(np.prod([h - low for low, h in zip(lo, hi)]))
    if covered != out.size:  # pragma: no cover - planning guarantees a tiling
        return None
    return out


def _run_shard(task: _ShardTask, *children: Any) -> tuple[int, _Piece | None]:
    """Write one shard (unless recorded done); return (bytes written, piece for the next level)."""
    here = Path(task.ds_path) / task.relpath
    data: np.ndarray | None = None
    written = 0
    if task.done:
        if task.piece_step is not None:
            data = np.asarray(
                _array(here / str(task.level))[_box(task.start, task.stop)].read().result()
            )
    else:
        if task.level == 0:
            if type(task.source).read_into is not BaseSource.read_into:  # fills in place
                shape = tuple(b - a for a, b in zip(task.start, task.stop))
                buf = _scratch(shape, np.dtype(task.source.dtype))
                data = task.source.read_into(task.start, task.stop, buf)
            else:
                data = task.source.read(task.start, task.stop)
            # Testing knob for the kill-and-resume test: pause between reading and writing.
            delay = float(os.environ.get("CONNECTOSCOPE_SLOW_SHARD_S", "0") or 0)
            if delay:
                time.sleep(delay)
        else:
            data = None if task.from_store else _assemble(task, children)
            if data is None:
                fx, fy, fz = task.step_xyz
                lo = (task.start[0] * fz, task.start[1] * fy, task.start[2] * fx)
                hi = tuple(
                    min(s * f, n) for s, f, n in zip(task.stop, (fz, fy, fx), task.prev_shape)
                )
                src = _array(here / str(task.level - 1))
                block = np.asarray(src[_box(lo, hi)].read().result())
                data = _kernel(task.label, task.rule)(block, task.step_xyz)
        assert data is not None and task.spec is not None
        # the completion record carries the shard's size and CRC32C (verify, reads)
        write_shard(
            here / str(task.level),
            task.spec,
            task.start,
            data,
            label=task.label,
            record=task.record,
        )
        written = int(data.nbytes)
    piece: _Piece | None = None
    if task.piece_step is not None and data is not None:
        f = task.piece_step
        nstart = (task.start[0] // f[2], task.start[1] // f[1], task.start[2] // f[0])
        piece = (nstart, _kernel(task.label, task.rule)(data, f))
    return written, piece


def levels_for(
    shape_zyx: tuple[int, int, int],
    dtype: np.dtype,
    voxel_size: VoxelSize,
    factors_xyz: Sequence[tuple[int, int, int]],
    storage: StorageSpec,
) -> list[LevelSpec]:
    """The levels (shape, chunk, shard, factor, voxel size) of a layer under a level plan."""
    check_grid(storage.chunk_xyz, storage.shard_xyz, shape_zyx)  # empty volumes refused
    levels = []
    for f in factors_xyz:
        shape = (
            -(-shape_zyx[0] // f[2]),
            -(-shape_zyx[1] // f[1]),
            -(-shape_zyx[2] // f[0]),
        )
        vs = voxel_size.scaled(f)
        c, s = choose_chunk_shard(shape, dtype, voxel_size)
        if storage.chunk_xyz is not None:
            c = int3(min(int(v), n) for v, n in zip(storage.chunk_xyz[::-1], shape))
        if storage.shard_xyz is not None:
            s = int3(
                min(-(-n // ci) * ci, -(-int(v) // ci) * ci)
                for v, n, ci in zip(storage.shard_xyz[::-1], shape, c)
            )
        elif storage.chunk_xyz is not None:
            s = int3(min(ci * 4, -(-n // ci) * ci) for ci, n in zip(c, shape))
        levels.append(LevelSpec(shape, c, s, int3(f), vs))
    warn_file_count(levels, storage.chunk_xyz, storage.shard_xyz)  # tiny chunks: file count
    return levels


@holds_layer("writing layer")  # one writer per dataset; readers wait, never see a mix
def build_layer(
    ds: Store,
    name: str,
    kind: str,
    source: SourceReader,
    *,
    levels: list[LevelSpec],
    workers: int | None,
    signature: str,
    extra: dict[str, Any] | None = None,
    step: str = "",
    rule: str = "countless",
) -> VolumeLayer:
    """Write every level of a layer from ``source``, resumably (the engine under
    :func:`~connectoscope.volume.write_layer` and :func:`~connectoscope.volume.ingest`)."""
    label = kind != "image"
    dtype = np.dtype(source.dtype)
    relpath = Layout.layer_relpath(name, kind)
    method = describe_rule(rule) if label else "area average"
    existing = ds.layers.get(name)
    if existing is not None and existing.get("signature") != signature:
        raise DatasetExistsError(
            f"{ds.path}: layer {name!r} exists from another source or with other settings; "
            "pass --overwrite (overwrite=True) to replace it"
        )
    desc = {
        "kind": kind,
        "path": relpath,
        "dtype": dtype.name,
        "levels": [lev.to_dict() for lev in levels],
        "complete": False,
        "downsampling": method,
        **({"label_downsampling": rule} if label else {}),
        "signature": signature,
        "source": source.description,
        **(extra or {}),
    }
    ds.set_layer(name, desc)
    write_ome_metadata(ds.path, name, kind, levels, offset_vx=ds.offset_vx, method=method)
    t0 = time.perf_counter()
    for li, lev in enumerate(levels):
        create_level(ds.path / relpath / str(li), dtype, lev, label=label)
    _forget_arrays(ds.path / relpath)
    graph, final, todo = _plan(str(ds.path), relpath, levels, source, label, rule)
    itemsize = dtype.itemsize
    total = sum(t.nbytes for t in todo.values()) * itemsize
    if existing is not None:  # resuming: drop temporary files of shards cut short by a kill
        for li in range(len(levels)):
            for part in (ds.path / relpath / str(li)).glob("c/**/.*.part"):
                part.unlink()
    _execute(
        graph,
        final,
        todo,
        itemsize,
        total,
        name=name,
        workers=workers,
    )
    ds.reload()
    desc = dict(ds.layer(name))
    desc["complete"] = True
    ds.set_layer(name, desc)
    ds.record_step(
        step or f"write {name}",
        layer=name,
        source=source.description,
        levels=len(levels),
        seconds=round(time.perf_counter() - t0, 3),
        bytes_written=total,
        missing=source.missing(),
        skipped=source.skipped(),
    )
    return VolumeLayer(ds, name)


def _step(levels: Sequence[LevelSpec], li: int) -> tuple[int, int, int]:
    """Factor ``(x, y, z)`` from level ``li - 1`` to level ``li``."""
    a, b = levels[li - 1].factor_xyz, levels[li].factor_xyz
    return (b[0] // a[0], b[1] // a[1], b[2] // a[2])


def _aligned(
    start: Sequence[int], stop: Sequence[int], shape: Sequence[int], f_zyx: Sequence[int]
) -> bool:
    """True when a box downsamples on its own exactly as inside the whole level."""
    return all(
        a % f == 0 and (b % f == 0 or b == n) for a, b, n, f in zip(start, stop, shape, f_zyx)
    )


def _children(
    lev_fine: LevelSpec, start: Sequence[int], stop: Sequence[int], f_zyx: Sequence[int]
) -> list[int]:
    """Indices (C order) of the finer level's shards under a coarser box."""
    grid = lev_fine.shard_grid()
    ranges = []
    for a, b, f, sh, n in zip(start, stop, f_zyx, lev_fine.shard_zyx, lev_fine.shape_zyx):
        lo, hi = a * f, min(b * f, n)
        ranges.append(range(lo // sh, (hi - 1) // sh + 1))
    return [
        (k * grid[1] + j) * grid[2] + i for k in ranges[0] for j in ranges[1] for i in ranges[2]
    ]


def _plan(
    ds_path: str,
    relpath: str,
    levels: Sequence[LevelSpec],
    source: SourceReader,
    label: bool,
    rule: str = "countless",
) -> tuple[dict[str, Any], list[str], dict[str, _ShardTask]]:
    """The Dask graph of a pyramid build: one task per output shard not yet recorded done.

    A coarser shard depends on the finer shards it is built from and takes their
    downsampled data from memory (no re-read of the store); a finer shard that is already
    done but feeds an unfinished coarser one re-reads itself from the store. Returns the
    graph, the keys to ask for (tasks nothing else depends on) and the tasks to write.
    """
    prog = "image" if relpath == Layout.layer_relpath("image", "image") else Path(relpath).name
    boxes = [lev.shard_boxes() for lev in levels]
    done = [
        [_record(ds_path, prog, li, i).exists() for i in range(len(b))]
        for li, b in enumerate(boxes)
    ]
    n_levels = len(levels)
    children: list[list[list[int]]] = [[] for _ in levels]
    parents: list[list[list[int]]] = [[[] for _ in b] for b in boxes]
    from_store: list[list[bool]] = [[False] * len(b) for b in boxes]
    aligned: list[list[bool]] = [[False] * len(b) for b in boxes]
    for li in range(1, n_levels):
        f = _step(levels, li)
        f_zyx = (f[2], f[1], f[0])
        prev = levels[li - 1]
        for i, (start, _stop) in enumerate(boxes[li - 1]):
            aligned[li - 1][i] = _aligned(start, _stop, prev.shape_zyx, f_zyx)
        for j, (start, stop) in enumerate(boxes[li]):
            kids = _children(prev, start, stop, f_zyx)
            children[li].append(kids)
            for c in kids:
                parents[li - 1][c].append(j)
            from_store[li][j] = not all(aligned[li - 1][c] for c in kids)
    graph: dict[str, Any] = {}
    todo: dict[str, _ShardTask] = {}
    tasks: dict[tuple[int, int], _ShardTask] = {}
    for li in range(n_levels):
        step = _step(levels, li) if li else (1, 1, 1)
        nstep = _step(levels, li + 1) if li + 1 < n_levels else None
        for i, (start, stop) in enumerate(boxes[li]):
            wanted = (
                nstep is not None
                and aligned[li][i]
                and any(not done[li + 1][p] and not from_store[li + 1][p] for p in parents[li][i])
            )
            if done[li][i] and not wanted:
                continue
            t = _ShardTask(
                ds_path,
                relpath,
                prog,
                li,
                i,
                start,
                stop,
                label,
                source if (li == 0 and not done[li][i]) else None,
                step,
                levels[li - 1].shape_zyx if li else (0, 0, 0),
                done[li][i],
                nstep if wanted else None,
                from_store[li][i],
                levels[li],
                rule,
            )
            key = f"{prog}-L{li}-{i}"
            tasks[(li, i)] = t
            deps = []
            if li and not t.done:
                deps = [f"{prog}-L{li - 1}-{c}" for c in children[li][i] if (li - 1, c) in tasks]
            graph[key] = (_run_shard, t, *deps)
            if not t.done:
                todo[key] = t
    final = [
        f"{prog}-L{li}-{i}"
        for (li, i) in tasks
        if not any((li + 1, p) in tasks and not done[li + 1][p] for p in parents[li][i])
    ]
    return graph, final, todo


def _execute(
    graph: dict[str, Any],
    final: list[str],
    todo: dict[str, _ShardTask],
    itemsize: int,
    total: int,
    *,
    name: str,
    workers: int | None,
) -> None:

    if not graph:
        return
    size = {k: t.nbytes * itemsize for k, t in todo.items()}
    with progress(
        total=total, desc=f"ingest {name}", unit="B", unit_scale=True, unit_divisor=1000
    ) as bar:

        def on_done(key: Any, result: Any) -> None:
            if key is None:  # polled on a cluster: bytes done so far
                bar.update(result - bar.n)
            elif key in size:
                bar.update(size[key])

        def poll() -> float:
            return sum(v for k, v in size.items() if todo[k].record.exists())

        run_graph(
            graph,
            final,
            workers=workers if len(todo) > 1 else 1,
            mode="threads",
            on_done=on_done,
            poll=poll,
        )


def _signature(source: SourceReader, kind: str) -> str:
    h = hashlib.sha1()
    h.update(
        json.dumps([source.description, list(source.shape_zyx), str(source.dtype), kind]).encode()
    )
    return h.hexdigest()[:16]
