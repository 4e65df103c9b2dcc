"""``connectoscope objects import|stats``."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_overwrite, add_parallel_options, add_subcommand


def register(sub: Any) -> None:
    g = add_subcommand(
        sub,
        "objects",
        help="segment-to-object maps (neuron, axon, dendrite, spinehead...) and object tables",
    )
    g.set_defaults(_group_parser=g)
    gs = g.add_subparsers(dest="objects_command", metavar="ACTION")
    p = add_subcommand(
        gs,
        "import",
        help="import object maps into a dataset",
        description=(
            "Import segment-to-object maps: HDF5 /attributes/<kind> arrays indexed by segment id "
            "(L4dense style, also a ChimeraX .cmap), Parquet/CSV tables (segment_id, kind, "
            "object_id), two-column segment -> object maps of one kind (CSV/Parquet under any "
            "two column names, e.g. supervoxel,body; an N x 2 HDF5 array such as NeuroProof's "
            "/transforms) or JSON agglomerate lists. Kinds are added to those already stored."
        ),
        epilog=(
            "examples:\n  connectoscope objects import demo.cscope source/objects.hdf5\n"
            "  connectoscope objects import demo.cscope axons.json --kind axon\n"
            "  connectoscope objects import medulla.cscope sv_to_body.csv --kind body\n"
            "  connectoscope objects import medulla.cscope table.parquet --kind body "
            "--columns sv,body_id\n"
            "  connectoscope objects import medulla.cscope neuroproof.h5:/transforms --kind body"
        ),
    )
    p.add_argument("dataset")
    p.add_argument("source")
    p.add_argument(
        "--kind",
        default=None,
        help="import only this kind; for a two-column map or N x 2 array, the kind it maps to",
    )
    p.add_argument(
        "--columns",
        default=None,
        metavar="SEGMENT,OBJECT",
        help="the two columns of a wider CSV/Parquet table that form the map",
    )
    p.add_argument("--replace", action="store_true", help="drop kinds already stored")
    p.set_defaults(func=run_import)
    s = add_subcommand(
        gs,
        "stats",
        help="count objects of each kind; write per-segment and per-object tables (Parquet)",
        epilog="example:\n  connectoscope objects stats demo.cscope",
    )
    s.add_argument("dataset")
    s.add_argument("--level", type=int, default=0, help="pyramid level to measure")
    s.add_argument(
        "--components",
        action="store_true",
        help="also count the connected pieces of every segment (block-wise, exact)",
    )
    s.add_argument("--connectivity", type=int, choices=[6, 18, 26], default=26)
    add_parallel_options(s)
    s.set_defaults(func=run_stats)
    m = add_subcommand(
        gs,
        "map",
        help="materialise a mapped segmentation: each voxel holds its object id of one kind",
        description=(
            "Write the label layer mapped_<KIND> (its own pyramid, mode downsampling): level 0 "
            "is the segmentation with every segment id replaced by its object id of KIND (0 "
            "when none), computed shard by shard. Read it like any layer, view it, export it."
        ),
        epilog=(
            "examples:\n  connectoscope objects map demo.cscope --kind neuron\n"
            "  connectoscope export chimerax demo.cscope neurons.cmap --layer mapped_neuron"
        ),
    )
    m.add_argument("dataset")
    m.add_argument("--kind", required=True, help="object kind (neuron, axon, dendrite...)")
    add_overwrite(m)
    add_parallel_options(m)
    m.set_defaults(func=run_map)


def run_import(args: argparse.Namespace) -> int:
    from ..errors import InvalidParameterError
    from ..segmentation import import_objects

    columns = None
    if args.columns:
        parts = [c.strip() for c in args.columns.split(",")]
        if len(parts) != 2 or not all(parts):
            raise InvalidParameterError(
                f"--columns {args.columns!r}: expected two names SEGMENT,OBJECT (e.g. "
                "--columns supervoxel,body)"
            )
        columns = (parts[0], parts[1])
    maps = import_objects(
        args.dataset, args.source, kind=args.kind, replace=args.replace, columns=columns
    )
    for kind, n in maps.counts().items():
        print(f"{kind}: {n} objects")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from ..segmentation import object_stats

    r = object_stats(
        args.dataset,
        level=args.level,
        workers=args.workers,
        components=args.components,
        connectivity=args.connectivity,
    )
    print(f"segments: {r['segments']} ({r['voxels']} voxels at level {args.level})")
    if "components" in r:
        print(
            f"connected pieces ({r['connectivity']}-connectivity): {r['components']}; "
            f"segments in more than one piece: {r['split_segments']}"
        )
    print(f"{'kind':<12}{'objects':>10}{'segments':>10}{'voxels':>14}")
    for kind, k in r["kinds"].items():
        print(f"{kind:<12}{k['objects']:>10}{k['segments']:>10}{k['voxels']:>14}")
    print(f"tables: {args.dataset}/objects/segments.parquet, objects_<kind>.parquet")
    return 0


def run_map(args: argparse.Namespace) -> int:
    from ..segmentation import map_segmentation

    layer = map_segmentation(
        args.dataset,
        args.kind,
        workers=args.workers,
        overwrite=args.overwrite,
    )
    z, y, x = layer.shape_zyx(0)
    print(
        f"layer {layer.name}: {x} x {y} x {z} voxels (x, y, z), {layer.num_levels} levels, "
        f"{layer.dtype} {args.kind} ids"
    )
    return 0
