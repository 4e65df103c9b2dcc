"""``connectoscope movie``: slice through the EM or turn around surfaces (MP4 or GIF)."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InvalidParameterError
from ._common import add_subcommand
from ._pictures import (
    by_colors,
    levels_arg,
    mesh_options,
    plane_look_options,
    selected_meshes,
    size_arg,
)
from ._selection import add_selection_options


def register(sub: Any) -> None:
    m = add_subcommand(
        sub,
        "movie",
        help="a movie slicing through the EM or turning around surfaces (MP4 or GIF)",
        description=(
            "--slice steps through every plane (or --frames of them) of x, y or z, in true "
            "aspect, upsampled to --min-size; --turn rotates an orthographic camera about "
            "the vertical axis over --frames frames of --size pixels. Each frame carries the "
            "legend and scale bar (--plain: none). MP4/MOV/MKV (H.264) or GIF by the suffix."
        ),
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
    m.add_argument(
        "--frames",
        type=int,
        default=None,
        help="turn: frames (default 120); slice: planes shown (default: every plane, at most 600)",
    )
    m.add_argument("--fps", type=float, default=15.0, help="frames per second (default 15)")
    m.add_argument(
        "--size",
        type=size_arg,
        default=(1280, 720),
        metavar="W,H",
        help="turn: pixels (default 1280,720)",
    )
    m.add_argument(
        "--by-kind", action="append", default=[], metavar="KIND:COLOR", help="slice: colour by kind"
    )
    plane_look_options(m, movie=True)
    m.add_argument("--plain", action="store_true", help="no legend, scale bar or caption")
    m.add_argument("-o", "--output", required=True, help=".mp4 or .gif")
    m.set_defaults(func=run_movie)


#: ``movie --slice`` shows at most this many planes unless --frames says otherwise.
MAX_SLICE_FRAMES = 600


def run_movie(args: argparse.Namespace) -> int:
    import numpy as np

    from ..dataset import Dataset
    from ..render import turn_frames, write_movie
    from ..render._scene import check_movie_path, selection_legend

    check_movie_path(args.output)
    if (args.slice is None) == (args.turn is None):
        raise InvalidParameterError("give one of --slice x|y|z or --turn DEGREES")
    if args.frames is not None and args.frames < 1:
        raise InvalidParameterError(f"--frames must be 1 or more, got {args.frames}")
    ds = Dataset(args.dataset)
    if args.slice:
        from ._selection import selection_from_args

        if not selection_from_args(args).empty_spec:
            raise InvalidParameterError(
                "--slice colours planes with --by-kind KIND:COLOR; --where/--each/--by/--color "
                "select surfaces for --turn"
            )
        level = args.level or 0
        n = ds.image.shape_zyx(level)["zyx".index(args.slice)]
        count = min(args.frames or MAX_SLICE_FRAMES, n)
        idx = np.linspace(0, n - 1, count).round().astype(int)
        frames = _slice_frames(ds, args, level, [int(i) for i in idx])
    else:
        if args.by_kind or args.levels:
            raise InvalidParameterError(
                "--by-kind and --levels colour --slice movies; --turn takes --where, --each, "
                "--color, --by"
            )
        meshes, sel = selected_meshes(args, ds)
        frames = turn_frames(
            meshes,
            degrees=args.turn,
            frames=args.frames or 120,
            size=args.size,
            legend=selection_legend(sel, meshes),
            annotate=not args.plain,
        )
    print(write_movie(frames, args.output, fps=args.fps))
    return 0


def _slice_frames(ds: Any, args: argparse.Namespace, level: int, idx: list[int]) -> list[Any]:
    from .._progress import progress
    from ..render import dataset_levels, plane_picture, segment_colors
    from ..volume import VolumeLayer

    by = by_colors(args.by_kind)
    levels = levels_arg(args.levels)
    if levels == "auto":
        levels = dataset_levels(ds)  # once, not per frame
    table = None
    if not by and ds.has_layer("segmentation"):
        seg = VolumeLayer(ds, "segmentation")
        if seg.shape_zyx(level) == ds.image.shape_zyx(level):
            sample = idx[:: max(1, len(idx) // 16)]
            table = segment_colors([seg.read_plane(args.slice, i, level=level) for i in sample])
    frames = []
    for i in progress(idx, desc="movie frames", unit="frame"):
        pic = plane_picture(
            ds,
            args.slice,
            i,
            level=level,
            by=by,
            levels=levels,
            opacity=args.opacity,
            min_size=args.min_size,
            segment_table=table,
        )
        frames.append(pic.rgb if args.plain else pic.annotated())
    return frames
