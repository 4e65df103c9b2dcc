"""ConnectivityMatrix: full and condensed forms, aggregations, selections and analyses,
checked on a hand-made table and against pandas as a second oracle, with 64-bit ids."""

import numpy as np
import pandas as pd
import pytest

from connectoscope.connectome import (
    CellTable,
    ConnectivityMatrix,
    SynapseTable,
    synthetic_synapses,
)
from connectoscope.errors import ConnectoscopeWarning, DataFormatError, InvalidParameterError

BIG = 864691135000000000
HUGE = 2**63 + 100


def toy():
    pre = np.array([BIG + 1, BIG + 1, BIG + 1, BIG + 2, BIG + 3, BIG + 3], np.int64)
    post = np.array([BIG + 2, BIG + 2, BIG + 3, BIG + 1, BIG + 1, BIG + 3], np.int64)
    syn = SynapseTable.from_frame(
        pd.DataFrame({"pre_pt_root_id": pre, "post_pt_root_id": post, "size": [10, 30, 5, 7, 1, 2]})
    )
    cells = CellTable(
        pd.DataFrame(
            {
                "pt_root_id": [BIG + 1, BIG + 2, BIG + 3],
                "broad_type": ["excitatory", "inhibitory", "excitatory"],
                "cell_type": ["23P", "BC", "4P"],
                "status_axon": [True, False, True],
            }
        )
    )
    return ConnectivityMatrix.from_synapses(syn, cells)


def test_condensed_and_sparse_weights():
    m = toy()
    assert m.shape == (3, 3) and m.n_synapses == 6 and m.n_pairs == 5
    c = m.condensed.set_index(["pre", "post"])
    assert c.index.get_level_values(0).dtype == np.int64
    assert c.loc[(BIG + 1, BIG + 2)].tolist() == [0, 1, 2, 40, 20]
    assert m.dense("count").tolist() == [[0, 2, 1], [1, 0, 0], [1, 0, 1]]
    assert m.dense("binary").sum() == 5 and m.matrix("binary").dtype == np.int8
    np.testing.assert_allclose(m.dense("log_sum")[0, 1], np.log10(40))
    np.testing.assert_allclose(m.dense("mean")[0, 1], 20)
    assert m.dense("min")[0, 1] == 10 and m.dense("max")[0, 1] == 30
    ext = m.aggregate(("size_min", "size_max", "any", "log_sum", "size_log_sum"))
    row = ext[(ext.pre == BIG + 1) & (ext.post == BIG + 2)].iloc[0]
    assert (row["size_min"], row["size_max"], row["any"]) == (10, 30, True)
    assert row["log_sum"] == row["size_log_sum"] == np.log10(40)
    cu = m.aggregate({"total": ("size", "sum"), "n": ("size", "count"), "big": ("size", "max")})
    assert cu[["total", "n", "big"]].iloc[0].tolist() == [40, 2, 30]
    with pytest.raises(InvalidParameterError, match="weight must be one of"):
        m.matrix("median")
    with pytest.raises(InvalidParameterError, match="unknown aggregation"):
        m.aggregate(("size_median",))
    with pytest.raises(DataFormatError, match="no per-synapse column 'cleft'"):
        m.aggregate(("cleft_sum",))
    with pytest.raises(InvalidParameterError, match="too large"):
        m.dense(max_cells=4)


def test_callable_aggregation_works_but_warns_with_the_alternative():
    m = toy()
    with pytest.warns(ConnectoscopeWarning, match=r"vectorised.*'size', 'sum' \| 'mean'"):
        f = m.aggregate({"med": ("size", np.median)})
    assert f[(f.pre == BIG + 1) & (f.post == BIG + 2)]["med"].iloc[0] == 20.0


