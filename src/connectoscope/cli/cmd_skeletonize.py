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
        help="skeletons of selected objects from the segmentation (stored in the dataset)",
        description=(
            "Thin each selected object's mask at one pyramid level to a centreline tree rooted "
            "deepest inside the object (the soma for neurons). Writes Neuroglancer precomputed "
            "skeletons and SWC (µm) into DATASET/skeletons/. --method kimimaro needs the GPL "
            "extra connectoscope[skeleton]."
        ),
        epilog="example:\n  connectoscope skeletonize demo.cscope --each neuron --level 1",
    )
    p.add_argument("dataset")
    add_selection_options(p)
    p.add_argument("--level", type=int, default=1)
    p.add_argument("--method", choices=["ours", "kimimaro"], default="ours")
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
    sk = skeletonize_dataset(ds, sel, level=args.level, method=args.method)
    for gid, s in sk.items():
        i = s.summary()
        print(
            f"{gid}: {i['nodes']} nodes, {i['roots']} root(s), cable {i['cable_length_um']:.1f} µm"
        )
    print(f"written to {ds.path / 'skeletons'}")
    return 0
