"""Run by test_surfaces_browser in a fresh process: two screenshots of a dataset's meshes
(3-D layout) at two zooms, and the requests the data server answered.

    python _two_zooms.py DATASET OUT_DIR
"""

import concurrent.futures as cf
import json
import sys
import time
from pathlib import Path

import connectoscope as cs
from connectoscope.segmentation import Selection
from connectoscope.viewer import view
from connectoscope.viewer._view import CHROMIUM_ARGS, find_chromium


def main() -> None:
    ds = cs.Dataset.open(sys.argv[1])
    out = Path(sys.argv[2])
    from playwright.sync_api import sync_playwright

    handle, url = view(ds, selection=Selection.parse(each="segment"), annotations=False)
    z, y, x = ds.segmentation.shape_zyx(0)
    console: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=find_chromium(), args=CHROMIUM_ARGS, headless=True
            )
            page = browser.new_page(viewport={"width": 800, "height": 600})
            page.on(
                "console",
                lambda m: (
                    console.append(f"{m.type}: {m.text} [{m.location.get('url', '')}]")
                    if m.type == "error"
                    else None
                ),
            )
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.goto(url, wait_until="load", timeout=120_000)
            for name, scale in (("far", max(x, y) * 3.0), ("near", max(x, y) * 0.9)):
                with handle.viewer.txn() as s:
                    s.layout = "3d"
                    s.projection_scale = scale
                    s.position = [x / 2, y / 2, z / 2]
                pool = cf.ThreadPoolExecutor(1)
                fut = pool.submit(handle.viewer.screenshot, size=[800, 600])
                deadline = time.monotonic() + 240
                while not fut.done():
                    if time.monotonic() > deadline:
                        raise TimeoutError("viewer did not load")
                    page.wait_for_timeout(200)
                (out / f"{name}.png").write_bytes(fut.result().screenshot.image)
                pool.shutdown(wait=False)
            browser.close()
        (out / "log.json").write_text(
            json.dumps({"console": console, "requests": [list(r) for r in handle.server.requests]})
        )
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
