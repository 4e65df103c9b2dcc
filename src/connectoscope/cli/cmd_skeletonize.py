"""``connectoscope skeletonize``."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_subcommand


def register(sub: Any) -> None:
    from ._selection import add_selection_options

    p = add_subcommand(
        sub,
        "skeletonize",
        help="one soma-rooted skeleton per selected object (stored in the dataset)",
        description=(
            "Thin each selected object's mask at one pyramid level (pooled so thin axons "
            "survive) to one tree per object: pieces joined at their closest vertices, spurs "
            "pruned, rooted deepest inside the object (the soma for neurons), with SWC types "
            "soma 1, axon 2, dendrite 3 from the axon/dendrite object maps or synapse flow "
            "(see docs/morphology.md). Writes Neuroglancer precomputed skeletons and SWC (µm) "
            "into DATASET/skeletons/. --method kimimaro needs the GPL extra "
            "connectoscope[skeleton]."
        ),
        epilog=(
            "examples:\n  connectoscope skeletonize demo.cscope --each neuron\n"
            "  connectoscope skeletonize demo.cscope --where neuron=1 --split flow\n"
            "  connectoscope skeleton info demo.cscope/skeletons/1.swc"
        ),
    )
    p.add_argument("dataset")
    add_selection_options(p)
    p.add_argument("--level", type=int, default=0, help="pyramid level read (default 0)")
    p.add_argument("--method", choices=["ours", "kimimaro"], default="ours")
    p.add_argument(
        "--split",
        choices=["auto", "maps", "flow", "none"],
        default="auto",
        help="axon/dendrite split: object maps, synapse flow, auto (maps, else flow), none",
    )
    p.add_argument(
        "--max-voxels",
        type=int,
        default=4_000_000,
        metavar="N",
        help="pool each object's mask to at most N voxels before thinning (default 4000000)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..dataset import Dataset
    from ..errors import SelectionError
    from ..morphology import skeletonize_dataset
    from ._selection import selection_from_args

    sel = selection_from_args(args)
    if sel.empty_spec:
        raise SelectionError("select objects: --each neuron or --where neuron=1")
    ds = Dataset(args.dataset)
    sk = skeletonize_dataset(
        ds,
        sel,
        level=args.level,
        method=args.method,
        split=args.split,
        max_voxels=args.max_voxels,
    )
    for gid, s in sk.items():
        i = s.summary()
        comp = ", ".join(f"{v} {k}" for k, v in i["compartments"].items())
        print(
            f"{gid}: {i['nodes']} nodes ({comp}), {i['roots']} root(s), cable "
            f"{i['cable_length_um']:.1f} µm, split by {s.meta.get('split', 'none')}"
        )
    print(f"written to {ds.path / 'skeletons'} (<id>.swc in µm, precomputed)")
    return 0
