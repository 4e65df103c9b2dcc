"""The MICrONS-shaped synthetic connectome: shape, proportions, ids, units, distributions."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from connectoscope.connectome._synthetic import (
    MICRONS_CELL_TYPES,
    MICRONS_SHAPE,
    microns_shape,
    synthetic_microns,
    write_microns_connectome,
)
from connectoscope.errors import InvalidParameterError


def _check(syn: pd.DataFrame, cells: pd.DataFrame, n_syn: int, n_pre: int, n_post: int) -> None:
    assert len(syn) == n_syn
    assert syn["pre_pt_root_id"].nunique() == n_pre
    assert syn["post_pt_root_id"].nunique() == n_post
    for c in ("id", "pre_pt_root_id", "post_pt_root_id", "size", "ctr_pt_position_x"):
        assert syn[c].dtype == np.int64, c
    assert syn["id"].is_unique
    # 64-bit root ids above 2**53 (float64 cannot hold them), all in the cell table
    assert (syn["pre_pt_root_id"] > 2**53).all() and (cells["pt_root_id"] > 2**53).all()
    assert cells["pt_root_id"].is_unique
    roots = set(cells["pt_root_id"].tolist())
    assert set(syn["post_pt_root_id"].unique().tolist()) <= roots
    # every presynaptic cell is proofread (status_axon), and there are no others
    pre = cells.set_index("pt_root_id").loc[syn["pre_pt_root_id"].unique()]
    assert pre["status_axon"].all() and int(cells["status_axon"].sum()) == n_pre
    assert (cells["status_dendrite"] | ~cells["status_axon"]).all()
    assert set(cells["strategy_axon"]) <= {
        "axon_fully_extended",
        "axon_partially_extended",
        "none",
    }
    assert set(syn["tag"]) == {"spine", "shaft", "soma"}


def test_small_connectome_and_determinism(tmp_path):
    syn, cells = synthetic_microns(20_000, 40, 900, n_cells=1_500, seed=3)
    _check(syn, cells, 20_000, 40, 900)
    syn2, cells2 = synthetic_microns(20_000, 40, 900, n_cells=1_500, seed=3)
    pd.testing.assert_frame_equal(syn, syn2)
    pd.testing.assert_frame_equal(cells, cells2)
    other, _ = synthetic_microns(20_000, 40, 900, n_cells=1_500, seed=4)
    assert not other["size"].equals(syn["size"])
    # the written form is the same table, streamed in row groups
    info = write_microns_connectome(
        tmp_path / "m", n_synapses=20_000, n_pre=40, n_post=900, n_cells=1_500, seed=3,
        rows_per_group=4096,
    )  # fmt: skip
    back = pd.read_parquet(tmp_path / "m" / "synapses.parquet")
    pd.testing.assert_frame_equal(back, syn)
    assert info["n_synapses"] == 20_000 and info["voxel_size_nm"] == [4.0, 4.0, 40.0]
    import pyarrow.parquet as pq

    assert pq.ParquetFile(tmp_path / "m" / "synapses.parquet").num_row_groups > 1


def test_scaled_shape_and_errors():
    s = microns_shape(20_000)
    assert s["n_pre"] == 22 and s["n_post"] == 610 and s["n_cells"] == 766
    assert microns_shape(MICRONS_SHAPE["n_synapses"]) == {
        "n_pre": 2_275,
        "n_post": 63_718,
        "n_cells": 80_000,
    }
    with pytest.raises(InvalidParameterError, match="n_pre"):
        synthetic_microns(1_000, 50, 20, n_cells=100)
    with pytest.raises(InvalidParameterError, match="pairs"):
        synthetic_microns(100, 10, 200, n_cells=300)


@pytest.mark.slow
def test_microns_tutorial_shape(tmp_path):
    t0 = time.perf_counter()
    info = write_microns_connectome(tmp_path / "m", seed=0)
    dt = time.perf_counter() - t0
    syn = pd.read_parquet(tmp_path / "m" / "synapses.parquet")
    cells = pd.read_parquet(tmp_path / "m" / "cells.parquet")
    _check(syn, cells, 2_088_830, 2_275, 63_718)
    assert dt < 120  # seconds, even on a loaded 2-core machine
    # about 1.26 million connected pairs; most connections have one synapse, some many
    per_pair = syn.groupby(["pre_pt_root_id", "post_pt_root_id"]).size()
    assert abs(len(per_pair) - MICRONS_SHAPE["n_pairs"]) < 0.05 * MICRONS_SHAPE["n_pairs"]
    assert info["n_pairs"] == len(per_pair)
    counts = per_pair.value_counts()
    assert counts.idxmax() == 1 and per_pair.max() >= 10
    # cell types in the tutorial's proportions, E/I
    frac = cells["cell_type"].value_counts(normalize=True)
    for t, p in MICRONS_CELL_TYPES.items():
        assert abs(frac[t] - p) < 0.01, t
    inh = (cells["broad_type"] == "inhibitory").mean()
    assert 0.13 < inh < 0.17
    assert set(cells["classification_system"]) == {"excitatory_neuron", "inhibitory_neuron"}
    # depth by layer: L2/3 above L4 above L5 above L6 (y grows with depth)
    y = cells.groupby("cell_type")["pt_position_y"].median()
    assert y["23P"] < y["4P"] < y["5P-IT"] < y["6P-IT"]
    # sizes: log-normal (log roughly symmetric), positive
    ls = np.log(syn["size"].to_numpy())
    skew = ((ls - ls.mean()) ** 3).mean() / ls.std() ** 3
    assert abs(skew) < 0.3 and (syn["size"] > 0).all()
    # excitatory axons mostly onto spines, basket cells onto somata more than others
    pre_type = cells.set_index("pt_root_id")["cell_type"].reindex(syn["pre_pt_root_id"]).to_numpy()
    exc = ~np.isin(pre_type, ["BC", "MC", "BPC", "NGC"])
    assert (syn["tag"].to_numpy()[exc] == "spine").mean() > 0.5
    soma_bc = (syn["tag"].to_numpy()[pre_type == "BC"] == "soma").mean()
    assert soma_bc > 3 * (syn["tag"].to_numpy()[exc] == "soma").mean()
    # positions in 4 x 4 x 40 nm voxels inside the virtual 1.3 x 1 x 0.8 mm volume
    assert syn["ctr_pt_position_x"].between(-10_000, 1_300_000 / 4 + 10_000).all()
    assert syn["ctr_pt_position_z"].between(-1_000, 800_000 / 40 + 1_000).all()
