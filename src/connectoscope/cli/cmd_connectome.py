"""``connectoscope connectome build|stats|plot``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import InvalidParameterError
from ._common import add_overwrite, add_subcommand, xyz_float


def _mapping(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    out = {}
    for part in text.split(","):
        k, sep, v = part.partition("=")
        if not sep:
            raise InvalidParameterError(
                f"--columns: expected ours=theirs pairs such as pre=pre_root_id, got {part!r}"
            )
        out[k.strip()] = v.strip()
    return out


def _filter(text: str) -> tuple[str, Any]:
    k, sep, v = text.partition("=")
    if not sep:
        raise InvalidParameterError(
            f"filter {text!r}: expected PROPERTY=VALUE such as broad_type=excitatory"
        )
    low = v.lower()
    value: Any = True if low == "true" else False if low == "false" else v
    return k, value


def register(sub: Any) -> None:
    g = add_subcommand(
        sub, "connectome", help="synapse tables -> sparse connectivity matrices, stats, figures"
    )
    g.set_defaults(_group_parser=g)
    gs = g.add_subparsers(dest="connectome_command", metavar="ACTION")
    b = add_subcommand(
        gs,
        "build",
        help="build a connectivity matrix (full + condensed) from a synapse table",
        description=(
            "Read a synapse table (CSV/Parquet/Feather; MICrONS column names pre_pt_root_id, "
            "post_pt_root_id, size, ctr_pt_position_* by default) and an optional cell table "
            "(pt_root_id + properties) and write the matrix as Parquet tables."
        ),
        epilog=(
            "examples:\n  connectoscope connectome build source/synapses.parquet --cells source/cells.parquet -o conn\n"
            "  connectoscope connectome build syn.csv --columns pre=pre_root_id,post=post_root_id,size=cleft_vx -o conn\n"
            "  connectoscope connectome build syn.csv --cells cells.csv --pre status_axon=true -o proofread"
        ),
    )
    b.add_argument("synapses")
    b.add_argument("--cells", default=None)
    b.add_argument("--columns", default=None, help="ours=theirs,... for pre, post, size, x, y, z")
    b.add_argument(
        "--voxel-size",
        type=xyz_float,
        default=None,
        metavar="X,Y,Z",
        help="positions are voxels of this size (nm)",
    )
    b.add_argument(
        "--duplicates",
        choices=["error", "first", "drop"],
        default="error",
        help="cell ids listed twice",
    )
    b.add_argument(
        "--pre",
        action="append",
        default=[],
        metavar="PROP=VALUE",
        help="keep pre vertices with this property",
    )
    b.add_argument(
        "--post",
        action="append",
        default=[],
        metavar="PROP=VALUE",
        help="keep post vertices with this property",
    )
    b.add_argument("--dataset", default=None, help="also store the tables in this dataset")
    b.add_argument("-o", "--output", required=True, help="output folder")
    add_overwrite(b)
    b.set_defaults(func=run_build)
    s = add_subcommand(
        gs, "stats", help="synapses, pairs, vertices, degree and multiplicity summaries"
    )
    s.add_argument("matrix")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=run_stats)
    p = add_subcommand(
        gs,
        "plot",
        help="heatmap / histograms of a connectivity matrix",
        epilog="example:\n  connectoscope connectome plot conn --kind heatmap --weight log_sum --sort-by cell_type -o h.png",
    )
    p.add_argument("matrix")
    p.add_argument("--kind", choices=["heatmap", "hist", "size-hist"], default="heatmap")
    p.add_argument("--weight", choices=["binary", "count", "sum", "log_sum"], default="binary")
    p.add_argument("--sort-by", default=None, help="vertex property for sorting and side bars")
    p.add_argument("--split-by", default=None, help="hist: split by this property (broad_type)")
    p.add_argument("-o", "--output", required=True, help="figure (.png or .svg)")
    p.set_defaults(func=run_plot)


def _apply_filters(m: Any, pre: list[str], post: list[str]) -> Any:
    for f in pre:
        k, v = _filter(f)
        m = m.pre.index(k).eq(v)
    for f in post:
        k, v = _filter(f)
        m = m.post.index(k).eq(v)
    return m


def run_build(args: argparse.Namespace) -> int:
    from ..connectome import CellTable, ConnectivityMatrix, SynapseTable
    from ..connectome._io import save_matrix
    from ..dataset import Dataset

    syn = SynapseTable.read(
        args.synapses, columns=_mapping(args.columns), voxel_size=args.voxel_size
    )
    cells = CellTable.read(args.cells, duplicates=args.duplicates) if args.cells else None
    m = ConnectivityMatrix.from_synapses(syn, cells)
    m = _apply_filters(m, args.pre, args.post)
    save_matrix(m, args.output, overwrite=args.overwrite)
    if args.dataset:
        ds = Dataset(args.dataset)
        syn.save(ds)
        if cells is not None:
            cells.save(ds)
    print(f"{args.output}: {m}")
    if cells is not None:
        full = ConnectivityMatrix.from_synapses(syn, cells)
        if full.unmatched_synapses:
            print(
                f"  {full.unmatched_synapses} synapses have a partner missing from the cell table"
            )
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from ..connectome._io import load_matrix

    st = load_matrix(args.matrix).stats()
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    for k, v in st.items():
        print(f"{k}: {v}")
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from ..connectome._io import load_matrix
    from ..connectome._plots import plot_heatmap, plot_size_histograms, plot_synapses_per_connection

    m = load_matrix(args.matrix)
    if args.kind == "heatmap":
        out = plot_heatmap(m, args.output, weight=args.weight, sort_by=args.sort_by)
    elif args.kind == "hist":
        out = plot_synapses_per_connection(m, args.output, split_by=args.split_by)
    else:
        out = plot_size_histograms(m, args.output)
    print(out)
    return 0
