"""Options and argument types shared by several commands (defined once here)."""

from __future__ import annotations

import argparse
import errno
import math
import re
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError
from ..geometry import parse_xyz

__all__ = [
    "add_overwrite",
    "add_parallel_options",
    "add_subcommand",
    "clean_stale_parts_of",
    "describe_user_error",
    "parse_bbox_option",
    "positive_int",
    "units_nm",
    "xyz_float",
    "xyz_int",
    "xyz_positive_int",
]


#: Physical sizes (nm per voxel or per file unit) the options accept: 0.001 nm to 1 cm. Beyond
#: that a value is a typo (``1e-300``) that would make every coordinate overflow or vanish.
MIN_NM = 1e-3
MAX_NM = 1e7


def _check_nm(values: tuple[float, ...], text: str) -> None:
    for v in values:
        if not (MIN_NM <= v <= MAX_NM):
            raise argparse.ArgumentTypeError(
                f"{text!r}: {v:g} nm is outside {MIN_NM:g}..{MAX_NM:g} nm; give sizes in nm, "
                "for example 4,4,40"
            )


def xyz_float(text: str) -> tuple[float, float, float]:
    """argparse type: ``X,Y,Z`` sizes in nm (each within ``MIN_NM..MAX_NM``)."""
    try:
        xyz = parse_xyz(text, name="value", positive=True)
    except InvalidParameterError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    _check_nm(tuple(float(v) for v in xyz), text)
    return xyz


def xyz_int(text: str) -> tuple[int, int, int]:
    """argparse type: ``X,Y,Z`` integers."""
    try:
        return parse_xyz(text, name="value", integer=True)
    except InvalidParameterError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def xyz_positive_int(text: str) -> tuple[int, int, int]:
    """argparse type: ``X,Y,Z`` integers >= 1 (chunk and shard shapes, voxels)."""
    xyz = xyz_int(text)
    if any(v < 1 for v in xyz):
        raise argparse.ArgumentTypeError(
            f"{text!r}: every edge must be at least 1 voxel, for example 64,64,64"
        )
    return xyz


