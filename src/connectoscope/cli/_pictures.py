"""Options and helpers shared by the picture commands (``render``, ``movie``)."""

from __future__ import annotations

import argparse
from typing import Any, Literal

from ..errors import InvalidParameterError, SelectionError
from ..segmentation import Selection
from ..surfaces import Mesh, mesh_selection
from ._selection import selection_from_args

__all__ = [
    "by_colors",
    "levels_arg",
    "mesh_options",
    "opacity_arg",
    "plane_arg",
    "plane_look_options",
    "selected_meshes",
    "size_arg",
]


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


def levels_arg(items: list[str] | None) -> Any:
    """``--levels``: nodes, ``auto`` (default) or ``raw`` (grey / 255)."""
    from ..render import parse_levels

    if not items or items == ["auto"]:
        return "auto"
    if items == ["raw"]:
        return None
    return parse_levels(items)


def opacity_arg(text: str) -> float:
    """argparse type: a number within 0-1."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number within 0-1, got {text!r}") from None
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"must be within 0-1, got {text!r}")
    return v


def plane_look_options(p: argparse.ArgumentParser, *, movie: bool) -> None:
    """``--levels``, ``--opacity``, ``--min-size``: shared by ``render plane`` and
    ``movie --slice``."""
    p.add_argument(
        "--levels",
        nargs="+",
        default=None,
        metavar="LEVEL,BRIGHTNESS",
        help="EM brightness curve nodes (ChimeraX volume level) such as 95,0 120,0.9 234,1; "
        "'auto' (default): 0.5-99.5 percentile stretch; 'raw': grey / 255"
        + ("; slice only" if movie else ""),
    )
    p.add_argument(
        "--opacity",
        type=opacity_arg,
        default=0.5,
        metavar="A",
        help="how strongly segment colours tint the EM, 0-1 (default 0.5; 1 = ChimeraX's "
        "brightness x colour)",
    )
    p.add_argument(
        "--min-size",
        type=int,
        default=720 if movie else 0,
        metavar="PX",
        help="upsample until the longer side has this many pixels"
        + (" (default 720)" if movie else " (default: one pixel per voxel of the finer axis)"),
    )


def selected_meshes(args: argparse.Namespace, ds: Any) -> tuple[list[Mesh], Selection]:
    """The meshes of the command's selection, and the selection. Without ``--simplify`` the
    meshes are simplified within half the largest voxel edge of the level meshed (what the
    voxels themselves already allow: about 6x fewer faces, no visible change at picture
    scale); ``--simplify 0`` keeps every face."""
    sel = selection_from_args(args)
    if sel.empty_spec:
        raise SelectionError("select surfaces: --each neuron or --where neuron=1")
    simplify: float | Literal["voxel"] | None = args.simplify
    if simplify is None:
        simplify = "voxel"  # within half a voxel edge of the level meshed
    elif simplify == 0:
        simplify = None
    meshes = mesh_selection(ds, sel, level=args.level, simplify_nm=simplify, smooth=args.smooth)
    return list(meshes.values()), sel


def mesh_options(p: argparse.ArgumentParser) -> None:
    """``--simplify NM`` and ``--smooth N``."""
    p.add_argument(
        "--simplify",
        type=float,
        default=None,
        metavar="NM",
        help="max simplification error, nm (default: half the largest voxel edge of the level; "
        "0: none)",
    )
    p.add_argument("--smooth", type=int, default=0, metavar="N", help="Taubin iterations")
