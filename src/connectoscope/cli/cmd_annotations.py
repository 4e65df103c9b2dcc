"""``connectoscope annotations info|convert``: Neuroglancer precomputed annotation layers
from any writer, local or remote."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._common import add_overwrite, add_subcommand


def register(sub: Any) -> None:
    g = add_subcommand(
        sub,
        "annotations",
        help="precomputed annotation layers (any writer, local or remote): info, convert",
    )
    g.set_defaults(_group_parser=g)
    gs = g.add_subparsers(dest="annotations_command", metavar="ACTION")
    i = add_subcommand(
        gs,
        "info",
        help="type, count, properties, relationships, bounds and indices of an annotation layer",
        description=(
            "Describe a Neuroglancer precomputed annotation layer (neuroglancer_annotations_v1: "
            "points, lines, boxes or ellipsoids): count, properties, relationships, declared "
            "and actual bounds, spatial/by-id/relationship indices and their sharding. PATH_OR_URL "
            "is a folder, file://, http(s)://, gs:// or s3:// (precomputed:// prefix optional)."
        ),
        epilog=(
            "examples:\n  connectoscope annotations info demo.cscope/annotations/synapses\n"
            "  connectoscope annotations info precomputed://gs://BUCKET/synapses --json"
        ),
    )
    i.add_argument("source", metavar="PATH_OR_URL")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.add_argument(
        "--no-count", action="store_true", help="describe the info only (reads no annotations)"
    )
    i.set_defaults(func=run_info)
    c = add_subcommand(
        gs,
        "convert",
        help="write an annotation layer as a Parquet or CSV table",
        description=(
            "Read every annotation (or those of --ids, or of one segment through a relationship "
            "index with --related NAME=SEGMENT) into a table: id, geometry, properties, related "
            "segment ids; write .parquet or .csv (related ids joined by ';' in CSV)."
        ),
        epilog=(
            "examples:\n  connectoscope annotations convert URL synapses.parquet\n"
            "  connectoscope annotations convert URL pre.csv --related pre_segment=864691135"
        ),
    )
    c.add_argument("source", metavar="PATH_OR_URL")
    c.add_argument("output", help="OUT.parquet or OUT.csv")
    c.add_argument("--ids", default=None, help="comma-separated annotation ids (by-id index)")
    c.add_argument("--related", default=None, metavar="NAME=SEGMENT", help="one segment's")
    add_overwrite(c)
    c.set_defaults(func=run_convert)


def run_info(args: argparse.Namespace) -> int:
    from ..precomputed import annotations_info

    d = annotations_info(args.source, count=not args.no_count)
    if args.json:
        print(json.dumps(d, indent=2, default=str))
        return 0
    print(f"{d['url']}: {d.get('count', '?')} {d['annotation_type']} annotations")
    dims = d.get("dimensions") or {}
    print(
        "  dimensions: "
        + ", ".join(f"{k} {v[0]:g} {v[1]}" for k, v in dims.items() if isinstance(v, list))
    )
    print(f"  declared bounds: {d.get('lower_bound')} .. {d.get('upper_bound')}")
    if d.get("data_bounds"):
        print(
            "  data bounds: "
            + ", ".join(f"{k} {a:g}..{b:g}" for k, (a, b) in d["data_bounds"].items())
        )
    props = d["properties"]
    print(
        "  properties: "
        + (", ".join(f"{p['id']} ({p['type']})" for p in props) if props else "none")
    )
    rels = d["relationships"]
    counts = d.get("relationship_counts", {})
    print(
        "  relationships: "
        + (
            ", ".join(
                f"{r['id']}"
                + (
                    f" ({counts[r['id']]['links']} links to {counts[r['id']]['segments']} segments)"
                    if r["id"] in counts
                    else ""
                )
                + (", sharded" if r["sharded"] else "")
                for r in rels
            )
            if rels
            else "none"
        )
    )
    lv = d["spatial_levels"]
    print(
        f"  spatial index: {len(lv)} levels"
        + (", sharded" if lv and all(s["sharded"] for s in lv) else "")
        + f"; by-id index{' sharded' if d['by_id_sharded'] else ''}"
    )
    return 0


def run_convert(args: argparse.Namespace) -> int:
    import numpy as np

    from .._atomic import write_bytes_atomic, write_parquet_atomic
    from ..errors import DatasetExistsError, InvalidParameterError
    from ..precomputed import read_annotations

    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InvalidParameterError(f"{out}: output must end in .parquet or .csv")
    if out.exists() and not args.overwrite:
        raise DatasetExistsError(f"{out}: exists; pass --overwrite to replace it")
    ids = None
    if args.ids:
        try:
            ids = [int(v) for v in args.ids.split(",") if v.strip()]
        except ValueError:
            raise InvalidParameterError(
                f"--ids {args.ids!r}: expected comma-separated integers"
            ) from None
    related = None
    if args.related:
        name, sep, seg = args.related.partition("=")
        if not sep or not seg.strip().isdigit():
            raise InvalidParameterError(
                f"--related {args.related!r}: expected NAME=SEGMENT such as pre_segment=42"
            )
        related = (name.strip(), int(seg))
    df = read_annotations(args.source, ids=ids, relationship=related)
    rel_cols = [c for c in df.columns if len(df) and isinstance(df[c].iloc[0], np.ndarray)]
    if suffix == ".parquet":
        t = df.copy()
        for c in rel_cols:
            t[c] = [list(map(int, a)) for a in t[c]]
        t.attrs = {}
        write_parquet_atomic(t, out)
    else:
        t = df.copy()
        for c in rel_cols:
            t[c] = [";".join(map(str, a.tolist())) for a in t[c]]
        write_bytes_atomic(out, t.to_csv(index=False).encode())
    print(
        f"{out}: {len(df)} {df.attrs.get('annotation_type', '')} annotations, columns "
        f"{', '.join(map(str, df.columns))}"
    )
    return 0
