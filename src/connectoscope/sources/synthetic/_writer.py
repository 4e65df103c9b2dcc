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

__all__ = [
    "FULLRES_DIR",
    "MICRONS_DIR",
    "OUTPUT_NAMES",
    "CubeWriter",
    "check_shape",
    "chunk_shape",
    "cube_name",
    "encode_block",
    "prepare_out",
    "write_tables",
]

#: Folder of the full-resolution cube (same layout, its own synth.json).
FULLRES_DIR = "fullres"
#: Folder of the MICrONS-shaped connectome tables.
MICRONS_DIR = "microns"
#: Everything the generator writes inside OUT (removed first with ``overwrite``).
OUTPUT_NAMES = (
    "color",
    "segmentation",
    "objects.hdf5",
    "objects.parquet",
    "segments.parquet",
    "synapses.parquet",
    "cells.parquet",
    FULLRES_DIR,
    MICRONS_DIR,
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


def chunk_shape(cube: int) -> tuple[int, int, int]:
    """HDF5 chunk shape ``(z, y, x)`` of a cube file; every block of ``BLOCK_ZYX`` (clipped to
    the cube) is a whole number of chunks, so blocks are written as compressed chunks."""
    bz, by, bx = min(cube, 64), min(cube, 256), min(cube, 256)
    return (bz, 128 if by % 128 == 0 else by, 128 if bx % 128 == 0 else bx)


def encode_block(
    start_zyx: tuple[int, int, int], seg: np.ndarray, em: np.ndarray, cube: int
) -> list[tuple[tuple[int, int, int], bytes, bytes]]:
    """Chunks of one block ready for ``write_direct_chunk``: ``(offset, deflated seg bytes,
    raw em bytes)``; partial chunks at the cube's end are padded with zeros (HDF5 ignores the
    part beyond the dataset). Runs in worker threads (zlib releases the GIL)."""
    import zlib

    cz, cy, cx = chunk_shape(cube)
    out = []
    z0, y0, x0 = start_zyx
    nz, ny, nx = seg.shape
    for dz in range(0, nz, cz):
        for dy in range(0, ny, cy):
            for dx in range(0, nx, cx):
                s = seg[dz : dz + cz, dy : dy + cy, dx : dx + cx]
                e = em[dz : dz + cz, dy : dy + cy, dx : dx + cx]
                if s.shape != (cz, cy, cx):
                    s2 = np.zeros((cz, cy, cx), seg.dtype)
                    e2 = np.zeros((cz, cy, cx), em.dtype)
                    s2[: s.shape[0], : s.shape[1], : s.shape[2]] = s
                    e2[: e.shape[0], : e.shape[1], : e.shape[2]] = e
                    s, e = s2, e2
                out.append(
                    (
                        (z0 + dz, y0 + dy, x0 + dx),
                        zlib.compress(np.ascontiguousarray(s).tobytes(), SEG_GZIP_LEVEL),
                        np.ascontiguousarray(e).tobytes(),
                    )
                )
    return out


class CubeWriter:
    """The colour and segmentation files of one cube, written chunk by chunk."""

    def __init__(self, out: Path, grid: tuple[int, int, int], cube: int) -> None:
        import h5py

        name = cube_name(grid)
        chunks = chunk_shape(cube)
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

    def write_chunks(self, chunks: list[tuple[tuple[int, int, int], bytes, bytes]]) -> None:
        """Write chunks made by :func:`encode_block`."""
        for offset, seg_bytes, em_bytes in chunks:
            self.seg.id.write_direct_chunk(offset, seg_bytes)
            self.color.id.write_direct_chunk(offset, em_bytes)

    def close(self) -> None:
        for f in self._files:
            f.close()
        self._files = []


def write_tables(out: Path, tables: Tables) -> list[Path]:
    """Write ``objects.hdf5``, ``objects.parquet``, ``segments.parquet``,
    ``synapses.parquet``, ``cells.parquet``."""
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
        ("segments.parquet", tables.segments),
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
