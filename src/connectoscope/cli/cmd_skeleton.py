"""``connectoscope skeleton info|convert|plot|map-synapses``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._common import add_overwrite, add_subcommand

_UNITS_HELP = "nm per file unit: 1000 for microns (SWC default), 8 for hemibrain voxels, 1 for nm"


def register(sub: Any) -> None:
    g = add_subcommand(sub, "skeleton", help="skeleton files: info, convert, plot, map synapses")
    g.set_defaults(_group_parser=g)
    gs = g.add_subparsers(dest="skeleton_command", metavar="ACTION")
    i = add_subcommand(
        gs,
        "info",
        help="nodes, roots, branch points, leaves, cable length, compartments",
        epilog="example:\n  connectoscope skeleton info neuron.swc --units 8",
    )
    i.add_argument("file")
    i.add_argument("--units", type=float, default=1000.0, help=_UNITS_HELP)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=run_info)
    c = add_subcommand(
        gs,
        "convert",
        help="rewrite SWC with other units",
        epilog="example:\n  connectoscope skeleton convert in.swc out.swc --units 8 --out-units 1000",
    )
    c.add_argument("file")
    c.add_argument("out")
    c.add_argument("--units", type=float, default=1000.0, help=_UNITS_HELP)
    c.add_argument("--out-units", type=float, default=1000.0, help="units of the output")
    add_overwrite(c)
    c.set_defaults(func=run_convert)
    p = add_subcommand(
        gs,
        "plot",
        help="2-D projection coloured by compartment or distance, synapses overlaid",
        epilog="example:\n  connectoscope skeleton plot n.swc --units 8 --view xy --synapses syn.csv --syn-units 8 -o n.png",
    )
    p.add_argument("file")
    p.add_argument("--units", type=float, default=1000.0, help=_UNITS_HELP)
    p.add_argument("--view", choices=["xy", "xz", "zy"], default="xy")
    p.add_argument(
        "--color-by", default="compartment", help="compartment, distance_to_root or a feature"
    )
    p.add_argument("--synapses", default=None, help="CSV with x, y, z columns")
    p.add_argument("--syn-units", type=float, default=1.0, help="nm per synapse coordinate unit")
    p.add_argument("--invert-y", action="store_true", help="depth axis pointing down")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=run_plot)
    m = add_subcommand(
        gs,
        "map-synapses",
        help="nearest skeleton vertex and path distance to the root for every synapse",
        epilog="example:\n  connectoscope skeleton map-synapses n.swc syn.csv --units 8 --syn-units 8 --max-dist 2000 -o mapped.csv",
    )
    m.add_argument("file")
    m.add_argument("synapses", help="CSV with x, y, z columns")
    m.add_argument("--units", type=float, default=1000.0, help=_UNITS_HELP)
    m.add_argument("--syn-units", type=float, default=1.0, help="nm per synapse coordinate unit")
    m.add_argument("--max-dist", type=float, default=float("inf"), help="nm")
    m.add_argument("--policy", choices=["drop", "keep", "raise"], default="drop")
    m.add_argument("-o", "--output", required=True)
    m.set_defaults(func=run_map)


def run_info(args: argparse.Namespace) -> int:
    from ..morphology import read_swc

    s = read_swc(args.file, units=args.units)
    info = s.summary()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(
        f"{args.file}: {info['nodes']} nodes, {info['roots']} root(s), {info['branch_points']} branch points, {info['leaves']} leaves"
    )
    print(f"  cable length: {info['cable_length_um']:.3f} µm ({info['cable_length_nm']:.0f} nm)")
    print("  compartments: " + ", ".join(f"{k} {v}" for k, v in info["compartments"].items()))
    if info["roots"] > 1:
        print(
            f"  note: {info['roots']} roots (a fragmented skeleton); Skeleton.join_fragments(max_dist) can join them"
        )
    if 1 not in set(s.features["compartment"].tolist()):
        print("  note: no soma-labelled node (SWC type 1); distances are to the root")
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from ..errors import DatasetExistsError
    from ..morphology import read_swc, write_swc

    if Path(args.out).exists() and not args.overwrite:
        raise DatasetExistsError(f"{args.out}: exists; pass --overwrite")
    print(write_swc(read_swc(args.file, units=args.units), args.out, units=args.out_units))
    return 0


def _points(path: str, units: float) -> Any:
    import pandas as pd

    from ..errors import DataFormatError

    df = pd.read_csv(path)
    if not {"x", "y", "z"} <= set(df.columns):
        raise DataFormatError(f"{path}: needs x, y, z columns (found {list(df.columns)})")
    return df, df[["x", "y", "z"]].to_numpy(float) * units


def run_plot(args: argparse.Namespace) -> int:
    from ..morphology import map_synapses, plot_skeleton, read_swc

    s = read_swc(args.file, units=args.units)
    pts = vals = None
    if args.synapses:
        _, pts = _points(args.synapses, args.syn_units)
        vals = map_synapses(s, pts, policy="keep")["distance_to_root_nm"].to_numpy() / 1000
    print(
        plot_skeleton(
            s,
            args.output,
            view=args.view,
            color_by=args.color_by,
            synapses_nm=pts,
            synapse_values=vals,
            synapse_label="distance to root (µm)",
            invert_y=args.invert_y,
        )
    )
    return 0


def run_map(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..morphology import map_synapses, read_swc

    s = read_swc(args.file, units=args.units)
    df, pts = _points(args.synapses, args.syn_units)
    m = map_synapses(s, pts, max_dist=args.max_dist, policy=args.policy)
    nearest = m.drop(columns="point").rename(columns={"node_id": "nearest_node_id"})
    out = pd.concat([df.iloc[m["point"].to_numpy()].reset_index(drop=True), nearest], axis=1)
    out.to_csv(args.output, index=False)
    print(
        f"{args.output}: {len(m)} of {len(df)} synapses mapped; median distance {m['distance_nm'].median():.0f} nm"
    )
    return 0
