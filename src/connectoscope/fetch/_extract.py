"""Unpacking downloaded ``.zip`` and ``.tar(.gz|.bz2|.xz)`` archives without trusting their
member names: each member path is checked with :func:`~connectoscope.fetch._names.safe_target`
(no ``..``, no absolute path, no NUL, no link in the way), links, devices and other special
members are refused, and every file is written to a temporary name and renamed."""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path
from typing import IO

from .._atomic import atomic_path
from ..errors import DataFormatError, InvalidParameterError
from ._names import safe_target

__all__ = ["extract_archive"]


def _copy(src: IO[bytes], target: Path) -> None:
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)


def extract_archive(archive: str | os.PathLike[str], to: str | os.PathLike[str]) -> list[Path]:
    """Unpack ``archive`` (zip or tar, optionally compressed) into the folder ``to``.

    Parameters
    ----------
    archive : path-like
        The archive file.
    to : path-like
        Destination folder (created when missing).

    Returns
    -------
    list of Path
        The files written, in archive order.

    Raises
    ------
    InvalidParameterError
        A member's name leaves ``to`` (``..``, absolute, through a symlink), is not a safe
        file name, or the member is a link or device; nothing more is written once refused.
    DataFormatError
        The file is not a zip or tar archive, or is truncated.
    """
    src = Path(archive)
    dest = Path(to)
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    what = f"{src.name}: archive member"
    try:
        if zipfile.is_zipfile(src):
            with zipfile.ZipFile(src) as z:
                infos = z.infolist()
                for info in infos:  # check every name before writing anything
                    mode = info.external_attr >> 16
                    if stat.S_ISLNK(mode):
                        raise InvalidParameterError(
                            f"{what} {info.filename!r} is a symbolic link; refused"
                        )
                    safe_target(dest, info.filename, what=what)
                for info in infos:
                    target = safe_target(dest, info.filename, what=what)
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    with z.open(info) as fsrc:
                        _copy(fsrc, target)
                    written.append(target)
            return written
        if tarfile.is_tarfile(src):
            with tarfile.open(src) as t:
                members = t.getmembers()
                for m in members:
                    if not (m.isfile() or m.isdir()):
                        raise InvalidParameterError(
                            f"{what} {m.name!r} is a link or a special file; refused"
                        )
                    safe_target(dest, m.name, what=what)
                for m in members:
                    target = safe_target(dest, m.name, what=what)
                    if m.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    data = t.extractfile(m)
                    if data is None:  # pragma: no cover - isfile() members always have data
                        continue
                    with data:
                        _copy(data, target)
                    written.append(target)
            return written
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
        raise DataFormatError(f"{src}: damaged archive ({e}); download it again") from None
    raise DataFormatError(f"{src}: not a zip or tar archive; nothing extracted")
