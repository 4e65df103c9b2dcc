"""Region readers over foreign sources, all answering ``read(start_zyx, stop_zyx)``.

Readers are small picklable objects (paths and parameters only) that open their files on
use, so they can be shipped to worker processes. Sources: an L4dense cube folder, one HDF5
dataset (``file.h5`` or ``file.h5:/inner/path``), a folder of PNG/TIFF planes (sorted by
name, one z plane each), a ``.npy`` (memory-mapped) or ``.npz`` file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataFormatError, InvalidParameterError, SourceNotFoundError
from ._base import BaseSource, SourceReader
from ._h5chunks import read_box
from .l4dense import CubeFolder

__all__ = ["open_source", "register_opener"]

#: Openers of other source kinds, tried in order before the built-in ones: each takes the
#: source text and returns a reader, or None when the source is not of its kind.
_OPENERS: list[Callable[[str], SourceReader | None]] = []


def register_opener(opener: Callable[[str], SourceReader | None], *, first: bool = False) -> None:
    """Teach :func:`open_source` a new kind of source (a URL scheme, a folder layout).

    ``opener(text)`` returns a :class:`SourceReader`, or None when ``text`` is not its kind
    (then the next opener is tried). Registered openers run before the built-in ones.
    """
    if opener not in _OPENERS:
        if first:
            _OPENERS.insert(0, opener)
        else:
            _OPENERS.append(opener)


_IMAGE_SUFFIXES = (".png", ".tif", ".tiff")


@dataclass
class CubeSource(BaseSource):
    """An L4dense cube folder; coordinates relative to the first present cube's grid corner."""

    cubes: tuple[tuple[tuple[int, int, int], str], ...] = ()
    edge: int = 0
    missing_names: tuple[str, ...] = ()
    skipped_names: tuple[str, ...] = ()

    def skipped(self) -> list[str]:
        return list(self.skipped_names)

    def files(self) -> int:
        return len(self.cubes)

    def read(self, start_zyx: tuple[int, int, int], stop_zyx: tuple[int, int, int]) -> np.ndarray:
        return self._read(start_zyx, stop_zyx, None)

    def read_into(
        self, start_zyx: tuple[int, int, int], stop_zyx: tuple[int, int, int], out: np.ndarray
    ) -> np.ndarray:
        return self._read(start_zyx, stop_zyx, out)

    def _read(
        self,
        start_zyx: tuple[int, int, int],
        stop_zyx: tuple[int, int, int],
        out: np.ndarray | None,
    ) -> np.ndarray:
        import h5py

        e = self.edge
        o = self.offset_vx  # x, y, z
        parts = []
        for grid, path in self.cubes:
            cz0 = grid[2] * e - o[2]
            cy0 = grid[1] * e - o[1]
            cx0 = grid[0] * e - o[0]
            lo = (max(start_zyx[0], cz0), max(start_zyx[1], cy0), max(start_zyx[2], cx0))
            hi = (min(stop_zyx[0], cz0 + e), min(stop_zyx[1], cy0 + e), min(stop_zyx[2], cx0 + e))
            if all(h > low for low, h in zip(lo, hi)):
                parts.append((path, (cz0, cy0, cx0), lo, hi))
        shape = tuple(b - a for a, b in zip(start_zyx, stop_zyx))
        covered = sum(int(np.prod([h - low for low, h in zip(lo, hi)])) for _, _, lo, hi in parts)
        # missing cubes read as background (0); a fully covered box skips the zero fill
        full = covered == int(np.prod(shape))
        if out is None:
            out = np.empty(shape, self.dtype) if full else np.zeros(shape, self.dtype)
        elif not full:
            out.fill(0)
        for path, (cz0, cy0, cx0), lo, hi in parts:
            view = out[
                lo[0] - start_zyx[0] : hi[0] - start_zyx[0],
                lo[1] - start_zyx[1] : hi[1] - start_zyx[1],
                lo[2] - start_zyx[2] : hi[2] - start_zyx[2],
            ]
            try:
                with h5py.File(path, "r") as f:
                    d = f["data"]
                    if d.shape != (e, e, e):
                        raise DataFormatError(
                            f"{path}: /data has shape {d.shape}; every cube must be ({e}, {e}, {e}) "
                            "[z, y, x] like the first cube"
                        )
                    if d.dtype != self.dtype:
                        raise DataFormatError(
                            f"{path}: /data is {d.dtype}; the other cubes are {self.dtype}"
                        )
                    read_box(
                        d,
                        (lo[0] - cz0, lo[1] - cy0, lo[2] - cx0),
                        (hi[0] - cz0, hi[1] - cy0, hi[2] - cx0),
                        path=path,
                        out=view,
                    )
            except (OSError, KeyError) as err:
                raise DataFormatError(
                    f"{path}: cannot read cube ({err}); the file may be truncated or corrupt. "
                    "Replace or remove it and re-run: finished shards are kept."
                ) from err
        return out

    def missing(self) -> list[str]:
        return list(self.missing_names)