def test_compress_and_condense_have_connectome_utilities_meanings():
    m = toy()
    c = m.compress(("count", "size_sum", "size_max"))
    assert not c.is_full and c.n_pairs == 5 and c.n_synapses == 6
    assert c.dense("count").tolist() == m.dense("count").tolist()
    assert c.condensed["size_max"].tolist() == m.aggregate(("size_max",))["size_max"].tolist()
    q = m.condense("broad_type")
    assert q.shape == (2, 2) and q.n_synapses == 6
    assert q.pre_vertices["broad_type"].tolist() == ["excitatory", "inhibitory"]
    assert q.pre_vertices["n_pre"].tolist() == [2, 1]
    assert q.dense("count").tolist() == [[3, 2], [1, 0]]
    qc = c.condense("broad_type")  # from the condensed form: same synapse counts, plus pairs
    assert qc.dense("count").tolist() == [[3, 2], [1, 0]]
    assert qc.condensed.set_index(["pre", "post"])["pairs"].to_dict()[(0, 0)] == 3
    assert m.condense(["broad_type", "cell_type"]).shape == (3, 3)
    with pytest.raises(InvalidParameterError, match="no pre vertex property"):
        m.condense("nope")


def test_selections_return_new_matrices_with_exact_ids():
    m = toy()
    e = m.index("broad_type").eq("excitatory")
    assert e.shape == (2, 2) and e.n_synapses == 3
    assert e.pre_ids.tolist() == [BIG + 1, BIG + 3]
    ie = m.pre.index("broad_type").eq("inhibitory").post.index("broad_type").eq("excitatory")
    assert ie.shape == (1, 2) and ie.n_synapses == 1
    f = m.filter("broad_type", "pre").eq("inhibitory")  # edge filter keeps every vertex
    assert f.shape == (3, 3) and f.n_synapses == 1
    assert m.pre.filter("broad_type").eq("excitatory").n_synapses == 5
    assert m.pre.index("status_axon").eq(True).shape == (2, 3)
    assert m.pre.index("status_axon").eq("true").shape == (2, 3)  # CLI strings coerced
    assert m.index("cell_type").isin(["23P", "BC"]).shape == (2, 2)
    assert m.index("cell_type").ne("23P").shape == (2, 2)
    assert m.filter_synapses("size").gt(6).n_synapses == 3
    sub = m.subpopulation(pre=[BIG + 3], post=np.array([BIG + 1], np.uint64))
    assert sub.n_synapses == 1 and sub.pre_ids.tolist() == [BIG + 3]
    assert m.pre.ids([BIG + 1]).n_synapses == 3
    po = m.proofread_outputs()  # proofread axons onto cells with a known type
    assert po.shape == (2, 3) and po.n_synapses == 5
    with pytest.raises(InvalidParameterError, match="properties: broad_type"):
        m.index("nope")
    # selections of the condensed form
    c = m.compress()
    assert c.index("broad_type").eq("excitatory").n_synapses == 3


def test_analyses():
    m = toy()
    assert m.synapses_per_connection().to_dict() == {1: 4, 2: 1}
    out_deg, in_deg = m.degree()
    assert out_deg.to_dict() == {BIG + 1: 2, BIG + 2: 1, BIG + 3: 2}
    assert in_deg.to_dict() == {BIG + 1: 2, BIG + 2: 1, BIG + 3: 2}
    assert m.reciprocal_pairs() == 2
    assert m.connection_probability() == pytest.approx(4 / 6)
    assert m.connection_probability(exclude_self=False) == pytest.approx(5 / 9)
    tt = m.type_by_type("broad_type")
    assert tt.loc["excitatory", "inhibitory"] == 2 and tt.loc["excitatory", "excitatory"] == 3
    assert m.type_by_type("broad_type", weight="pairs").loc["excitatory", "excitatory"] == 3
    assert m.type_by_type("broad_type", weight="sum").loc["excitatory", "inhibitory"] == 40
    p = m.type_by_type("broad_type", weight="probability")
    assert p.loc["excitatory", "excitatory"] == pytest.approx(2 / 2)  # 1->3, 3->1; 3->3 is self
    assert p.loc["inhibitory", "excitatory"] == pytest.approx(1 / 2)
    perm, labels = m.sort_by("cell_type")
    assert labels == ["23P", "4P", "BC"] and perm.tolist() == [0, 2, 1]
    _perm2, labels2 = m.sort_by("cell_type", order=["BC", "4P", "23P"])
    assert labels2 == ["BC", "4P", "23P"]
    st = m.stats()
    assert st["autapses"] == 1 and st["connected_pairs"] == 5 and st["size_sum"] == 55
    sq = m.square()
    assert sq.shape == (3, 3) and sq.pre_vertices["is_pre"].all()


