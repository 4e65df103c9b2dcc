""".npy and .npz volumes: axis order stated, never guessed; .npz members decompressed once.

Axes: a C-ordered array is read as ``[z, y, x]`` (the project's convention) unless
``axes="xyz"`` says otherwise. A Fortran-ordered array is ambiguous (the seung-lab tools
write ``[x, y, z]`` arrays in Fortran order, so that ``arr.T`` is a C-ordered ``[z, y, x]``;
others just save a transposed view) and is refused until ``axes`` (``--axes xyz|zyx``) is
given.

Speed: ``.npy`` files are memory-mapped. A ``.npz`` member stored without compression is
memory-mapped in place inside the zip; a compressed member is streamed once into a cache file
(``CONNECTOSCOPE_CACHE_DIR`` or the system temp folder; removed when the process that wrote it
exits) and memory-mapped from there, so an ingest of N shards decompresses it once, not N
times.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataFormatError, InvalidParameterError
from ._base import BaseSource

__all__ = ["NumpySource", "open_numpy"]

AXES = ("zyx", "xyz")


@dataclass
class NumpySource(BaseSource):
    """A 3-D array in a ``.npy`` file or a ``.npz`` member (``key``), read as ``[z, y, x]``.

    ``axes`` is the order of the stored array's axes (``"zyx"`` or ``"xyz"``);
    ``shape_zyx`` is always the ``[z, y, x]`` shape.
    """

    key: str | None = None
    axes: str = "zyx"

    @property
    def description(self) -> str:
        base = f"{self.path}:{self.key}" if self.key else str(self.path)
        return base + (" [axes xyz]" if self.axes == "xyz" else "")

    def _array(self) -> np.ndarray:
        if self.key is None:
            return np.load(self.path, mmap_mode="r")
        return _npz_member(self.path, self.key)

    def read(self, start_zyx: tuple[int, int, int], stop_zyx: tuple[int, int, int]) -> np.ndarray:
        arr = self._array()
        view = arr.T if self.axes == "xyz" else arr
        sl = tuple(slice(a, b) for a, b in zip(start_zyx, stop_zyx))
        return np.array(view[sl])


_LOCK = threading.Lock()
_MEMBERS: dict[tuple[Any, ...], np.ndarray] = {}
_WRITTEN: list[Path] = []


def _cleanup() -> None:
    for p in _WRITTEN:
        try:
            p.unlink()
        except OSError:
            pass


atexit.register(_cleanup)


def _member_name(zf: zipfile.ZipFile, key: str) -> str:
    for n in (key + ".npy", key):
        if n in zf.namelist():
            return n
    raise InvalidParameterError(f"no array {key!r} in the .npz")


def _read_header(fp: Any) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, position after the header) of an .npy stream."""
    fmt = np.lib.format
    version = fmt.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = fmt.read_array_header_1_0(fp)
    else:
        shape, fortran, dtype = fmt.read_array_header_2_0(fp)
    return tuple(shape), bool(fortran), dtype, fp.tell()


def npz_member_header(path: Path, key: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype of a ``.npz`` member, without decompressing it."""
    with zipfile.ZipFile(path) as zf, zf.open(_member_name(zf, key)) as fp:
        shape, fortran, dtype, _ = _read_header(fp)
    return shape, fortran, dtype


def _npz_member(path: Path, key: str) -> np.ndarray:
    st = path.stat()
    ident = (str(path), key, st.st_size, st.st_mtime_ns, os.getpid())
    with _LOCK:
        arr = _MEMBERS.get(ident)
        if arr is not None:
            return arr
        arr = _map_member(path, key, st)
        _MEMBERS[ident] = arr
        return arr


def _map_member(path: Path, key: str, st: os.stat_result) -> np.ndarray:
    with zipfile.ZipFile(path) as zf:
        name = _member_name(zf, key)
        info = zf.getinfo(name)
        if info.compress_type == zipfile.ZIP_STORED:
            # memory-map in place: local header (30 bytes + name + extra), then the .npy
            with open(path, "rb") as raw:
                raw.seek(info.header_offset)
                local = raw.read(30)
                n_name = int.from_bytes(local[26:28], "little")
                n_extra = int.from_bytes(local[28:30], "little")
                start = info.header_offset + 30 + n_name + n_extra
                raw.seek(start)
                shape, fortran, dtype, data_start = _read_header(raw)  # absolute position
            return np.memmap(
                path,
                dtype=dtype,
                mode="r",
                offset=data_start,
                shape=shape,
                order="F" if fortran else "C",
            )
        cache = Path(os.environ.get("CONNECTOSCOPE_CACHE_DIR") or tempfile.gettempdir())
        h = hashlib.sha1(f"{path.resolve()}|{key}|{st.st_size}|{st.st_mtime_ns}".encode())
        target = cache / f"connectoscope-npz-{h.hexdigest()[:20]}.npy"
        if not target.exists():
            cache.mkdir(parents=True, exist_ok=True)
            part = target.with_name(f"{target.name}.{os.getpid()}.part")
            try:
                with zf.open(name) as src, open(part, "wb") as dst:
                    shutil.copyfileobj(src, dst, 16 << 20)
                os.replace(part, target)
            except BaseException:
                part.unlink(missing_ok=True)
                raise
            _WRITTEN.append(target)
    return np.load(target, mmap_mode="r")


def open_numpy(p: Path, inner: str | None, axes: str | None) -> NumpySource:
    """Open a ``.npy`` file or a ``.npz`` member (``inner``) as a source.

    Raises
    ------
    InvalidParameterError
        A Fortran-ordered array without ``axes``; an unknown ``axes``; an ``.npz`` with
        several arrays and none named.
    DataFormatError
        Unreadable file, not 3-D.
    """
    if axes is not None and axes not in AXES:
        raise InvalidParameterError(f"axes must be 'xyz' or 'zyx', got {axes!r} (--axes)")
    key: str | None = None
    try:
        if p.suffix.lower() == ".npy":
            arr = np.load(p, mmap_mode="r")
            shape, fortran, dtype = (
                arr.shape,
                bool(arr.flags.f_contiguous and not arr.flags.c_contiguous),
                arr.dtype,
            )
        else:
            with zipfile.ZipFile(p) as zf:
                keys = [n[:-4] if n.endswith(".npy") else n for n in zf.namelist()]
            key = inner or (keys[0] if len(keys) == 1 else None)
            if key is None or key not in keys:
                raise InvalidParameterError(
                    f"{p}: holds arrays {', '.join(keys)}; name one as {p}:NAME"
                )
            shape, fortran, dtype = npz_member_header(p, key)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        if isinstance(err, InvalidParameterError):
            raise
        kind = p.suffix.lower()
        raise DataFormatError(f"{p}: unreadable {kind} file ({err})") from err
    if len(shape) != 3:
        raise DataFormatError(f"{p}: expected a 3-D array, got shape {shape}")
    if axes is None:
        if fortran:
            raise InvalidParameterError(
                f"{p}{':' + key if key and inner else ''}: a Fortran-ordered array of shape "
                f"{tuple(shape)}; its axis order is ambiguous (the seung-lab tools store "
                "[x, y, z] this way). Pass --axes xyz (or axes='xyz') if it is [x, y, z], "
                "--axes zyx if it is [z, y, x]"
            )
        axes = "zyx"
    zyx = tuple(shape) if axes == "zyx" else tuple(shape[::-1])
    return NumpySource(p, zyx, np.dtype(dtype), key=key, axes=axes)
