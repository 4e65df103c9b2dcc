"""``connectoscope info PATH``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._common import add_subcommand


def register(sub: Any) -> None:
    p = add_subcommand(
        sub,
        "info",
        help="describe a dataset, a cube folder or an HDF5/NPY file",
        description=(
            "Print what PATH contains: layers, shapes, dtypes, pyramid levels, voxel size, "
            "object counts by kind and sizes on disk. PATH may be a connectoscope dataset, a "
            "folder of L4dense x{i}y{j}z{k}.hdf5 cubes (or one holding color/ and "
            "segmentation/), an HDF5 file or a .npy/.npz file."
        ),
        epilog="examples:\n  connectoscope info demo.cscope\n  connectoscope info source/segmentation\n"
        "  connectoscope info cube.hdf5 --json",
    )
    p.add_argument("path", help="dataset, cube folder or file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._inspect import describe, format_description

    d = describe(args.path)
    print(json.dumps(d, indent=2) if args.json else format_description(d))
    return 0
