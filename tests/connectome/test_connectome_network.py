"""Network analyses: the triad census equals networkx's ``triadic_census`` (random graphs and
the C. elegans connectomes), the null models keep every in- and out-degree, reciprocity and
common neighbours match brute force, distance-binned probabilities match a dense NumPy
count, and the CLI writes the figures and tables."""

import numpy as np
import pandas as pd
import pytest

from connectoscope.cli import main
from connectoscope.connectome import (
    TRIAD_NAMES,
    CellTable,
    ConnectivityMatrix,
    common_neighbour_bias,
    distance_probability,
    motif_significance,
    plot_common_neighbours,
    plot_distance_probability,
    plot_motifs,
    read_edge_list,
    save_matrix,
    triad_census,
)
from connectoscope.connectome._network import _randomise, square_graph
from connectoscope.errors import InvalidParameterError
from connectoscope.testing import require_shared

nx = pytest.importorskip("networkx")
BIG = 864691135000000000


def _nx_census(src, dst, nodes):
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from((a, b) for a, b in zip(src, dst) if a != b)
    return nx.triadic_census(g)


def _random_matrix(rng, n, e, offset=BIG):
    df = pd.DataFrame(
        {"pre": rng.integers(0, n, e) + offset, "post": rng.integers(0, n, e) + offset}
    )
    return df, ConnectivityMatrix.from_synapses(df)


