"""``connectoscope render plane|surfaces``."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_subcommand
from ._pictures import by_colors, mesh_options, plane_arg, selected_meshes, size_arg


def register(sub: Any) -> None:
    from ._selection import add_selection_options

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
    mesh_options(s)
    s.add_argument("--size", type=size_arg, default=(1024, 768), metavar="W,H", help="pixels")
    s.add_argument("-o", "--output", required=True)
    s.set_defaults(func=run_surfaces)


def run_plane(args: argparse.Namespace) -> int:
    from ..dataset import Dataset
    from ..render import parse_levels, render_dataset_plane, save_png

    axis, index = plane_arg(args)
    levels = parse_levels(args.levels) if args.levels else None
    img = render_dataset_plane(
        Dataset(args.dataset), axis, index, level=args.level, by=by_colors(args.by), levels=levels
    )
    print(save_png(img, args.output))
    return 0


def run_surfaces(args: argparse.Namespace) -> int:
    from ..dataset import Dataset
    from ..render import render_meshes, save_png

    img = render_meshes(selected_meshes(args, Dataset(args.dataset)), size=args.size, color=None)
    print(save_png(img, args.output))
    return 0