@dataclass
class HDF5Source(BaseSource):
    inner: str = "data"

    @property
    def description(self) -> str:
        return f"{self.path}:/{self.inner}"

    def read(self, start_zyx: tuple[int, int, int], stop_zyx: tuple[int, int, int]) -> np.ndarray:
        import h5py

        try:
            with h5py.File(self.path, "r") as f:
                return read_box(f[self.inner], start_zyx, stop_zyx, path=self.path)
        except OSError as err:
            raise DataFormatError(f"{self.path}: cannot read /{self.inner} ({err})") from err


@dataclass
class StackSource(BaseSource):
    planes: tuple[str, ...] = ()

    def files(self) -> int:
        return len(self.planes)

    def read(self, start_zyx: tuple[int, int, int], stop_zyx: tuple[int, int, int]) -> np.ndarray:
        planes = [
            _read_plane(Path(self.planes[z]))[
                start_zyx[1] : stop_zyx[1], start_zyx[2] : stop_zyx[2]
            ]
            for z in range(start_zyx[0], stop_zyx[0])
        ]
        return np.stack(planes).astype(self.dtype, copy=False)


def _read_plane(p: Path) -> np.ndarray:
    try:
        if p.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            arr = tifffile.imread(p)
        else:
            from PIL import Image

            with Image.open(p) as im:
                arr = np.asarray(im)
    except Exception as err:
        raise DataFormatError(f"{p}: cannot read image plane ({err})") from err
    if arr.ndim != 2:
        raise DataFormatError(f"{p}: expected a single-channel 2-D plane, got shape {arr.shape}")
    return arr


