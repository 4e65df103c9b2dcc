"""``connectoscope view``."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from .._atomic import write_text_atomic
from ._common import add_subcommand
from ._pictures import size_arg


def register(sub: Any) -> None:
    from ._selection import add_selection_options

    p = add_subcommand(
        sub,
        "view",
        help="look at a dataset in Neuroglancer (served locally, works offline)",
        description=(
            "Serve the dataset's OME-Zarr image and labels, meshes, skeletons and synapse "
            "annotations with the Neuroglancer web client bundled in the neuroglancer package, "
            "on 127.0.0.1 only, and print the URL. Synapse annotations are (re)written from the "
            "dataset's synapse table first when missing or stale. With a selection only its "
            "segments and their synapses are shown. --screenshot renders headless (Chromium) "
            "and exits; --state prints the Neuroglancer state JSON (for a public Neuroglancer, "
            "give --data-url where you host the dataset directory, with HTTP Range and CORS)."
        ),
        epilog=(
            "examples:\n  connectoscope view demo.cscope --where neuron=1\n"
            "  connectoscope view demo.cscope --each neuron --screenshot view.png\n"
            "  connectoscope view demo.cscope --state --data-url https://example.org/demo.cscope"
        ),
    )
    p.add_argument("dataset")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    p.add_argument("--open", action="store_true", help="open the URL in the default browser")
    p.add_argument(
        "--screenshot", default=None, metavar="PNG", help="render headless to a PNG and exit"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="with --screenshot: give up after this many seconds, browser start included "
        "(default 300: software WebGL on 2 busy cores needs about 3 minutes for the demo's "
        "four neurons); the command always ends",
    )
    p.add_argument(
        "--size", type=size_arg, default=(1200, 900), metavar="W,H", help="screenshot pixels"
    )
    p.add_argument("--state", action="store_true", help="print the state JSON and exit")
    p.add_argument("--seconds", type=float, default=None, help="serve for this long, then exit")
    p.add_argument(
        "--data-url",
        default=None,
        metavar="URL",
        help="with --state: where the dataset directory is served (default: the local server)",
    )
    p.add_argument(
        "--no-annotations",
        action="store_true",
        help="do not write synapse annotations from the synapse table",
    )
    p.add_argument(
        "--log",
        default=None,
        metavar="JSON",
        help="with --screenshot: write the page's console errors and the data requests here",
    )
    add_selection_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..dataset import Dataset
    from ..viewer import ensure_annotations, screenshot, view, viewer_state
    from ._selection import selection_from_args

    ds = Dataset(args.dataset)
    sel = selection_from_args(args)
    coloured = sel.color is not None or sel.by is not None
    sel_or_none = None if sel.empty_spec and not coloured else sel
    if not args.no_annotations:
        ensure_annotations(ds)
    if args.state:
        data_url = args.data_url or f"http://127.0.0.1:{args.port or 8000}/data"
        print(json.dumps(viewer_state(ds, data_url, selection=sel_or_none), indent=2))
        return 0
    if args.screenshot:
        log: dict[str, Any] = {}
        try:
            print(
                screenshot(
                    ds,
                    args.screenshot,
                    selection=sel_or_none,
                    log=log,
                    annotations=False,
                    size=args.size,
                    timeout_s=args.timeout,
                )
            )
        finally:
            if args.log and log:
                from pathlib import Path

                write_text_atomic(Path(args.log), json.dumps(log, indent=1))
        return 0
    handle, url = view(ds, port=args.port, selection=sel_or_none, annotations=False)
    print(f"serving {ds.path} on 127.0.0.1 only; open:\n{url}\n(Ctrl-C to stop)", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    try:
        end = time.monotonic() + args.seconds if args.seconds else None
        while end is None or time.monotonic() < end:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    return 0
