"""The tutorial's figures from the API and the CLI, on hemibrain neurons and on skeletons
made from the synthetic dataset."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from PIL import Image

from connectoscope.cli import main
from connectoscope.dataset import Dataset
from connectoscope.errors import InvalidParameterError
from connectoscope.morphology import (
    Neuron,
    label_axon_dendrite,
    plot_neuron,
    plot_skeleton,
    read_swc,
)
from connectoscope.testing import require_shared
from connectoscope.transform import minnie65_transform

BID = "1734350788"


def _colours(png):
    im = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)
    return {tuple(c) for c in im[::7]}


@pytest.fixture(scope="module")
def neuron():
    sk = read_swc(require_shared(f"hemibrain-da1/swc/{BID}.swc"), units=8)
    syn = pd.read_csv(require_shared(f"hemibrain-da1/synapses/{BID}.csv"))
    n = Neuron.build(sk, synapses=syn, units=8).rerooted("soma")
    return n.with_compartments(label_axon_dendrite(n))


def test_projection_axes_contract(neuron):
    sk = neuron.skeleton
    ax = plot_skeleton(sk, view="zy", invert_y=True)
    lc = next(c for c in ax.collections if isinstance(c, LineCollection))
    assert len(lc.get_segments()) == len(sk) - sk.roots.size  # one segment per edge
    assert ax.get_aspect() == 1.0 and ax.yaxis_inverted()
    assert ax.get_xlabel() == "z (µm)" and ax.get_ylabel() == "y (µm)"
    labels = ax.get_legend_handles_labels()[1]
    assert {"axon", "dendrite", "soma"} <= set(labels)
    assert any(t.get_text().endswith(" µm") for t in ax.texts)  # the scale bar
    # segments in µm: the z extent matches the skeleton's
    seg = np.concatenate(lc.get_segments())
    assert seg[:, 0].max() == pytest.approx(sk.vertices[:, 2].max() / 1000)
    plt.close(ax.figure)
    with pytest.raises(InvalidParameterError, match="no feature 'colour'"):
        plot_skeleton(sk, color_by="colour")


def test_tutorial_figures_api_and_cli(neuron, tmp_path):
    out = {}
    for fig in ("compartments", "synapses", "dendrite_distance"):
        out[fig] = plot_neuron(neuron, tmp_path / f"{fig}.png", figure=fig, invert_y=True)
        assert out[fig].stat().st_size > 20000
    # the tutorial's colours: outputs dark violet, inputs teal, axon tomato; the dendrite-only
    # figure has no axon at all
    assert (148, 0, 211) in _colours(out["synapses"]) and (0, 128, 128) in _colours(out["synapses"])
    assert (255, 99, 71) in _colours(out["compartments"])
    assert (255, 99, 71) not in _colours(out["dendrite_distance"])
    swc = require_shared(f"hemibrain-da1/swc/{BID}.swc")
    syn = require_shared(f"hemibrain-da1/synapses/{BID}.csv")
    for fig in ("compartments", "synapses", "dendrite_distance"):
        png = tmp_path / f"cli_{fig}.png"
        args = [
            "skeleton",
            "plot",
            str(swc),
            "--units",
            "8",
            "--synapses",
            str(syn),
            "--syn-units",
            "8",
        ]
        args += ["--root", "soma", "--split-axon", "--figure", fig, "--invert-y", "-o", str(png)]
        assert main(args) == 0
        assert png.stat().st_size > 20000
    one = tmp_path / "one.png"
    assert (
        main(
            [
                "skeleton",
                "plot",
                str(swc),
                "--units",
                "8",
                "--color-by",
                "distance_to_root",
                "--view",
                "xz",
                "-o",
                str(one),
            ]
        )
        == 0
    )
    assert one.stat().st_size > 10000


def test_figure_in_minnie65_frame(neuron, tmp_path):
    p = plot_neuron(
        neuron,
        tmp_path / "frame.png",
        figure="synapses",
        views=("xy",),
        frame=minnie65_transform(),
        invert_y=True,
    )
    assert p.stat().st_size > 10000


@pytest.mark.slow
def test_figures_from_synthetic_skeletons(tmp_path):
    from connectoscope.morphology import skeletonize_dataset
    from connectoscope.segmentation import Selection, import_objects
    from connectoscope.sources.synthetic import generate
    from connectoscope.volume import ingest

    src = tmp_path / "synth"
    generate(src, shape_xyz=(256, 256, 128), cube=128, seed=3, progress=False)
    ds = Dataset(
        ingest(src / "segmentation", tmp_path / "s.cscope", layer="segmentation", workers=1).path
    )
    import_objects(ds, src / "objects.hdf5")
    sks = skeletonize_dataset(ds, Selection.parse(each="neuron"), level=1)
    cells = pd.read_parquet(src / "cells.parquet")
    syn = pd.read_parquet(src / "synapses.parquet")
    vs = json.loads((src / "synth.json").read_text())["voxel_size_nm"]
    nid, sk = max(sks.items(), key=lambda kv: len(kv[1]))
    assert sk.features["compartment"][sk.roots[0]] == 1  # rooted in the labelled soma
    rid = int(cells.loc[cells["neuron_id"] == nid, "pt_root_id"].iloc[0])
    n = Neuron.build(
        sk,
        inputs=syn[syn["post_pt_root_id"] == rid],
        outputs=syn[syn["pre_pt_root_id"] == rid],
        position="ctr_pt_position",
        units=vs,
        max_dist=2000,
    )
    assert len(n.inputs) > 10
    assert set(n.inputs["target"]) <= {"spine", "shaft", "soma"}  # the table's target column
    rep = n.forest_report()
    if rep["trees"] > 1:
        n = n.join_fragments(max_dist=1.5 * max(rep["gaps_nm"]))
    assert n.forest_report()["trees"] == 1
    n = n.rerooted("soma")
    for fig in ("compartments", "synapses", "dendrite_distance"):
        assert plot_neuron(n, tmp_path / f"syn_{fig}.png", figure=fig).stat().st_size > 10000
    # and from the CLI, on the SWC the skeletonizer stored in the dataset
    swc = ds.path / "skeletons" / f"{nid}.swc"
    table = tmp_path / "inputs.csv"
    n.inputs[["x_nm", "y_nm", "z_nm"]].rename(columns=lambda c: c[0]).to_csv(table, index=False)
    png = tmp_path / "cli_syn.png"
    assert (
        main(
            [
                "skeleton",
                "plot",
                str(swc),
                "--synapses",
                str(table),
                "--root",
                "soma",
                "--figure",
                "dendrite_distance",
                "-o",
                str(png),
            ]
        )
        == 0
    )
    assert png.stat().st_size > 10000


def test_cli_plot_with_masked_mesh(tmp_path, capsys):
    swc = require_shared(f"hemibrain-da1/swc/{BID}.swc")
    syn = require_shared(f"hemibrain-da1/synapses/{BID}.csv")
    obj = require_shared(f"hemibrain-da1/meshes/{BID}.obj")
    base = [
        "skeleton",
        "plot",
        str(swc),
        "--units",
        "8",
        "--synapses",
        str(syn),
        "--syn-units",
        "8",
    ]
    base += ["--root", "soma", "--split-axon", "--figure", "dendrite_distance", "--views", "xy"]
    with_mesh = tmp_path / "mesh.png"
    assert main([*base, "--mesh", str(obj), "--mesh-units", "8", "-o", str(with_mesh)]) == 0
    without = tmp_path / "plain.png"
    assert main([*base, "-o", str(without)]) == 0
    # the silhouette adds light grey pixels the plain figure does not have
    grey = np.asarray(Image.open(with_mesh).convert("RGB"), int)
    plain = np.asarray(Image.open(without).convert("RGB"), int)

    def light_grey(im):
        return int(
            ((im.min(axis=2) > 215) & (im.max(axis=2) < 245) & (np.ptp(im, axis=2) < 6)).sum()
        )

    assert light_grey(grey) > 2 * light_grey(plain) + 1000
    assert main([*base, "--mesh", str(tmp_path / "none.obj"), "-o", str(without)]) == 2
    assert "no such mesh file" in capsys.readouterr().err
