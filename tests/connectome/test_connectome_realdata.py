"""Real connectomes: MICrONS pinky100 (64-bit root ids, autapses, duplicate soma ids) and the
C. elegans connectomes (named cells), against the figures in their reference.json."""

import numpy as np
import pandas as pd
import pytest

from connectoscope.connectome import CellTable, ConnectivityMatrix, SynapseTable
from connectoscope.errors import ConnectoscopeWarning, DataFormatError
from connectoscope.testing import reference, require_shared

pytestmark = pytest.mark.realdata

PINKY_COLUMNS = {"pre": "pre_root_id", "post": "post_root_id", "size": "cleft_vx"}


@pytest.fixture(scope="module")
def pinky():
    syn = SynapseTable.read(
        require_shared("microns-pinky100/soma_subgraph_synapses_spines_v185.csv"),
        columns={**PINKY_COLUMNS, "x": "ctr_pos_x_vx", "y": "ctr_pos_y_vx", "z": "ctr_pos_z_vx"},
        voxel_size=(4, 4, 40),
    )
    return syn, ConnectivityMatrix.from_synapses(syn)


def test_microns_pinky100_reference(pinky):
    ref = reference("microns-pinky100")
    syn, m = pinky
    assert syn.pre.dtype == np.int64 and int(syn.pre.min()) > 2**53
    st = m.stats()
    assert st["synapses"] == ref["n_synapses"]
    assert st["connected_pairs"] == ref["n_unique_pairs"]
    assert (st["pre_vertices"], st["post_vertices"]) == (ref["n_pre"], ref["n_post"])
    assert len(np.union1d(m.pre_ids, m.post_ids)) == ref["n_cells"]
    assert st["max_synapses_per_pair"] == ref["max_synapses_per_pair"]
    assert st["synapses_per_connection"] == {
        int(k): v for k, v in ref["pair_multiplicity_hist"].items()
    }
    assert st["max_out_degree"] == ref["max_out_degree"]
    assert st["max_in_degree"] == ref["max_in_degree"]
    assert st["autapses"] == ref["self_synapses"]
    assert st["reciprocal_pairs"] == ref["reciprocal_pairs_offdiag"]
    assert st["size_sum"] == ref["cleft_vx_sum"]
    assert float(np.median(syn.size)) == ref["cleft_vx_median"]
    c = m.condensed
    top = c[c["count"] == c["count"].max()]
    assert ref["max_pair"] in [[str(a), str(b)] for a, b in zip(top["pre"], top["post"])]
    # positions: voxels x 4 x 4 x 40 nm give exactly the table's nm columns
    assert np.array_equal(syn.df["x_nm"], syn.df["ctr_pt_x_nm"])
    assert np.array_equal(syn.df["z_nm"], syn.df["ctr_pt_z_nm"])
    spine = m.aggregate(("spine_vol_um3_sum",))["spine_vol_um3_sum"].sum()
    assert spine == pytest.approx(ref["spine_vol_um3_sum"])


def test_microns_pinky100_soma_table_duplicates_and_policy(pinky):
    ref = reference("microns-pinky100")
    soma = require_shared("microns-pinky100/soma_valence_v185.csv")
    with pytest.raises(DataFormatError, match="3 ids listed more than once") as e:
        CellTable.read(soma)
    for dup in ref["valence_duplicate_roots"]:
        assert dup in str(e.value)
    assert "duplicates='first'" in str(e.value)
    with pytest.warns(ConnectoscopeWarning, match="3 duplicate ids"):
        dropped = CellTable.read(soma, duplicates="drop", voxel_size=(4, 4, 40))
    assert len(dropped) == ref["valence_unique_roots"] - 3
    with pytest.warns(ConnectoscopeWarning):
        first = CellTable.read(soma, duplicates="first", voxel_size=(4, 4, 40))
    assert len(first) == ref["valence_unique_roots"]
    assert first.df["cell_type"].value_counts().sum() == ref["valence_unique_roots"]
    _, _m = pinky
    full = ConnectivityMatrix.from_synapses(
        SynapseTable.read(
            require_shared("microns-pinky100/soma_subgraph_synapses_spines_v185.csv"),
            columns=PINKY_COLUMNS,
        ),
        first,
    )
    assert full.unmatched_synapses == 0  # every pre and post cell is in the soma table
    assert set(full.pre_vertices["cell_type"]) == {"e"} and set(
        full.post_vertices["cell_type"]
    ) == {"e"}
    # soma x in nm from the pt_position voxels (the table's soma_*_nm are known to be wrong)
    assert np.array_equal(first.df["x_nm"], first.df["soma_x_nm"])
    tt = full.type_by_type("cell_type", weight="count")
    assert int(tt.loc["e", "e"]) == ref["n_synapses"]