def units_nm(text: str) -> float:
    """argparse type: a positive, finite number of nm per file unit (``--units``)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of nm") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: must be a positive number of nm per unit (1000 for micrometres, 1 for "
            "nm); 0 or a negative value would collapse or mirror every coordinate"
        )
    _check_nm((v,), text)
    return v


def parse_bbox_option(text: str, option: str = "--bbox") -> Any:
    """``X0,Y0,Z0:X1,Y1,Z1`` as a :class:`~connectoscope.geometry.Bbox` holding at least one
    voxel; an empty box (``x0 == x1``) is refused naming ``option``."""
    from ..geometry import Bbox

    try:
        box = Bbox.parse(text)
    except InvalidParameterError as e:
        raise InvalidParameterError(f"{option} {text}: {e}") from None
    empty = [ax for ax, a, b in zip("xyz", box.start, box.stop) if b <= a]
    if empty:
        raise InvalidParameterError(
            f"{option} {text}: the box is empty along {', '.join(empty)} (stop must be greater "
            "than start; the box is half-open, so 0:10 holds 10 voxels)"
        )
    return box


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return v


def add_parallel_options(p: argparse.ArgumentParser) -> None:
    """``--workers``, ``--scheduler`` and ``--local``: the executor of the whole command
    (handed over once by :func:`connectoscope.cli.main` with :func:`connectoscope.executor`)."""
    g = p.add_argument_group("parallel work (local Dask by default, a cluster when given)")
    g.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="local workers (default: number of cores)",
    )
    g.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask distributed scheduler address (tcp://host:8786); default: run locally",
    )
    g.add_argument(
        "--local",
        choices=["threads", "processes", "sync"],
        default=None,
        help="local execution for every step (default: each step's own choice: threads for "
        "reading and writing volumes, processes for meshing)",
    )


def add_overwrite(p: argparse.ArgumentParser, *, force: bool = False) -> None:
    """``--overwrite``: replace existing output instead of refusing; with ``force``, also
    ``--force`` (replace a folder that is not a connectoscope dataset)."""
    p.add_argument(
        "--overwrite", action="store_true", help="replace existing output (default: refuse)"
    )
    if force:
        p.add_argument(
            "--force",
            action="store_true",
            help="with --overwrite: also replace a non-empty folder that is not a dataset",
        )


def add_subcommand(
    sub: Any, name: str, *, help: str, description: str | None = None, epilog: str | None = None
) -> argparse.ArgumentParser:
    """Add a sub-command parser with the house formatting."""
    return sub.add_parser(
        name,
        help=help,
        description=description or help,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


# ---------------------------------------------------------------------------- user errors
#: Libraries whose exceptions, raised while reading or writing the user's files, are the
#: user's data or environment (a corrupt shard, a 0-byte Parquet file), not our bug.
_LIBRARIES = (
    "h5py",
    "tensorstore",
    "pyarrow",
    "zarr",
    "numcodecs",
    "numpy",
    "pandas",
    "tifffile",
    "imageio",
    "PIL",
    "tables",
    "fastparquet",
)
_TS_STATUS = re.compile(
    r"^(NOT_FOUND|DATA_LOSS|FAILED_PRECONDITION|INVALID_ARGUMENT|RESOURCE_EXHAUSTED|"
    r"PERMISSION_DENIED|UNAVAILABLE|OUT_OF_RANGE|ABORTED|ALREADY_EXISTS|UNKNOWN|INTERNAL|"
    r"DEADLINE_EXCEEDED|UNIMPLEMENTED): "
)
_ERRNO_HINT = {
    errno.ENOSPC: "no space left on the device (disk full): free space or write elsewhere; "
    "nothing half-written was left under the final name",
    errno.EDQUOT: "disk quota exceeded: free space or write elsewhere",
    errno.EACCES: "permission denied: choose a location you can read/write, or fix its permissions",
    errno.EPERM: "operation not permitted: choose another location",
    errno.EROFS: "read-only file system: write the output somewhere writable",
    errno.ENOTDIR: "a part of this path is a file, not a folder",
    errno.EISDIR: "is a folder; give a file name",
    errno.ENAMETOOLONG: "the name is too long for the file system",
    errno.EMFILE: "too many open files: raise `ulimit -n` or use fewer --workers",
    errno.EIO: "input/output error from the device: check the disk or network mount",
    errno.ELOOP: "too many levels of symbolic links",
    errno.EEXIST: "exists already; pass --overwrite to replace it",
    errno.ENOTEMPTY: "the folder is not empty",
    errno.EXDEV: "cannot move across file systems",
}


def _library_of(exc: BaseException) -> str | None:
    """The third-party library (of :data:`_LIBRARIES`) the exception was raised in, if any."""
    mod = type(exc).__module__.split(".")[0]
    if mod in _LIBRARIES:
        return mod
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    if last:
        parts = Path(last).parts
        for lib in _LIBRARIES:
            if lib in parts and "connectoscope" not in parts[-3:]:
                return lib
    if _TS_STATUS.match(str(exc)):
        return "tensorstore"
    return None


def _path_in_traceback(exc: BaseException) -> str | None:
    """The innermost file path our own code was working on when ``exc`` was raised."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        if "connectoscope" not in Path(frame.f_code.co_filename).parts:
            continue
        for name, value in frame.f_locals.items():
            if isinstance(value, Path) or (
                isinstance(value, str)
                and name in ("path", "source", "src", "filename", "file", "out", "output")
                and len(value) < 4096
                and "\n" not in value
            ):
                p = Path(value)
                if p.exists() or p.parent.exists():
                    return str(value)
    return None


