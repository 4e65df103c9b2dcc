"""``connectoscope view``."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ._common import add_subcommand


def register(sub: Any) -> None:
    from ..segmentation._cli_options import add_selection_options

    p = add_subcommand(
        sub,
        "view",
        help="look at a dataset in Neuroglancer (served locally, works offline)",
        description=(
            "Serve the dataset's OME-Zarr image and labels, meshes and skeletons with the "
            "Neuroglancer web client bundled in the neuroglancer package, on 127.0.0.1 only, "
            "and print the URL. --screenshot renders headless (Chromium) and exits; --state "
            "prints the Neuroglancer state JSON (for a public Neuroglancer, point the sources at "
            "wherever you host the dataset)."
        ),
        epilog=(
            "examples:\n  connectoscope view demo.cscope --where neuron=1\n"
            "  connectoscope view demo.cscope --each neuron --screenshot view.png"
        ),
    )
    p.add_argument("dataset")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    p.add_argument("--open", action="store_true", help="open the URL in the default browser")
    p.add_argument(
        "--screenshot", default=None, metavar="PNG", help="render headless to a PNG and exit"
    )
    p.add_argument("--state", action="store_true", help="print the state JSON and exit")
    p.add_argument("--seconds", type=float, default=None, help="serve for this long, then exit")
    add_selection_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..dataset import Dataset
    from ..segmentation._cli_options import selection_from_args
    from ..viewer import screenshot, view, viewer_state

    ds = Dataset(args.dataset)
    sel = selection_from_args(args)
    sel_or_none = None if sel.empty_spec else sel
    if args.state:
        print(
            json.dumps(
                viewer_state(
                    ds, f"http://127.0.0.1:{args.port or 8000}/data", selection=sel_or_none
                ),
                indent=2,
            )
        )
        return 0
    if args.screenshot:
        print(screenshot(ds, args.screenshot, selection=sel_or_none))
        return 0
    handle, url = view(ds, port=args.port, selection=sel_or_none)
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
