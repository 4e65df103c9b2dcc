"""Demo step: skeletons of the synthetic neurons, their synapses mapped, the tutorial's
figures 8-12 (compartments, inputs and outputs, partners among known cells, synapse targets,
dendrite-only distance to the soma)."""

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
    # "known" partners (figure 10): cells whose axon is proofread, as in the tutorial
    proofread = cells["status_axon"].astype(bool) if "status_axon" in cells else cells.index >= 0
    known = cells.loc[proofread, "pt_root_id"].to_numpy(np.int64)
    outs = {
        fig: plot_neuron(nrn, f / f"skeleton_neuron{nid}_{fig}.png", figure=fig, known=known)
        for fig in ("compartments", "synapses", "known", "targets", "dendrite_distance")
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
    ctx.add(
        outs["compartments"],
        f"skeleton of neuron {nid} by compartment (xy, zy, xz)",
        tutorial=8,
    )
    ctx.add(outs["synapses"], f"neuron {nid}: inputs (blue) and outputs (red) overlaid", tutorial=9)
    ctx.add(
        outs["known"],
        f"neuron {nid}: synapses with partners among the {len(known)} proofread cells",
        tutorial=10,
    )
    ctx.add(outs["targets"], f"neuron {nid}: input targets (spine, shaft, soma)", tutorial=11)
    ctx.add(
        outs["dendrite_distance"],
        f"neuron {nid} without axon, coloured by path distance to the soma, inputs overlaid",
        tutorial=12,
    )
    ctx.next_steps.append(f"connectoscope skeleton info {ds.path / 'skeletons' / f'{nid}.swc'}")
