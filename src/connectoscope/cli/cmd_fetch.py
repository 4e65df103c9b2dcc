"""``connectoscope fetch``: public datasets by name, or any URL, resumable and verified."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import add_subcommand


def register(sub: Any) -> None:
    p = add_subcommand(
        sub,
        "fetch",
        help="download a public dataset (by name) or a URL, resumably, with checksums",
        description=(
            "Download the files of a dataset the toolkit knows (--list shows them, with where "
            "their checksums come from) into DIR/NAME/, or one URL into DIR. Downloads go to "
            "a .part file and resume with HTTP Range after an interruption (run the same "
            "command again); a server that ignores Range makes the file start again cleanly. "
            "The size and the checksum (SHA-256 or MD5) are verified before the file gets its "
            "final name; a mismatch leaves nothing under the final name. The command ends "
            "with a report of what is still missing."
        ),
        epilog=(
            "examples:\n  connectoscope fetch --list\n"
            "  connectoscope fetch microns-tutorial-tables --to data/\n"
            "  connectoscope fetch l4dense --only '*x2y4z3.hdf5' --to /big/disk\n"
            "  connectoscope fetch https://example.org/file.h5 --md5 0123...ef --to data/"
        ),
    )
    p.add_argument("target", nargs="?", help="a dataset name (see --list) or an http(s) URL")
    p.add_argument("--to", default=".", metavar="DIR", help="destination folder (default: .)")
    p.add_argument("--list", action="store_true", help="list the known datasets and exit")
    p.add_argument(
        "--only",
        action="append",
        default=None,
        metavar="PATTERN",
        help="only files matching this shell pattern (repeatable)",
    )
    p.add_argument("--sha256", default=None, metavar="HEX", help="with a URL: expected SHA-256")
    p.add_argument("--md5", default=None, metavar="HEX", help="with a URL: expected MD5")
    p.add_argument("--size", type=int, default=None, help="with a URL: expected size in bytes")
    p.add_argument(
        "--extract",
        action="store_true",
        help="with a URL: unpack the downloaded .zip/.tar(.gz) into DIR (member names checked)",
    )
    p.add_argument("--retries", type=int, default=5, help="retries of a dropped connection")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds before a stall counts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InvalidParameterError
    from ..fetch import fetch, fetch_url, load_registry

    if args.list:
        for name, e in load_registry().items():
            print(f"{name}\n  {e.description}\n  checksums: {e.checksums}\n  {e.homepage}")
        return 0
    if not args.target:
        raise InvalidParameterError("give a dataset name or a URL (or --list)")
    if "://" in args.target:
        if args.sha256 and args.md5:
            raise InvalidParameterError("give either --sha256 or --md5, not both")
        checksum = (
            f"sha256:{args.sha256}" if args.sha256 else f"md5:{args.md5}" if args.md5 else None
        )
        path = fetch_url(
            args.target,
            args.to,
            checksum=checksum,
            size=args.size,
            retries=args.retries,
            timeout=args.timeout,
        )
        note = "verified" if checksum else "no checksum given: not verified"
        print(f"{path} ({path.stat().st_size} bytes, {note})")
        if args.extract:
            from ..fetch import extract_archive

            files = extract_archive(path, args.to)
            print(f"  extracted {len(files)} file(s) into {args.to}")
        return 0
    if args.sha256 or args.md5 or args.size or args.extract:
        raise InvalidParameterError(
            "--sha256/--md5/--size/--extract go with a URL; a dataset's checksums come from the registry"
        )
    report = fetch(args.target, args.to, only=args.only, retries=args.retries, timeout=args.timeout)
    print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1
