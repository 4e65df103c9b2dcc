"""``view``: serve a dataset with the bundled Neuroglancer; headless screenshots."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._atomic import write_bytes_atomic
from ..errors import DependencyMissingError
from ._annotations import ensure_annotations
from ._server import ViewerServer
from ._state import viewer_state

if TYPE_CHECKING:  # pragma: no cover
    from ..dataset import Dataset
    from ..segmentation import Selection

__all__ = ["CHROMIUM_ARGS", "find_chromium", "screenshot", "view"]

#: Flags that make Debian's chromium render WebGL headless with no GPU and no network.
CHROMIUM_ARGS = [
    "--headless=new",
    "--use-gl=angle",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
    "--no-sandbox",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str:
    """Path of a Chromium binary (``CONNECTOSCOPE_CHROMIUM`` or Debian's ``chromium``)."""
    for cand in (
        os.environ.get("CONNECTOSCOPE_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if cand and Path(cand).exists():
            return cand
    raise DependencyMissingError(
        "screenshots need Chromium: on Debian/Ubuntu `apt-get install chromium` (or set "
        "CONNECTOSCOPE_CHROMIUM to a Chromium binary)"
    )


def view(
    dataset: Dataset,
    *,
    port: int = 0,
    selection: Selection | None = None,
    annotations: bool = True,
) -> tuple[Any, str]:
    """Serve ``dataset`` on 127.0.0.1 and open a Neuroglancer viewer on it.

    The data (OME-Zarr, meshes, skeletons, synapse annotations) come from our file server
    (Range + CORS); the web client and its state come from the ``neuroglancer`` package's own
    server, also bound to 127.0.0.1.

    Parameters
    ----------
    dataset : Dataset
    port : int
        Port of the data server (0: any free one).
    selection : Selection, optional
        Segments to show, and only their synapses.
    annotations : bool
        Write the synapse annotations first when the dataset has a synapse table with
        positions and they are missing or stale (see :func:`ensure_annotations`).

    Returns
    -------
    (handle, url)
        ``handle.stop()`` shuts the data server down; ``handle.viewer`` is the
        ``neuroglancer.Viewer`` and ``handle.server`` our :class:`ViewerServer`.
    """
    import neuroglancer

    if annotations:
        ensure_annotations(dataset)
    _warn_incomplete(dataset)
    server = ViewerServer(dataset.path, port=port).start()
    neuroglancer.set_server_bind_address("127.0.0.1")
    viewer = neuroglancer.Viewer()
    state = viewer_state(dataset, f"{server.url}/data", selection=selection)
    viewer.set_state(neuroglancer.ViewerState(state))
    return _Handle(server, viewer), viewer.get_viewer_url()


def _warn_incomplete(dataset: Dataset) -> None:
    """Warn about layers that would show holes as background: unfinished or damaged."""
    import math
    import warnings

    from ..errors import ConnectoscopeWarning
    from ..volume._verify import check_layer, volume_layers

    for name in volume_layers(dataset):
        desc = dataset.layer(name)
        n = sum(
            math.prod(-(-a // b) for a, b in zip(lev["shape_zyx"], lev["shard_zyx"]))
            for lev in desc["levels"]
        )
        if n > 20_000:  # too many to stat at every start: `verify` checks those
            if not desc.get("complete"):
                warnings.warn(
                    f"{dataset.path}: layer {name!r} is incomplete (an ingest was "
                    "interrupted): its missing parts show as empty in the viewer",
                    ConnectoscopeWarning,
                    stacklevel=3,
                )
            continue
        c = check_layer(dataset, name)
        if not c.complete or c.problems:
            why = (
                "is incomplete (an ingest was interrupted)"
                if not c.complete
                else (f"has {len(c.problems)} missing or damaged shard(s)")
            )
            warnings.warn(
                f"{dataset.path}: layer {name!r} {why}: its missing parts show as empty in the "
                f"viewer; finish or repair it with `connectoscope verify {dataset.path} --repair`",
                ConnectoscopeWarning,
                stacklevel=3,
            )


class _Handle:
    def __init__(self, server: ViewerServer, viewer: Any) -> None:
        self.server = server
        self.viewer = viewer

    @property
    def data_url(self) -> str:
        return f"{self.server.url}/data"

    def stop(self) -> None:
        self.server.stop()


def screenshot(
    dataset: Dataset,
    out: str | os.PathLike[str],
    *,
    selection: Selection | None = None,
    size: tuple[int, int] = (1200, 900),
    timeout_s: float = 120.0,
    log: dict[str, Any] | None = None,
    annotations: bool = True,
) -> Path:
    """Render the viewer in headless Chromium and save a PNG once the layers have loaded
    (Neuroglancer's own screenshot waits for every visible chunk and mesh).

    Parameters
    ----------
    dataset : Dataset
    out : path-like
        The PNG to write.
    selection : Selection, optional
    size : (width, height)
        Pixels.
    timeout_s : float
        Give up (``TimeoutError``) when the data has not loaded by then.
    log : dict, optional
        Filled with ``console`` (the page's console errors and warnings and uncaught
        exceptions, as text) and ``requests`` (``[path, status]`` served by the data server).
    annotations : bool
        As for :func:`view`.

    Returns
    -------
    Path
    """
    import concurrent.futures as cf

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        raise DependencyMissingError(
            "screenshots need playwright: pip install playwright"
        ) from None
    exe = find_chromium()
    handle, url = view(dataset, selection=selection, annotations=annotations)
    p = Path(out)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": size[0], "height": size[1]})
                console: list[str] = []
                page.on(
                    "console",
                    lambda m: (
                        console.append(f"{m.type}: {m.text} [{m.location.get('url', '')}]")
                        if m.type in ("error", "warning")
                        else None
                    ),
                )
                page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
                page.goto(url, wait_until="load", timeout=timeout_s * 1000)
                pool = cf.ThreadPoolExecutor(1)
                fut = pool.submit(handle.viewer.screenshot, size=list(size))
                deadline = time.monotonic() + timeout_s
                while not fut.done():
                    if time.monotonic() > deadline:
                        pool.shutdown(wait=False, cancel_futures=True)
                        raise TimeoutError(
                            f"the viewer did not finish loading within {timeout_s:g} s"
                        )
                    page.wait_for_timeout(200)  # keep the browser's event loop running
                reply = fut.result()
                pool.shutdown(wait=False)
                write_bytes_atomic(p, reply.screenshot.image)
                if log is not None:
                    log["console"] = list(console)
                    log["requests"] = [list(r) for r in handle.server.requests]
            finally:
                browser.close()
    finally:
        handle.stop()
    return p