def _cook(key):
    ref = reference("celegans")[key]
    _, sex, kind = key.split("/")
    df = pd.read_csv(require_shared("celegans/cook2019_edges.csv"))
    df = df[(df.sex == sex) & (df.type == kind)]
    return ref, df


@pytest.mark.parametrize(
    "key",
    [
        "cook2019/hermaphrodite/chemical",
        "cook2019/hermaphrodite/gap_junction",
        "cook2019/male/chemical",
        "cook2019/male/gap_junction",
    ],
)
def test_celegans_cook2019_named_cells(key):
    ref, df = _cook(key)
    names = pd.Index(sorted(set(df.pre) | set(df.post)))
    syn = pd.DataFrame(
        {"pre": names.get_indexer(df.pre), "post": names.get_indexer(df.post), "size": df.weight}
    )
    cells = pd.DataFrame({"pt_root_id": np.arange(len(names)), "name": names})
    m = ConnectivityMatrix.from_synapses(syn, cells)
    assert m.n_synapses == ref["n_rows"] == m.n_pairs  # one row per matrix cell
    assert m.aggregate(("size_sum",))["size_sum"].sum() == ref["weight_sum"]
    assert m.shape == (ref["n_pre"], ref["n_post"])
    assert len(names) == ref["n_cells"]
    out_deg, in_deg = m.degree()
    assert out_deg.max() == ref["max_out_degree"][0]
    assert m.pre_vertices.loc[out_deg.idxmax(), "name"] == ref["max_out_degree"][1]
    assert in_deg.max() == ref["max_in_degree"][0]
    assert m.post_vertices.loc[in_deg.idxmax(), "name"] == ref["max_in_degree"][1]
    assert m.dense("max").max() == ref["max_weight"]
    assert m.stats()["autapses"] == ref["self_loops"]
    if kind_is_gap(key):  # symmetric: every junction both ways
        sq = m.square().dense("sum")
        assert np.array_equal(sq, sq.T)


def kind_is_gap(key):
    return key.endswith("gap_junction")


@pytest.mark.parametrize("dataset", ["witvliet_2020_1 L1", "witvliet_2020_8 adult"])
def test_celegans_witvliet2020(dataset):
    refs = reference("celegans")
    df = pd.read_csv(require_shared("celegans/witvliet2020_edges.csv"))
    df = df[(df.dataset == dataset) & (df.type == "chemical")]
    ref = refs[f"witvliet2020/{dataset}/chemical"]
    names = pd.Index(sorted(set(df.pre) | set(df.post)))
    m = ConnectivityMatrix.from_condensed(
        pd.DataFrame(
            {
                "pre": names.get_indexer(df.pre),
                "post": names.get_indexer(df.post),
                "count": df.synapses.to_numpy(),
            }
        ),
        pd.DataFrame({"id": np.arange(len(names)), "name": names}),
    )
    assert m.n_pairs == ref["n_unique_pairs"] and m.n_synapses == ref["synapse_sum"]
    assert len(names) == ref["n_cells"]
    out_deg, in_deg = m.degree()
    assert [int(out_deg.max()), m.pre_vertices.loc[out_deg.idxmax(), "name"]] == ref[
        "max_out_degree"
    ]
    assert [int(in_deg.max()), m.post_vertices.loc[in_deg.idxmax(), "name"]] == ref["max_in_degree"]
