"""Demo step: skeletons of the synthetic neurons, their synapses mapped, the tutorial's
three figures (compartments, inputs and outputs, dendrite-only distance to the soma)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..dataset import Dataset
from ..morphology import Neuron, plot_neuron, skeletonize_dataset
from ..segmentation import Selection

if TYPE_CHECKING:  # pragma: no cover
    from ._context import DemoContext


def demo_step(ctx: DemoContext) -> None:

    ds = Dataset(ctx.dataset_path)
    # level 0, pooled to at most 4 M voxels per neuron: thin axons survive (see skeletonize)
    sks = skeletonize_dataset(ds, Selection.parse(each="neuron"), level=0)
    cells = pd.read_parquet(ctx.synth_dir / "cells.parquet")
    syn = pd.read_parquet(ctx.synth_dir / "synapses.parquet")
    vs = np.asarray(json.loads((ctx.synth_dir / "synth.json").read_text())["voxel_size_nm"], float)
    nid, sk = max(sks.items(), key=lambda kv: len(kv[1]))
    root_id = int(cells.loc[cells["neuron_id"] == nid, "pt_root_id"].iloc[0])
    nrn = Neuron.build(
        sk,
        inputs=syn[syn["post_pt_root_id"] == root_id],
        outputs=syn[syn["pre_pt_root_id"] == root_id],
        position="ctr_pt_position",
        units=tuple(vs.tolist()),
        max_dist=2000,
        policy="drop",
    )
    forest = nrn.forest_report()  # one tree, rooted at the soma
    f = ctx.figures
    outs = {
        fig: plot_neuron(nrn, f / f"skeleton_neuron{nid}_{fig}.png", figure=fig)
        for fig in ("compartments", "synapses", "dendrite_distance")
    }
    info = nrn.summary()
    ctx.note(
        f"skeletons: {len(sks)} neurons, "
        f"{sum(int(s.roots.size == 1) for s in sks.values())} of them one soma-rooted tree; "
        f"neuron {nid}: {info['nodes']} nodes ({info['compartments']}), {forest['trees']} "
        f"tree, cable {info['cable_length_um']:.1f} µm, {info['inputs']} inputs and "
        f"{info['outputs']} outputs within 2 µm"
    )
    ctx.add(ds.layout.skeletons, "skeletons (Neuroglancer precomputed + SWC in µm)")
    ctx.add(outs["compartments"], f"skeleton of neuron {nid} by compartment (xy, zy, xz)")
    ctx.add(outs["synapses"], f"neuron {nid}: inputs (blue) and outputs (red) overlaid")
    ctx.add(
        outs["dendrite_distance"],
        f"neuron {nid} without axon, coloured by path distance to the soma, inputs overlaid",
    )
    ctx.next_steps.append(f"connectoscope skeleton info {ds.path / 'skeletons' / f'{nid}.swc'}")
