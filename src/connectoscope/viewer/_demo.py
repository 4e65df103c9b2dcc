"""Demo step: a headless screenshot of the viewer (when Chromium is installed) and the
command to open it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..demo import DemoContext


def demo_step(ctx: DemoContext) -> None:
    from ..dataset import Dataset
    from ..errors import DependencyMissingError
    from ..segmentation import Selection
    from . import find_chromium, screenshot

    ds = Dataset(ctx.dataset_path)
    try:
        find_chromium()
    except DependencyMissingError as e:
        ctx.note(f"viewer screenshot skipped: {e}")
    else:
        out = screenshot(
            ds,
            ctx.figures / "viewer.png",
            selection=Selection.parse(each="neuron"),
            size=(1000, 750),
        )
        ctx.add(out, "Neuroglancer (headless): EM, segmentation, neuron meshes")
    ctx.next_steps.append(
        f"connectoscope view {ds.path} --each neuron   # then open the printed URL"
    )
