"""Options and helpers shared by the picture commands (``render``, ``movie``)."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InvalidParameterError, SelectionError
from ..surfaces import Mesh, mesh_selection
from ._selection import selection_from_args

__all__ = ["by_colors", "mesh_options", "plane_arg", "selected_meshes", "size_arg"]


def by_colors(items: list[str]) -> list[tuple[str, str]]:
    out = []
    for it in items:
        kind, sep, colour = it.partition(":")
        if not sep:
            raise InvalidParameterError(f"--by {it!r}: expected KIND:COLOR such as axon:lime")
        out.append((kind, colour))
    return out


def size_arg(text: str) -> tuple[int, int]:
    """argparse type: ``W,H`` pixels, each 16-8192."""
    try:
        w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected W,H pixels such as 1024,768, got {text!r}"
        ) from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"W,H must each be 16-8192 pixels, got {text!r}")
    return w, h


def plane_arg(args: argparse.Namespace) -> tuple[str, int]:
    given = [(a, getattr(args, a)) for a in "zyx" if getattr(args, a) is not None]
    if len(given) != 1:
        raise InvalidParameterError(
            "give exactly one of --z, --y, --x (the plane index, voxels of --level)"
        )
    return given[0]


def selected_meshes(args: argparse.Namespace, ds: Any) -> list[Mesh]:
    sel = selection_from_args(args)
    if sel.empty_spec:
        raise SelectionError("select surfaces: --each neuron or --where neuron=1")
    meshes = mesh_selection(
        ds, sel, level=args.level, simplify_nm=args.simplify, smooth=args.smooth
    )
    return list(meshes.values())


def _mesh_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--simplify", type=float, default=None, metavar="NM", help="max simplification error, nm"
    )
    p.add_argument("--smooth", type=int, default=0, metavar="N", help="Taubin iterations")


def mesh_options(p: argparse.ArgumentParser) -> None:
    """``--simplify NM`` and ``--smooth N``."""
    p.add_argument(
        "--simplify", type=float, default=None, metavar="NM", help="max simplification error, nm"
    )
    p.add_argument("--smooth", type=int, default=0, metavar="N", help="Taubin iterations")
