"""``connectoscope surfaces``."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_parallel_options, add_subcommand, xyz_int


def register(sub: Any) -> None:
    from ._selection import add_selection_options

    p = add_subcommand(
        sub,
        "surfaces",
        help="closed surface meshes of selected objects (PLY/OBJ/GLB + Neuroglancer meshes)",
        description=(
            "Mesh each selected group (zmesh marching cubes, optional simplification with a "
            "bounded error in nm, optional smoothing), block by block in worker threads; the "
            "blocks are stitched so each group is one closed surface. Coordinates are nm. Writes "
            "one file per group to -o and Neuroglancer precomputed meshes with segment "
            "properties into the dataset. Without --level (or with --auto-level), the finest "
            "level whose selected region stays under --max-voxels is used, and said."
        ),
        epilog=(
            "examples (the seed's ChimeraX commands):\n"
            "  connectoscope surfaces demo.cscope --each neuron -o meshes/        # seg surf #1 each neuron\n"
            "  connectoscope surfaces demo.cscope --where neuron=1 --color yellow --by spinehead:red -o n1/\n"
            "  connectoscope surfaces demo.cscope --each neuron --simplify 40 --format precomputed  # viewer LODs"
        ),
    )
    p.add_argument("dataset")
    add_selection_options(p)
    lv = p.add_mutually_exclusive_group()
    lv.add_argument("--level", type=int, default=None, help="pyramid level (default: automatic)")
    lv.add_argument(
        "--auto-level",
        action="store_true",
        help="choose the finest level whose selected region fits --max-voxels (the default)",
    )
    p.add_argument(
        "--simplify", type=float, default=None, metavar="NM", help="max simplification error, nm"
    )
    p.add_argument(
        "--smooth", type=int, default=0, metavar="N", help="Taubin smoothing iterations (0: none)"
    )
    p.add_argument(
        "--block",
        type=xyz_int,
        default=None,
        metavar="X,Y,Z",
        help="block shape in voxels (default: the storage shard)",
    )
    add_parallel_options(p)
    p.add_argument(
        "--format",
        choices=["ply", "obj", "glb", "precomputed"],
        default="ply",
        help=(
            "mesh file format in -o (default ply); precomputed: no files, the dataset's "
            "meshes/ folder gets multi-resolution sharded Draco meshes for the viewer instead "
            "of legacy ones"
        ),
    )
    p.add_argument(
        "--max-voxels", type=int, default=None, help="voxel budget for the automatic level"
    )
    p.add_argument("-o", "--output", default=None, help="folder for the mesh files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import SelectionError
    from ..surfaces import make_surfaces
    from ._selection import selection_from_args

    sel = selection_from_args(args)
    if sel.empty_spec:
        raise SelectionError(
            "select what to mesh: --each neuron, --where neuron=1 or --where 3,7,8-10 "
            "(meshing every segment at once is refused)"
        )
    r = make_surfaces(
        args.dataset,
        sel,
        args.output,
        level=args.level,
        simplify_nm=args.simplify,
        fmt=args.format,
        max_voxels=args.max_voxels,
        smooth=args.smooth,
        block_xyz=args.block,
        workers=args.workers,
    )
    how = "chosen automatically" if r.auto_level else "as asked"
    print(f"level {r.level} ({how}): {len(r.meshes)} meshes ({sel.describe()})")
    for f in r.files[:10]:
        print(f"  {f}")
    if len(r.files) > 10:
        print(f"  ... {len(r.files) - 10} more")
    return 0
