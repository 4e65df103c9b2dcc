"""``connectoscope render plane|surfaces``."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_subcommand
from ._pictures import (
    by_colors,
    levels_arg,
    mesh_options,
    plane_arg,
    plane_look_options,
    selected_meshes,
    size_arg,
)


def register(sub: Any) -> None:
    from ._selection import add_selection_options

    g = add_subcommand(sub, "render", help="pictures: coloured EM planes and 3-D surfaces")
    g.set_defaults(_group_parser=g)
    gs = g.add_subparsers(dest="render_command", metavar="WHAT")
    p = add_subcommand(
        gs,
        "plane",
        help="an EM plane coloured by segmentation or object kind, true aspect, scale bar, legend",
        description=(
            "EM grey through a piecewise-linear level/brightness curve (ChimeraX `volume level` "
            "nodes; default: a 0.5-99.5 percentile stretch), each segment's colour tinting the "
            "grey at --opacity; 0 (unsegmented) stays grey. Without --by every segment gets a "
            "palette colour, touching segments different ones; with --by KIND:COLOR, segments "
            "are coloured by object kind. The plane is resampled to square pixels (x and y "
            "planes of anisotropic data are not squashed) and a band below holds the legend, a "
            "scale bar and the plane's position (--plain: the image alone)."
        ),
        epilog=(
            "example (seed: seg color #2 red map #1 by dendrite ... volume #1 level 95,0 ...):\n"
            "  connectoscope render plane demo.cscope --z 100 --by axon:lime --by dendrite:red "
            "--by spinehead:blue -o plane.png\n"
            "  connectoscope render plane demo.cscope --y 256 --levels 95,0 120,0.9 234,1 "
            "--opacity 1 -o side.png"
        ),
    )
    p.add_argument("dataset")
    for a in "zyx":
        p.add_argument(f"--{a}", type=int, default=None, help=f"{a} index of the plane")
    p.add_argument("--level", type=int, default=0)
    p.add_argument("--by", action="append", default=[], metavar="KIND:COLOR")
    plane_look_options(p, movie=False)
    p.add_argument("--plain", action="store_true", help="no legend, scale bar or caption")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=run_plane)
    s = add_subcommand(
        gs,
        "surfaces",
        help="a lit 3-D picture of selected surfaces, with scale bar and legend",
        description=(
            "Orthographic (so the scale bar holds everywhere), lit, camera fitted to the "
            "selection. Each object takes its colour from the shared palette (the viewer "
            "uses the same), or --color / --by."
        ),
        epilog="example:\n  connectoscope render surfaces demo.cscope --where neuron=1 --color yellow --by spinehead:red -o n1.png",
    )
    s.add_argument("dataset")
    add_selection_options(s)
    s.add_argument("--level", type=int, default=None, help="pyramid level (default: automatic)")
    mesh_options(s)
    s.add_argument("--size", type=size_arg, default=(1280, 960), metavar="W,H", help="pixels")
    s.add_argument("--azimuth", type=float, default=30.0, help="degrees (default 30)")
    s.add_argument("--elevation", type=float, default=20.0, help="degrees (default 20)")
    s.add_argument("--plain", action="store_true", help="no legend, scale bar or caption")
    s.add_argument("-o", "--output", required=True)
    s.set_defaults(func=run_surfaces)


def run_plane(args: argparse.Namespace) -> int:
    from ..dataset import Dataset
    from ..render import plane_picture

    axis, index = plane_arg(args)
    pic = plane_picture(
        Dataset(args.dataset),
        axis,
        index,
        level=args.level,
        by=by_colors(args.by),
        levels=levels_arg(args.levels),
        opacity=args.opacity,
        min_size=args.min_size,
    )
    print(pic.save(args.output, annotate=not args.plain))
    return 0


def run_surfaces(args: argparse.Namespace) -> int:
    from ..dataset import Dataset
    from ..render import surface_picture
    from ..render._scene import selection_legend

    meshes, sel = selected_meshes(args, Dataset(args.dataset))
    pic = surface_picture(
        meshes,
        size=args.size,
        azimuth=args.azimuth,
        elevation=args.elevation,
        legend=selection_legend(sel, meshes),
        caption=f"{sel.describe()}; orthographic view, azimuth {args.azimuth:g}, "
        f"elevation {args.elevation:g} degrees",
    )
    print(pic.save(args.output, annotate=not args.plain))
    return 0
