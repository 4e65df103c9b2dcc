"""Every "write to a temporary name, then rename" in connectoscope.

A reader never sees half a file, an interrupted or failed write leaves the old file (or
nothing) under the final name, and the temporary file is removed when the write fails.
Temporary files sit beside the target (same folder, so the rename is atomic on POSIX) and
are hidden: ``.NAME.<pid>.part``; the pid keeps two concurrent writers of one file apart and
lets :func:`clean_stale_parts` tell a live writer's file from a killed one's.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.json"
>>> _ = write_json_atomic(p, {"x": 1})
>>> p.read_text().strip().replace("\\n", "").replace(" ", "")
'{"x":1}'
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "atomic_path",
    "clean_stale_parts",
    "part_name",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_parquet_atomic",
    "write_text_atomic",
]

PART_SUFFIX = ".part"


def part_name(path: str | os.PathLike[str]) -> Path:
    """The hidden temporary name used while ``path`` is being written by this process."""
    p = Path(path)
    return p.with_name(f".{p.name}.{os.getpid()}{PART_SUFFIX}")


@contextmanager
def atomic_path(
    path: str | os.PathLike[str], *, overwrite: bool = True, fsync: bool = False
) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is renamed to ``path``.

    Parameters
    ----------
    path : path-like
        Final file name. Its folder is created when missing.
    overwrite : bool
        When false and ``path`` exists at the moment of the rename, raise ``FileExistsError``
        (the new file is removed, the old one kept).
    fsync : bool
        Flush the file to disk before the rename (metadata files).

    Raises
    ------
    FileExistsError
        ``overwrite=False`` and ``path`` appeared.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = part_name(final)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{final}: the writer produced no file")
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if not overwrite and final.exists():
            raise FileExistsError(f"{final}: exists; pass overwrite to replace it")
        os.replace(tmp, final)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path, fsync=fsync) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str, *, fsync: bool = False) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; returns ``path``."""
    return write_bytes_atomic(path, text.encode("utf-8"), fsync=fsync)


def write_json_atomic(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON (UTF-8, trailing newline) to ``path`` atomically, flushed to disk."""
    text = json.dumps(obj, indent=indent, sort_keys=False) + "\n"
    return write_text_atomic(path, text, fsync=True)


def write_parquet_atomic(
    df: pd.DataFrame, path: str | os.PathLike[str], *, index: bool = False
) -> Path:
    """Write a table as Parquet to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=index)
    return Path(path)


def write_with(path: str | os.PathLike[str], writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(tmp_path)`` and rename its file to ``path`` atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):  # gone, or not a pid at all
        return False
    except PermissionError:  # pragma: no cover - another user's live process
        return True
    return True


def clean_stale_parts(folder: str | os.PathLike[str], *, recursive: bool = True) -> list[Path]:
    """Remove temporary files left by killed writers under ``folder``.

    A ``.NAME.<pid>.part`` whose pid is no longer running on this machine is removed; older
    ``.NAME.part`` files without a pid are removed too. Returns the removed paths.
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    pattern = f"**/.*{PART_SUFFIX}" if recursive else f".*{PART_SUFFIX}"
    removed = []
    for p in root.glob(pattern):
        stem = p.name[: -len(PART_SUFFIX)]
        pid_text = stem.rsplit(".", 1)[-1]
        if pid_text.isdigit() and _pid_alive(int(pid_text)):
            continue
        try:
            p.unlink()
            removed.append(p)
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            pass
    return removed
