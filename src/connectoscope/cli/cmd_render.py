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


def _levels(items: list[str] | None) -> Any:
    """``--levels``: nodes, ``auto`` (default) or ``raw`` (grey / 255)."""
    from ..render import parse_levels

    if not items or items == ["auto"]:
        return "auto"
    if items == ["raw"]:
        return None
    return parse_levels(items)


def _opacity(text: str) -> float:
    """argparse type: a number within 0-1."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number within 0-1, got {text!r}") from None
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"must be within 0-1, got {text!r}")
    return v


def _plane_look(p: argparse.ArgumentParser, *, movie: bool) -> None:
    """Options shared by ``render plane`` and ``movie --slice``."""
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
        type=_opacity,
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


def register(sub: Any) -> None:
    from ..segmentation._cli_options import add_selection_options

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
    _plane_look(p, movie=False)
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
    _mesh_options(s)
    s.add_argument("--size", type=_size, default=(1280, 960), metavar="W,H", help="pixels")
    s.add_argument("--azimuth", type=float, default=30.0, help="degrees (default 30)")
    s.add_argument("--elevation", type=float, default=20.0, help="degrees (default 20)")
    s.add_argument("--plain", action="store_true", help="no legend, scale bar or caption")
    s.add_argument("-o", "--output", required=True)
    s.set_defaults(func=run_surfaces)
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
    _mesh_options(m)
    m.add_argument(
        "--frames",
        type=int,
        default=None,
        help="turn: frames (default 120); slice: planes shown (default: every plane, at most 600)",
    )
    m.add_argument("--fps", type=float, default=15.0, help="frames per second (default 15)")
    m.add_argument(
        "--size",
        type=_size,
        default=(1280, 720),
        metavar="W,H",
        help="turn: pixels (default 1280,720)",
    )
    m.add_argument(
        "--by-kind", action="append", default=[], metavar="KIND:COLOR", help="slice: colour by kind"
    )
    _plane_look(m, movie=True)
    m.add_argument("--plain", action="store_true", help="no legend, scale bar or caption")
    m.add_argument("-o", "--output", required=True, help=".mp4 or .gif")
    m.set_defaults(func=run_movie)


def run_plane(args: argparse.Namespace) -> int:
    from ..dataset import Dataset
    from ..render import plane_picture

    axis, index = _plane_arg(args)
    pic = plane_picture(
        Dataset(args.dataset),
        axis,
        index,
        level=args.level,
        by=_by(args.by),
        levels=_levels(args.levels),
        opacity=args.opacity,
        min_size=args.min_size,
    )
    print(pic.save(args.output, annotate=not args.plain))
    return 0


def _meshes(args: argparse.Namespace, ds: Any) -> tuple[list[Any], Any]:
    from ..errors import SelectionError
    from ..segmentation._cli_options import selection_from_args
    from ..surfaces import mesh_selection

    sel = selection_from_args(args)
    if sel.empty_spec:
        raise SelectionError("select surfaces: --each neuron or --where neuron=1")
    simplify = args.simplify
    if simplify is None:  # pictures: simplify within the finest voxel edge (6x fewer faces)
        simplify = float(min(ds.voxel_size.xyz))
    elif simplify == 0:
        simplify = None
    meshes = mesh_selection(ds, sel, level=args.level, simplify_nm=simplify, smooth=args.smooth)
    return list(meshes.values()), sel


def _mesh_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--simplify",
        type=float,
        default=None,
        metavar="NM",
        help="max simplification error, nm (default: the finest voxel edge; 0: none)",
    )
    p.add_argument("--smooth", type=int, default=0, metavar="N", help="Taubin iterations")


def run_surfaces(args: argparse.Namespace) -> int:
    from ..dataset import Dataset
    from ..render import surface_picture
    from ..render._scene import selection_legend

    meshes, sel = _meshes(args, Dataset(args.dataset))
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
        from ..segmentation._cli_options import selection_from_args

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
        meshes, sel = _meshes(args, ds)
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

    by = _by(args.by_kind)
    levels = _levels(args.levels)
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
