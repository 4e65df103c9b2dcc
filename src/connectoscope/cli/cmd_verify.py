"""``connectoscope verify``: does the store hold what it says it holds; repair what is not."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import add_subcommand


def register(sub: Any) -> None:
    p = add_subcommand(
        sub,
        "verify",
        help="check every shard of a dataset against its completion record; --repair rewrites",
        description=(
            "Compare every shard file of every volume layer with its completion record (size, "
            "and with --checksums the CRC32C): a shard that is missing or truncated (an "
            "interrupted copy, a full disk) is reported instead of reading as zeros. Also "
            "reports layers left incomplete by an interrupted run and removes the temporary "
            "files killed runs left. --repair drops the records of the bad shards and resumes "
            "the layer's ingest from its source, rewriting exactly those shards."
        ),
        epilog=(
            "examples:\n  connectoscope verify demo.cscope\n"
            "  connectoscope verify demo.cscope --checksums\n"
            "  connectoscope verify copied.cscope --repair"
        ),
    )
    p.add_argument("dataset")
    p.add_argument("--layer", action="append", default=None, help="only this layer (repeatable)")
    p.add_argument(
        "--checksums", action="store_true", help="also compare CRC32C (reads every shard)"
    )
    p.add_argument(
        "--repair",
        action="store_true",
        help="rewrite missing/damaged shards and finish incomplete layers from their source",
    )
    p.set_defaults(func=run)


def _source_of(desc: dict[str, Any]) -> str | None:
    src = desc.get("source_resolved") or desc.get("source")
    if not isinstance(src, str) or src.startswith("<"):
        return None
    path = src.split(":/", 1)[0]
    return src if Path(path).exists() else None


def run(args: argparse.Namespace) -> int:
    from .._atomic import clean_stale_parts
    from ..dataset import Dataset
    from ..errors import InvalidParameterError
    from ..volume import StorageSpec, ingest
    from ..volume._verify import check_layer, forget_shards, volume_layers

    ds = Dataset(args.dataset)
    names = volume_layers(ds)
    if args.layer:
        unknown = sorted(set(args.layer) - set(names))
        if unknown:
            raise InvalidParameterError(
                f"--layer {', '.join(unknown)}: no such volume layer; layers: {', '.join(names)}"
            )
        names = [n for n in names if n in args.layer]
    removed = clean_stale_parts(ds.path)
    if removed:
        print(f"removed {len(removed)} temporary file(s) left by killed runs")
    checks = {n: check_layer(ds, n, checksums=args.checksums) for n in names}
    for c in checks.values():
        print(c.summary())
        for p in c.problems[:10]:
            print(f"  {p}")
        if len(c.problems) > 10:
            print(f"  ... and {len(c.problems) - 10} more")
    bad = [n for n, c in checks.items() if not c.ok or not c.complete]
    if not bad:
        print(f"{ds.path}: every shard matches its record")
        return 0
    if not args.repair:
        print(f"run `connectoscope verify {ds.path} --repair` to rewrite them from the source")
        return 1
    problems = [p for n in bad for p in checks[n].problems]
    forget_shards(ds, problems)
    left = []
    for n in bad:
        desc = ds.layer(n)
        src = _source_of(desc)
        if n in ("image", "segmentation") and src is not None:
            print(f"{n}: rewriting from {src}")
            st = desc.get("storage") or {}
            ingest(
                src,
                ds,
                layer=n,
                storage=StorageSpec(
                    chunk_xyz=st.get("chunk_xyz") or None, shard_xyz=st.get("shard_xyz") or None
                ),
            )
        else:
            left.append(n)
            print(
                f"{n}: cannot rewrite it here (source {desc.get('source')!r} is not a file "
                "this command can read again); re-run the command that wrote it"
            )
    ds.reload()
    again = {n: check_layer(ds, n) for n in bad if n not in left}
    for c in again.values():
        print(f"after repair: {c.summary()}")
    ok = all(c.ok and c.complete for c in again.values()) and not left
    return 0 if ok else 1
