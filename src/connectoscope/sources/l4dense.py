"""L4dense cube folders: ``x{i}y{j}z{k}.hdf5`` files of ``cube``^3 voxels, dataset ``/data``.

The cube ``x2y4z3.hdf5`` (edge 1024) starts at one-based voxel ``(2*1024+1, 4*1024+1,
3*1024+1)``, that is zero-based ``(2048, 4096, 3072)``. Not every grid position needs a
file: the files that exist are listed, missing positions read as background.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataFormatError, InvalidParameterError, SourceNotFoundError
from ..geometry import Bbox, int3

__all__ = ["CUBE_NAME", "CubeFile", "CubeFolder", "parse_cube_name"]

#: File name pattern of one cube: grid indices in x, y, z.
CUBE_NAME = re.compile(r"^x(\d+)y(\d+)z(\d+)\.(?:hdf5|h5)$")


def parse_cube_name(name: str) -> tuple[int, int, int] | None:
    """Grid position ``(i, j, k)`` of a cube file name, or ``None`` if it does not match.

    >>> parse_cube_name("x2y4z3.hdf5")
    (2, 4, 3)
    >>> parse_cube_name("notes.txt") is None
    True
    """
    m = CUBE_NAME.match(name)
    if not m:
        return None
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)))


@dataclass(frozen=True)
class CubeFile:
    """One cube file and its place in the grid."""

    path: Path
    grid: tuple[int, int, int]
    edge: int

    @property
    def start_vx(self) -> tuple[int, int, int]:
        """Zero-based ``(x, y, z)`` voxel of the cube's first voxel."""
        return (self.grid[0] * self.edge, self.grid[1] * self.edge, self.grid[2] * self.edge)

    @property
    def start_vx_one_based(self) -> tuple[int, int, int]:
        """One-based ``(x, y, z)`` as L4dense documents it (``i*edge + 1``)."""
        s = self.start_vx
        return (s[0] + 1, s[1] + 1, s[2] + 1)

    @property
    def bbox(self) -> Bbox:
        """The cube's box in zero-based voxels of the whole volume."""
        s = self.start_vx
        return Bbox(s, (s[0] + self.edge, s[1] + self.edge, s[2] + self.edge))

    def read(self, dataset: str = "data") -> np.ndarray:
        """Read the whole cube as ``[z, y, x]``; raises :class:`DataFormatError` naming the file."""
        import h5py

        try:
            with h5py.File(self.path, "r") as f:
                if dataset not in f:
                    raise DataFormatError(
                        f"{self.path}: no dataset '/{dataset}' (found: {', '.join(f.keys()) or 'none'})"
                    )
                return np.asarray(f[dataset][()])
        except DataFormatError:
            raise
        except OSError as e:
            raise DataFormatError(
                f"{self.path}: cannot read HDF5 cube ({e}); the file may be truncated or corrupt"
            ) from e


