"""The size-weighted matrices are computed directly (one per-pair array, never the whole
condensed table) and equal a brute-force numpy accumulation; the grouping kernel equals a
lexsort oracle on every path (packed integer weights, float weights, negative and wide
integers, with and without the per-synapse inverse)."""

import numpy as np
import pandas as pd
import pytest

from connectoscope.connectome import ConnectivityMatrix, SynapseTable
from connectoscope.connectome._kernels import factorize_ids, group_pairs

BIG = 864691135000000000


def _table(rng, n, size):
    pre = np.uint64(BIG) + rng.integers(0, 40, n).astype(np.uint64)
    base = np.uint64(2**63 + 7 if size.dtype.kind == "f" else BIG)  # above int64 too
    post = base + rng.integers(0, 90, n).astype(np.uint64)
    return pd.DataFrame(
        {
            "pre_pt_root_id": pre,
            "post_pt_root_id": post,
            "size": size,
            "score": rng.normal(size=n),
        }
    )


def _brute(df, values):
    """Dense (n_pre x n_post) count and sum by np.add.at over sorted unique ids."""
    pre_ids = np.unique(df["pre_pt_root_id"].to_numpy())
    post_ids = np.unique(df["post_pt_root_id"].to_numpy())
    r = np.searchsorted(pre_ids, df["pre_pt_root_id"].to_numpy())
    c = np.searchsorted(post_ids, df["post_pt_root_id"].to_numpy())
    count = np.zeros((pre_ids.size, post_ids.size), np.int64)
    total = np.zeros((pre_ids.size, post_ids.size), np.float64)
    np.add.at(count, (r, c), 1)
    np.add.at(total, (r, c), values.astype(np.float64))
    return pre_ids, post_ids, count, total


@pytest.mark.parametrize("kind", ["int", "float", "negative", "wide"])
def test_sum_and_mean_equal_brute_force_without_the_condensed_table(rng, kind):
    n = 5000
    size = {
        "int": rng.integers(1, 20000, n),
        "float": rng.gamma(2.0, 50.0, n),
        "negative": rng.integers(-500, 500, n),
        "wide": rng.integers(0, 2**40, n),
    }[kind]
    df = _table(rng, n, size)
    m = ConnectivityMatrix.from_synapses(SynapseTable.from_frame(df))
    pre_ids, post_ids, count, total = _brute(df, size)
    assert np.array_equal(m.pre_ids, pre_ids) and np.array_equal(m.post_ids, post_ids)
    s = m.matrix("sum")
    mean = m.matrix("mean")
    score = m.matrix("sum", column="score")
    assert m._condensed is None  # the cached condensed table was never built
    assert s.has_sorted_indices and mean.has_sorted_indices
    np.testing.assert_array_equal(m.matrix("count").toarray(), count)
    np.testing.assert_array_equal(m.matrix("binary").toarray(), (count > 0).astype(np.int8))
    if kind == "float":
        np.testing.assert_allclose(s.toarray(), total, rtol=1e-12)
    else:  # integer sizes are summed exactly, as integers
        assert s.dtype == np.int64
        np.testing.assert_array_equal(s.toarray(), total.astype(np.int64))
    hit = count > 0
    np.testing.assert_allclose(mean.toarray()[hit], total[hit] / count[hit], rtol=1e-12)
    assert mean.nnz == s.nnz == int(hit.sum())
    _, _, _, score_total = _brute(df, df["score"].to_numpy())
    np.testing.assert_allclose(score.toarray(), score_total, rtol=1e-9, atol=1e-9)
    # each matrix owns its arrays: changing one leaves the next untouched
    s.data[:] = 0
    s.indices[:] = 0
    assert m.matrix("sum").toarray().sum() == pytest.approx(total.sum())
    # the condensed table agrees with the matrices once it is asked for
    c = m.condensed
    assert m._condensed is not None
    np.testing.assert_allclose(c["size_sum"].to_numpy(), total[hit], rtol=1e-12)


def _oracle(pi, qi, w):
    order = np.lexsort((qi, pi))
    r, c = pi[order], qi[order]
    new = np.r_[True, (r[1:] != r[:-1]) | (c[1:] != c[:-1])]
    starts = np.flatnonzero(new)
    inv = np.empty(pi.size, np.int64)
    inv[order] = np.cumsum(new) - 1
    sums = np.add.reduceat(w[order].astype(np.float64), starts)
    return r[starts], c[starts], np.diff(np.r_[starts, pi.size]), sums, inv