def test_triad_census_equals_networkx_on_random_graphs():
    rng = np.random.default_rng(7)
    for _ in range(40):
        n = int(rng.integers(3, 45))
        df, m = _random_matrix(rng, n, int(rng.integers(1, n * n // 2 + 2)))
        ours = triad_census(m)
        ref = _nx_census(df["pre"], df["post"], np.union1d(df["pre"], df["post"]).tolist())
        assert list(ours.index) == list(TRIAD_NAMES)
        assert {k: int(v) for k, v in ours.items()} == ref
    # only the ids that are both pre and post
    df = pd.DataFrame({"pre": [1, 2, 3, 3, 9], "post": [2, 3, 1, 8, 1]})
    m = ConnectivityMatrix.from_synapses(df)
    both = triad_census(m, vertices="both")
    assert both.sum() == 1 and both["030C"] == 1  # 1 -> 2 -> 3 -> 1 among {1, 2, 3}
    with pytest.raises(InvalidParameterError, match="vertices"):
        triad_census(m, vertices="some")


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("file", "where", "weight"),
    [
        ("cook2019_edges.csv", {"sex": "hermaphrodite", "type": "chemical"}, "weight"),
        ("cook2019_edges.csv", {"sex": "male", "type": "chemical"}, "weight"),
        (
            "witvliet2020_edges.csv",
            {"dataset": "witvliet_2020_8 adult", "type": "chemical"},
            "synapses",
        ),
    ],
)
def test_triad_census_equals_networkx_on_c_elegans(file, where, weight):
    f = require_shared(f"celegans/{file}")
    m = read_edge_list(f, weight=weight, names=True, where=where)
    df = pd.read_csv(f)
    for k, v in where.items():
        df = df[df[k] == v]
    ours = triad_census(m)
    ref = _nx_census(df["pre"].tolist(), df["post"].tolist(), sorted(set(df.pre) | set(df.post)))
    assert {k: int(v) for k, v in ours.items()} == ref
    n = len(set(df.pre) | set(df.post))
    assert ours["300"] > 0 and ours.sum() == n * (n - 1) * (n - 2) // 6


@pytest.mark.parametrize("null", ["configuration", "swaps"])
def test_null_models_keep_degrees_and_are_seeded(null):
    rng = np.random.default_rng(3)
    _, m = _random_matrix(rng, 60, 700)
    src, dst, ids = square_graph(m)
    n = ids.size
    for k in range(5):
        s, d = _randomise(src, dst, n, np.random.SeedSequence(k), null, 3.0)
        assert np.array_equal(np.bincount(s, minlength=n), np.bincount(src, minlength=n))
        assert np.array_equal(np.bincount(d, minlength=n), np.bincount(dst, minlength=n))
        assert (s != d).all() and len(set(zip(s.tolist(), d.tolist()))) == s.size
        assert not (np.array_equal(s, src) and np.array_equal(d, dst))
    a = motif_significance(m, n_null=4, seed=5, null=null)
    b = motif_significance(m, n_null=4, seed=5, null=null)
    pd.testing.assert_frame_equal(a, b)
    c = motif_significance(m, n_null=4, seed=6, null=null)
    assert not a["null_mean"].equals(c["null_mean"])
    assert a.attrs["n_edges"] == src.size and list(a.index[:16]) == list(TRIAD_NAMES)
    # the null keeps the edge count: every census sums to C(n, 3)
    assert a["null_mean"].iloc[:16].sum() == pytest.approx(n * (n - 1) * (n - 2) / 6)


def test_reciprocity_and_z_scores():
    # a graph of mutual pairs among a ring: far more reciprocity than its degrees imply
    n = 200
    a = np.arange(n)
    pre = np.r_[a, (a + 1) % n, a]
    post = np.r_[(a + 1) % n, a, (a + 7) % n]
    m = ConnectivityMatrix.from_synapses(pd.DataFrame({"pre": pre + BIG, "post": post + BIG}))
    r = motif_significance(m, n_null=8, seed=1)
    g = nx.DiGraph(list(zip(pre.tolist(), post.tolist())))
    assert r.loc["reciprocity", "observed"] == pytest.approx(nx.reciprocity(g))
    assert r.loc["reciprocal_pairs", "observed"] == n
    assert r.loc["reciprocity", "z"] > 10 and r.loc["reciprocity", "ratio"] > 5


def test_common_neighbours_match_brute_force():
    rng = np.random.default_rng(11)
    _, m = _random_matrix(rng, 25, 160)
    t = common_neighbour_bias(m, n_null=3, seed=0)
    src, dst, ids = square_graph(m)
    und = {i: set() for i in range(ids.size)}
    for s, d in zip(src.tolist(), dst.tolist()):
        und[s].add(d)
        und[d].add(s)
    edges = set(zip(src.tolist(), dst.tolist()))
    pop = np.searchsorted(ids, np.intersect1d(m.pre_ids, m.post_ids))
    tested, connected = {}, {}
    for i in pop:
        for j in pop:
            if i == j:
                continue
            k = len(und[i] & und[j])
            tested[k] = tested.get(k, 0) + 1
            connected[k] = connected.get(k, 0) + ((i, j) in edges)
    assert t["tested"].to_dict() == tested
    assert t["connected"].to_dict() == {k: connected[k] for k in tested}
    assert ((t["ci_low"] <= t["probability"]) & (t["probability"] <= t["ci_high"])).all()
    assert t.attrs["population"] == pop.size


def _cells_with_positions(rng, ids):
    return pd.DataFrame(
        {
            "pt_root_id": ids,
            "cell_type": rng.choice(["E", "I"], ids.size),
            "x_nm": rng.uniform(0, 300_000, ids.size),
            "y_nm": rng.uniform(0, 300_000, ids.size),
            "z_nm": rng.uniform(0, 50_000, ids.size),
        }
    )


def test_distance_probability_matches_dense_numpy():
    rng = np.random.default_rng(5)
    df, _ = _random_matrix(rng, 300, 4000)
    ids = np.union1d(df["pre"], df["post"])
    cells = _cells_with_positions(rng, ids)
    m = ConnectivityMatrix.from_synapses(df, CellTable(cells))
    t = distance_probability(m, by="cell_type", bin_width=40_000, max_distance=300_000, axes="xz")
    pv, qv = m.pre_vertices, m.post_vertices
    p = pv[["x_nm", "z_nm"]].to_numpy()
    q = qv[["x_nm", "z_nm"]].to_numpy()
    d = np.sqrt(((p[:, None] - q[None]) ** 2).sum(-1))
    edges = np.r_[np.arange(0, 300_000, 40_000), 300_000]
    a = m.matrix("binary").toarray() > 0
    same = pv.index.to_numpy()[:, None] == qv.index.to_numpy()[None]
    for (ta, tb), g in t.groupby(["pre", "post"]):
        sel = (pv["cell_type"].to_numpy()[:, None] == ta) & (qv["cell_type"].to_numpy()[None] == tb)
        sel &= ~same & (d < 300_000)
        tested = np.histogram(d[sel], bins=edges)[0]
        conn = np.histogram(d[sel & a], bins=edges)[0]
        got = g.set_index("distance_low")
        keep = tested > 0
        assert got["tested"].tolist() == tested[keep].tolist()
        assert got["connected"].tolist() == conn[keep].tolist()
    assert set(t["pre"]) == {"E", "I"} and (t["ci_low"] <= t["ci_high"]).all()
    with pytest.raises(InvalidParameterError, match="no 'x_nm'"):
        distance_probability(ConnectivityMatrix.from_synapses(df))
    with pytest.raises(InvalidParameterError, match="axes"):
        distance_probability(m, axes="xw")


def test_plots_and_cli(tmp_path, capsys):
    rng = np.random.default_rng(9)
    df, _ = _random_matrix(rng, 120, 2500)
    ids = np.union1d(df["pre"], df["post"])
    m = ConnectivityMatrix.from_synapses(df, CellTable(_cells_with_positions(rng, ids)))
    for f, table in (
        (plot_distance_probability, distance_probability(m, bin_width=50_000)),
        (plot_motifs, motif_significance(m, n_null=3)),
        (plot_common_neighbours, common_neighbour_bias(m, n_null=3)),
    ):
        out = f(table, tmp_path / f"{f.__name__}.png")
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    save_matrix(m, tmp_path / "m")
    base = ["connectome", "analyze", str(tmp_path / "m")]
    assert (
        main(
            [
                *base,
                "triads",
                "--null",
                "3",
                "-o",
                str(tmp_path / "t.svg"),
                "--table",
                str(tmp_path / "t.csv"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "reciprocity" in out and (tmp_path / "t.svg").exists()
    t = pd.read_csv(tmp_path / "t.csv", index_col=0)
    assert list(t.index[:16]) == list(TRIAD_NAMES)
    assert main([*base, "distance", "--bin-width", "50000", "--json"]) == 0
    assert '"probability"' in capsys.readouterr().out
    assert (
        main([*base, "common-neighbours", "--null", "2", "--table", str(tmp_path / "c.parquet")])
        == 0
    )
    assert pd.read_parquet(tmp_path / "c.parquet")["tested"].sum() > 0
    assert main([*base, "triads"]) == 2  # nothing to write
    assert main([*base, "distance", "--by", "nope", "--json"]) == 2
