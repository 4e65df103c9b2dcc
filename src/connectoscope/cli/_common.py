"""Options and argument types shared by several commands (defined once here)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError
from ..geometry import parse_xyz

__all__ = [
    "add_overwrite",
    "add_parallel_options",
    "add_subcommand",
    "positive_int",
    "xyz_float",
    "xyz_int",
]


def xyz_float(text: str) -> tuple[float, float, float]:
    """argparse type: ``X,Y,Z`` floats (positive)."""
    try:
        return parse_xyz(text, name="value", positive=True)
    except InvalidParameterError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def xyz_int(text: str) -> tuple[int, int, int]:
    """argparse type: ``X,Y,Z`` integers."""
    try:
        return parse_xyz(text, name="value", integer=True)
    except InvalidParameterError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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
    return sub.add_parser(  # type: ignore[no-any-return]
        name,
        help=help,
        description=description or help,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def existing_path(text: str) -> Path:
    """argparse type: a path that must exist."""
    return Path(text)