def _clean(text: str) -> str:
    """One line: tensorstore's spec and source-location tails dropped."""
    text = re.sub(r"\s*\[(tensorstore_spec|source locations)=.*", "", text, flags=re.S)
    text = " ".join(text.split())
    return text if len(text) <= 400 else text[:397] + "..."


def describe_user_error(exc: BaseException) -> str | None:
    """One line for an exception a user can cause (environment, data, arguments), naming
    the path or value; None for anything else (a bug: the traceback is shown).

    Handled: ``OSError`` (permission, missing folder, read-only, disk full, port in use...),
    ``OverflowError`` of a port, ``UnicodeDecodeError`` (a binary file read as text),
    ``EOFError`` (an empty or truncated file), JSON errors, and errors raised inside h5py,
    tensorstore, pyarrow, zarr, numpy, pandas and the image readers.
    """
    import json

    if isinstance(exc, ModuleNotFoundError) and exc.name:
        from .._deps import EXTRA_OF, missing_dependency

        if exc.name.split(".")[0] in EXTRA_OF:  # an optional extra that is not installed
            return str(missing_dependency(exc.name))
        return None
    if isinstance(exc, OSError):
        path = exc.filename if exc.filename is not None else _path_in_traceback(exc)
        where = f"{path}: " if path else ""
        if exc.errno == errno.EADDRINUSE:
            return "the port is already in use: pass another --port (or 0 for any free one)"
        if exc.errno == errno.EADDRNOTAVAIL:
            return "cannot bind that address/port: pass another --port (or 0)"
        if exc.errno == errno.ENOENT:
            parent = Path(path).parent if path else None
            if parent is not None and not parent.exists():
                return f"{where}no such file or folder (the folder {parent} does not exist)"
            return f"{where}no such file or folder"
        if exc.errno in _ERRNO_HINT:
            return f"{where}{_ERRNO_HINT[exc.errno]}"
        if exc.errno is not None and exc.strerror:
            return f"{where}{exc.strerror}"
        lib = _library_of(exc)
        return f"{where}{lib + ': ' if lib else ''}{_clean(str(exc))}"
    if isinstance(exc, OverflowError) and "port" in str(exc):
        return f"--port: {_clean(str(exc))} (0 picks any free port)"
    if isinstance(exc, UnicodeDecodeError):
        path = _path_in_traceback(exc)
        return (
            f"{path or 'input'}: not a text file (byte {exc.object[exc.start]:#04x} at position "
            f"{exc.start} is not {exc.encoding}); give the right file or format"
        )
    if isinstance(exc, EOFError):
        path = _path_in_traceback(exc)
        return f"{path or 'input'}: the file is empty or ends early (truncated); {exc}"
    if isinstance(exc, RecursionError):
        path = _path_in_traceback(exc)
        return f"{path or 'input'}: nested too deeply to read (a hostile or broken file)"
    if isinstance(exc, json.JSONDecodeError):
        path = _path_in_traceback(exc)
        return f"{path or 'input'}: not valid JSON ({exc})"
    lib = _library_of(exc)
    if lib is not None and isinstance(exc, Exception):
        path = _path_in_traceback(exc)
        where = f"{path}: " if path and path not in str(exc) else ""
        return f"{where}{lib}: {_clean(str(exc)) or type(exc).__name__}"
    return None


def clean_stale_parts_of(path: str | Path) -> list[Path]:
    """Remove the temporary files (``.NAME.<pid>.part``) that killed writers of ``path`` left
    beside it; a part whose writer is still running is kept. Returns the removed paths."""
    from .._atomic import PART_SUFFIX, _pid_alive

    p = Path(path)
    removed: list[Path] = []
    if not p.parent.is_dir():
        return removed
    for q in p.parent.glob(f".{p.name}.*{PART_SUFFIX}"):
        pid = q.name[len(p.name) + 2 : -len(PART_SUFFIX)]
        if pid.isdigit() and _pid_alive(int(pid)):
            continue
        try:
            q.unlink()
            removed.append(q)
        except OSError:
            pass
    return removed