@dataclass
class CubeFolder:
    """A folder of L4dense-style cube files.

    Parameters
    ----------
    path : path-like
        Folder holding ``x{i}y{j}z{k}.hdf5`` files.
    cube : int, optional
        Cube edge in voxels; read from the first file when omitted.
    validate : bool
        Check every cube's shape and dtype on opening (:meth:`check`).

    Attributes
    ----------
    cubes : list of CubeFile
        The files that exist, sorted by grid position (z, y, x).
    skipped : list of Path
        Files in the folder whose names do not match the pattern (not read; listed in the
        ingest report).
    dtype : numpy.dtype
        dtype of ``/data`` in the first cube.
    """

    path: Path
    cube: int | None = None
    dataset: str = "data"
    cubes: list[CubeFile] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    dtype: np.dtype | None = None
    validate: bool = True

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.exists():
            raise SourceNotFoundError(f"{self.path}: no such folder")
        if not self.path.is_dir():
            raise SourceNotFoundError(
                f"{self.path}: expected a folder of x{{i}}y{{j}}z{{k}}.hdf5 cubes"
            )
        found: dict[tuple[int, int, int], Path] = {}
        for entry in sorted(os.scandir(self.path), key=lambda e: e.name):
            if not entry.is_file():
                continue
            grid = parse_cube_name(entry.name)
            if grid is None:
                self.skipped.append(Path(entry.path))
                continue
            if grid in found:
                raise DataFormatError(
                    f"{self.path}: two files claim grid position x{grid[0]}y{grid[1]}z{grid[2]}: "
                    f"{found[grid].name} and {entry.name}; remove one."
                )
            found[grid] = Path(entry.path)
        if not found:
            raise SourceNotFoundError(
                f"{self.path}: no cube files named like x0y0z0.hdf5 found "
                f"({len(self.skipped)} other files)."
            )
        first = found[min(found, key=lambda g: (g[2], g[1], g[0]))]
        shape, dtype = _probe(first, self.dataset)
        if len(shape) != 3 or len(set(shape)) != 1:
            raise DataFormatError(
                f"{first}: /{self.dataset} has shape {shape}; expected a cube (N, N, N) [z, y, x]"
            )
        if self.cube is None:
            self.cube = int(shape[0])
        elif self.cube != shape[0]:
            raise InvalidParameterError(
                f"{first}: cube edge is {shape[0]} but --cube {self.cube} was given"
            )
        self.dtype = np.dtype(dtype)
        self.cubes = [
            CubeFile(p, g, self.cube) for g, p in sorted(found.items(), key=lambda kv: kv[0][::-1])
        ]
        if self.validate:
            self.check()

    def check(self) -> None:
        """Open every cube's header: same cube shape and dtype as the first, readable HDF5.

        Run before anything is written, so a bad file stops an ingest at once and names
        itself. A cube whose chunk data is damaged past its header is caught when read.

        Raises
        ------
        DataFormatError
            Naming the first bad file, what it holds and what was expected.
        """
        e = self.edge
        for c in self.cubes:
            shape, dtype = _probe(c.path, self.dataset)
            if tuple(shape) != (e, e, e):
                raise DataFormatError(
                    f"{c.path}: /{self.dataset} has shape {tuple(shape)}; every cube must be "
                    f"({e}, {e}, {e}) [z, y, x] like {self.cubes[0].path.name}. Replace the file "
                    "or move it out of the folder."
                )
            if np.dtype(dtype) != self.dtype:
                raise DataFormatError(
                    f"{c.path}: /{self.dataset} is {np.dtype(dtype)}; the other cubes are "
                    f"{self.dtype}. Replace the file or move it out of the folder."
                )

    @property
    def edge(self) -> int:
        """Cube edge in voxels."""
        assert self.cube is not None
        return self.cube

    @property
    def grid_shape(self) -> tuple[int, int, int]:
        """Number of grid positions ``(nx, ny, nz)`` spanned by the files present (from 0)."""
        return int3(max(c.grid[a] for c in self.cubes) + 1 for a in range(3))

    @property
    def grid_origin(self) -> tuple[int, int, int]:
        """Smallest grid index present per axis ``(i, j, k)``."""
        return int3(min(c.grid[a] for c in self.cubes) for a in range(3))

    @property
    def bbox(self) -> Bbox:
        """Box ``[start, stop)`` in zero-based voxels covering every cube present."""
        b = self.cubes[0].bbox
        for c in self.cubes[1:]:
            b = b.union(c.bbox)
        return b

    @property
    def missing(self) -> list[tuple[int, int, int]]:
        """Grid positions inside :attr:`bbox` without a file (read as background)."""
        have = {c.grid for c in self.cubes}
        o = self.grid_origin
        n = self.grid_shape
        return [
            (i, j, k)
            for k in range(o[2], n[2])
            for j in range(o[1], n[1])
            for i in range(o[0], n[0])
            if (i, j, k) not in have
        ]

    def __iter__(self) -> Iterator[CubeFile]:
        return iter(self.cubes)

    def __len__(self) -> int:
        return len(self.cubes)

    def nbytes(self) -> int:
        """Uncompressed size in bytes of the cubes present."""
        assert self.dtype is not None
        return len(self.cubes) * self.edge**3 * self.dtype.itemsize

    def disk_bytes(self) -> int:
        """Bytes on disk of the cube files present."""
        return sum(c.path.stat().st_size for c in self.cubes)


def _probe(path: Path, dataset: str) -> tuple[tuple[int, ...], np.dtype]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if dataset not in f:
                raise DataFormatError(
                    f"{path}: no dataset '/{dataset}' (found: {', '.join(f.keys()) or 'none'})"
                )
            d = f[dataset]
            return tuple(d.shape), d.dtype
    except DataFormatError:
        raise
    except OSError as e:
        raise DataFormatError(
            f"{path}: cannot open as HDF5 ({e}); the file may be truncated or corrupt"
        ) from e