def open_source(
    source: str | os.PathLike[str],
    *,
    scale: str | int | None = None,
    bbox: Any = None,
    fill_missing: bool = False,
    axes: str | None = None,
) -> SourceReader:
    """Open a volume source for region reads.

    Parameters
    ----------
    source : path-like or URL
        A cube folder, ``file.h5`` / ``file.h5:/inner/path``, a folder of PNG/TIFF planes,
        ``.npy`` or ``.npz`` (``file.npz:key``); a Neuroglancer precomputed layer (a folder
        with ``info``, ``precomputed://...``, ``http(s)://``, ``gs://``, ``s3://``); a
        webKnossos dataset layer (``DATASET/LAYER``) or annotation ``.zip``; a dataset we
        wrote at a URL (``URL#LAYER``).
    scale, bbox, fill_missing
        Precomputed layers: which scale, which box (``x0,y0,z0:x1,y1,z1`` voxels of that
        scale), whether missing chunks read as 0. webKnossos: ``scale`` is the mag (``1``,
        ``2-2-1``), ``bbox`` a box in voxels of that mag. ``URL#LAYER``: ``scale`` is the
        level.
    axes : {"zyx", "xyz"}, optional
        ``.npy``/``.npz`` only: the stored array's axis order. Needed for Fortran-ordered
        arrays (refused without it); default ``zyx`` for C-ordered ones.

    Returns
    -------
    SourceReader

    Raises
    ------
    SourceNotFoundError, DataFormatError
    """
    from ._foreign import open_foreign

    foreign = open_foreign(str(source), scale=scale, bbox=bbox, fill_missing=fill_missing)
    if foreign is not None:
        return foreign
    if scale is not None or bbox is not None:
        raise InvalidParameterError(
            f"{source}: --scale and --bbox apply to precomputed, webKnossos and remote "
            "dataset sources only"
        )
    for opener in _OPENERS:
        found = opener(str(source))
        if found is not None:
            return found
    text = str(source)
    inner: str | None = None
    if ":" in text and not Path(text).exists():
        text, inner = text.split(":", 1)
        inner = inner.lstrip("/")
    p = Path(text)
    if not p.exists():
        raise SourceNotFoundError(f"{p}: no such file or folder")
    if p.is_dir():
        if (p / "color").is_dir() or (p / "segmentation").is_dir():
            raise InvalidParameterError(
                f"{p}: holds color/ and segmentation/ cube folders; ingest each one: "
                f"`connectoscope ingest {p}/color DS --layer image` and "
                f"`connectoscope ingest {p}/segmentation DS --layer segmentation`"
            )
        images = sorted(f for f in p.iterdir() if f.suffix.lower() in _IMAGE_SUFFIXES)
        if images and not any(f.suffix.lower() in (".h5", ".hdf5") for f in p.iterdir()):
            first = _read_plane(images[0])
            return StackSource(
                p,
                (len(images), first.shape[0], first.shape[1]),
                first.dtype,
                planes=tuple(map(str, images)),
            )
        cf = CubeFolder(p)
        b = cf.bbox
        assert cf.dtype is not None
        return CubeSource(
            p,
            b.shape_zyx,
            cf.dtype,
            offset_vx=b.start,
            cubes=tuple((c.grid, str(c.path)) for c in cf.cubes),
            edge=cf.edge,
            missing_names=tuple(f"x{i}y{j}z{k}" for i, j, k in cf.missing),
            skipped_names=tuple(f.name for f in cf.skipped),
        )
    suffix = p.suffix.lower()
    if suffix in (".h5", ".hdf5", ".hdf"):
        return _open_hdf5(p, inner)
    if suffix in (".npy", ".npz"):
        from ._numpy import open_numpy

        return open_numpy(p, inner, axes)
    raise SourceNotFoundError(
        f"{p}: unrecognised source; expected a cube folder, a PNG/TIFF plane folder, "
        ".h5/.hdf5[:/path], .npy or .npz"
    )


def _check_3d(shape: tuple[int, ...], p: Path) -> None:
    if len(shape) != 3:
        raise DataFormatError(f"{p}: expected a 3-D [z, y, x] array, got shape {shape}")


def _open_hdf5(p: Path, inner: str | None) -> HDF5Source:
    import h5py

    try:
        with h5py.File(p, "r") as f:
            if inner is None:
                found: list[str] = []

                def visit(name: str, obj: Any) -> None:
                    if isinstance(obj, h5py.Dataset) and obj.ndim == 3:
                        found.append(name)

                f.visititems(visit)
                if len(found) != 1:
                    listing = ", ".join("/" + n for n in found) or "none"
                    raise InvalidParameterError(
                        f"{p}: {len(found)} 3-D datasets ({listing}); name one as {p}:/PATH"
                    )
                inner = found[0]
            if inner not in f:
                raise InvalidParameterError(f"{p}: no dataset /{inner}")
            d = f[inner]
            _check_3d(d.shape, p)
            return HDF5Source(p, tuple(d.shape), d.dtype, inner=inner)
    except OSError as err:
        raise DataFormatError(
            f"{p}: cannot open as HDF5 ({err}); the file may be truncated or corrupt"
        ) from err
