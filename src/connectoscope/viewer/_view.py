"""``view``: serve a dataset with the bundled Neuroglancer; headless screenshots."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._atomic import write_bytes_atomic
from ..errors import ConnectoscopeError, DependencyMissingError, InvalidParameterError
from ._annotations import ensure_annotations
from ._server import ViewerServer
from ._state import selection_display, viewer_state

if TYPE_CHECKING:  # pragma: no cover
    from ..dataset import Dataset
    from ..segmentation import Selection

__all__ = [
    "CHROMIUM_ARGS",
    "ScreenshotError",
    "ScreenshotTimeoutError",
    "find_chromium",
    "screenshot",
    "view",
]

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
    meshes: bool = True,
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
    meshes : bool
        Show the dataset's meshes (default); False: voxels only.

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
    state = viewer_state(dataset, f"{server.url}/data", selection=selection, meshes=meshes)
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


class ScreenshotError(ConnectoscopeError, RuntimeError):
    """The headless viewer failed (the message says why)."""


class ScreenshotTimeoutError(ScreenshotError, TimeoutError):
    """The headless viewer did not finish within the overall timeout."""


#: Seconds the parent leaves the child, beyond its own deadline, to report and exit.
_GRACE_S = 15.0

#: What the child process runs (``python -c _CHILD_CODE JOB.json``).
_CHILD_CODE = "from connectoscope.viewer._view import _child_main; _child_main()"

#: Process names the parent may kill from the child's record (never anything else).
_BROWSER_NAMES = ("chrom", "node", "headless_shell")


def _require_playwright() -> None:
    import importlib.util

    if importlib.util.find_spec("playwright") is None:
        from .._deps import missing_dependency

        raise missing_dependency("playwright", "view --screenshot")


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

    The work runs in a child process (its own session: the data server, Neuroglancer's
    server, the Playwright driver and Chromium) that the caller kills, with everything it
    started, when ``timeout_s`` has passed: the call always ends.

    Parameters
    ----------
    dataset : Dataset
    out : path-like
        The PNG to write (atomically: nothing under that name unless complete).
    selection : Selection, optional
        Segments to show (grouped and coloured as by :func:`selection_display`).
    size : (width, height)
        Pixels.
    timeout_s : float
        Overall limit in seconds, browser start included.
    log : dict, optional
        Filled with ``console`` (the page's console errors and warnings and uncaught
        exceptions, as text) and ``requests`` (``[path, status]`` served by the data server).
    annotations : bool
        As for :func:`view`.

    Returns
    -------
    Path

    Raises
    ------
    DependencyMissingError
        Playwright or Chromium missing (named, with how to install them).
    ScreenshotTimeoutError
        Not done within ``timeout_s``.
    ScreenshotError
        The browser or the viewer failed (the child's message).
    """
    import signal
    import subprocess
    import sys
    import tempfile

    _require_playwright()
    find_chromium()
    if timeout_s <= 0:
        raise InvalidParameterError(f"timeout must be positive, got {timeout_s:g} s")
    if annotations:
        ensure_annotations(dataset)
    meshes = _meshes_cover(dataset, selection)
    p = Path(out).absolute()
    with tempfile.TemporaryDirectory(prefix="connectoscope-shot-") as tmp:
        job = Path(tmp) / "job.json"
        result = Path(tmp) / "result.json"
        job.write_text(
            json.dumps(
                {
                    "dataset": str(dataset.path),
                    "out": str(p),
                    "selection": None
                    if selection is None
                    else {
                        "where": list(selection.texts),
                        "each": selection.each,
                        "by": (
                            None
                            if selection.by is None
                            else selection.by
                            + (f":{selection.by_color}" if selection.by_color else "")
                        ),
                        "color": selection.color,
                        "max_groups": selection.max_groups,
                    },
                    "size": list(size),
                    "meshes": meshes,
                    "timeout_s": float(timeout_s),
                    "result": str(result),
                }
            )
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE, str(job)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            _, err = proc.communicate(timeout=timeout_s + _GRACE_S)
        except subprocess.TimeoutExpired:
            _kill_session(proc, signal)
            _kill_recorded(result.with_suffix(".pids"), signal)
            raise ScreenshotTimeoutError(
                f"view --screenshot: the viewer did not finish within {timeout_s:g} s; stopped "
                "(raise --timeout for large data, or select less with --where)"
            ) from None
        finally:
            if proc.poll() is None:  # interrupted (Ctrl-C): leave nothing behind
                _kill_session(proc, signal)
            _kill_recorded(result.with_suffix(".pids"), signal)
        info = json.loads(result.read_text()) if result.is_file() else {}
    if log is not None:
        log["console"] = info.get("console", [])
        log["requests"] = info.get("requests", [])
    if proc.returncode != 0 or not info.get("ok"):
        msg = info.get("error") or (err or b"").decode(errors="replace").strip().splitlines()[-1:]
        text = msg if isinstance(msg, str) else " ".join(msg)
        if info.get("timeout"):
            raise ScreenshotTimeoutError(f"view --screenshot: {text}")
        raise ScreenshotError(
            f"view --screenshot failed: {text or f'exit status {proc.returncode}'}"
        )
    return p


def _meshes_cover(dataset: Dataset, selection: Selection | None) -> bool:
    """Whether the screenshot may show the dataset's meshes: every shown segment needs a
    manifest, multi-resolution or legacy (Neuroglancer waits for ever on a missing one, so a
    screenshot would never finish); otherwise warn and show voxels only."""
    import warnings

    from ..errors import ConnectoscopeWarning
    from ..surfaces import MeshSet

    if selection is None:
        return True
    have = set(MeshSet(dataset).ids())
    if not have:
        return True
    disp = selection_display(dataset, selection)
    shown = {int(s) for s in disp.get("segments", [])}
    shown |= {int(s) for eq in disp.get("equivalences", []) for s in eq}
    missing = shown - have
    if not missing:
        return True
    warnings.warn(
        f"{dataset.path}: {len(missing)} of the {len(shown)} segments shown have no mesh "
        f"(e.g. {min(missing)}); the screenshot shows voxels only. Mesh them with "
        f"`connectoscope surfaces {dataset.path} ...` (with the selection you show; add "
        f"--format precomputed for multi-resolution meshes)",
        ConnectoscopeWarning,
        stacklevel=3,
    )
    return False


def _kill_session(proc: Any, signal: Any) -> None:
    """SIGTERM then SIGKILL the child's whole session (its process group), by its id."""
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=wait)
            return
        except Exception:
            continue


