"""Synapse queries: ``query_synapses`` vs DuckDB filtering the same in-memory table.

Both sides start from one pandas DataFrame of N synthetic synapses (int64 ids above 2**53,
positions in nm, a categorical ``tag``) and return the kept rows as a DataFrame: ours through
``connectoscope.connectome.query_synapses``, DuckDB (default settings: all cores) through
``SELECT * FROM df WHERE ...`` on the DataFrame (a replacement scan, no copy in). Warm vs warm
(one untimed run each first), best of three. The skeleton line compares our nearest-vertex
compartment query with the plain scipy recipe (a cKDTree query of every synapse); DuckDB has
no nearest-neighbour join. The streamed line reads the same table from 10 Parquet files and
writes the kept rows to a Parquet file: ours with ``query_table_file`` (batch by batch), DuckDB
with ``COPY (SELECT * FROM read_parquet(...) WHERE ...) TO ...``, each in a fresh process whose
peak RSS (VmHWM) is printed.

Each line: ``name: ours X s, reference Y s, ratio R`` (R > 1: ours faster), then the peak RSS
of this process (DuckDB runs in it; there are no other processes).

Usage: ``python benchmarks/bench_query.py [--n 10000000] [--smoke]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import peak_rss_mb, ratio_line
from connectoscope.connectome import query_synapses
from connectoscope.morphology import Skeleton

SPAN = 1_000_000.0  # a 1 mm cube, nm


REPEAT = 3  # timed runs after a warm-up (1 with --smoke)


def best_of(fn: Callable[[], Any]) -> tuple[float, Any]:
    fn()  # warm
    best, out = float("inf"), None
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "pre": 864691135000000000 + rng.integers(0, 100_000, n),
            "post": 864691135000000000 + rng.integers(0, 100_000, n),
            "size": rng.integers(1, 2000, n),
            "x_nm": rng.uniform(0, SPAN, n),
            "y_nm": rng.uniform(0, SPAN, n),
            "z_nm": rng.uniform(0, SPAN, n),
            "tag": pd.Categorical.from_codes(
                rng.integers(0, 3, n).astype(np.int8), ["shaft", "soma", "spine"]
            ),
        }
    )


def skeleton(n: int, seed: int = 1) -> Skeleton:
    """A random walk of n vertices through the middle of the volume (axon then dendrite)."""
    rng = np.random.default_rng(seed)
    v = SPAN / 2 + np.cumsum(rng.normal(0, 2000.0, (n, 3)), axis=0)
    comp = np.where(np.arange(n) < n // 2, 2, 3).astype(np.int32)
    comp[0] = 1
    return Skeleton.from_parents(
        np.arange(n), np.arange(n) - 1, v, features={"compartment": comp}, name="walk"
    )


def same(ours: pd.DataFrame, ref: pd.DataFrame) -> None:
    a = ours.sort_values(["x_nm", "y_nm", "z_nm"]).reset_index(drop=True)
    b = ref.sort_values(["x_nm", "y_nm", "z_nm"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_categorical=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--smoke", action="store_true", help="100,000 synapses, seconds")
    args = ap.parse_args()
    n = 100_000 if args.smoke else args.n
    global REPEAT
    REPEAT = 1 if args.smoke else REPEAT
    import duckdb

    df = table(n)
    print(f"table: {n} synapses in a {SPAN / 1000:g} um cube (DuckDB {duckdb.__version__})")
    con = duckdb.connect()
    con.register("syn", df)
    lo, hi = np.array([200e3, 300e3, 100e3]), np.array([700e3, 600e3, 900e3])
    c, r = np.array([500e3, 500e3, 500e3]), 150e3

    def box_where() -> str:
        return " AND ".join(
            f"{a}_nm >= {float(lo[i])!r} AND {a}_nm < {float(hi[i])!r}" for i, a in enumerate("xyz")
        )

    cases: list[tuple[str, Callable[[], Any], str]] = [
        ("query box", lambda: query_synapses(df, box_nm=(lo, hi)).df, box_where()),
        (
            "query radius",
            lambda: query_synapses(df, center_nm=c, radius_nm=r).df,
            " + ".join(f"({a}_nm - {float(c[i])!r}) ** 2" for i, a in enumerate("xyz"))
            + f" <= {float(r * r)!r}",
        ),
        (
            "query box + target spine",
            lambda: query_synapses(df, box_nm=(lo, hi), target="spine").df,
            box_where() + " AND tag = 'spine'",
        ),
    ]
    for name, ours_fn, where in cases:
        t_ours, ours = best_of(ours_fn)
        t_ref, ref = best_of(lambda w=where: con.execute(f"SELECT * FROM syn WHERE {w}").df())
        same(ours, ref)
        print(ratio_line(f"{name}, {n} synapses -> {len(ours)} vs DuckDB", t_ours, t_ref, "s"))

    from scipy.spatial import cKDTree

    sk = skeleton(2000 if args.smoke else 20_000)
    cap = 5000.0
    pts = df[["x_nm", "y_nm", "z_nm"]].to_numpy()
    comp = sk.features["compartment"]

    def scipy_recipe() -> pd.DataFrame:
        d, j = cKDTree(sk.vertices).query(pts, distance_upper_bound=cap)
        hit = np.isfinite(d)
        keep = np.zeros(len(pts), bool)
        keep[hit] = comp[j[hit]] == 3
        return df[keep]

    t_ours, ours = best_of(
        lambda: query_synapses(df, skeleton=sk, compartment="dendrite", max_dist_nm=cap).df
    )
    t_ref, ref = best_of(scipy_recipe)
    same(ours[list(df.columns)], ref)
    print(
        ratio_line(
            f"query compartment dendrite within {cap:g} nm of {len(sk)} vertices, {n} synapses "
            f"-> {len(ours)} vs scipy cKDTree",
            t_ours,
            t_ref,
            "s",
        )
    )
    print(f"peak RSS of this process (in-memory lines; DuckDB runs in it): {peak_rss_mb():.0f} MB")
    streamed(df, lo, hi, n)


_OURS = """
import sys, time
from connectoscope.connectome import query_table_file
folder, out, box, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
best, r = float("inf"), None
for _ in range(runs):  # the first run warms the page cache and the imports
    t0 = time.perf_counter()
    r = query_table_file(folder, out, overwrite=True, box_nm=box, target="spine")
    best = min(best, time.perf_counter() - t0)
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM")][0].split()[1]
print(best, r.n_kept, int(hwm) / 1024)
"""
_DUCK = """
import sys, time
import duckdb
folder, out, where, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
con = duckdb.connect()
best = float("inf")
for _ in range(runs):
    t0 = time.perf_counter()
    con.execute(f"COPY (SELECT * FROM read_parquet('{folder}/*.parquet') WHERE {where}) "
                f"TO '{out}' (FORMAT PARQUET)")
    best = min(best, time.perf_counter() - t0)