def _oracle_tables(rng, n=3000, huge=False):
    base = np.uint64(HUGE) if huge else np.uint64(BIG)
    pre = base + rng.integers(0, 40, n).astype(np.uint64) * np.uint64(7919)
    post = base + rng.integers(0, 60, n).astype(np.uint64) * np.uint64(104729)
    dtype = np.uint64 if huge else np.int64
    return pd.DataFrame(
        {
            "pre": pre.astype(dtype),
            "post": post.astype(dtype),
            "size": rng.integers(1, 500, n),
        }
    )


@pytest.mark.parametrize("huge", [False, True])
def test_against_pandas_oracle_with_64bit_ids(rng, huge):
    df = _oracle_tables(rng, huge=huge)
    m = ConnectivityMatrix.from_synapses(df)
    assert m.pre_ids.dtype == (np.uint64 if huge else np.int64)
    got = m.aggregate(("count", "size_sum", "size_mean", "size_min", "size_max")).set_index(
        ["pre", "post"]
    )
    ref = df.groupby(["pre", "post"])["size"].agg(["count", "sum", "mean", "min", "max"])
    assert got.index.equals(ref.index)  # same exact ids, same order (sorted)
    np.testing.assert_array_equal(got["count"], ref["count"])
    np.testing.assert_array_equal(got["size_sum"], ref["sum"])
    np.testing.assert_allclose(got["size_mean"], ref["mean"])
    np.testing.assert_array_equal(got["size_min"], ref["min"])
    np.testing.assert_array_equal(got["size_max"], ref["max"])
    # degrees and reciprocity against brute force
    out_deg, _ = m.degree()
    assert out_deg.to_dict() == ref.reset_index().groupby("pre").size().to_dict()
    pairs = set(ref.index)
    recip = {frozenset(p) for p in pairs if p[0] != p[1] and (p[1], p[0]) in pairs}
    assert m.reciprocal_pairs() == len(recip)
    # selection by id list keeps exact ids
    keep = [int(x) for x in m.pre_ids[:3]]
    sub = m.subpopulation(pre=keep)
    assert [int(x) for x in sub.pre_ids] == keep
    assert sub.n_synapses == int(df["pre"].isin(np.array(keep, df["pre"].dtype)).sum())
    # the condensed matrix equals the pandas count matrix
    dense = m.dense("count")
    ct = df.pivot_table(index="pre", columns="post", values="size", aggfunc="count", fill_value=0)
    np.testing.assert_array_equal(dense, ct.to_numpy())


def test_rectangular_vertices_and_explicit_id_lists():
    df = pd.DataFrame({"pre": [BIG + 1, BIG + 1, BIG + 2], "post": [BIG + 5, BIG + 6, BIG + 5]})
    m = ConnectivityMatrix.from_synapses(df, pre_ids=[BIG + 1, BIG + 9], post_ids=[BIG + 5])
    assert m.shape == (2, 1) and m.n_synapses == 1 and m.dropped == 2
    assert m.pre_ids.tolist() == [BIG + 1, BIG + 9]


def test_synthetic_microns_shape_small():
    df = synthetic_synapses(20_000, 50, 400, 12_000, seed=3)
    assert len(df) == 20_000 and df["pre_pt_root_id"].dtype == np.uint64
    assert int(df["pre_pt_root_id"].min()) > 2**53
    assert len(df.drop_duplicates(["pre_pt_root_id", "post_pt_root_id"])) == 12_000
    assert df.equals(synthetic_synapses(20_000, 50, 400, 12_000, seed=3))  # seeded
    m = ConnectivityMatrix.from_synapses(df)
    assert m.shape == (50, 400) and m.n_pairs == 12_000
