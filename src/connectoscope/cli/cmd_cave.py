"""``connectoscope cave synapses|cells``: query a CAVE datastack for given root ids."""

from __future__ import annotations

import argparse
from typing import Any

from .._atomic import write_parquet_atomic, write_with
from ._common import add_subcommand


def register(sub: Any) -> None:
    p = add_subcommand(
        sub,
        "cave",
        help="synapses and cells of given root ids from a CAVE server (optional extra: cave)",
        description=(
            "Query a CAVE datastack (MICrONS and others) through caveclient for given root "
            "ids, about 20 ids a request, at one materialization version (the newest unless "
            "--version pins one). The token comes from CONNECTOSCOPE_CAVE_TOKEN or CAVE_TOKEN, "
            "else caveclient's secret file (~/.cloudvolume/secrets/cave-secret.json); it is "
            "never printed. Results go to a table file (-o) and/or into a dataset (--dataset), "
            "whose provenance records the server, datastack and version."
        ),
    )
    p.set_defaults(_group_parser=p)
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    for verb, help_ in (
        ("synapses", "synapses made or received by the root ids"),
        ("cells", "cell-table rows (cell types, soma positions) of the root ids"),
    ):
        v = add_subcommand(
            verbs,
            verb,
            help=help_,
            epilog=(
                f"examples:\n  connectoscope cave {verb} minnie65_public --ids "
                "864691135639556411,864691135991397093 --version 1300 -o out.parquet\n"
                f"  connectoscope cave {verb} minnie65_public --ids ids.txt --dataset d.cscope"
            ),
        )
        v.add_argument("datastack")
        v.add_argument(
            "--ids", required=True, help="root ids: comma-separated, or a file, one per line"
        )
        v.add_argument("--version", type=int, default=None, help="materialization version")
        v.add_argument("--server", default=None, metavar="URL", help="CAVE global server")
        v.add_argument("--batch", type=int, default=20, help="root ids per request")
        v.add_argument(
            "--concurrency", type=int, default=4, help="requests in flight at once (default 4)"
        )
        v.add_argument("--table", default=None, help="table name (default: the datastack's)")
        v.add_argument("-o", "--output", default=None, help="write .parquet or .csv here")
        v.add_argument(
            "--cache",
            default=None,
            metavar="DIR",
            help="keep every batch's answer here as Parquet parts; a rerun after an "
            "interruption fetches only the missing batches, at the version the folder "
            "recorded (default: OUTPUT.parts/, removed once OUTPUT is written)",
        )
        v.add_argument("--dataset", default=None, help="store into this dataset")
        if verb == "synapses":
            v.add_argument("--side", choices=("both", "pre", "post"), default="both")
        else:
            v.add_argument(
                "--duplicates",
                choices=("error", "first", "drop"),
                default="error",
                help="ids listed twice in the cell table",
            )
        v.set_defaults(func=run, verb=verb)
    c = add_subcommand(
        verbs,
        "cell",
        help="one cell: skeleton (compartments), input/output synapses, target tags",
        description=(
            "One cell as the MICrONS tutorial's ossify.load_cell_from_client(root_id, client, "
            "synapses=True): the skeleton service's skeleton (soma, axon, dendrite), the "
            "cell's input and output synapses with partner root ids at one materialization "
            "version, and their target tags (spine, shaft, soma) from the synapse-target "
            "table, mapped onto the skeleton. Writes ROOT_ID.swc (µm), ROOT_ID.skeleton.parquet,"
            " ROOT_ID.synapses.parquet (type pre/post, x y z nm, tag, partner_root_id), "
            "ROOT_ID.inputs/.outputs.parquet (mapped) and ROOT_ID.json into OUT_DIR."
        ),
        epilog=(
            "examples:\n  connectoscope cave cell 864691135639556411 minnie65_public "
            "--version 1300 -o cell/\n  connectoscope skeleton plot cell/864691135639556411.swc"
            " --synapses cell/864691135639556411.synapses.parquet --figure targets -o t.png"
        ),
    )
    c.add_argument("root_id", type=int, help="the cell's root id")
    c.add_argument("datastack")
    c.add_argument("--version", type=int, default=None, help="materialization version")
    c.add_argument("--server", default=None, metavar="URL", help="CAVE global server")
    c.add_argument(
        "--skeleton-version", type=int, default=4, help="skeleton service version (default 4)"
    )
    c.add_argument(
        "--targets",
        default=None,
        metavar="TABLE",
        help="synapse-target table with target_id and tag (default: MICrONS' "
        "synapse_target_predictions_ssa when the datastack has it)",
    )
    c.add_argument("--no-targets", action="store_true", help="skip the target tags")
    c.add_argument(
        "--partners",
        nargs="?",
        const="",
        default=None,
        metavar="TABLE",
        help="also write ROOT_ID.partners.parquet: the partners' rows of a cell table "
        "(default the datastack's soma table), the known cells of --figure known",
    )
    c.add_argument(
        "--keep-autapses", action="store_true", help="keep synapses of the cell onto itself"
    )
    c.add_argument(
        "--cache",
        default=None,
        metavar="DIR",
        help="keep the queries' answers here (default: OUT_DIR/ROOT_ID.parts/, removed "
        "once the cell is written)",
    )
    c.add_argument("-o", "--output", required=True, metavar="OUT_DIR")
    c.set_defaults(func=run_cell)


