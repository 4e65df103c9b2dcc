"""Figures a reader can trust: integer axes on counts, units and legends everywhere, the
MICrONS tutorial's layout (figures 1-12), and CLI options that apply or are refused."""

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest

from connectoscope.cli import main
from connectoscope.connectome import (
    CellTable,
    ConnectivityMatrix,
    SynapseTable,
    plot_heatmap,
    plot_size_histograms,
    plot_somas,
    plot_synapses_per_connection,
    save_matrix,
)
from connectoscope.connectome import _plots as cplots
from connectoscope.morphology import Neuron, Skeleton, plot_neuron
from connectoscope.morphology import _plots as mplots


@pytest.fixture(scope="module")
def matrix():
    rng = np.random.default_rng(0)
    n = 120
    ct = rng.choice(["23P", "4P", "BC", "MC"], n, p=[0.45, 0.35, 0.12, 0.08])
    broad = np.where(np.isin(ct, ["BC", "MC"]), "inhibitory", "excitatory")
    ids = np.arange(1, n + 1) + 864691135000000000
    cells = pd.DataFrame(
        {
            "pt_root_id": ids,
            "cell_type": ct,
            "broad_type": broad,
            "status_axon": rng.random(n) < 0.3,
            "x_nm": rng.uniform(0, 5e5, n),
            "y_nm": rng.uniform(0, 8e5, n),
            "z_nm": rng.uniform(0, 2e5, n),
        }
    )
    pre, post = rng.choice(ids, 1500), rng.choice(ids, 1500)
    mult = np.where(np.isin(pre, ids[broad == "inhibitory"]), rng.geometric(0.4, 1500), 1)
    mult[::7] += 1
    pre, post = np.repeat(pre, mult), np.repeat(post, mult)
    syn = pd.DataFrame(
        {"pre_pt_root_id": pre, "post_pt_root_id": post, "size": rng.integers(20, 900, pre.size)}
    )
    return ConnectivityMatrix.from_synapses(SynapseTable.from_frame(syn), CellTable(cells))


@pytest.fixture
def figures(monkeypatch):
    """Keep each figure (instead of only its file) to look at its axes."""
    kept = []
    real = cplots._save

    def keep(fig, out):
        kept.append(fig)
        fig.canvas.draw()
        return real(fig, out)

    monkeypatch.setattr(cplots, "_save", keep)
    real_m = mplots._save_fig

    def keep_m(fig, p, *, dpi):
        kept.append(fig)
        fig.canvas.draw()
        return real_m(fig, p, dpi=dpi)

    monkeypatch.setattr(mplots, "_save_fig", keep_m)
    return kept


def _integer_ticks(axis):
    ticks = [t for t in axis.get_ticklocs() if axis.get_view_interval()[0] <= t]
    return len(ticks) > 1 and all(float(t).is_integer() for t in ticks)


def test_count_histograms_have_integer_axes(matrix, tmp_path, figures):
    plot_synapses_per_connection(matrix, tmp_path / "h.png")
    plot_synapses_per_connection(matrix, tmp_path / "ei.png", split_by="broad_type")
    one, split = figures
    for fig in (one, split):
        for ax in fig.axes:
            assert _integer_ticks(ax.xaxis), ax.xaxis.get_ticklocs()  # no 0.5, 1.5
            assert _integer_ticks(ax.yaxis), ax.yaxis.get_ticklocs()
            assert ax.get_xlabel() == "synapses per connection"
            # bars centred on whole numbers: the bin edges are halves
            edges = sorted({p.get_x() for p in ax.patches})
            assert all((e + 0.5).is_integer() for e in edges)
    assert one.axes[0].get_ylabel().startswith("connections")
    # E -> E (seagreen) and I -> E (deepskyblue), one panel each, as in the tutorial
    titles = [ax.get_title() for ax in split.axes]
    assert titles[0].startswith("excitatory-excitatory (E → E)")
    assert titles[1].startswith("inhibitory-excitatory (I → E)")
    rgb = [tuple(np.round(ax.patches[0].get_facecolor()[:3], 3)) for ax in split.axes]
    assert rgb == [(0.18, 0.545, 0.341), (0.0, 0.749, 1.0)]


