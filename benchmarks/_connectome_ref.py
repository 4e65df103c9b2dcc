"""The references of ``bench_connectome.py``'s in-memory part: what a user writes without
connectoscope to get the four matrices (binary, count, sum, mean) and the condensed table
(count, size_sum, size_mean) of a synapse table, with plain numpy/scipy or with DuckDB. It
never imports connectoscope, so it also runs them in fresh processes for their peak RSS:

    python benchmarks/_connectome_ref.py cold coo TABLE.parquet      # read + 4 matrices
    python benchmarks/_connectome_ref.py warm duckdb TABLE.parquet 3 # best of 3, both tasks

Two ways, both timed; the faster is the reference:

* ``coo``: factorize ids (``np.unique(return_inverse=True)``), then one COO -> CSR with
  summed duplicates per weight (count and size);
* ``bincount``: factorize ids, factorize the (row, column) pair code, then ``np.bincount``
  (count and summed size per pair) and the CSR arrays straight from the sorted pair codes.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

PRE, POST = "pre_pt_root_id", "post_pt_root_id"


def read_columns(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pre ids, post ids, sizes) of a Parquet synapse table, via pyarrow."""
    import pyarrow.parquet as pq

    t = pq.read_table(path, columns=[PRE, POST, "size"])
    return t.column(0).to_numpy(), t.column(1).to_numpy(), t.column(2).to_numpy()


def _counts_sums_coo(
    pre: np.ndarray, post: np.ndarray, size: np.ndarray
) -> tuple[np.ndarray, np.ndarray, Any, Any]:
    """(pre ids, post ids, count CSR, size-sum CSR): factorize, COO -> CSR summing duplicates."""
    pre_ids, pi = np.unique(pre, return_inverse=True)
    post_ids, qi = np.unique(post, return_inverse=True)
    shape = (pre_ids.size, post_ids.size)
    c = sp.coo_matrix((np.ones(pi.size, np.int64), (pi, qi)), shape=shape).tocsr()
    s = sp.coo_matrix((size, (pi, qi)), shape=shape).tocsr()
    c.sum_duplicates()
    s.sum_duplicates()
    return pre_ids, post_ids, c, s


def matrices_coo(pre: np.ndarray, post: np.ndarray, size: np.ndarray) -> list[Any]:
    """binary, count, sum, mean CSR matrices: factorize, COO -> CSR summing duplicates."""
    _, _, c, s = _counts_sums_coo(pre, post, size)
    mean = s.copy()
    mean.data = s.data / c.data
    return [c.astype(bool), c, s, mean]


def _pairs_bincount(
    pre: np.ndarray, post: np.ndarray, size: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[int, int], np.ndarray, np.ndarray, np.ndarray]:
    pre_ids, pi = np.unique(pre, return_inverse=True)
    post_ids, qi = np.unique(post, return_inverse=True)
    code = pi.astype(np.int64) * post_ids.size + qi
    pairs, inv = np.unique(code, return_inverse=True)
    count = np.bincount(inv, minlength=pairs.size)
    ssum = np.bincount(inv, weights=size, minlength=pairs.size)
    return pre_ids, post_ids, (pre_ids.size, post_ids.size), pairs, count, ssum


def matrices_bincount(pre: np.ndarray, post: np.ndarray, size: np.ndarray) -> list[Any]:
    """binary, count, sum, mean CSR matrices: factorize, pair code, bincount."""
    _, _, shape, pairs, count, ssum = _pairs_bincount(pre, post, size)
    rows, cols = pairs // shape[1], pairs % shape[1]
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=shape[0]))]
    out = []
    for data in (np.ones(pairs.size, bool), count, ssum, ssum / count):
        out.append(sp.csr_matrix((data, cols.copy(), indptr.copy()), shape=shape))
    return out


