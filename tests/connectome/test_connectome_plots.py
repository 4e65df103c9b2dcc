"""Connectome figures from the API: every kind, PNG and SVG, and a MICrONS-sized heatmap
rendered in seconds."""

import time

import numpy as np
import pandas as pd
import pytest

from connectoscope.connectome import (
    CellTable,
    ConnectivityMatrix,
    plot_heatmap,
    plot_size_histograms,
    plot_somas,
    plot_synapses_per_connection,
    plot_type_by_type,
    synthetic_synapses,
)
from connectoscope.errors import InvalidParameterError


@pytest.fixture(scope="module")
def typed():
    df = synthetic_synapses(30_000, 120, 900, 20_000, seed=1, positions=True)
    ids = np.union1d(df["pre_pt_root_id"], df["post_pt_root_id"])
    rng = np.random.default_rng(2)
    types = rng.choice(["23P", "4P", "BC", "MC"], ids.size)
    cells = CellTable(
        pd.DataFrame(
            {
                "pt_root_id": ids,
                "cell_type": types,
                "broad_type": np.where(np.isin(types, ["BC", "MC"]), "inhibitory", "excitatory"),
                "status_axon": rng.random(ids.size) < 0.3,
                "pt_position_x": rng.integers(0, 5000, ids.size),
                "pt_position_y": rng.integers(0, 5000, ids.size),
                "pt_position_z": rng.integers(0, 500, ids.size),
            }
        ),
        voxel_size=(4, 4, 40),
    )
    return ConnectivityMatrix.from_synapses(df, cells, missing_cells="error"), cells


def test_every_figure_kind(tmp_path, typed):
    m, cells = typed
    for weight in ("binary", "count", "sum", "log_sum"):
        p = plot_heatmap(m, tmp_path / f"h_{weight}.png", weight=weight, sort_by="cell_type")
        assert p.stat().st_size > 10_000
    assert plot_heatmap(m, tmp_path / "h.svg").read_text().lstrip().startswith("<?xml")
    assert plot_synapses_per_connection(m, tmp_path / "spc.png").stat().st_size > 5000
    ei = plot_synapses_per_connection(m, tmp_path / "ei.png", split_by="broad_type")
    assert ei.stat().st_size > 5000
    assert plot_size_histograms(m, tmp_path / "size.png").stat().st_size > 5000
    assert plot_somas(cells, tmp_path / "somas.png").stat().st_size > 5000
    assert plot_somas(m, tmp_path / "somas_m.png").stat().st_size > 5000
    for w in ("probability", "count", "mean_count"):
        assert plot_type_by_type(m, tmp_path / f"t_{w}.png", weight=w).stat().st_size > 5000
    with pytest.raises(InvalidParameterError, match="weight must be one of"):
        plot_heatmap(m, tmp_path / "x.png", weight="mean")
    with pytest.raises(InvalidParameterError, match="no soma positions"):
        plot_somas(pd.DataFrame({"status_axon": [True]}), tmp_path / "x.png")


def test_microns_sized_heatmap_renders_in_seconds(tmp_path):
    df = synthetic_synapses(seed=0)  # 2,088,830 synapses, 2,275 x 63,718
    m = ConnectivityMatrix.from_synapses(df)
    assert m.shape == (2275, 63718) and m.n_pairs == 1_260_000
    m.pre_vertices["cell_type"] = np.arange(m.shape[0]) % 5
    m.post_vertices["cell_type"] = np.arange(m.shape[1]) % 5
    m._pair_index()
    t0 = time.perf_counter()
    p = plot_heatmap(m, tmp_path / "big.png", weight="log_sum", sort_by="cell_type")
    assert time.perf_counter() - t0 < 10 and p.stat().st_size > 50_000
