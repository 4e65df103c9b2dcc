"""``connectoscope movie``: slice through the EM or turn around surfaces (MP4 or GIF)."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..errors import InvalidParameterError
from ._common import add_subcommand
from ._pictures import by_colors, mesh_options, selected_meshes
from ._selection import add_selection_options


def register(sub: Any) -> None:
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
    mesh_options(m)
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


def run_movie(args: argparse.Namespace) -> int:
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
                ds, args.slice, int(i), level=level, by=by_colors(args.by_kind), levels=levels
            )
            for i in idx
        ]
    else:
        frames = turn_frames(selected_meshes(args, ds), degrees=args.turn, frames=args.frames)
    print(write_movie(frames, args.output, fps=args.fps))
    return 0