def test_heatmaps_somas_and_sizes_are_labelled(matrix, tmp_path, figures):
    plot_heatmap(matrix, tmp_path / "b.png")
    plot_heatmap(matrix, tmp_path / "t.png", weight="log_sum", sort_by="cell_type")
    plot_somas(matrix, tmp_path / "s.png")
    plot_size_histograms(matrix, tmp_path / "z.png", split_by="broad_type")
    binary, typed, somas, sizes = figures
    cbar = binary.axes[-1]
    assert cbar.get_ylabel() == "connected (1) or not (0)" and list(cbar.get_yticks()) == [0, 1]
    assert "possible connections" in binary._suptitle.get_text()
    assert typed.axes[1].get_ylabel().startswith("ln summed synapse size (voxels)")
    legend = typed.legends[0]
    assert legend.get_title().get_text() == "cell_type"
    assert {t.get_text() for t in legend.get_texts()} == {"23P", "4P", "BC", "MC"}
    top, side = somas.axes[:2]
    assert top.get_ylabel().endswith("(µm)") and side.get_xlabel().endswith("(µm)")
    assert side.yaxis_inverted()  # depth down
    assert {t.get_text().split(" (")[0] for t in top.get_legend().get_texts()} == {"true", "false"}
    lin, log = sizes.axes
    assert lin.get_xlabel() == "summed synapse size per connection (voxels)"
    assert log.get_xscale() == "log" and _integer_ticks(lin.yaxis)
    assert len(lin.get_legend().get_texts()) == 2  # --split-by honoured: E->E and I->E


def test_cli_applies_or_refuses_every_option(matrix, tmp_path, capsys):
    conn = tmp_path / "conn"
    save_matrix(matrix, conn)
    out = str(tmp_path / "f.png")
    base = ["connectome", "plot", str(conn), "-o", out]
    for kind in ("heatmap", "hist", "size-hist", "somas", "types"):
        # the vertex filters work for every kind
        assert main([*base, "--kind", kind, "--post", "broad_type=excitatory"]) == 0, kind
    assert main([*base, "--kind", "size-hist", "--split-by", "broad_type"]) == 0
    refused = [
        (
            ["--kind", "size-hist", "--weight", "count"],
            "--weight does not apply to --kind size-hist",
        ),
        (["--kind", "hist", "--status", "x"], "--status does not apply to --kind hist"),
        (["--kind", "heatmap", "--split-by", "broad_type"], "--split-by does not apply"),
        (["--kind", "somas", "--sort-by", "cell_type"], "--sort-by does not apply"),
        (["--kind", "types", "--log"], "--log does not apply"),
        (["--kind", "hist", "--target", "inhibitory"], "--target needs --split-by"),
    ]
    capsys.readouterr()
    for extra, msg in refused:
        assert main([*base, *extra]) == 2, extra
        assert msg in capsys.readouterr().err


# ---------------------------------------------------------------- figures 8-12
@pytest.fixture(scope="module")
def neuron():
    # soma at 0, a dendrite down (3), an axon up (2); synapses with partners and targets
    n = 40
    verts = [[0, 0, 0]]
    parent = [-1]
    comp = [1]
    for i in range(1, n + 1):
        verts.append([i * 10.0, -i * 300.0, 0])
        parent.append(i - 1)
        comp.append(3)
    for i in range(1, n + 1):
        verts.append([0, i * 300.0, i * 20.0])
        parent.append(0 if i == 1 else n + i - 1)
        comp.append(2)
    ids = np.arange(1, len(verts) + 1)
    par = np.where(np.array(parent) >= 0, np.array(parent) + 1, -1)
    sk = Skeleton.from_parents(
        ids,
        par,
        np.array(verts, float),
        name="cell 9",
        features={"compartment": np.array(comp, np.int32), "radius": np.full(len(verts), 50.0)},
    )
    v = np.array(verts, float)
    rng = np.random.default_rng(1)
    i_in, i_out = rng.integers(1, n + 1, 60), rng.integers(n + 1, 2 * n + 1, 30)
    inputs = pd.DataFrame(
        {
            "x": v[i_in, 0],
            "y": v[i_in, 1],
            "z": v[i_in, 2],
            "pre_pt_root_id": np.arange(60) % 10,
            "tag": np.array(["spine", "shaft", "soma"])[np.arange(60) % 3],
        }
    )
    outputs = pd.DataFrame(
        {"x": v[i_out, 0], "y": v[i_out, 1], "z": v[i_out, 2], "post_pt_root_id": np.arange(30)}
    )
    return Neuron.build(sk, inputs=inputs, outputs=outputs).rerooted("soma")


