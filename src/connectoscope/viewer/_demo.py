"""Demo step: the viewer files are in place; print the command that opens them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..demo import DemoContext


def demo_step(ctx: DemoContext) -> None:
    from ..dataset import Dataset
    from ..segmentation import Selection
    from . import viewer_state

    ds = Dataset(ctx.dataset_path)
    state = viewer_state(ds, "http://127.0.0.1:PORT/data", selection=Selection.parse(each="neuron"))
    ctx.note(
        f"viewer: {len(state['layers'])} layers ready (EM, segmentation with meshes and skeletons)"
    )
    ctx.next_steps.append(
        f"connectoscope view {ds.path} --each neuron   # then open the printed URL"
    )
    ctx.next_steps.append(
        f"connectoscope view {ds.path} --each neuron --screenshot view.png   # headless"
    )
