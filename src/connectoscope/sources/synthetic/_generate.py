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
from ._microns import write_microns_connectome
from ._scene import Scene, Tally, build_scene
from ._synapses_plan import plan_synapses
from ._tables import build_tables
from ._writer import (
    FULLRES_DIR,
    MICRONS_DIR,
    CubeWriter,
    check_shape,
    encode_block,
    prepare_out,
    write_tables,
)

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


#: Default voxel size of the overview volume: 5 x 5 x 3 L4dense voxels (56.2, 56.2, 84 nm).
OVERVIEW_VOXEL_NM = (56.2, 56.2, 84.0)
#: Voxel size of the full-resolution cube (L4dense).
FULLRES_VOXEL_NM = (11.24, 11.24, 28.0)


def _rasterise(
    scene: object,
    out: Path,
    cube: int,
    grids: list[tuple[int, int, int]],
    write: set[tuple[int, int, int]],
    workers: int,
    bar: object,
    measure: bool,
) -> None:
    """Compute every block of the cubes ``grids`` and write those in ``write``."""
    assert isinstance(scene, Scene)
    bz, by, bx = (min(cube, b) for b in BLOCK_ZYX)
    jobs = [
        _Block(g, (z0, y0, x0), (min(bx, cube - x0), min(by, cube - y0), min(bz, cube - z0)))
        for g in grids
        for z0 in range(0, cube, bz)
        for y0 in range(0, cube, by)
        for x0 in range(0, cube, bx)
    ]

    def work(b: _Block) -> tuple[list[tuple[tuple[int, int, int], bytes, bytes]], Tally]:
        tally = scene.new_tally()
        start = tuple(b.grid[a] * cube + b.offset_zyx[2 - a] for a in range(3))
        seg, em = scene.run_block(start, b.size_xyz, tally, measure=measure)  # type: ignore[arg-type]
        chunks = encode_block(b.offset_zyx, seg, em, cube) if b.grid in write else []
        return chunks, tally

    writer: CubeWriter | None = None
    current: tuple[int, int, int] | None = None
    try:
        for b, (chunks, tally) in zip(jobs, _run_ordered(work, jobs, workers)):
            scene.merge(tally)
            if b.grid != current:
                if writer is not None:
                    writer.close()
                    writer = None
                current = b.grid
                if b.grid in write:
                    writer = CubeWriter(out, b.grid, cube)
            if writer is not None:
                writer.write_chunks(chunks)
            bar.update(1)  # type: ignore[attr-defined]
    finally:
        if writer is not None:
            writer.close()


