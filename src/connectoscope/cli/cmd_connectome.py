"""``connectoscope connectome build|stats|plot|convert|condense``."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from ..errors import InvalidParameterError
from ._common import add_overwrite, add_parallel_options, add_subcommand, xyz_float

_OPS = re.compile(r"^([^=!<>]+)(>=|<=|!=|=|<|>)(.*)$")
_METHODS = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


def _mapping(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    out = {}
    for part in text.split(","):
        k, sep, v = part.partition("=")
        if not sep or not k.strip() or not v.strip():
            raise InvalidParameterError(
                f"--columns: expected ours=theirs pairs such as pre=pre_root_id, got {part!r}"
            )
        out[k.strip()] = v.strip()
    return out


def parse_filter(text: str) -> tuple[str, str, Any]:
    """``PROP=VALUE`` (``A,B`` = one of), ``PROP!=V``, ``PROP<V``, ``<=``, ``>``, ``>=``."""
    m = _OPS.match(text.strip())
    if not m:
        raise InvalidParameterError(
            f"filter {text!r}: expected PROPERTY=VALUE such as broad_type=excitatory or "
            "status_axon=true (also !=, <, <=, >, >=; A,B for one of several values)"
        )
    prop, op, value = m.group(1).strip(), m.group(2), m.group(3).strip()
    if op == "=" and "," in value:
        return prop, "isin", [v.strip() for v in value.split(",")]
    return prop, _METHODS[op], value


def apply_filters(m: Any, pre: list[str], post: list[str], both: list[str] | None = None) -> Any:
    """Vertex selections: ``--pre`` on rows, ``--post`` on columns, ``--where`` on both."""
    for side, items in (("pre", pre), ("post", post), ("both", both or [])):
        for f in items:
            prop, method, value = parse_filter(f)
            target = m if side == "both" else getattr(m, side)
            m = getattr(target.index(prop), method)(value)
    return m


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--pre",
        action="append",
        default=[],
        metavar="PROP=VALUE",
        help="keep presynaptic vertices with this property (repeatable)",
    )
    p.add_argument(
        "--post",
        action="append",
        default=[],
        metavar="PROP=VALUE",
        help="keep postsynaptic vertices with this property (repeatable)",
    )
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="PROP=VALUE",
        help="keep vertices on both sides with this property (repeatable)",
    )


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
            "(pt_root_id + properties) and write the matrix: a folder of Parquet tables, a "
            "Connectome-Utilities .h5 or an L4dense .csv (by the output's suffix)."
        ),
        epilog=(
            "examples:\n"
            "  connectoscope connectome build source/synapses.parquet --cells source/cells.parquet -o conn\n"
            "  connectoscope connectome build syn.csv --columns pre=pre_root_id,post=post_root_id,size=cleft_vx -o conn\n"
            "  connectoscope connectome build syn.csv --voxel-size 4,4,40 -o conn.h5\n"
            "  connectoscope connectome build syn.csv --cells cells.csv --pre status_axon=true --post broad_type=excitatory -o proofread"
        ),
    )
    b.add_argument("synapses", help="synapse table (.csv, .parquet, .feather, partitioned folder)")
    b.add_argument("--cells", default=None, help="cell table (pt_root_id + properties)")
    b.add_argument(
        "--columns",
        default=None,
        metavar="ours=theirs,...",
        help="column mapping for pre, post, size, x, y, z",
    )
    b.add_argument(
        "--voxel-size",
        type=xyz_float,
        default=None,
        metavar="X,Y,Z",
        help="positions are voxels of this size in nm (MICrONS: 4,4,40)",
    )
    b.add_argument(
        "--duplicates",
        choices=["error", "first", "drop"],
        default="error",
        help="cell ids listed more than once: refuse (default), keep the first, drop",
    )
    b.add_argument(
        "--missing-cells",
        choices=["keep", "drop", "error"],
        default="keep",
        help="synapses whose partner is not in the cell table",
    )
    b.add_argument(
        "--cell-id", default=None, metavar="COLUMN", help="root id column of the cell table"
    )
    _add_filters(b)
    b.add_argument(
        "--dataset", default=None, help="also store the synapse and cell tables in this dataset"
    )
    b.add_argument("-o", "--output", required=True, help="output folder, .h5 or .csv")
    b.add_argument(
        "--out-of-core",
        choices=["auto", "on", "off"],
        default="auto",
        help="stream the table in bounded memory (condense out of core, then write the matrix "
        "batch by batch): auto above 5 million synapses (default), on, off",
    )
    b.add_argument(
        "--tmp-dir",
        default=None,
        help="out of core: work folder for spill files (default: beside -o)",
    )
    add_parallel_options(b)
    add_overwrite(b)
    b.set_defaults(func=run_build)

    s = add_subcommand(
        gs, "stats", help="synapses, pairs, vertices, degree and multiplicity summaries"
    )
    s.add_argument("matrix", help="matrix folder, .h5 or .csv")
    _add_filters(s)
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=run_stats)

    p = add_subcommand(
        gs,
        "plot",
        help="heatmap, histograms, soma positions or type-by-type figure of a matrix",
        epilog=(
            "examples:\n"
            "  connectoscope connectome plot conn --kind heatmap --weight log_sum --sort-by cell_type -o h.png\n"
            "  connectoscope connectome plot conn --kind hist --split-by broad_type -o ee_ie.png\n"
            "  connectoscope connectome plot conn --kind somas --status status_axon -o somas.png\n"
            "  connectoscope connectome plot conn --kind types --sort-by cell_type --weight probability -o types.png"
        ),
    )
    p.add_argument("matrix")
    p.add_argument(
        "--kind", choices=["heatmap", "hist", "size-hist", "somas", "types"], default="heatmap"
    )
    p.add_argument(
        "--weight",
        default=None,
        help="heatmap: binary (default), count, sum, log_sum; types: probability "
        "(default), count, pairs, sum, mean_count",
    )
    p.add_argument(
        "--sort-by",
        default=None,
        help="heatmap: property for sorting and side bars; types: the property (default cell_type)",
    )
    p.add_argument(
        "--split-by", default=None, help="hist: split by this property (broad_type: E->E vs I->E)"
    )
    p.add_argument("--status", default="status_axon", help="somas: colour by this property")
    _add_filters(p)
    p.add_argument("-o", "--output", required=True, help="figure (.png or .svg)")
    p.set_defaults(func=run_plot)

    c = add_subcommand(
        gs,
        "convert",
        help="convert a matrix between our folder, Connectome-Utilities .h5 and L4dense .csv",
        epilog="examples:\n  connectoscope connectome convert conn conn.h5\n  connectoscope connectome convert conn.h5 conn2\n"
        "  connectoscope connectome convert conn types.csv --label cell_type",
    )
    c.add_argument("source")
    c.add_argument("destination")
    c.add_argument(
        "--label", default=None, help="L4dense CSV: vertex property for the class labels"
    )
    add_overwrite(c)
    c.set_defaults(func=run_convert)

    k = add_subcommand(
        gs,
        "condense",
        help="condense a partitioned Parquet synapse table of any size (out of core): pairs "
        "and per-cell sums",
        description=(
            "Condense a Parquet file or folder of them (any size, bounded memory) into one row "
            "per (pre, post) pair (OUT/pairs: count, size_sum, size_mean) and one row per cell "
            "(OUT/cells: in/out degree, synapses, size sums), plus sums per cell-type pair "
            "with --cells. An interrupted run resumes when the same command is run again."
        ),
        epilog=(
            "examples:\n"
            "  connectoscope connectome condense synapses_parquet/ -o condensed --workers 2\n"
            "  connectoscope connectome condense syn/ --cells cells.parquet --cell-type cell_type -o cond\n"
            "  connectoscope connectome condense syn/ --stats count,size_sum,size_mean,size_max -o cond\n"
            "  connectoscope connectome condense syn/ -o cond --scheduler tcp://10.0.0.5:8786"
        ),
    )
    k.add_argument("source", help="Parquet file or folder of Parquet files")
    k.add_argument(
        "--columns", default=None, metavar="ours=theirs,...", help="pre, post, size column names"
    )
    k.add_argument(
        "--stats",
        default="count,size_sum,size_mean",
        metavar="A,B,...",
        help="per-pair columns: count, size_sum, size_mean, size_min, size_max "
        "(default count,size_sum,size_mean)",
    )
    k.add_argument("--cells", default=None, help="cell table (pt_root_id + a type column)")
    k.add_argument("--cell-type", default="cell_type", help="type column of --cells")
    k.add_argument(
        "--tmp-dir",
        default=None,
        help="work folder for spill files (about 24 bytes per synapse; default: beside -o)",
    )
    k.add_argument("-o", "--output", required=True, help="output folder")
    add_parallel_options(k)
    add_overwrite(k)
    k.set_defaults(func=run_condense)


def _out_path(m: Any, output: str, overwrite: bool) -> str:
    from pathlib import Path

    from ..connectome import save_matrix, write_conntility_h5, write_l4dense_csv
    from ..errors import DatasetExistsError

    p = Path(output)
    suffix = p.suffix.lower()
    if suffix in (".h5", ".hdf5", ".csv"):
        if p.exists() and not overwrite:
            raise DatasetExistsError(f"{p}: exists; pass --overwrite to replace it")
        if p.exists():
            p.unlink()
        if suffix == ".csv":
            return str(write_l4dense_csv(m, p))
        return str(write_conntility_h5(m, p))
    return str(save_matrix(m, p, overwrite=overwrite))


def _build_streaming(args: argparse.Namespace) -> int:
    import warnings

    from ..connectome import build_out_of_core
    from ..dataset import Dataset
    from ..errors import ConnectoscopeWarning

    filters = []
    for side, items in (("pre", args.pre), ("post", args.post), ("both", args.where)):
        for f in items:
            prop, method, value = parse_filter(f)
            filters.append((side, prop, method, value))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConnectoscopeWarning)  # reported in the notes below
        r = build_out_of_core(
            args.synapses,
            args.output,
            cells=args.cells,
            columns=_mapping(args.columns),
            voxel_size=args.voxel_size,
            duplicates=args.duplicates,
            cell_id=args.cell_id,
            missing_cells=args.missing_cells,
            filters=filters,
            dataset=Dataset(args.dataset) if args.dataset else None,
            overwrite=args.overwrite,
            workers=args.workers,
            tmp_dir=args.tmp_dir,
        )
    print(
        f"{r['out']}: ConnectivityMatrix({r['shape'][0]} x {r['shape'][1]}, {r['form']}, "
        f"{r['n_synapses']} synapses, {r['n_pairs']} pairs; built out of core in "
        f"{r['seconds']:.1f} s)"
    )
    for n in r["notes"]:
        print(f"  note: {n}")
    return 0


def run_build(args: argparse.Namespace) -> int:
    import warnings

    from ..connectome import STREAM_ROWS, CellTable, ConnectivityMatrix, SynapseTable, count_rows
    from ..dataset import Dataset
    from ..errors import ConnectoscopeWarning

    if args.out_of_core == "on" or (
        args.out_of_core == "auto" and count_rows(args.synapses) > STREAM_ROWS
    ):
        return _build_streaming(args)
    syn = SynapseTable.read(
        args.synapses, columns=_mapping(args.columns), voxel_size=args.voxel_size
    )
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConnectoscopeWarning)
        cells = (
            CellTable.read(
                args.cells,
                duplicates=args.duplicates,
                voxel_size=args.voxel_size,
                id_column=args.cell_id,
            )
            if args.cells
            else None
        )
        m = ConnectivityMatrix.from_synapses(syn, cells, missing_cells=args.missing_cells)
    notes += [str(w.message) for w in caught if issubclass(w.category, ConnectoscopeWarning)]
    m = apply_filters(m, args.pre, args.post, args.where)
    out = _out_path(m, args.output, args.overwrite)
    if args.dataset:
        ds = Dataset(args.dataset)
        syn.save(ds)
        if cells is not None:
            cells.save(ds)
    print(f"{out}: {m}")
    for n in notes:
        print(f"  note: {n}")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from ..connectome import load_matrix

    m = apply_filters(load_matrix(args.matrix), args.pre, args.post, args.where)
    st = m.stats()
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    for k, v in st.items():
        print(f"{k}: {v}")
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from ..connectome import (
        load_matrix,
        plot_heatmap,
        plot_size_histograms,
        plot_somas,
        plot_synapses_per_connection,
        plot_type_by_type,
    )

    m = apply_filters(load_matrix(args.matrix), args.pre, args.post, args.where)
    if args.kind == "heatmap":
        out = plot_heatmap(m, args.output, weight=args.weight or "binary", sort_by=args.sort_by)
    elif args.kind == "hist":
        out = plot_synapses_per_connection(m, args.output, split_by=args.split_by)
    elif args.kind == "size-hist":
        out = plot_size_histograms(m, args.output)
    elif args.kind == "somas":
        out = plot_somas(m, args.output, status=args.status)
    else:
        out = plot_type_by_type(
            m, args.output, prop=args.sort_by or "cell_type", weight=args.weight or "probability"
        )
    print(out)
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from ..connectome import convert_matrix

    print(convert_matrix(args.source, args.destination, label=args.label, overwrite=args.overwrite))
    return 0


def run_condense(args: argparse.Namespace) -> int:
    from ..connectome import condense_parquet

    r = condense_parquet(
        args.source,
        args.output,
        columns=_mapping(args.columns),
        stats=[x.strip() for x in args.stats.split(",") if x.strip()],
        cells=args.cells,
        cell_type=args.cell_type,
        workers=args.workers,
        tmp_dir=args.tmp_dir,
        overwrite=args.overwrite,
    )
    sec = r["seconds"]["total"]
    print(
        f"{r['out']}: {r['synapses']} synapses -> {r['pairs']} pairs, {r['cells']} cells "
        f"({r['files']} files, {r['buckets']} buckets, {sec:.1f} s, "
        f"{r['synapses'] / max(sec, 1e-9) / 1e6:.2f} M synapses/s"
        + (f", resumed {r['resumed']} finished tasks" if r["resumed"] else "")
        + ")"
    )
    return 0
