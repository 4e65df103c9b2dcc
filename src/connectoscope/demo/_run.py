"""Run the demo steps in order, with an overall progress line, then write the report."""

from __future__ import annotations

import importlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import DatasetExistsError
from ..parallel import executor
from ._context import DemoContext
from ._report import write_report

__all__ = ["STEPS", "run_demo"]


#: (title, "module:function") in data-flow order.
STEPS: list[tuple[str, str]] = [
    ("synthetic data", "step_synthetic"),
    ("ingest + ChimeraX export", "step_ingest"),
    ("objects", "step_objects"),
    ("surfaces + pictures", "step_surfaces"),
    ("connectome", "step_connectome"),
    ("morphology", "step_morphology"),
    ("viewer", "step_viewer"),
]


def _resolve(module: str) -> Callable[[DemoContext], None]:
    """The ``demo_step`` function of ``connectoscope.demo.<module>`` (imported on use, so
    ``import connectoscope.demo`` stays light)."""
    step: Callable[[DemoContext], None] = importlib.import_module(
        f"connectoscope.demo.{module}"
    ).demo_step
    return step


def run_demo(
    out: Path | str = "connectoscope-demo",
    *,
    shape_xyz: tuple[int, int, int] = (512, 512, 256),
    cube: int = 256,
    seed: int = 0,
    workers: int = 2,
    force: bool = False,
    echo: Callable[[str], None] = print,
) -> DemoContext:
    """Run every demo step; returns the context with all outputs.

    Parameters
    ----------
    out : path-like
        Output folder (created).
    shape_xyz, cube, seed : synthetic data parameters.
    workers : int
        Workers for parallel steps.
    force : bool
        Replace an earlier demo folder at ``out``. Without it an existing, non-empty
        ``out`` is refused (like every other command). A folder that does not look like a
        demo's is refused even then.
    echo : callable
        Where progress lines go (``print`` by default).

    Raises
    ------
    DatasetExistsError
        ``out`` exists (without ``force``), or is not a demo folder.
    """
    out = Path(out).resolve()
    if out.exists() and (out.is_file() or any(out.iterdir())):
        is_demo = (out / "index.html").exists() or (out / "source" / "synth.json").exists()
        if not is_demo:
            raise DatasetExistsError(
                f"{out}: exists and does not look like a demo folder (no index.html); "
                "choose another --out"
            )
        if not force:
            raise DatasetExistsError(
                f"{out}: holds an earlier demo; pass --force to replace it or choose another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(out=out, shape_xyz=shape_xyz, cube=cube, seed=seed, workers=workers)
    t_all = time.perf_counter()
    timings: list[tuple[str, float]] = []
    n = len(STEPS)
    with executor(workers=workers):
        for i, (title, module) in enumerate(STEPS, 1):
            ctx.current_step = title
            echo(f"==> [{i}/{n}] {title} (elapsed {time.perf_counter() - t_all:.0f} s)")
            t0 = time.perf_counter()
            _resolve(module)(ctx)
            timings.append((title, time.perf_counter() - t0))
    total = time.perf_counter() - t_all
    page = write_report(ctx, timings, total)
    echo("")
    echo(f"connectoscope demo finished in {total:.1f} s. It made:")
    for o in ctx.outputs:
        echo(
            f"  {o.path.relative_to(out) if o.path.is_relative_to(out) else o.path}  -  {o.description}"
        )
    for note in ctx.notes:
        echo(f"  {note}")
    echo("")
    echo(f"Open the report page: {page}")
    for cmd in ctx.next_steps:
        echo(f"Next: {cmd}")
    return ctx
