"""``connectoscope demo``."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_subcommand, positive_int, xyz_int


def register(sub: Any) -> None:
    p = add_subcommand(
        sub,
        "demo",
        help="generate a synthetic dataset and run every capability end to end",
        description=(
            "Generate a synthetic L4dense-style volume (EM, segmentation, object maps, synapses, "
            "cells) and run every capability on it: ingest into a multiscale dataset, object "
            "counts, surfaces, coloured EM planes, connectome figures, skeletons, viewer files. "
            "Prints what it made and writes a one-page HTML summary (index.html)."
        ),
        epilog="example:\n  connectoscope demo --out connectoscope-demo\n  "
        "then open connectoscope-demo/index.html",
    )
    p.add_argument(
        "--out", default="connectoscope-demo", help="output folder (default: %(default)s)"
    )
    p.add_argument("--shape", type=xyz_int, default=(512, 512, 256), help="volume X,Y,Z voxels")
    p.add_argument("--cube", type=int, default=256, help="cube edge of the synthetic source files")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--workers", type=positive_int, default=2, help="workers (default: 2)")
    p.add_argument("--force", action="store_true", help="replace an earlier demo folder at --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    run_demo(
        args.out,
        shape_xyz=tuple(args.shape),
        cube=args.cube,
        seed=args.seed,
        workers=args.workers,
        force=args.force,
    )
    return 0