def run(args: argparse.Namespace) -> int:
    from ..cave import CaveSession, id_list
    from ..errors import InvalidParameterError

    if not args.output and not args.dataset:
        raise InvalidParameterError("give -o OUT.parquet|.csv and/or --dataset DATASET")
    ids = id_list(args.ids)
    kw: dict[str, Any] = {}
    if args.verb == "synapses":
        kw["synapse_table"] = args.table
    else:
        kw["cell_table"] = args.table
    cache = args.cache or (f"{args.output}.parts" if args.output else None)
    s = CaveSession(
        args.datastack,
        server_address=args.server,
        version=args.version,
        batch_size=args.batch,
        cache=cache,
        concurrency=args.concurrency,
        **kw,
    )
    table: Any
    if args.verb == "synapses":
        table = s.synapses(ids, side=args.side)
        name = s.synapse_table
    else:
        table = s.cells(ids, duplicates=args.duplicates)
        name = s.cell_table
    if args.output:
        out = str(args.output)
        df = table.df.reset_index() if args.verb == "cells" else table.df
        if out.endswith(".csv"):
            write_with(out, lambda tmp: df.to_csv(tmp, index=False))
        else:
            write_parquet_atomic(df, out)
    if args.dataset:
        from ..dataset import Dataset

        ds = Dataset(args.dataset)
        table.save(ds)
        s.record(ds, f"cave {args.verb}", table=name, n_ids=len(ids), n_rows=len(table))
    if s.cache is not None and not args.cache:
        import shutil

        shutil.rmtree(s.cache.folder, ignore_errors=True)  # the default cache: output is whole
    cached = (
        f" ({s.cache.fetched} batches fetched, {s.cache.reused} from {s.cache.folder})"
        if s.cache is not None
        else ""
    )
    print(
        f"{len(table)} {args.verb} rows for {len(ids)} root ids from {s.datastack}/{name} at "
        f"materialization version {s.version}{cached}"
    )
    return 0


def run_cell(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from ..cave import TARGET_TABLE, CaveSession, load_cell, partner_cells, save_cell

    root = int(args.root_id)
    cache = args.cache or str(Path(args.output) / f"{root}.parts")
    s = CaveSession(args.datastack, server_address=args.server, version=args.version, cache=cache)
    nrn = load_cell(
        root,
        session=s,
        skeleton_version=args.skeleton_version,
        target_table=None if args.no_targets else (args.targets or TARGET_TABLE),
        omit_autapses=not args.keep_autapses,
    )
    partners = None
    if args.partners is not None and (len(nrn.inputs) or len(nrn.outputs)):
        partners = partner_cells(nrn, s, args.partners or None)
    files = save_cell(nrn, args.output, partners=partners)
    if not args.cache:
        shutil.rmtree(cache, ignore_errors=True)
    tags = (nrn.inputs["target"] != "").sum() + (nrn.outputs["target"] != "").sum()
    print(
        f"{root}: {len(nrn.skeleton)} skeleton vertices, {len(nrn.inputs)} inputs, "
        f"{len(nrn.outputs)} outputs ({tags} with target tags"
        + (f", {len(partners)} partners in the cell table" if partners is not None else "")
        + f") from {s.datastack} at "
        f"materialization version {s.version} -> {files['swc'].parent}"
    )
    return 0
