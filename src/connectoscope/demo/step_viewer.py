"""Demo step: synapse annotations written, the viewer state ready; print the view commands."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..dataset import Dataset
from ..segmentation import Selection
from ..viewer import ensure_annotations, viewer_state

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
    ctx.next_steps.append(
        f"connectoscope view {ds.path} --each neuron   # then open the printed URL"
    )
    ctx.next_steps.append(
        f"connectoscope view {ds.path} --each neuron --screenshot view.png   # headless"
    )