def _n_blocks(cube: int, n_cubes: int) -> int:
    bz, by, bx = (min(cube, b) for b in BLOCK_ZYX)
    return n_cubes * (-(-cube // bz)) * (-(-cube // by)) * (-(-cube // bx))


def generate(
    out: str | Path,
    *,
    shape_xyz: Sequence[int] = (512, 512, 256),
    cube: int = 256,
    seed: int = 0,
    voxel_size: VoxelSizeLike = OVERVIEW_VOXEL_NM,
    missing: int = 0,
    fullres_cube: int | None = None,
    fullres_voxel_size: VoxelSizeLike = FULLRES_VOXEL_NM,
    connectome_synapses: int = 2_088_830,
    overwrite: bool = False,
    progress: bool = True,
    workers: int | None = 1,
) -> SynthManifest:
    """Write a synthetic cortex at real scale: EM, segmentation, objects, synapses, cells,
    a full-resolution cube and a MICrONS-shaped connectome.

    The folder has exactly the L4dense layout (``color/x{i}y{j}z{k}.hdf5`` uint8 and
    ``segmentation/x{i}y{j}z{k}.hdf5`` uint32, dataset ``/data`` ``[z, y, x]`` of
    ``cube**3`` voxels) plus ``objects.hdf5``/``objects.parquet`` (object maps),
    ``synapses.parquet``, ``cells.parquet`` and ``synth.json``; ``fullres/`` holds one cube
    of the same tissue at ``fullres_voxel_size`` in the same layout, and ``microns/`` the
    connectome tables. See ``docs/synthetic.md`` for the scale and every column.

    Parameters
    ----------
    out : path-like
        Output folder (created).
    shape_xyz : (int, int, int)
        Overview volume size in voxels ``(x, y, z)``; each a multiple of ``cube``. The
        default at the default voxel size is 28.8 x 28.8 x 21.5 um.
    cube : int
        Cube edge in voxels (256 by default; L4dense uses 1024).
    seed : int
        Random seed: the same seed, shape and voxel size give the same bytes, whatever
        ``cube`` is (the content of the volume does not depend on how it is cut).
    voxel_size : (float, float, float) or str
        Overview voxel size ``(x, y, z)`` in nm; default 56.2, 56.2, 84 (5 x 5 x 3 L4dense
        voxels). Membranes and whole neurons are resolved at any size; axons thinner than
        about two voxels vanish under the membranes, as in a downsampled real volume.
    missing : int
        Number of overview grid positions (chosen from the seed) left without any file. The
        object maps and tables still describe the whole volume.
    fullres_cube : int or None
        Edge (voxels) of the full-resolution cube written to ``OUT/fullres`` (placed on the
        first neuron's proximal dendrite; at most the volume's size at that resolution); 0
        for none. ``voxel_size`` must then be an integer multiple of ``fullres_voxel_size``
        on every axis. None (default): 256 when it is a multiple other than 1, else none.
    fullres_voxel_size : (float, float, float) or str
        Voxel size of that cube, nm (default L4dense, 11.24, 11.24, 28).
    connectome_synapses : int
        Synapses of the MICrONS-shaped connectome in ``OUT/microns`` (default 2,088,830 as
        the MICrONS tutorial's proofread-axon table); 0 for none.
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
        When the shape is not a multiple of the cube, ``missing`` is out of range or the
        voxel sizes are not integer multiples.
    DatasetExistsError
        When OUT exists, is not empty and ``overwrite`` is false.
    """
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
    if int(connectome_synapses) < 0:
        raise InvalidParameterError(
            f"--connectome-synapses: expected 0 (none) or more, got {connectome_synapses}"
        )
    fr_vs = VoxelSize.parse(fullres_voxel_size)
    if fullres_cube is None:
        try:
            fr_factor = _factor(vs, fr_vs)
            fullres_cube = 256 if fr_factor != (1, 1, 1) else 0
        except InvalidParameterError:
            fr_factor, fullres_cube = (1, 1, 1), 0
    elif int(fullres_cube) != 0:
        if int(fullres_cube) < 8:
            raise InvalidParameterError(
                f"--fullres-cube: expected an edge of at least 8 voxels (or 0 for none), "
                f"got {fullres_cube}"
            )
        fr_factor = _factor(vs, fr_vs)
    else:
        fr_factor = (1, 1, 1)
    if fullres_cube:
        fit = min(s_ * f for s_, f in zip(shape_t, fr_factor))
        fullres_cube = min(int(fullres_cube), fit - fit % 8)
    out = Path(out)
    prepare_out(out, overwrite)

    rng = np.random.default_rng([seed, 1])
    extent = np.array(shape_t, float) * np.array(vs.xyz)
    tissue = plan_cells(extent, rng)
    plan = plan_synapses(tissue, rng)
    scene = build_scene(tissue, plan, shape_t, vs.xyz, seed)

    missing_set = set(missing_pos)
    all_grids = [(i, j, k) for k in range(grid[2]) for j in range(grid[1]) for i in range(grid[0])]
    present = [g for g in all_grids if g not in missing_set]
    fr_info: dict[str, object] = {}
    fr_scene = None
    fr_grid: tuple[int, int, int] | None = None
    total = _n_blocks(cube, len(all_grids))
    if fullres_cube:
        fc = int(fullres_cube)
        fr_shape = tuple(s_ * f for s_, f in zip(shape_t, fr_factor))
        edge_nm = np.array(fr_vs.xyz) * fc
        n_fr = [max(1, fs // fc) for fs in fr_shape]
        g = np.clip(np.floor(tissue.anchor_nm / edge_nm).astype(int), 0, np.array(n_fr) - 1)
        fr_grid = (int(g[0]), int(g[1]), int(g[2]))
        fr_scene = build_scene(tissue, plan, fr_shape, fr_vs.xyz, seed)  # type: ignore[arg-type]
        total += _n_blocks(fc, 1)
        fr_info = {
            "path": FULLRES_DIR,
            "voxel_size_nm": list(fr_vs.xyz),
            "cube": fc,
            "grid": list(fr_grid),
            "offset_vx": [fr_grid[a] * fc for a in range(3)],
            "factor": list(fr_factor),
        }
    bar_cm = progress_bar(total=total, desc="synth", unit="block") if progress else _NoBar()
    with bar_cm as bar:
        _rasterise(scene, out, cube, all_grids, set(present), n_workers, bar, True)
        if fr_scene is not None and fr_grid is not None:
            fr_out = out / FULLRES_DIR
            (fr_out / "color").mkdir(parents=True, exist_ok=True)
            (fr_out / "segmentation").mkdir(parents=True, exist_ok=True)
            _rasterise(
                fr_scene, fr_out, int(fullres_cube), [fr_grid], {fr_grid}, n_workers, bar, False
            )

    tables = build_tables(tissue, plan, scene, None if fr_scene is None else fr_scene.seen)
    write_tables(out, tables)
    conn_info: dict[str, object] = {}
    if connectome_synapses:
        conn_info = write_microns_connectome(
            out / MICRONS_DIR, n_synapses=int(connectome_synapses), seed=seed
        )
        conn_info["path"] = MICRONS_DIR
    syn = tables.synapses
    tgt = syn["target"].to_numpy()
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
        n_spine_synapses=int((tgt == "spine").sum()),
        n_shaft_synapses=int((tgt == "shaft").sum()),
        n_soma_synapses=int((tgt == "soma").sum()),
        n_cells=len(tables.cells),
        n_neurons=int((tables.cells["neuron_id"] > 0).sum()),
        fullres=fr_info,
        connectome=conn_info,
    )
    manifest.write(out)
    if fr_grid is not None:
        fr_manifest = SynthManifest.from_dict(
            {
                **manifest.to_dict(),
                "shape_xyz": [s_ * f for s_, f in zip(shape_t, fr_factor)],
                "cube": int(fullres_cube),
                "voxel_size_nm": list(fr_vs.xyz),
                "cubes_present": [list(fr_grid)],
                "cubes_missing": [],
                "role": "fullres",
                "fullres": {},
                "connectome": {},
            }
        )
        fr_manifest.write(out / FULLRES_DIR)
    return manifest


def _factor(coarse: VoxelSize, fine: VoxelSize) -> tuple[int, int, int]:
    """Integer ``coarse / fine`` per axis, or a clear error."""
    out = []
    for a, c, f in zip("xyz", coarse.xyz, fine.xyz):
        k = round(c / f)
        if k < 1 or abs(k * f - c) > 1e-6 * c:
            raise InvalidParameterError(
                f"--voxel-size {','.join(map(str, coarse.xyz))}: {a} = {c} nm is not an integer "
                f"multiple of the full-resolution voxel {f} nm; use multiples of "
                f"{','.join(map(str, fine.xyz))} or --fullres-cube 0"
            )
        out.append(int(k))
    return (out[0], out[1], out[2])
