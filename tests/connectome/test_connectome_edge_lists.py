"""Edge lists in the forms real connectomes come in: named vertices (C. elegans), weighted
rows, chemical vs gap-junction types; the CLI gives the same figures as the API and as the
data's own reference figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from connectoscope.cli import main
from connectoscope.connectome import load_matrix, read_edge_list
from connectoscope.connectome._analysis import degree
from connectoscope.errors import DataFormatError, InvalidParameterError
from connectoscope.testing import reference, require_shared

pytestmark = pytest.mark.realdata


def _check(m, r):
    out_deg, in_deg = degree(m)
    assert m.n_pairs == r["n_rows"]
    assert m.n_synapses == r.get("weight_sum", r.get("synapse_sum"))
    names = set(m.pre_vertices["name"]) | set(m.post_vertices["name"])
    assert len(names) == r["n_cells"]
    i, j = out_deg.idxmax(), in_deg.idxmax()
    assert [int(out_deg.max()), m.pre_vertices["name"][i]] == r["max_out_degree"]
    assert [int(in_deg.max()), m.post_vertices["name"][j]] == r["max_in_degree"]


@pytest.mark.parametrize("sex", ["hermaphrodite", "male"])
@pytest.mark.parametrize("kind", ["chemical", "gap_junction"])
def test_cook2019_reference_figures(sex, kind):
    f = require_shared("celegans/cook2019_edges.csv")
    r = reference("celegans")[f"cook2019/{sex}/{kind}"]
    m = read_edge_list(
        f,
        weight="weight",
        names=True,
        type_column="type",
        symmetric=["gap_junction"],
        where={"sex": sex, "type": kind},
    )
    _check(m, r)
    assert m.shape == (r["n_pre"], r["n_post"])
    c = m.condensed
    assert int((c["pre"] == c["post"]).sum()) == r["self_loops"]
    assert float(c["count"].max()) == r["max_weight"]


def test_witvliet_cli_equals_api(tmp_path, capsys):
    f = require_shared("celegans/witvliet2020_edges.csv")
    ref = reference("celegans")
    for kind in ("chemical", "electrical"):
        out = tmp_path / kind
        rc = main(
            [
                "connectome", "build", str(f), "--names", "--weight", "synapses",
                "--rows", "dataset=witvliet_2020_8 adult", "--rows", f"type={kind}",
                "-o", str(out),
            ]
        )  # fmt: skip
        assert rc == 0, capsys.readouterr().err
        text = capsys.readouterr().out
        assert "names with integer ids (ADAL=1" in text
        m = load_matrix(out)
        _check(m, ref[f"witvliet2020/witvliet_2020_8 adult/{kind}"])
        api = read_edge_list(
            f,
            weight="synapses",
            names=True,
            where={"dataset": "witvliet_2020_8 adult", "type": kind},
        )
        pd.testing.assert_frame_equal(
            m.condensed[["pre", "post", "count"]].reset_index(drop=True),
            api.condensed[["pre", "post", "count"]].reset_index(drop=True),
            check_dtype=False,
        )
        assert list(m.pre_vertices["name"]) == list(api.pre_vertices["name"])


def test_types_as_properties_and_symmetry():
    df = pd.DataFrame(
        {
            "source": ["A", "A", "B", "C", "C"],
            "target": ["B", "B", "C", "A", "C"],
            "kind": ["chem", "gap", "gap", "chem", "gap"],
            "w": [2, 5, 1, 3, 4],
        }
    )
    m = read_edge_list(
        df, pre="source", post="target", weight="w", names=True, type_column="kind",
        symmetric=["gap"],
    )  # fmt: skip
    c = m.condensed.set_index(["pre", "post"])
    ids = {n: i for i, n in m.pre_vertices["name"].items()}
    a, b, cc = ids["A"], ids["B"], ids["C"]
    assert c.loc[(a, b), "weight_chem"] == 2 and c.loc[(a, b), "weight_gap"] == 5
    assert c.loc[(b, a), "weight_gap"] == 5 and c.loc[(b, a), "weight_chem"] == 0  # symmetric
    assert c.loc[(cc, b), "weight_gap"] == 1 and c.loc[(cc, cc), "weight_gap"] == 4
    assert m.n_synapses == 2 + 5 + 5 + 1 + 1 + 3 + 4
    # both directions already listed with the same weight: not doubled
    both = pd.DataFrame({"pre": [1, 2], "post": [2, 1], "t": ["gap", "gap"], "w": [3, 3]})
    m2 = read_edge_list(both, weight="w", type_column="t", symmetric=["gap"])
    assert m2.n_synapses == 6 and m2.n_pairs == 2
    bad = pd.DataFrame({"pre": [1, 2], "post": [2, 1], "t": ["gap", "gap"], "w": [3, 2]})
    with pytest.raises(DataFormatError, match="different weights in the two directions"):
        read_edge_list(bad, weight="w", type_column="t", symmetric=["gap"])


def test_float_weights_and_integer_ids():
    df = pd.DataFrame({"pre": [10, 10, 2**40], "post": [20, 20, 10], "w": [0.5, 0.25, 1.5]})
    m = read_edge_list(df, weight="w")
    c = m.condensed.set_index(["pre", "post"])
    assert c.loc[(10, 20), "weight"] == 0.75 and c.loc[(10, 20), "count"] == 2
    assert list(m.pre_ids) == [10, 2**40]


def test_bad_edge_lists(tmp_path, capsys):
    df = pd.DataFrame({"pre": ["AVAL", "12"], "post": ["7", "AVAR"]})
    with pytest.raises(InvalidParameterError, match=r"names 12, 7 look like integer ids"):
        read_edge_list(df, names=True)
    with pytest.raises(InvalidParameterError, match=r"holds names such as 'AVAL'.*--names"):
        read_edge_list(df)
    f = tmp_path / "e.csv"
    pd.DataFrame({"source": [1], "target": [2], "n": ["x"]}).to_csv(f, index=False)
    rc = main(["connectome", "build", str(f), "--weight", "n", "-o", str(tmp_path / "o")])
    assert rc == 2 and "no column pre, post (columns: source, target, n)" in capsys.readouterr().err
    rc = main(
        ["connectome", "build", str(f), "--columns", "pre=source,post=target", "--weight", "n",
         "-o", str(tmp_path / "o")]
    )  # fmt: skip
    assert rc == 2 and "'n' holds non-numeric 'x'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_weighted_cli(tmp_path, capsys):
    f = tmp_path / "larva.csv"
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "source": rng.integers(1, 50, 300),
            "target": rng.integers(1, 50, 300),
            "weight": rng.integers(1, 9, 300),
        }
    ).drop_duplicates(["source", "target"])
    df.to_csv(f, index=False)
    rc = main(
        ["connectome", "build", str(f), "--columns", "pre=source,post=target", "--weight", "weight",
         "-o", str(tmp_path / "conn")]
    )  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    m = load_matrix(tmp_path / "conn")
    assert m.n_pairs == len(df) and m.n_synapses == int(df["weight"].sum())
    dense = m.matrix("count").toarray()
    i = {v: k for k, v in enumerate(m.pre_ids)}
    j = {v: k for k, v in enumerate(m.post_ids)}
    for s, t, w in df.itertuples(index=False):
        assert dense[i[s], j[t]] == w