def test_tutorial_figures_8_to_12(neuron, tmp_path, figures):
    for fig in ("compartments", "synapses", "known", "targets", "dendrite_distance"):
        plot_neuron(neuron, tmp_path / f"{fig}.png", figure=fig, known=range(5))
    comp, syn, known, targets, dist = figures
    assert [ax.get_title() for ax in comp.axes] == [
        "cell 9: projection xy",
        "cell 9: projection zy",
    ]
    for fig in figures:
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                assert "µm" in ax.get_ylabel()
                continue
            assert ax.get_xlabel().endswith("(µm)") and ax.get_ylabel().endswith("(µm)")
            assert ax.get_aspect() == 1.0
            assert any(t.get_text().endswith("µm") for t in ax.texts)  # scale bar
    labels = comp.axes[0].get_legend_handles_labels()[1]
    assert {"soma", "axon", "dendrite"} <= set(labels)
    out_ax, in_ax = syn.axes
    assert "outputs (30 total)" in out_ax.get_legend_handles_labels()[1]
    assert "inputs (60 total)" in in_ax.get_legend_handles_labels()[1]
    # partners 0-4 are known: half of the 60 inputs, 5 of the 30 outputs
    assert "30 from known cells" in known.axes[1].get_legend_handles_labels()[1]
    assert "5 to known cells" in known.axes[0].get_legend_handles_labels()[1]
    tl = targets.axes[1].get_legend_handles_labels()[1]
    assert {"spine (20)", "shaft (20)", "soma (20)"} <= set(tl)
    cbar = [ax for ax in dist.axes if ax.get_label() == "<colorbar>"]
    assert cbar and cbar[0].get_ylabel() == "path distance to the soma (µm)"
    assert dist.axes[0].get_title() == "cell 9: dendrite only (mask compartment != axon)"


def test_skeleton_plot_cli_options_apply_or_are_refused(neuron, tmp_path, capsys):
    from connectoscope.morphology import write_swc

    swc = write_swc(neuron.skeleton, tmp_path / "n.swc", units=1)
    syn = tmp_path / "syn.csv"
    neuron.inputs[["x_nm", "y_nm", "z_nm", "pre_pt_root_id", "target"]].rename(
        columns={"x_nm": "x", "y_nm": "y", "z_nm": "z"}
    ).to_csv(syn, index=False)
    cells = tmp_path / "cells.csv"
    pd.DataFrame({"pt_root_id": range(5)}).to_csv(cells, index=False)
    base = ["skeleton", "plot", str(swc), "--units", "1", "--synapses", str(syn), "--root", "soma"]
    out = str(tmp_path / "k.png")
    assert main([*base, "--figure", "known", "--known", str(cells), "-o", out]) == 0
    assert main([*base, "--figure", "targets", "-o", out]) == 0
    capsys.readouterr()
    for extra, msg in (
        (["--figure", "synapses", "--color-by", "radius"], "--color-by is for the single"),
        (["--views", "xy"], "--views is for --figure"),
        (["--known", str(cells)], "--known is for --figure known"),
        (["--figure", "known"], "--figure known needs --known"),
    ):
        assert main([*base, *extra, "-o", out]) == 2, extra
        assert msg in capsys.readouterr().err


def test_units_take_x_or_xyz_and_map_synapses_has_unique_columns(neuron, tmp_path, capsys):
    from connectoscope.morphology import write_swc

    swc = write_swc(neuron.skeleton, tmp_path / "n.swc", units=1)
    vs = np.array([11.24, 11.24, 28.0])
    t = neuron.inputs[["x_nm", "y_nm", "z_nm", "target"]].copy()
    t[["x", "y", "z"]] = t[["x_nm", "y_nm", "z_nm"]].to_numpy() / vs  # voxel positions
    syn = tmp_path / "syn.csv"
    t[["x", "y", "z", "target"]].to_csv(syn, index=False)
    out = tmp_path / "m.csv"
    argv = ["skeleton", "map-synapses", str(swc), str(syn), "--units", "1"]
    assert main([*argv, "--syn-units", "11.24,11.24,28", "-o", str(out)]) == 0
    header = out.read_text().splitlines()[0].split(",")
    assert header.count("target") == 1 and len(set(header)) == len(header)  # was twice
    got = pd.read_csv(out)
    assert (got["distance_nm"] < 1e-6).all()  # voxels x (11.24, 11.24, 28) = the vertices
    assert main([*argv, "--syn-units", "11.24", "-o", str(out)]) == 0  # one number: all axes
    with pytest.raises(SystemExit) as e:  # argparse refuses it, naming the forms
        main([*argv, "--syn-units", "1,2", "-o", str(out)])
    assert e.value.code == 2 and "X or X,Y,Z" in capsys.readouterr().err
    # an SWC in voxels of anisotropic data reads with --units X,Y,Z
    vox = tmp_path / "vox.swc"
    conv = ["skeleton", "convert", str(swc), str(vox), "--units", "1"]
    assert main([*conv, "--out-units", "11.24,11.24,28"]) == 0
    capsys.readouterr()
    assert main(["skeleton", "info", str(vox), "--units", "11.24,11.24,28", "--json"]) == 0
    import json

    info = json.loads(capsys.readouterr().out)
    assert info["cable_length_nm"] == pytest.approx(neuron.skeleton.summary()["cable_length_nm"])
