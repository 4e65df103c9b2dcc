"""``generate``: plan the tissue, rasterise it block by block, write the L4dense layout."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..._config import config
from ..._progress import progress as progress_bar
from ...errors import InvalidParameterError
from ...geometry import VoxelSize, VoxelSizeLike
from ._cells import plan_cells
from ._constants import KINDS
from ._manifest import SynthManifest
from ._scene import Tally, build_scene
from ._synapses_plan import plan_synapses
from ._tables import build_tables
from ._writer import CubeWriter, check_shape, prepare_out, write_tables

__all__ = ["BLOCK_ZYX", "generate", "pick_missing"]

#: Largest block computed at once (z, y, x): bounds memory to about 80 MB for any cube.
BLOCK_ZYX = (64, 256, 256)


@dataclass(frozen=True)
class _Block:
    grid: tuple[int, int, int]
    offset_zyx: tuple[int, int, int]
    size_xyz: tuple[int, int, int]


T = TypeVar("T")
R = TypeVar("R")


def _run_ordered(func: Callable[[T], R], items: list[T], workers: int) -> Iterator[R]:
    """``map(func, items)`` in order, on ``workers`` threads with a bounded window."""
    if workers <= 1:
        for it in items:
            yield func(it)
        return
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(max_workers=workers) as ex:
        for it in items:
            pending.append(ex.submit(func, it))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _resolve_workers(workers: int | None) -> int:
    if workers is None:
        w = config.get("workers")
        return int(w) if w else max(1, os.cpu_count() or 1)
    if int(workers) < 1:
        raise InvalidParameterError(f"--workers: expected 1 or more threads, got {workers}")
    return int(workers)


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


def pick_missing(
    grid_shape: tuple[int, int, int], missing: int, seed: int
) -> list[tuple[int, int, int]]:
    """The ``missing`` grid positions ``(i, j, k)`` left without files, chosen from the seed."""
    positions = [
        (i, j, k)
        for k in range(grid_shape[2])
        for j in range(grid_shape[1])
        for i in range(grid_shape[0])
    ]
    if missing < 0 or missing >= len(positions):
        raise InvalidParameterError(
            f"--missing {missing}: expected 0 to {len(positions) - 1} (the volume has "
            f"{len(positions)} cube positions and at least one must have files)"
        )
    rng = np.random.default_rng([seed, 5])
    pick = sorted(int(v) for v in rng.choice(len(positions), size=missing, replace=False))
    return [positions[p] for p in pick]


def generate(
    out: str | Path,
    *,
    shape_xyz: Sequence[int] = (512, 512, 256),
    cube: int = 256,
    seed: int = 0,
    voxel_size: VoxelSizeLike = (11.24, 11.24, 28.0),
    missing: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    workers: int | None = 1,
) -> SynthManifest:
    """Write a synthetic EM volume with segmentation, objects, synapses and cells.

    The folder has exactly the L4dense layout (``color/x{i}y{j}z{k}.hdf5`` uint8 and
    ``segmentation/x{i}y{j}z{k}.hdf5`` uint32, dataset ``/data`` ``[z, y, x]`` of
    ``cube**3`` voxels) plus ``objects.hdf5``/``objects.parquet`` (object maps),
    ``synapses.parquet``, ``cells.parquet`` and ``synth.json``.

    Parameters
    ----------
    out : path-like
        Output folder (created).
    shape_xyz : (int, int, int)
        Volume size in voxels ``(x, y, z)``; each a multiple of ``cube``.
    cube : int
        Cube edge in voxels (256 by default; L4dense uses 1024).
    seed : int
        Random seed: the same seed, shape and voxel size give the same bytes, whatever
        ``cube`` is (the content of the volume does not depend on how it is cut).
    voxel_size : (float, float, float) or str
        Voxel size ``(x, y, z)`` in nm (L4dense: 11.24, 11.24, 28).
    missing : int
        Number of grid positions (chosen from the seed) left without any file. The object
        maps and tables still describe the whole volume.
    overwrite : bool
        Replace the generated files of an existing OUT instead of refusing.
    progress : bool
        Show a progress bar.
    workers : int or None
        Threads computing blocks at once (the kernels release the GIL); ``None`` means the
        ``workers`` configuration or the number of cores. The output is the same for any
        number of workers.

    Returns
    -------
    SynthManifest
        What was written (also in ``OUT/synth.json``).

    Raises
    ------
    InvalidParameterError
        When the shape is not a multiple of the cube or ``missing`` is out of range.
    DatasetExistsError
        When OUT exists, is not empty and ``overwrite`` is false.
    """
    # heavy imports (numba kernels, scipy) only when generating

    try:
        shape = tuple(int(v) for v in shape_xyz)
    except (TypeError, ValueError) as e:
        raise InvalidParameterError(
            f"--shape: expected three integers X,Y,Z, got {shape_xyz!r}"
        ) from e
    if len(shape) != 3:
        raise InvalidParameterError(f"--shape: expected three integers X,Y,Z, got {shape_xyz!r}")
    shape_t: tuple[int, int, int] = (shape[0], shape[1], shape[2])
    cube = int(cube)
    check_shape(shape_t, cube)
    if int(seed) < 0:
        raise InvalidParameterError(f"--seed: expected an integer >= 0, got {seed}")
    seed = int(seed)
    vs = VoxelSize.parse(voxel_size)
    grid = (shape_t[0] // cube, shape_t[1] // cube, shape_t[2] // cube)
    missing_pos = pick_missing(grid, int(missing), seed)
    n_workers = _resolve_workers(workers)
    out = Path(out)
    prepare_out(out, overwrite)

    rng = np.random.default_rng([seed, 1])
    tissue = plan_cells(np.array(shape_t, float) * np.array(vs.xyz), rng)
    plan = plan_synapses(tissue, rng)
    scene = build_scene(tissue, plan, shape_t, vs.xyz, seed)

    bz, by, bx = (min(cube, b) for b in BLOCK_ZYX)
    missing_set = set(missing_pos)
    present = [
        (i, j, k)
        for k in range(grid[2])
        for j in range(grid[1])
        for i in range(grid[0])
        if (i, j, k) not in missing_set
    ]
    jobs = [
        _Block(
            (i, j, k), (z0, y0, x0), (min(bx, cube - x0), min(by, cube - y0), min(bz, cube - z0))
        )
        for k in range(grid[2])
        for j in range(grid[1])
        for i in range(grid[0])
        for z0 in range(0, cube, bz)
        for y0 in range(0, cube, by)
        for x0 in range(0, cube, bx)
    ]

    def work(b: _Block) -> tuple[np.ndarray, np.ndarray, Tally]:
        tally = scene.new_tally()
        start = tuple(b.grid[a] * cube + b.offset_zyx[2 - a] for a in range(3))
        seg, em = scene.run_block(start, b.size_xyz, tally)  # type: ignore[arg-type]
        return seg, em, tally

    writer: CubeWriter | None = None
    current: tuple[int, int, int] | None = None
    bar_cm = progress_bar(total=len(jobs), desc="synth", unit="block") if progress else _NoBar()
    try:
        with bar_cm as bar:
            for b, (seg, em, tally) in zip(jobs, _run_ordered(work, jobs, n_workers)):
                scene.merge(tally)
                if b.grid != current:
                    if writer is not None:
                        writer.close()
                        writer = None
                    current = b.grid
                    if b.grid not in missing_set:
                        writer = CubeWriter(out, b.grid, cube)
                if writer is not None:
                    writer.write(b.offset_zyx, seg, em)
                bar.update(1)
    finally:
        if writer is not None:
            writer.close()

    tables = build_tables(tissue, plan, scene)
    write_tables(out, tables)
    syn = tables.synapses
    n_spine = int((syn["target"] == "spine").sum())
    manifest = SynthManifest(
        shape_xyz=shape_t,
        cube=cube,
        seed=seed,
        voxel_size_nm=vs.xyz,
        cubes_present=tuple(present),
        cubes_missing=tuple(missing_pos),
        counts={k: int(tables.maps[k].max(initial=0)) for k in KINDS},
        segments_per_kind={k: int(np.count_nonzero(tables.maps[k])) for k in KINDS},
        n_segments=tables.n_segments,
        n_glia_segments=tables.n_glia_segments,
        glia_first_id=scene.glia_first,
        maximum_segment_id=tables.maximum_segment_id,
        n_synapses=len(syn),
        n_spine_synapses=n_spine,
        n_shaft_synapses=len(syn) - n_spine,
        n_cells=len(tables.cells),
        n_neurons=int((tables.cells["neuron_id"] > 0).sum()),
    )
    manifest.write(out)
    return manifest
