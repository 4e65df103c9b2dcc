"""Demo step: skeletons of the synthetic neurons with their synapses mapped and plotted."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..demo import DemoContext


def demo_step(ctx: DemoContext) -> None:
    import json

    import numpy as np
    import pandas as pd

    from ..dataset import Dataset
    from ..segmentation import Selection
    from . import map_synapses, plot_skeleton, skeletonize_dataset

    ds = Dataset(ctx.dataset_path)
    sks = skeletonize_dataset(ds, Selection.parse(each="neuron"), level=2)
    cells = pd.read_parquet(ctx.synth_dir / "cells.parquet")
    syn = pd.read_parquet(ctx.synth_dir / "synapses.parquet")
    vs = np.asarray(json.loads((ctx.synth_dir / "synth.json").read_text())["voxel_size_nm"], float)
    nid, sk = max(sks.items(), key=lambda kv: len(kv[1]))
    root_id = int(cells.loc[cells["neuron_id"] == nid, "pt_root_id"].iloc[0])
    inputs = syn[syn["post_pt_root_id"] == root_id]
    pts = (
        inputs[["ctr_pt_position_x", "ctr_pt_position_y", "ctr_pt_position_z"]].to_numpy(float) * vs
    )
    m = map_synapses(sk, pts, max_dist=2000, policy="keep")
    hit = m["vertex"].to_numpy() >= 0
    f = ctx.figures
    out = plot_skeleton(
        sk,
        f / f"skeleton_neuron{nid}_xy.png",
        color_by="distance_to_root",
        synapses_nm=pts[hit],
        synapse_values=m["distance_to_root_nm"].to_numpy()[hit] / 1000,
        synapse_label="input distance to soma (µm)",
    )
    info = sk.summary()
    ctx.note(
        f"skeletons: {len(sks)} neurons; neuron {nid}: {info['nodes']} nodes, cable "
        f"{info['cable_length_um']:.1f} µm, {int(hit.sum())} of {len(pts)} input synapses within 2 µm"
    )
    ctx.add(ds.path / "skeletons", "skeletons (Neuroglancer precomputed + SWC in µm)")
    ctx.add(
        out, f"skeleton of neuron {nid}, coloured by path distance to the soma, inputs overlaid"
    )
    ctx.next_steps.append(f"connectoscope skeleton info {ds.path / 'skeletons' / f'{nid}.swc'}")
