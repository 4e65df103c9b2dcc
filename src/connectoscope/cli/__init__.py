"""The ``connectoscope`` command line: a thin layer over the public Python API.

Every sub-command lives in its own module ``connectoscope.cli.cmd_<name>`` that defines
``register(subparsers)``; :func:`main` discovers them, so adding a command touches no
shared file. User errors (:class:`~connectoscope.errors.ConnectoscopeError`) print one
clear message and exit with code 2; so do the errors a user's environment or files cause
(permissions, a missing folder, a full disk, a port in use, a corrupt file read by h5py,
tensorstore, pyarrow or zarr: :func:`~connectoscope.cli._common.describe_user_error`).
A closed pipe (``connectoscope info X | head``) ends quietly. ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import ConnectoscopeError, InvalidParameterError
from ..parallel import executor
from ._common import describe_user_error

__all__ = ["build_parser", "main"]

EPILOG = """\
Coordinates are x,y,z; sizes in nm unless an option says voxels. Arrays are [z, y, x].
Start with `connectoscope demo`, then `connectoscope info DATASET`.
Every command has --help with examples."""


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser (all discovered sub-commands)."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="connectoscope",
        description=(
            "connectoscope: electron-microscopy connectomics made usable. Convert EM volumes and "
            "segmentations into one fast multiscale dataset, map segments to objects, draw "
            "surfaces and planes, analyse connectomes and morphology, and view it all in "
            "Neuroglancer."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"connectoscope {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks instead of short messages"
    )
    parser.add_argument("--no-progress", action="store_true", help=_NO_PROGRESS_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import connectoscope.cli as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            mod = importlib.import_module(f"connectoscope.cli.{info.name}")
            mod.register(sub)
    _add_no_progress(sub)
    return parser


_NO_PROGRESS_HELP = "hide progress bars (also: CONNECTOSCOPE_PROGRESS=0)"


def _add_no_progress(sub: Any) -> None:
    """Give every command (and sub-command) ``--no-progress``, so that it can follow the
    command as users write it; commands that define it themselves keep theirs."""
    for p in sub.choices.values():
        if "--no-progress" not in p._option_string_actions:
            p.add_argument(
                "--no-progress",
                action="store_true",
                default=argparse.SUPPRESS,
                help=_NO_PROGRESS_HELP,
            )
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_no_progress(action)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        if getattr(args, "command", None):
            # A command group given without its sub-command: show that group's help.
            sub_parser = getattr(args, "_group_parser", None)
            (sub_parser or parser).print_help()
        else:
            parser.print_help()
        return 2
    import warnings

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        print(f"connectoscope {args.command}: warning: {message}", file=sys.stderr)

    old_show = warnings.showwarning
    warnings.showwarning = show
    try:
        workers = getattr(args, "workers", None)
        if workers is not None and workers < 1:
            raise InvalidParameterError(f"--workers: expected a whole number >= 1, got {workers}")
        from .._config import config

        quiet = {"progress": False} if getattr(args, "no_progress", False) else {}
        with (
            config.set(**quiet),
            executor(
                getattr(args, "scheduler", None),
                workers=workers,
                local=getattr(args, "local", None),
            ),
        ):
            rc = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        return _broken_pipe(args.debug)
    except ConnectoscopeError as e:
        if args.debug:
            raise
        print(f"connectoscope {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(
            "connectoscope: interrupted. Work written so far is kept; re-run the same command "
            "to resume where it is supported.",
            file=sys.stderr,
        )
        return 130
    except Exception as e:
        if args.debug:
            raise
        msg = describe_user_error(e)
        if msg is None:
            raise
        print(f"connectoscope {args.command}: error: {msg}", file=sys.stderr)
        return 2
    finally:
        warnings.showwarning = old_show
    return int(rc or 0)


#: Exit status after the reader of our output went away (as if killed by SIGPIPE).
EXIT_BROKEN_PIPE = 141


def _broken_pipe(debug: bool) -> int:
    """The reader of stdout closed the pipe (``| head``): stop quietly. Python would report
    the failed flush at exit, so stdout is pointed at /dev/null first."""
    if debug:
        print("connectoscope: stdout was closed by its reader (broken pipe)", file=sys.stderr)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # pragma: no cover - stdout without a descriptor
        pass
    return EXIT_BROKEN_PIPE


def _entry() -> None:  # pragma: no cover - used by ``python -m connectoscope``
    sys.exit(main())