@pytest.mark.parametrize(
    "weights",
    ["none", "small_int", "bool", "float", "negative", "too_wide"],
)
@pytest.mark.parametrize("with_inverse", [False, True])
def test_group_pairs_equals_lexsort_oracle(rng, weights, with_inverse):
    n, n_pre, n_post = 20000, 300, 7000
    pi = rng.integers(0, n_pre, n)
    qi = rng.integers(0, n_post, n)
    w = {
        "none": None,
        "small_int": rng.integers(0, 1000, n),
        "bool": rng.random(n) < 0.3,
        "float": rng.normal(size=n),
        "negative": rng.integers(-5, 5, n),
        "too_wide": rng.integers(0, 2**62, n),
    }[weights]
    rows, cols, counts, sums, inv = group_pairs(
        pi, qi, n_pre, n_post, weights=w, with_inverse=with_inverse
    )
    r, c, k, s, i = _oracle(pi, qi, w if w is not None else np.zeros(n))
    np.testing.assert_array_equal(rows, r)
    np.testing.assert_array_equal(cols, c)
    np.testing.assert_array_equal(counts, k)
    assert rows.dtype == cols.dtype == counts.dtype == np.int64
    if w is None:
        assert sums is None
    elif weights == "too_wide":  # exact integer sums even above 2**53
        exact = np.zeros(r.size, object)
        np.add.at(exact, i, w.astype(object))
        assert sums is not None and sums.dtype == np.int64 and sums.tolist() == exact.tolist()
    else:
        np.testing.assert_allclose(sums, s, rtol=1e-12, atol=1e-12)
    if with_inverse:
        np.testing.assert_array_equal(inv, i)
    else:
        assert inv is None


def test_group_pairs_empty_and_factorize_exact_uint64():
    e = np.zeros(0, np.int64)
    rows, cols, counts, sums, inv = group_pairs(e, e, 3, 4, weights=e, with_inverse=True)
    assert rows.size == cols.size == counts.size == 0 and sums is not None and sums.size == 0
    assert inv is not None and inv.size == 0
    ids = np.array([2**64 - 1, 2**63, 2**64 - 1, 2**63 + 1, 5], np.uint64)
    codes, uniq = factorize_ids(ids)
    assert uniq.dtype == np.uint64 and uniq.tolist() == sorted({int(x) for x in ids})
    assert np.array_equal(uniq[codes], ids)
    with pytest.raises(TypeError):
        factorize_ids(np.zeros(3, np.int32))


def test_core_import_and_first_call_load_no_heavy_modules():
    """A one-shot script (import, build, four matrices) imports no JIT, plotting, spatial or
    HDF5 module; the lazily imported public names still resolve."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import pandas as pd\n"
        "from connectoscope.connectome import ConnectivityMatrix\n"
        "m = ConnectivityMatrix.from_synapses(pd.DataFrame({'pre': [1, 1, 2], 'post': [2, 2, 1],"
        " 'size': [10, 30, 5]}))\n"
        "assert m.matrix('sum').toarray().tolist() == [[0, 40], [5, 0]]\n"
        "[m.matrix(w) for w in ('binary', 'count', 'mean')]\n"
        "heavy = ('numba', 'llvmlite', 'matplotlib', 'scipy.spatial', 'h5py', 'duckdb')\n"
        "print(sorted(h for h in heavy if h in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    import connectoscope.connectome as cc

    assert callable(cc.triad_census) and callable(cc.plot_heatmap)
    assert "condense_parquet" in dir(cc) and set(cc.__all__) <= set(dir(cc))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        cc.nope  # noqa: B018


def test_parquet_reader_equals_pandas(tmp_path, rng):
    """The low-memory Parquet reader behind ``SynapseTable.read`` gives what
    ``pd.read_parquet`` gives: plain numeric tables in row order over many row groups, and
    every other table (index, nullable, strings, missing values) through pandas' rules."""
    from connectoscope.connectome._synapses import _read_parquet_file

    n = 200_000
    cases = {
        "plain": pd.DataFrame(
            {
                "pre_pt_root_id": np.uint64(BIG) + np.arange(n, dtype=np.uint64),
                "post_pt_root_id": rng.integers(0, 9, n),
                "size": rng.random(n),
                "flag": rng.random(n) < 0.5,
            }
        ),
        "index": pd.DataFrame({"a": [1, 2, 3]}, index=pd.Index([5, 6, 7], name="k")),
        "nullable": pd.DataFrame({"a": pd.array([1, 2, None], dtype="Int64")}),
        "missing": pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [1, 2, 3]}),
        "strings": pd.DataFrame({"a": [1, 2, 3], "s": ["x", "y", None]}),
        "empty": pd.DataFrame({"a": np.zeros(0, np.int64)}),
    }
    for name, df in cases.items():
        path = tmp_path / f"{name}.parquet"
        df.to_parquet(path, row_group_size=7_000)
        pd.testing.assert_frame_equal(_read_parquet_file(path), pd.read_parquet(path))
    t = SynapseTable.read(tmp_path / "plain.parquet")
    assert t.pre.tolist() == cases["plain"]["pre_pt_root_id"].tolist()
