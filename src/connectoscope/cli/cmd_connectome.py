"""``connectoscope connectome build|stats|plot|convert|condense|query``."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from ..errors import InvalidParameterError
from ._common import add_overwrite, add_parallel_options, add_subcommand, positive_int, xyz_float

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
            "  connectoscope connectome build syn.csv --cells cells.csv --pre status_axon=true --post broad_type=excitatory -o proofread\n"
            "edge lists (one row per connection; --weight, --names or --type-column selects this):\n"
            "  connectoscope connectome build edges.csv --columns pre=source,post=target --weight weight -o conn\n"
            "  connectoscope connectome build cook2019_edges.csv --names --weight weight --type-column type "
            "--symmetric gap_junction --rows sex=hermaphrodite -o herm"
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
    e = b.add_argument_group("edge lists (one row per connection instead of per synapse)")
    e.add_argument(
        "--weight",
        default=None,
        metavar="COLUMN",
        help="a count/weight column: rows of one pair add up into the condensed form",
    )
    e.add_argument(
        "--names",
        action="store_true",
        help="vertices are names (strings): each gets an integer id 1..N, kept with its name",
    )
    e.add_argument(
        "--type-column",
        default=None,
        metavar="COLUMN",
        help="edge type (chemical, gap_junction...): per-pair weight_<type> properties",
    )
    e.add_argument(
        "--symmetric",
        default=None,
        metavar="TYPE[,TYPE]",
        help="edge types that are undirected (gap junctions): each edge in both directions",
    )
    e.add_argument(
        "--rows",
        action="append",
        default=[],
        metavar="COLUMN=VALUE",
        help="keep only rows with this value (repeatable), e.g. sex=hermaphrodite",
    )
    e.add_argument(
        "--edge-list", action="store_true", help="read an unweighted edge list (1 per row)"
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
        "--split-by",
        default=None,
        help="hist, size-hist: one panel/curve per presynaptic group of this property onto "
        "--target cells (broad_type: E->E vs I->E)",
    )
    p.add_argument(
        "--target",
        default=None,
        help="hist, size-hist with --split-by: the postsynaptic group (default excitatory)",
    )
    p.add_argument(
        "--status", default=None, help="somas: colour by this property (default status_axon)"
    )
    p.add_argument("--log", action="store_true", help="hist: counts on a log axis")
    p.add_argument(
        "--size-unit",
        default=None,
        help="heatmap (sum, log_sum), size-hist: unit of the synapse size column "
        "(default voxels, as MICrONS)",
    )
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

    at = add_subcommand(
        gs,
        "annotate",
        help="a synapse table of any size as Neuroglancer annotations (streamed, bounded memory)",
        description=(
            "Write a synapse table (Parquet folder, Feather or CSV; any size) as sharded "
            "Neuroglancer precomputed point annotations: a by-id index, pre_segment / "
            "post_segment relationship indices and a multi-level spatial index whose coarse "
            "levels hold a uniform sample (the viewer shows an overview first and every "
            "synapse when zoomed in). Streamed in bounded memory; an interrupted run resumes."
        ),
        epilog=(
            "examples:\n"
            "  connectoscope connectome annotate synapses_parquet/ --voxel-size 4,4,40 -o syn_ann\n"
            "  connectoscope connectome annotate syn.csv --voxel-size 4,4,40 --dataset demo.cscope\n"
            "  connectoscope view demo.cscope"
        ),
    )
    at.add_argument("source", help="synapse table: Parquet file or folder, .feather, .csv")
    at.add_argument(
        "--columns", default=None, metavar="ours=theirs,...", help="pre, post, size, x, y, z"
    )
    at.add_argument(
        "--voxel-size", type=xyz_float, default=None, metavar="X,Y,Z", help="positions in voxels"
    )
    at.add_argument(
        "--limit", type=positive_int, default=2000, help="annotations per spatial cell (2000)"
    )
    at.add_argument("--seed", type=int, default=0, help="seed of the spatial subsampling")
    at.add_argument("--tmp-dir", default=None, help="work folder (about 150 bytes per synapse)")
    dest = at.add_mutually_exclusive_group(required=True)
    dest.add_argument("-o", "--output", default=None, help="annotation folder")
    dest.add_argument(
        "--dataset", default=None, help="write the dataset's synapse annotation layer instead"
    )
    add_parallel_options(at)
    add_overwrite(at)
    at.set_defaults(func=run_annotate)

    an = add_subcommand(
        gs,
        "analyze",
        help="network analyses: connection probability vs distance, triad motifs and "
        "reciprocity vs a null model, common-neighbour bias",
        description=(
            "Analyses that follow a matrix, on sparse structures (seconds at the MICrONS "
            "tutorial's 2,275 x 63,718 shape). distance: connection probability against soma "
            "distance per cell-type pair (needs soma positions x_nm, y_nm, z_nm: a cell table "
            "with pt_position and --voxel-size at build time). triads: the 16-type triad census "
            "and the reciprocity against a degree-preserving null model, with z-scores. "
            "common-neighbours: connection probability against the number of common "
            "neighbours, observed and in the null model. Writes a figure (-o) and/or the table "
            "(--table .csv/.parquet, or --json)."
        ),
        epilog=(
            "examples:\n"
            "  connectoscope connectome analyze conn distance --by cell_type --axes xz -o dist.png\n"
            "  connectoscope connectome analyze conn triads --null 20 --seed 1 -o triads.png --table triads.csv\n"
            "  connectoscope connectome analyze conn common-neighbours --null 10 -o cn.png\n"
            "  connectoscope connectome analyze conn triads --vertices both --json"
        ),
    )
    an.add_argument("matrix", help="matrix folder, .h5 or .csv")
    an.add_argument("analysis", choices=["distance", "triads", "common-neighbours"])
    an.add_argument("--by", default="cell_type", help="distance: group property ('none': all)")
    an.add_argument(
        "--bin-width", type=float, default=25_000.0, metavar="NM", help="distance: bin width, nm"
    )
    an.add_argument(
        "--max-distance",
        type=float,
        default=500_000.0,
        metavar="NM",
        help="distance: last edge, nm",
    )
    an.add_argument(
        "--axes",
        default="xyz",
        help="distance: axes of the distance (xyz; xz = lateral in MICrONS)",
    )
    an.add_argument("--null", type=positive_int, default=10, metavar="N", help="null graphs")
    an.add_argument("--seed", type=int, default=0, help="seed of the null graphs")
    an.add_argument(
        "--null-model",
        choices=["configuration", "swaps"],
        default="configuration",
        help="configuration model with repairs (default) or double edge swaps",
    )
    an.add_argument(
        "--vertices",
        choices=["union", "both"],
        default="union",
        help="triads: every id, or only ids that are both pre and post",
    )
    an.add_argument(
        "--population",
        choices=["auto", "both", "pre"],
        default="auto",
        help="common-neighbours: the cells whose pairs are tested",
    )
    _add_filters(an)
    an.add_argument("-o", "--output", default=None, help="figure (.png, .svg, .pdf)")
    an.add_argument("--table", default=None, help="write the table (.csv or .parquet)")
    an.add_argument("--json", action="store_true", help="print the table as JSON")
    an.set_defaults(func=run_analyze)

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

    q = add_subcommand(
        gs,
        "query",
        help="synapses in a box, near a point, on a skeleton's compartment, onto a target",
        description=(
            "Select synapses by position (a half-open box or a radius around points, nm), by "
            "the compartment of the nearest skeleton vertex (axon, dendrite, soma...), by "
            "target (spine/shaft/soma; a target or tag column) and by column filters; "
            "filters combine with AND. Prints a one-line count of the rows each filter left "
            "(--json: as JSON) and writes the kept rows to -o (.parquet or .csv). Positions "
            "in voxels need --voxel-size; coordinates that start with '-' take the form "
            "--box=-100,0,0:100,100,100."
        ),
        epilog=(
            "examples:\n"
            "  connectoscope connectome query syn.parquet --voxel-size 4,4,40 "
            "--box 400000,400000,800000:600000,600000,900000 -o box.parquet\n"
            "  connectoscope connectome query syn.parquet --voxel-size 4,4,40 "
            "--center 500000,500000,850000 --radius 20000 --json\n"
            "  connectoscope connectome query inputs.csv --skeleton cell.swc --compartment "
            "'dendrite,apical dendrite' --max-dist 5000 --target spine -o spine_inputs.csv\n"
            "  connectoscope connectome query --dataset demo.cscope --where 'size>200' "
            "--where pre=864691135000000001 -o strong.parquet"
        ),
    )
    q.add_argument(
        "source", nargs="?", default=None, help="synapse table (.csv, .parquet, .feather, folder)"
    )
    q.add_argument("--dataset", default=None, help="query this dataset's synapse table instead")
    q.add_argument(
        "--columns", default=None, metavar="ours=theirs,...", help="pre, post, size, x, y, z"
    )
    q.add_argument(
        "--voxel-size",
        type=xyz_float,
        default=None,
        metavar="X,Y,Z",
        help="positions are voxels of this size in nm (MICrONS: 4,4,40)",
    )
    q.add_argument("--box", default=None, metavar="X0,Y0,Z0:X1,Y1,Z1", help="half-open box in nm")
    q.add_argument(
        "--center",
        action="append",
        default=[],
        metavar="X,Y,Z",
        help="with --radius: a centre in nm (repeatable: near any of them)",
    )
    q.add_argument("--radius", type=float, default=None, metavar="NM", help="radius in nm")
    q.add_argument(
        "--skeleton", default=None, metavar="FILE", help="skeleton (SWC, NML, Parquet, precomputed)"
    )
    q.add_argument(
        "--skeleton-units",
        type=float,
        default=1000.0,
        metavar="NM",
        help="SWC: nm per file unit (1000 = microns, the default; 1 = nm)",
    )
    q.add_argument(
        "--compartment",
        default=None,
        metavar="NAME[,NAME]",
        help="keep synapses whose nearest skeleton vertex is soma, axon, dendrite, "
        "'apical dendrite' (or an SWC code)",
    )
    q.add_argument(
        "--max-dist",
        type=float,
        default=None,
        metavar="NM",
        help="with --skeleton: at most this far from the nearest vertex",
    )
    q.add_argument("--target", default=None, metavar="VALUE[,VALUE]", help="spine, shaft, soma ...")
    q.add_argument(
        "--target-column",
        default=None,
        metavar="COLUMN",
        help="column with the target (default: target, tag, target_structure or post_target)",
    )
    q.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="COLUMN=VALUE",
        help="filter on a column: =, !=, <, <=, >, >= (A,B for one of); repeatable",
    )
    q.add_argument("-o", "--output", default=None, help="kept rows (.parquet or .csv)")
    q.add_argument("--json", action="store_true", help="print the counts as JSON")
    q.add_argument(
        "--stream",
        choices=["auto", "on", "off"],
        default="auto",
        help="read a Parquet/Feather table batch by batch in bounded memory: auto above "
        "5 million synapses (default), on, off",
    )
    q.add_argument(
        "--batch-rows",
        type=positive_int,
        default=1 << 20,
        metavar="N",
        help="rows per batch when streaming (1048576)",
    )
    add_overwrite(q)
    q.set_defaults(func=run_query)


def _out_path(m: Any, output: str, overwrite: bool) -> str:
    from pathlib import Path

    from .._atomic import atomic_path
    from ..connectome import save_matrix, write_conntility_h5, write_l4dense_csv
    from ..errors import DatasetExistsError
    from ._common import clean_stale_parts_of

    p = Path(output)
    suffix = p.suffix.lower()
    if suffix in (".h5", ".hdf5", ".csv"):
        if p.exists() and not overwrite:
            raise DatasetExistsError(f"{p}: exists; pass --overwrite to replace it")
        # written under a temporary name and renamed when complete: a kill or a full disk
        # leaves the old file (or nothing), --overwrite replaces it only then
        writer = write_l4dense_csv if suffix == ".csv" else write_conntility_h5
        clean_stale_parts_of(p)  # what a killed earlier run left beside it
        with atomic_path(p) as tmp:
            writer(m, tmp)
        return str(p)
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

    if args.weight or args.names or args.type_column or args.edge_list or args.rows:
        return _run_build_edges(args)
    if args.out_of_core == "on" or (
        args.out_of_core == "auto" and count_rows(args.synapses) > STREAM_ROWS
    ):
        return _build_streaming(args)
    syn = SynapseTable.read(
        args.synapses, columns=_mapping(args.columns), voxel_size=args.voxel_size
    )
    if len(syn) == 0:
        from ..errors import DataFormatError

        raise DataFormatError(
            f"{args.synapses}: no synapses (the table has a header but no rows); give a table "
            "with one row per synapse"
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


def _run_build_edges(args: argparse.Namespace) -> int:
    from ..connectome import read_edge_list
    from ..connectome._analysis import degree

    cols = _mapping(args.columns) or {}
    unknown = set(cols) - {"pre", "post"}
    if unknown:
        raise InvalidParameterError(
            f"--columns {', '.join(sorted(unknown))}: an edge list maps only pre= and post= "
            "(use --weight COLUMN and --type-column COLUMN for the others)"
        )
    where: dict[str, str] = {}
    for r in args.rows:
        k, sep, v = r.partition("=")
        if not sep or not k.strip():
            raise InvalidParameterError(f"--rows {r!r}: expected COLUMN=VALUE such as sex=male")
        where[k.strip()] = v.strip()
    m = read_edge_list(
        args.synapses,
        pre=cols.get("pre", "pre"),
        post=cols.get("post", "post"),
        weight=args.weight,
        names=args.names,
        type_column=args.type_column,
        symmetric=[t.strip() for t in args.symmetric.split(",")] if args.symmetric else (),
        where=where,
    )
    m = apply_filters(m, args.pre, args.post, args.where)
    out = _out_path(m, args.output, args.overwrite)
    print(f"{out}: {m}, {m.n_pairs} connected pairs")
    if "name" in m.pre_vertices:
        names = m.pre_vertices["name"]
        first = ", ".join(f"{n}={i}" for i, n in list(names.items())[:4])
        print(f"  vertices: names with integer ids ({first}, ...): property 'name'")
        out_deg, in_deg = degree(m)
        if len(out_deg):
            i, j = out_deg.idxmax(), in_deg.idxmax()
            print(
                f"  max out-degree {int(out_deg.max())} ({m.pre_vertices['name'][i]}, id {i}); "
                f"max in-degree {int(in_deg.max())} ({m.post_vertices['name'][j]}, id {j})"
            )
    extra = [c for c in m.condensed.columns if c.startswith("weight_")]
    if extra:
        c = m.condensed
        print("  by type: " + ", ".join(f"{x[7:]} {int((c[x] > 0).sum())} pairs" for x in extra))
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


#: ``connectome plot`` options and the kinds that take them (others refuse them).
PLOT_OPTIONS = {
    "weight": ("heatmap", "types"),
    "sort_by": ("heatmap", "types"),
    "split_by": ("hist", "size-hist"),
    "target": ("hist", "size-hist"),
    "status": ("somas",),
    "log": ("hist",),
    "size_unit": ("heatmap", "size-hist"),
}


def check_plot_options(args: argparse.Namespace) -> None:
    """Refuse an option the chosen ``--kind`` would not use (instead of ignoring it)."""
    for name, kinds in PLOT_OPTIONS.items():
        if getattr(args, name) not in (None, False) and args.kind not in kinds:
            flag = "--" + name.replace("_", "-")
            raise InvalidParameterError(
                f"{flag} does not apply to --kind {args.kind}; it is for --kind "
                f"{' and '.join(kinds)}"
            )
    if args.target is not None and args.split_by is None:
        raise InvalidParameterError("--target needs --split-by (the property it is a value of)")


def run_plot(args: argparse.Namespace) -> int:
    from ..connectome import (
        load_matrix,
        plot_heatmap,
        plot_size_histograms,
        plot_somas,
        plot_synapses_per_connection,
        plot_type_by_type,
    )

    check_plot_options(args)
    m = apply_filters(load_matrix(args.matrix), args.pre, args.post, args.where)
    unit = args.size_unit or "voxels"
    if args.kind == "heatmap":
        out = plot_heatmap(
            m, args.output, weight=args.weight or "binary", sort_by=args.sort_by, size_unit=unit
        )
    elif args.kind == "hist":
        out = plot_synapses_per_connection(
            m, args.output, split_by=args.split_by, target=args.target, log=args.log
        )
    elif args.kind == "size-hist":
        out = plot_size_histograms(
            m, args.output, split_by=args.split_by, target=args.target, size_unit=unit
        )
    elif args.kind == "somas":
        out = plot_somas(m, args.output, status=args.status or "status_axon")
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


def run_analyze(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .._atomic import atomic_path
    from ..connectome import (
        common_neighbour_bias,
        distance_probability,
        load_matrix,
        motif_significance,
        plot_common_neighbours,
        plot_distance_probability,
        plot_motifs,
    )

    if not (args.output or args.table or args.json):
        raise InvalidParameterError(
            "nothing to write: give -o FIGURE (.png/.svg/.pdf), --table FILE (.csv/.parquet) "
            "or --json"
        )
    m = apply_filters(load_matrix(args.matrix), args.pre, args.post, args.where)
    plot: Any
    if args.analysis == "distance":
        t = distance_probability(
            m,
            by=None if args.by.lower() == "none" else args.by,
            bin_width=args.bin_width,
            max_distance=args.max_distance,
            axes=args.axes,
        )
        plot = plot_distance_probability
        note = f"{t['tested'].sum():,} pairs tested, {t['connected'].sum():,} connected"
        if t.attrs["pre_left_out"] or t.attrs["post_left_out"]:
            note += (
                f"; left out (no position or group): {t.attrs['pre_left_out']} pre, "
                f"{t.attrs['post_left_out']} post vertices"
            )
    elif args.analysis == "triads":
        t = motif_significance(
            m, n_null=args.null, seed=args.seed, null=args.null_model, vertices=args.vertices
        )
        plot = plot_motifs
        rec = t.loc["reciprocity"]
        note = (
            f"{t.attrs['n_vertices']:,} cells, {t.attrs['n_edges']:,} connections; reciprocity "
            f"{rec['observed']:.4g} vs null {rec['null_mean']:.4g} +- {rec['null_std']:.2g} "
            f"(z = {rec['z']:.1f})"
        )
    else:
        t = common_neighbour_bias(
            m, population=args.population, n_null=args.null, seed=args.seed, null=args.null_model
        )
        plot = plot_common_neighbours
        note = f"{t.attrs['population']:,} cells, {int(t['tested'].sum()):,} ordered pairs"
    if args.table:
        p = Path(args.table)
        with atomic_path(p) as tmp:
            if p.suffix.lower() == ".parquet":
                t.to_parquet(tmp)
            else:
                t.to_csv(tmp)
        print(p)
    if args.output:
        print(plot(t, args.output))
    if args.json:
        print(t.reset_index().to_json(orient="records", indent=1))
    else:
        print(f"{args.analysis}: {note}")
    return 0


def run_annotate(args: argparse.Namespace) -> int:
    import time

    from ..connectome import write_annotations_out_of_core
    from ..dataset import Dataset

    t0 = time.perf_counter()
    out = write_annotations_out_of_core(
        args.source,
        args.output,
        dataset=Dataset(args.dataset) if args.dataset else None,
        columns=_mapping(args.columns),
        voxel_size=args.voxel_size,
        limit=args.limit,
        seed=args.seed,
        overwrite=args.overwrite,
        workers=args.workers,
        tmp_dir=args.tmp_dir,
    )
    info = json.loads((out / "info").read_text())
    levels = ", ".join("x".join(map(str, lv["grid_shape"])) for lv in info["spatial"])
    print(
        f"{out}: {len(info['spatial'])} spatial levels ({levels}), coarsest holds "
        f"{info['spatial'][0]['limit']} synapses; {time.perf_counter() - t0:.1f} s"
    )
    return 0


def run_query(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .._atomic import atomic_path, write_parquet_atomic
    from ..connectome import SynapseTable, parse_box, query_synapses, query_table_file
    from ..errors import DatasetExistsError

    if (args.source is None) == (args.dataset is None):
        raise InvalidParameterError("give a synapse table or --dataset DATASET (one of them)")
    box = parse_box(args.box, name="--box") if args.box is not None else None
    centres = [parse_xyz_nm(c, "--center") for c in args.center] or None
    if (centres is None) != (args.radius is None):
        raise InvalidParameterError("--center X,Y,Z and --radius NM go together")
    out = Path(args.output) if args.output else None
    if out is not None:
        if out.suffix.lower() not in (".parquet", ".csv"):
            raise InvalidParameterError(f"-o {out}: use a .parquet or .csv file name")
        if out.exists() and not args.overwrite:
            raise DatasetExistsError(f"{out}: exists; pass --overwrite to replace it")
    skeleton = None
    if args.skeleton:
        from ..morphology import read_skeleton

        skeleton = read_skeleton(args.skeleton, units=args.skeleton_units)
    filters: dict[str, Any] = dict(
        box_nm=box,
        center_nm=centres,
        radius_nm=args.radius,
        skeleton=skeleton,
        compartment=args.compartment,
        max_dist_nm=args.max_dist,
        target=args.target,
        target_column=args.target_column,
        where=[parse_filter(w) for w in args.where],
    )
    source = args.dataset or args.source
    path = Path(source)
    if args.dataset:
        from ..dataset import Dataset

        path = Dataset(args.dataset).layout.synapses_table
    r: Any
    if _stream_query(args, path):
        r = query_table_file(
            path,
            out,
            columns=_mapping(args.columns),
            voxel_size=args.voxel_size,
            batch_rows=args.batch_rows,
            overwrite=args.overwrite,
            **filters,
        )
    else:
        if args.dataset:
            from ..dataset import Dataset

            table = SynapseTable.from_store(Dataset(args.dataset))
        else:
            table = SynapseTable.read(
                args.source, columns=_mapping(args.columns), voxel_size=args.voxel_size
            )
        r = query_synapses(table, source=str(source), **filters)
        if out is not None:
            if out.suffix.lower() == ".parquet":
                write_parquet_atomic(r.df, out)
            else:
                with atomic_path(out) as tmp:
                    r.df.to_csv(tmp, index=False)
    if args.json:
        print(json.dumps({**r.counts(), "output": str(out) if out else None}, indent=1))
    else:
        print(f"{source}: {r.summary()}" + (f" -> {out}" if out else ""))
    return 0


def _stream_query(args: argparse.Namespace, path: Any) -> bool:
    """Stream (``--stream on``, or auto above ``STREAM_ROWS``) a Parquet/Feather table."""
    from ..connectome import STREAM_ROWS, count_rows
    from ..connectome._tablesource import table_files, table_format

    if args.stream == "off" or not path.exists():
        return False
    if any(table_format(f) == "csv" for f in table_files(path)):
        if args.stream == "on":
            raise InvalidParameterError(
                f"--stream on: {path} is CSV, which is read whole; convert it to Parquet"
            )
        return False
    return args.stream == "on" or count_rows(path) > STREAM_ROWS


def parse_xyz_nm(text: str, option: str) -> tuple[float, float, float]:
    """``X,Y,Z`` nm (any sign) for ``option``; errors name the option."""
    from ..geometry import parse_xyz

    x, y, z = parse_xyz(text, name=option)
    return (float(x), float(y), float(z))