kept = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM")][0].split()[1]
print(best, kept, int(hwm) / 1024)
"""


def streamed(df: pd.DataFrame, lo: np.ndarray, hi: np.ndarray, n: int) -> None:
    """Parquet files in, a Parquet file out, each side in a fresh process (its own peak RSS)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(dir=".") as tmp:
        folder = Path(tmp) / "syn"
        folder.mkdir()
        t0 = time.perf_counter()
        for i, part in enumerate(np.array_split(np.arange(n), 10)):
            df.iloc[part].to_parquet(folder / f"part-{i:02d}.parquet", index=False)
        gen = time.perf_counter() - t0
        box = ":".join(",".join(repr(float(v)) for v in c) for c in (lo, hi))
        where = (
            " AND ".join(
                f"{a}_nm >= {float(lo[i])!r} AND {a}_nm < {float(hi[i])!r}"
                for i, a in enumerate("xyz")
            )
            + " AND tag = 'spine'"
        )
        res = []
        for code, arg, out in ((_OURS, box, "ours.parquet"), (_DUCK, where, "duck.parquet")):
            p = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    code,
                    str(folder),
                    str(Path(tmp) / out),
                    arg,
                    str(REPEAT + 1),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            t, kept, rss = p.stdout.split()[-3:]
            res.append((float(t), int(kept), float(rss)))
        (t_ours, k_ours, rss_ours), (t_ref, k_ref, rss_ref) = res
        if k_ours != k_ref:
            raise SystemExit(f"streamed query: ours kept {k_ours}, DuckDB {k_ref}")
        print(
            ratio_line(
                f"query streamed box + target spine, {n} synapses in 10 Parquet files -> "
                f"{k_ours} (Parquet out) vs DuckDB COPY",
                t_ours,
                t_ref,
                "s",
            )
        )
        print(
            f"query streamed peak RSS of all processes: ours {rss_ours:.0f} MB, DuckDB "
            f"{rss_ref:.0f} MB (each its own process, VmHWM; writing the input took {gen:.1f} s)"
        )


if __name__ == "__main__":
    main()
