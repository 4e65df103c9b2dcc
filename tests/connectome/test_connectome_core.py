import numpy as np
import pandas as pd
import pytest

from connectoscope.cli import main
from connectoscope.connectome import CellTable, ConnectivityMatrix, SynapseTable, load_matrix
from connectoscope.errors import ConnectoscopeWarning, DataFormatError, InvalidParameterError
from connectoscope.testing import reference, require_shared

BIG = 864691135000000000  # > 2**53: float64 cannot hold these exactly


def _toy():
    pre = np.array([BIG + 1, BIG + 1, BIG + 1, BIG + 2, BIG + 3, BIG + 3], np.int64)
    post = np.array([BIG + 2, BIG + 2, BIG + 3, BIG + 1, BIG + 1, BIG + 3], np.int64)
    size = np.array([10.0, 30.0, 5.0, 7.0, 1.0, 2.0])
    syn = SynapseTable.from_frame(
        pd.DataFrame({"pre_pt_root_id": pre, "post_pt_root_id": post, "size": size})
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
    return syn, cells


def test_condensed_and_sparse_weights_exact_64bit():
    syn, cells = _toy()
    m = ConnectivityMatrix.from_synapses(syn, cells)
    assert m.shape == (3, 3)
    c = m.condensed.set_index(["pre", "post"])
    assert c.index.get_level_values(0).dtype == np.int64
    assert c.loc[(BIG + 1, BIG + 2), "count"] == 2
    assert c.loc[(BIG + 1, BIG + 2), "size_sum"] == 40
    assert c.loc[(BIG + 1, BIG + 2), "size_mean"] == 20
    assert set(c.index) == {
        (BIG + 1, BIG + 2),
        (BIG + 1, BIG + 3),
        (BIG + 2, BIG + 1),
        (BIG + 3, BIG + 1),
        (BIG + 3, BIG + 3),
    }
    dense = m.dense("count")
    assert dense.sum() == 6 and dense[0, 1] == 2
    assert m.dense("binary").sum() == 5
    np.testing.assert_allclose(m.dense("log_sum")[0, 1], np.log10(40))
    ext = m.compress(("size_min", "size_max", "any"))
    row = ext[(ext.pre == BIG + 1) & (ext.post == BIG + 2)].iloc[0]
    assert (row["size_min"], row["size_max"], row["any"]) == (10.0, 30.0, True)
    with pytest.warns(ConnectoscopeWarning, match="vectorised"):
        f = m.compress(("count",), func=np.median)
    assert f[(f.pre == BIG + 1) & (f.post == BIG + 2)]["func"].iloc[0] == 20.0
    assert m.reciprocal_pairs() == 2
    # selections keep exact ids
    e = m.index("broad_type").eq("excitatory")
    assert e.shape == (2, 2) and e.n_synapses == 3
    assert set(e.pre_ids.tolist()) == {BIG + 1, BIG + 3}
    ie = m.pre.index("broad_type").eq("inhibitory").post.index("broad_type").eq("excitatory")
    assert ie.n_synapses == 1
    proof = m.pre.index("status_axon").eq(True)
    assert proof.shape == (2, 3)
    sub = m.subpopulation(pre=[BIG + 3])
    assert sub.n_synapses == 2
    q = m.condense("broad_type")
    assert q.shape == (2, 2) and q.n_synapses == 6
    tt = m.type_by_type("broad_type")
    assert tt.loc["excitatory", "inhibitory"] == 2
    _perm, labels = m.sort_by("cell_type")
    assert labels == sorted(labels)
    assert m.square().shape == (3, 3)


def test_save_load_and_cli(tmp_path, capsys):
    syn, cells = _toy()
    syn.df.rename(columns={"pre": "pre_pt_root_id", "post": "post_pt_root_id"}).to_csv(
        tmp_path / "s.csv", index=False
    )
    cells.df.reset_index().rename(columns={"id": "pt_root_id"}).to_csv(
        tmp_path / "c.csv", index=False
    )
    assert (
        main(
            [
                "connectome",
                "build",
                str(tmp_path / "s.csv"),
                "--cells",
                str(tmp_path / "c.csv"),
                "-o",
                str(tmp_path / "m"),
            ]
        )
        == 0
    )
    m = load_matrix(tmp_path / "m")
    assert m.n_synapses == 6 and m.pre_ids.dtype == np.int64 and (BIG + 3) in m.pre_ids.tolist()
    assert main(["connectome", "stats", str(tmp_path / "m")]) == 0
    assert "connected_pairs: 5" in capsys.readouterr().out
    assert (
        main(
            [
                "connectome",
                "build",
                str(tmp_path / "s.csv"),
                "--cells",
                str(tmp_path / "c.csv"),
                "--pre",
                "status_axon=true",
                "-o",
                str(tmp_path / "p"),
            ]
        )
        == 0
    )
    assert load_matrix(tmp_path / "p").shape == (2, 3)
    for kind in ("heatmap", "hist", "size-hist"):
        out = tmp_path / f"{kind}.png"
        assert (
            main(
                [
                    "connectome",
                    "plot",
                    str(tmp_path / "m"),
                    "--kind",
                    kind,
                    "--sort-by",
                    "cell_type",
                    "-o",
                    str(out),
                ]
                if kind == "heatmap"
                else ["connectome", "plot", str(tmp_path / "m"), "--kind", kind, "-o", str(out)]
            )
            == 0
        )
        assert out.stat().st_size > 5000
    assert main(["connectome", "build", str(tmp_path / "s.csv"), "-o", str(tmp_path / "m")]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_bad_input_messages(tmp_path):
    with pytest.raises(DataFormatError, match="missing columns.*columns="):
        SynapseTable.from_frame(pd.DataFrame({"a": [1], "b": [2]}))
    with pytest.raises(DataFormatError, match=r"1 missing \(NaN\) ids"):
        SynapseTable.from_frame(pd.DataFrame({"pre": [1.0, np.nan], "post": [1, 2]}))
    with pytest.raises(DataFormatError, match="negative"):
        SynapseTable.from_frame(pd.DataFrame({"pre": [1, -2], "post": [1, 2]}))
    with pytest.raises(DataFormatError, match="lost precision"):
        SynapseTable.from_frame(pd.DataFrame({"pre": [float(BIG + 1)], "post": [1]}))
    # a CSV whose id column has an empty cell becomes float: refused, never silently rounded
    (tmp_path / "x.csv").write_text(
        f"pre_pt_root_id,post_pt_root_id\n{BIG + 1},{BIG + 3}\n,{BIG + 5}\n"
    )
    with pytest.raises(DataFormatError, match="missing"):
        SynapseTable.read(tmp_path / "x.csv")
    with pytest.raises(DataFormatError, match="duplicates='first'"):
        CellTable(pd.DataFrame({"pt_root_id": [1, 1, 2]}))
    with pytest.warns(ConnectoscopeWarning, match="1 duplicate ids"):
        c = CellTable(
            pd.DataFrame({"pt_root_id": [1, 1, 2], "t": ["a", "b", "c"]}), duplicates="first"
        )
    assert c.df.loc[1, "t"] == "a"
    syn, cells = _toy()
    m = ConnectivityMatrix.from_synapses(syn, cells)
    with pytest.raises(InvalidParameterError, match="properties: broad_type"):
        m.index("nope")
    with pytest.raises(InvalidParameterError, match="weight must be one of"):
        m.matrix("median")
    few = CellTable(pd.DataFrame({"pt_root_id": [BIG + 1]}))
    assert ConnectivityMatrix.from_synapses(syn, few).unmatched_synapses == 6


def test_microns_pinky100_reference():
    ref = reference("microns-pinky100")
    syn = SynapseTable.read(
        require_shared("microns-pinky100/soma_subgraph_synapses_spines_v185.csv"),
        columns={"pre": "pre_root_id", "post": "post_root_id", "size": "cleft_vx"},
    )
    m = ConnectivityMatrix.from_synapses(syn)
    st = m.stats()
    assert st["synapses"] == ref["n_synapses"]
    assert st["connected_pairs"] == ref["n_unique_pairs"]
    assert (st["pre_vertices"], st["post_vertices"]) == (ref["n_pre"], ref["n_post"])
    assert st["max_synapses_per_pair"] == ref["max_synapses_per_pair"]
    assert st["synapses_per_connection"] == {
        int(k): v for k, v in ref["pair_multiplicity_hist"].items()
    }
    assert st["max_out_degree"] == [ref["max_out_degree"][0], ref["max_out_degree"][1]]
    assert st["max_in_degree"] == [ref["max_in_degree"][0], ref["max_in_degree"][1]]
    assert st["autapses"] == ref["self_synapses"]
    assert st["reciprocal_pairs"] == ref["reciprocal_pairs_offdiag"]
    assert m.compress(("size_sum",))["size_sum"].sum() == ref["cleft_vx_sum"]
    c = m.condensed
    top = c[c["count"] == c["count"].max()]  # column access keeps int64 (a row would be float)
    assert ref["max_pair"] in [[str(a), str(b)] for a, b in zip(top["pre"], top["post"])]
    # the soma table's duplicate root ids are reported, and a policy resolves them
    soma = require_shared("microns-pinky100/soma_valence_v185.csv")
    with pytest.raises(DataFormatError, match="3 ids listed more than once") as e:
        CellTable.read(soma)
    for dup in ref["valence_duplicate_roots"]:
        assert dup in str(e.value)
    with pytest.warns(ConnectoscopeWarning):
        cells = CellTable.read(soma, duplicates="drop")
    assert len(cells) == ref["valence_unique_roots"] - len(ref["valence_duplicate_roots"])


@pytest.mark.parametrize(
    "key,kind",
    [
        ("cook2019/hermaphrodite/chemical", "chemical"),
        ("cook2019/male/gap_junction", "gap_junction"),
    ],
)
def test_celegans_named_cells(key, kind):
    ref = reference("celegans")[key]
    df = pd.read_csv(require_shared("celegans/cook2019_edges.csv"))
    _, sex, _ = key.split("/")
    df = df[(df.sex == sex) & (df.type == kind)]
    names = pd.Index(sorted(set(df.pre) | set(df.post)))
    syn = pd.DataFrame(
        {"pre": names.get_indexer(df.pre), "post": names.get_indexer(df.post), "size": df.weight}
    )
    cells = pd.DataFrame({"pt_root_id": np.arange(len(names)), "name": names})
    m = ConnectivityMatrix.from_synapses(syn, cells)
    assert m.n_synapses == ref["n_rows"]
    assert m.compress(("size_sum",))["size_sum"].sum() == ref["weight_sum"]
    assert m.shape == (ref["n_pre"], ref["n_post"])
    assert len(names) == ref["n_cells"]
    out_deg, in_deg = m.degree()
    assert out_deg.max() == ref["max_out_degree"][0]
    assert m.pre_vertices.loc[out_deg.idxmax(), "name"] == ref["max_out_degree"][1]
    assert in_deg.max() == ref["max_in_degree"][0]
    assert m.post_vertices.loc[in_deg.idxmax(), "name"] == ref["max_in_degree"][1]
    assert m.compress(("size_max",))["size_max"].max() == ref["max_weight"]
    assert m.stats()["autapses"] == ref["self_loops"]
