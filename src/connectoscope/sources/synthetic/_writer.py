"""Files of a synthetic source folder, in the L4dense layout.

``color/`` and ``segmentation/`` hold one HDF5 file per cube with dataset ``/data``
``[z, y, x]``; ``objects.hdf5`` holds ``/attributes/<kind>`` int32 arrays; Parquet tables
hold objects, synapses and cells. HDF5 is written without timestamps so the same seed
gives the same bytes.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DatasetExistsError, InvalidParameterError
from ._manifest import MANIFEST_NAME
from ._tables import KINDS, Tables

__all__ = ["OUTPUT_NAMES", "CubeWriter", "check_shape", "cube_name", "prepare_out", "write_tables"]

#: Everything the generator writes inside OUT (removed first with ``overwrite``).
OUTPUT_NAMES = (
    "color",
    "segmentation",
    "objects.hdf5",
    "objects.parquet",
    "synapses.parquet",
    "cells.parquet",
    MANIFEST_NAME,
)
#: gzip level of the segmentation (label cubes compress 30-100x even at level 1).
SEG_GZIP_LEVEL = 1


def cube_name(grid: tuple[int, int, int]) -> str:
    """``x{i}y{j}z{k}.hdf5`` for grid position ``(i, j, k)``."""
    return f"x{grid[0]}y{grid[1]}z{grid[2]}.hdf5"


def prepare_out(out: Path, overwrite: bool) -> None:
    """Create OUT; refuse an existing non-empty OUT unless ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise DatasetExistsError(f"{out}: exists and is not a folder; choose another OUT")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise DatasetExistsError(
                f"{out}: folder exists and is not empty; pass --overwrite (overwrite=True) to "
                "replace the generated files, or choose another OUT"
            )
        for name in OUTPUT_NAMES:
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    (out / "color").mkdir(parents=True, exist_ok=True)
    (out / "segmentation").mkdir(parents=True, exist_ok=True)


class CubeWriter:
    """The colour and segmentation files of one cube, written block by block."""

    def __init__(self, out: Path, grid: tuple[int, int, int], cube: int) -> None:
        import h5py

        name = cube_name(grid)
        chunks = (min(cube, 64), min(cube, 128), min(cube, 128))
        self._files: list[Any] = []
        try:
            fc = h5py.File(out / "color" / name, "w", track_order=False)
            self._files.append(fc)
            self.color = fc.create_dataset(
                "data", shape=(cube, cube, cube), dtype=np.uint8, chunks=chunks, track_times=False
            )
            fs = h5py.File(out / "segmentation" / name, "w", track_order=False)
            self._files.append(fs)
            self.seg = fs.create_dataset(
                "data",
                shape=(cube, cube, cube),
                dtype=np.uint32,
                chunks=chunks,
                compression="gzip",
                compression_opts=SEG_GZIP_LEVEL,
                track_times=False,
            )
        except Exception:
            self.close()
            raise

    def write(self, start_zyx: tuple[int, int, int], seg: np.ndarray, em: np.ndarray) -> None:
        """Write one block at ``start_zyx`` (voxels inside the cube)."""
        z, y, x = start_zyx
        sl = (slice(z, z + seg.shape[0]), slice(y, y + seg.shape[1]), slice(x, x + seg.shape[2]))
        self.seg[sl] = seg
        self.color[sl] = em

    def close(self) -> None:
        for f in self._files:
            f.close()
        self._files = []


def write_tables(out: Path, tables: Tables) -> list[Path]:
    """Write ``objects.hdf5``, ``objects.parquet``, ``synapses.parquet``, ``cells.parquet``."""
    import h5py

    p = out / "objects.hdf5"
    with h5py.File(p, "w", track_order=False) as f:
        f.attrs["maximum_segment_id"] = np.int64(tables.maximum_segment_id)
        g = f.create_group("attributes", track_order=False)
        for k in KINDS:
            g.create_dataset(k, data=tables.maps[k].astype(np.int32), track_times=False)
    paths = [p]
    for name, df in (
        ("objects.parquet", tables.objects),
        ("synapses.parquet", tables.synapses),
        ("cells.parquet", tables.cells),
    ):
        q = out / name
        df.to_parquet(q, index=False, engine="pyarrow")
        paths.append(q)
    return paths


def check_shape(shape_xyz: tuple[int, int, int], cube: int) -> None:
    """Every axis must be a positive multiple of ``cube``."""
    if cube < 8:
        raise InvalidParameterError(f"--cube: expected an edge of at least 8 voxels, got {cube}")
    bad = [f"{a}={s}" for a, s in zip("xyz", shape_xyz) if s <= 0 or s % cube]
    if bad:
        raise InvalidParameterError(
            f"--shape {','.join(map(str, shape_xyz))}: every axis must be a positive multiple of "
            f"the cube edge {cube} (not: {', '.join(bad)}); for example --shape "
            f"{','.join(str(max(cube, round(s / cube) * cube)) for s in shape_xyz)}"
        )
