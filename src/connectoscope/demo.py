"""``connectoscope demo``: generate a synthetic dataset and run every capability end to end.

Each capability contributes one step: a function ``demo_step(ctx: DemoContext) -> None``
in its own module, listed in :data:`STEPS` in the order data flows. A step records what
it made with :meth:`DemoContext.add`; the demo prints the list, writes a one-page HTML
summary with the pictures, and ends by telling the user what to open or run next.
"""

from __future__ import annotations

import html
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._progress import progress

__all__ = ["STEPS", "DemoContext", "DemoOutput", "run_demo"]


@dataclass
class DemoOutput:
    """One thing the demo made: a file or folder, what it is, and which step made it."""

    path: Path
    description: str
    step: str
    picture: bool = False


@dataclass
class DemoContext:
    """State shared by the demo steps.

    Attributes
    ----------
    out : Path
        The demo's output folder (everything goes inside).
    synth_dir : Path
        Where the synthetic L4dense-style source data is written (``out / "source"``).
    dataset_path : Path
        The dataset directory (``out / "demo.cscope"``).
    shape_xyz : tuple of int
        Size of the synthetic volume in voxels.
    cube : int
        Cube edge of the synthetic source files.
    seed : int
        Random seed of the synthetic data.
    workers : int
        Worker processes steps may use.
    outputs : list of DemoOutput
        Everything made so far.
    notes : list of str
        Short facts to print (counts, timings), in order.
    next_steps : list of str
        Commands to suggest at the end.
    """

    out: Path
    shape_xyz: tuple[int, int, int] = (512, 512, 256)
    cube: int = 256
    seed: int = 0
    workers: int = 2
    outputs: list[DemoOutput] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    current_step: str = ""

    @property
    def synth_dir(self) -> Path:
        return self.out / "source"

    @property
    def dataset_path(self) -> Path:
        return self.out / "demo.cscope"

    @property
    def figures(self) -> Path:
        p = self.out / "figures"
        p.mkdir(parents=True, exist_ok=True)
        return p

    def add(self, path: Path | str, description: str, *, picture: bool | None = None) -> None:
        """Record an output (pictures: ``.png``/``.gif``/``.svg`` go into the HTML page)."""
        p = Path(path)
        if picture is None:
            picture = p.suffix.lower() in (".png", ".gif", ".svg", ".jpg")
        self.outputs.append(DemoOutput(p, description, self.current_step, picture))

    def note(self, text: str) -> None:
        """Record a short fact to print."""
        self.notes.append(f"[{self.current_step}] {text}")


#: (title, "module:function") in data-flow order.
STEPS: list[tuple[str, str]] = [
    ("synthetic data", "connectoscope.sources.synthetic._demo:demo_step"),
    ("ingest + ChimeraX export", "connectoscope.volume._demo:demo_step"),
    ("objects", "connectoscope.segmentation._demo:demo_step"),
    ("surfaces + pictures", "connectoscope.render._demo:demo_step"),
    ("connectome", "connectoscope.connectome._demo:demo_step"),
    ("morphology", "connectoscope.morphology._demo:demo_step"),
    ("viewer", "connectoscope.viewer._demo:demo_step"),
]


def _resolve(spec: str) -> Callable[[DemoContext], None]:
    mod, func = spec.split(":")
    return getattr(importlib.import_module(mod), func)  # type: ignore[no-any-return]


def run_demo(
    out: Path | str = "connectoscope-demo",
    *,
    shape_xyz: tuple[int, int, int] = (512, 512, 256),
    cube: int = 256,
    seed: int = 0,
    workers: int = 2,
    overwrite: bool = True,
    echo: Callable[[str], None] = print,
) -> DemoContext:
    """Run every demo step; returns the context with all outputs.

    Parameters
    ----------
    out : path-like
        Output folder (created; replaced when ``overwrite``).
    shape_xyz, cube, seed : synthetic data parameters.
    workers : int
        Worker processes for parallel steps.
    echo : callable
        Where progress lines go (``print`` by default).
    """
    import shutil

    from .errors import DatasetExistsError

    out = Path(out).resolve()
    if out.exists():
        if not overwrite:
            raise DatasetExistsError(f"{out}: exists; pass --overwrite or choose another --out")
        marker = out / "index.html"
        if any(out.iterdir()) and not marker.exists() and not (out / "source").exists():
            raise DatasetExistsError(
                f"{out}: exists and does not look like a demo folder; choose another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    ctx = DemoContext(out=out, shape_xyz=shape_xyz, cube=cube, seed=seed, workers=workers)
    t_all = time.perf_counter()
    timings: list[tuple[str, float]] = []
    for title, spec in progress(STEPS, desc="demo", unit="step"):
        ctx.current_step = title
        echo(f"==> {title}")
        t0 = time.perf_counter()
        _resolve(spec)(ctx)
        timings.append((title, time.perf_counter() - t0))
    total = time.perf_counter() - t_all
    page = write_summary(ctx, timings, total)
    echo("")
    echo(f"connectoscope demo finished in {total:.1f} s. It made:")
    for o in ctx.outputs:
        echo(
            f"  {o.path.relative_to(out) if o.path.is_relative_to(out) else o.path}  -  {o.description}"
        )
    for n in ctx.notes:
        echo(f"  {n}")
    echo("")
    echo(f"Open the summary page: {page}")
    for s in ctx.next_steps:
        echo(f"Next: {s}")
    return ctx


def write_summary(ctx: DemoContext, timings: list[tuple[str, float]], total: float) -> Path:
    """Write ``index.html`` with every output and picture; returns its path."""
    rows = []
    for o in ctx.outputs:
        rel = o.path.relative_to(ctx.out) if o.path.is_relative_to(ctx.out) else o.path
        cell = html.escape(str(rel))
        rows.append(
            f"<tr><td>{html.escape(o.step)}</td><td><code>{cell}</code></td><td>{html.escape(o.description)}</td></tr>"
        )
    pics = []
    for o in ctx.outputs:
        if o.picture:
            rel = o.path.relative_to(ctx.out) if o.path.is_relative_to(ctx.out) else o.path
            pics.append(
                f'<figure><img src="{html.escape(str(rel))}" style="max-width:480px"><figcaption>'
                f"{html.escape(o.description)}</figcaption></figure>"
            )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in ctx.notes)
    steps = "".join(f"<li>{html.escape(t)}: {s:.1f} s</li>" for t, s in timings)
    nxt = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in ctx.next_steps)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>connectoscope demo</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}figure{{display:inline-block;margin:8px}}
td{{padding:2px 8px;vertical-align:top}}</style></head><body>
<h1>connectoscope demo</h1>
<p>Synthetic L4dense-style volume {ctx.shape_xyz[0]}x{ctx.shape_xyz[1]}x{ctx.shape_xyz[2]} voxels
(cube {ctx.cube}, seed {ctx.seed}); finished in {total:.1f} s.</p>
<h2>Steps</h2><ul>{steps}</ul>
<h2>Facts</h2><ul>{notes}</ul>
<h2>Pictures</h2>{"".join(pics) or "<p>none</p>"}
<h2>Files</h2><table>{"".join(rows)}</table>
<h2>Next</h2><ul>{nxt}</ul>
</body></html>
"""
    p = ctx.out / "index.html"
    p.write_text(page, encoding="utf-8")
    return p