def condensed_coo(pre: np.ndarray, post: np.ndarray, size: np.ndarray) -> dict[str, np.ndarray]:
    """The condensed table (pre, post, count, size_sum, size_mean) via COO -> CSR."""
    pre_ids, post_ids, c, s = _counts_sums_coo(pre, post, size)
    rows = np.repeat(np.arange(pre_ids.size), np.diff(c.indptr))
    return {
        "pre": pre_ids[rows],
        "post": post_ids[c.indices],
        "count": c.data,
        "size_sum": s.data,
        "size_mean": s.data / c.data,
    }


def condensed_bincount(
    pre: np.ndarray, post: np.ndarray, size: np.ndarray
) -> dict[str, np.ndarray]:
    """The condensed table via a pair code and ``np.bincount``."""
    pre_ids, post_ids, shape, pairs, count, ssum = _pairs_bincount(pre, post, size)
    return {
        "pre": pre_ids[pairs // shape[1]],
        "post": post_ids[pairs % shape[1]],
        "count": count,
        "size_sum": ssum,
        "size_mean": ssum / count,
    }


_DUCK_SQL = (
    f"SELECT {PRE} AS pre, {POST} AS post, count(*) AS count, sum(size) AS size_sum, "
    "avg(size) AS size_mean FROM syn GROUP BY ALL"
)


def duckdb_condensed(con: Any, df: Any = None) -> dict[str, np.ndarray]:
    """DuckDB's in-memory ``GROUP BY`` of table ``syn`` (or of ``df``, registered as it)."""
    if df is not None:
        con.register("syn", df)
    result: dict[str, np.ndarray] = con.execute(_DUCK_SQL).fetchnumpy()
    return result


def duckdb_matrices(con: Any, df: Any = None) -> list[Any]:
    """DuckDB's ``GROUP BY``, then the CSR matrices from its pairs."""
    r = duckdb_condensed(con, df)
    pre_ids, pi = np.unique(r["pre"], return_inverse=True)
    post_ids, qi = np.unique(r["post"], return_inverse=True)
    shape = (pre_ids.size, post_ids.size)
    c = sp.csr_matrix((r["count"], (pi, qi)), shape=shape)
    s = sp.csr_matrix((r["size_sum"], (pi, qi)), shape=shape)
    mean = s.copy()
    mean.data = s.data / c.data
    return [c.astype(bool), c, s, mean]


MATRICES = {"coo": matrices_coo, "bincount": matrices_bincount}
CONDENSED = {"coo": condensed_coo, "bincount": condensed_bincount}


def peak_rss_mb() -> float:
    """This process's peak RSS (MB) since it started this program: ``VmHWM``, which, unlike
    ``ru_maxrss``, does not carry over the parent's size from before ``exec``."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _best(fn: Any, repeat: int) -> float:
    t = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def main() -> None:
    """``cold WAY PATH``: read the table, the four matrices (the one-shot script);
    ``warm TOOL PATH REPEAT``: read once, best of REPEAT of the matrices and of the
    condensed table. Prints seconds and this process's peak RSS (MB) as JSON."""
    mode, tool, path = sys.argv[1:4]
    out: dict[str, float] = {}
    if mode == "cold":
        t0 = time.perf_counter()
        cols = read_columns(path)
        t1 = time.perf_counter()
        MATRICES[tool](*cols)
        out = {"read": t1 - t0, "matrices": time.perf_counter() - t1}
    elif tool == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute(f"CREATE TABLE syn AS SELECT {PRE}, {POST}, size FROM read_parquet('{path}')")
        repeat = int(sys.argv[4])
        out = {
            "matrices": _best(lambda: duckdb_matrices(con), repeat),
            "condensed": _best(lambda: duckdb_condensed(con), repeat),
        }
    else:
        cols = read_columns(path)
        repeat = int(sys.argv[4])
        out = {
            "matrices": _best(lambda: MATRICES[tool](*cols), repeat),
            "condensed": _best(lambda: CONDENSED[tool](*cols), repeat),
        }
    out["rss"] = peak_rss_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
