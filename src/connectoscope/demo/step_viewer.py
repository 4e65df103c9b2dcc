"""Demo step: synapse annotations written, the viewer state ready, a headless screenshot of
the viewer (when Chromium and Playwright are installed); print the view commands."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..dataset import Dataset
from ..errors import ConnectoscopeError
from ..segmentation import Selection
from ..viewer import ensure_annotations, screenshot, viewer_state

#: Overall limit of the demo's viewer screenshot (software WebGL in headless Chromium).
SCREENSHOT_TIMEOUT_S = 150.0

if TYPE_CHECKING:  # pragma: no cover
    from ._context import DemoContext


def demo_step(ctx: DemoContext) -> None:

    ds = Dataset(ctx.dataset_path)
    ann = ensure_annotations(ds)
    if ann is not None:
        info = json.loads((ann / "info").read_text())
        ctx.add(ann, "synapse annotations (Neuroglancer precomputed, sharded, spatial index)")
        ctx.note(
            f"viewer: {ds.layers['annotations']['n_synapses']} synapses as annotations, "
            f"{len(info['spatial'])} spatial index level"
            + ("s" if len(info["spatial"]) != 1 else "")
        )
    state = viewer_state(ds, "http://127.0.0.1:PORT/data", selection=Selection.parse(each="neuron"))
    names = ", ".join(layer["name"] for layer in state["layers"])
    ctx.note(f"viewer: {len(state['layers'])} layers ready ({names})")
    shot = ctx.figures / "viewer.png"
    cmd = f"connectoscope view {ds.path} --each neuron --screenshot viewer.png"
    try:
        screenshot(
            ds,
            shot,
            selection=Selection.parse(each="neuron"),
            size=(1280, 960),
            timeout_s=SCREENSHOT_TIMEOUT_S,
            annotations=False,
        )
        ctx.add(
            shot,
            "the viewer (Neuroglancer in headless Chromium): EM with the neurons in three "
            "planes and their meshes in 3-D",
            command=cmd,
        )
    except ConnectoscopeError as e:  # no Chromium/Playwright, or too slow: the demo goes on
        ctx.note(f"viewer screenshot skipped: {str(e).splitlines()[0]}")
    ctx.next_steps.append(
        f"connectoscope view {ds.path} --each neuron   # then open the printed URL"
    )
    ctx.next_steps.append(
        f"connectoscope view {ds.path} --each neuron --screenshot view.png   # headless"
    )
