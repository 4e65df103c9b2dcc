"""``connectoscope render plane|surfaces`` and ``connectoscope movie``."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InvalidParameterError
from ._common import add_subcommand


def _by(items: list[str]) -> list[tuple[str, str]]:
    out = []
    for it in items:
        kind, sep, colour = it.partition(":")
        if not sep:
            raise InvalidParameterError(f"--by {it!r}: expected KIND:COLOR such as axon:lime")
        out.append((kind, colour))
    return out


def _size(text: str) -> tuple[int, int]:
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


def _plane_arg(args: argparse.Namespace) -> tuple[str, int]:
    given = [(a, getattr(args, a)) for a in "zyx" if getattr(args, a) is not None]
    if len(given) != 1:
        raise InvalidParameterError(
            "give exactly one of --z, --y, --x (the plane index, voxels of --level)"
        )
    return given[0]


def register(sub: Any) -> None:
    from ..segmentation._cli_options import add_selection_options

    g = add_subcommand(sub, "render", help="pictures: coloured EM planes and 3-D surfaces")
    g.set_defaults(_group_parser=g)
    gs = g.add_subparsers(dest="render_command", metavar="WHAT")
    p = add_subcommand(
        gs,
        "plane",
        help="an EM plane coloured by segmentation or object kind",
        description=(
            "EM grey through a piecewise-linear level/brightness curve (ChimeraX `volume level` "
            "nodes), each segment's colour modulating the grey; 0 (unsegmented) stays grey. With "
            "--by KIND:COLOR, segments are coloured by object kind instead of by id."
        ),
        epilog=(
            "example (seed: seg color #2 red map #1 by dendrite ... volume #1 level 95,0 ...):\n"
            "  connectoscope render plane demo.cscope --z 100 --by axon:lime --by dendrite:red "
            "--by spinehead:blue --levels 95,0 120,0.9 234,1 -o plane.png"
        ),
    )
    p.add_argument("dataset")
    for a in "zyx":
        p.add_argument(f"--{a}", type=int, default=None, help=f"{a} index of the plane")
    p.add_argument("--level", type=int, default=0)
    p.add_argument("--by", action="append", default=[], metavar="KIND:COLOR")
    p.add_argument("--levels", nargs="+", default=None, metavar="LEVEL,BRIGHTNESS")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=run_plane)
    s = add_subcommand(
        gs,
        "surfaces",
        help="a lit 3-D picture of selected surfaces",
        epilog="example:\n  connectoscope render surfaces demo.cscope --where neuron=1 --color yellow --by spinehead:red -o n1.png",
    )
    s.add_argument("dataset")
    add_selection_options(s)
    s.add_argument("--level", type=int, default=None, help="pyramid level (default: automatic)")
    _mesh_options(s)
    s.add_argument("--size", type=_size, default=(1024, 768), metavar="W,H", help="pixels")
    s.add_argument("-o", "--output", required=True)
    s.set_defaults(func=run_surfaces)
    m = add_subcommand(
        sub,
        "movie",
        help="a movie slicing through the EM or turning around surfaces (MP4 or GIF)",
        epilog=(
            "examples:\n  connectoscope movie demo.cscope --slice z -o slice.mp4\n"
            "  connectoscope movie demo.cscope --turn 360 --where neuron=1 --color yellow -o turn.gif"
        ),
    )
    m.add_argument("dataset")
    m.add_argument("--slice", choices=["x", "y", "z"], default=None)
    m.add_argument("--turn", type=float, default=None, metavar="DEGREES")
    add_selection_options(m)
    m.add_argument("--level", type=int, default=None, help="pyramid level (default: automatic)")
    _mesh_options(m)
    m.add_argument("--frames", type=int, default=36)
    m.add_argument("--fps", type=int, default=10)
    m.add_argument(
        "--by-kind", action="append", default=[], metavar="KIND:COLOR", help="slice: colour by kind"
    )
    m.add_argument(
        "--levels",
        nargs="+",
        default=None,
        metavar="LEVEL,BRIGHTNESS",
        help="slice: brightness curve nodes (ChimeraX volume level), e.g. 95,0 120,0.9 234,1",
    )
    m.add_argument("-o", "--output", required=True, help=".mp4 or .gif")
    m.set_defaults(func=run_movie)


def run_plane(args: argparse.Namespace) -> int:
    from ..dataset import Dataset
    from ..render import parse_levels, render_dataset_plane, save_png

    axis, index = _plane_arg(args)
    levels = parse_levels(args.levels) if args.levels else None
    img = render_dataset_plane(
        Dataset(args.dataset), axis, index, level=args.level, by=_by(args.by), levels=levels
    )
    print(save_png(img, args.output))
    return 0


def _meshes(args: argparse.Namespace, ds: Any) -> list[Any]:
    from ..errors import SelectionError
    from ..segmentation._cli_options import selection_from_args
    from ..surfaces import mesh_selection

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


def run_surfaces(args: argparse.Namespace) -> int:
    from ..dataset import Dataset
    from ..render import render_meshes, save_png

    img = render_meshes(_meshes(args, Dataset(args.dataset)), size=args.size, color=None)
    print(save_png(img, args.output))
    return 0


def run_movie(args: argparse.Namespace) -> int:
    import numpy as np

    from ..dataset import Dataset
    from ..render import render_dataset_plane, turn_frames, write_movie
    from ..render._scene import check_movie_path

    check_movie_path(args.output)
    ds = Dataset(args.dataset)
    if (args.slice is None) == (args.turn is None):
        raise InvalidParameterError("give one of --slice x|y|z or --turn DEGREES")
    if args.slice:
        from ..render import parse_levels

        levels = parse_levels(args.levels) if args.levels else None
        level = args.level or 0
        n = ds.image.shape_zyx(level)["zyx".index(args.slice)]
        idx = np.linspace(0, n - 1, min(args.frames, n)).round().astype(int)
        frames = [
            render_dataset_plane(
                ds, args.slice, int(i), level=level, by=_by(args.by_kind), levels=levels
            )
            for i in idx
        ]
    else:
        frames = turn_frames(_meshes(args, ds), degrees=args.turn, frames=args.frames)
    print(write_movie(frames, args.output, fps=args.fps))
    return 0