def _kill_recorded(pids_file: Path, signal: Any) -> None:
    """Kill the browser processes the child recorded: Chromium starts its own session, so
    ending the child's group does not reach it. Only ids still naming a browser or driver
    process are touched; a group leader's whole group goes (its renderers)."""
    if not pids_file.is_file():
        return
    for word in pids_file.read_text().split():
        try:
            pid = int(word)
            name = Path(f"/proc/{pid}/comm").read_text().strip().lower()
        except (ValueError, OSError):
            continue
        if not any(n in name for n in _BROWSER_NAMES):
            continue
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue


def _child_main() -> None:
    """The screenshot child: ``python -c ... JOB.json``; writes the result JSON, then exits
    at once (``os._exit``: no waiting for server or browser threads)."""
    import sys
    import traceback

    job = json.loads(Path(sys.argv[1]).read_text())
    result = Path(job["result"])
    info: dict[str, Any] = {"ok": False, "console": [], "requests": []}
    code = 2
    try:
        from ..dataset import Dataset
        from ..segmentation import Selection

        ds = Dataset(job["dataset"])
        sel = None
        if job["selection"] is not None:
            sel = Selection.parse(**job["selection"])
        _shoot(
            ds,
            Path(job["out"]),
            sel,
            tuple(job["size"]),
            job["timeout_s"],
            info,
            result,
            meshes=bool(job.get("meshes", True)),
        )
        info["ok"] = True
        code = 0
    except ConnectoscopeError as e:
        info["error"] = str(e)
    except Exception as e:  # the browser's own errors (Playwright's TimeoutError too)
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        if isinstance(e, TimeoutError) or type(e).__name__ == "TimeoutError":
            info["timeout"] = True
            info["error"] = (
                first
                if isinstance(e, TimeoutError)
                else (f"the browser did not respond in time ({first})")
            )
        else:
            info["error"] = f"{type(e).__name__}: {first}"
            traceback.print_exc()
    try:
        server = info.pop("server", None)
        if server is not None:
            info["requests"] = [list(r) for r in server.requests]
        result.write_text(json.dumps(info))
    finally:
        sys.stderr.flush()
        os._exit(code)


def _shoot(
    dataset: Dataset,
    out: Path,
    selection: Selection | None,
    size: tuple[int, ...],
    timeout_s: float,
    info: dict[str, Any],
    result: Path,
    *,
    meshes: bool = True,
) -> None:
    import concurrent.futures as cf

    from playwright.sync_api import sync_playwright

    deadline = time.monotonic() + timeout_s
    exe = find_chromium()
    handle, url = view(dataset, selection=selection, annotations=False, meshes=meshes)
    console: list[str] = info["console"]
    info["server"] = handle.server  # whatever happens, its requests are reported

    def left_ms() -> float:
        return max(1.0, deadline - time.monotonic()) * 1000

    # no `with`: on failure the child exits at once and the parent ends the browser; a
    # context manager's clean-up could wait on a browser that no longer answers
    pw = sync_playwright().start()
    browser = pw.chromium.launch(
        executable_path=exe, args=CHROMIUM_ARGS, headless=True, timeout=left_ms()
    )
    _record_browser_pids(result.with_suffix(".pids"))
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.on(
        "console",
        lambda m: (
            console.append(f"{m.type}: {m.text} [{m.location.get('url', '')}]")
            if m.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    page.goto(url, wait_until="load", timeout=left_ms())
    _record_browser_pids(result.with_suffix(".pids"))
    pool = cf.ThreadPoolExecutor(1)
    fut = pool.submit(handle.viewer.screenshot, size=list(size))
    while not fut.done():
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the viewer did not finish loading within {timeout_s:g} s (raise --timeout "
                "for large data, or select less with --where)"
            )
        page.wait_for_timeout(200)  # keep the browser's event loop running
    reply = fut.result()
    write_bytes_atomic(out, reply.screenshot.image)
    browser.close()
    pw.stop()
    handle.stop()


def _record_browser_pids(path: Path) -> None:
    """Write the ids of this process's descendants (the Playwright driver, Chromium) so the
    parent can end them even if they left our process group."""
    pids: list[int] = []
    todo = [os.getpid()]
    while todo:
        parent = todo.pop()
        try:
            kids = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for k in kids:
            pids.append(int(k))
            todo.append(int(k))
    path.write_text(" ".join(str(x) for x in pids))
