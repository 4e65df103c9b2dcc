"""Connectome benchmarks, ours vs the references, side by side in one process.

Table: the seeded synthetic MICrONS "proofread axons to all targets" shape (2,088,830 synapses,
2,275 pre ids x 63,718 post ids drawn as uint64 root ids above 2**53, 1.26 million pairs).

1. binary + count + sum + mean matrices: ours (sparse) vs the MICrONS tutorial's
   ``pivot_table(..., aggfunc=lambda x: np.sum(x) > 0)`` for binary and pivot tables for the
   other three; peak memory of ours (tracemalloc, which sees numpy allocations).
2. condensed table (count, size_sum, size_mean): ours vs Connectome-Utilities ``compress``
   with string aggregations (when ``conntility`` is installed) and vs
   ``groupby([pre, post]).agg(...)``.
3. out-of-core condense of a partitioned Parquet dataset: 100 million synapses (1 million with
   ``--quick``), 2 local worker processes; time and peak RSS (this process and the largest
   worker).

    python benchmarks/bench_connectome.py            # full size (the pivot reference takes minutes)
    python benchmarks/bench_connectome.py --quick    # 1/20 of the synapses, 1 M out of core
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import measure, peak_rss_mb, ratio_line
from connectoscope.connectome import (
    ConnectivityMatrix,
    SynapseTable,
    condense_parquet,
    synthetic_synapses,
    write_synthetic_dataset,
)
from connectoscope.connectome._synthetic import MICRONS_SHAPE


def ours_matrices(df: pd.DataFrame) -> list:
    m = ConnectivityMatrix.from_synapses(SynapseTable.from_frame(df))
    return [m.matrix(w) for w in ("binary", "count", "sum", "mean")]


def reference_matrices(df: pd.DataFrame) -> list:
    kw = dict(index="pre_pt_root_id", columns="post_pt_root_id", values="size", fill_value=0)
    return [
        df.pivot_table(aggfunc=lambda x: np.sum(x) > 0, **kw),  # the tutorial's binary matrix
        df.pivot_table(aggfunc="count", **kw),
        df.pivot_table(aggfunc="sum", **kw),
        df.pivot_table(aggfunc="mean", **kw),
    ]


def ours_condensed(df: pd.DataFrame) -> pd.DataFrame:
    m = ConnectivityMatrix.from_synapses(SynapseTable.from_frame(df))
    return m.aggregate(("count", "size_sum", "size_mean"))


def bench_matrices(df: pd.DataFrame) -> None:
    t_ours, mem_ours, mats = measure(lambda: ours_matrices(df), repeat=3)
    t0 = time.perf_counter()
    ref = reference_matrices(df)
    t_ref = time.perf_counter() - t0
    # the same numbers, exactly
    assert int(mats[1].sum()) == int(ref[1].to_numpy().sum()) == len(df)
    assert float(mats[2].sum()) == float(ref[2].to_numpy().sum())
    assert int(mats[0].sum()) == int(ref[0].to_numpy().sum())
    ids = ref[1].index.to_numpy()
    assert ids.dtype == np.uint64 and np.array_equal(
        ConnectivityMatrix.from_synapses(SynapseTable.from_frame(df)).pre_ids, ids
    )
    del ref
    print(ratio_line("matrices binary+count+sum+mean", t_ours, t_ref, "s"))
    print(f"matrices peak memory: ours {mem_ours:.0f} MB (tracemalloc), target < 500 MB")


def bench_condensed(df: pd.DataFrame) -> None:
    t_c, mem_c, cond = measure(lambda: ours_condensed(df), repeat=3)
    t0 = time.perf_counter()
    g = df.groupby(["pre_pt_root_id", "post_pt_root_id"])["size"].agg(["count", "sum", "mean"])
    t_g = time.perf_counter() - t0
    assert len(g) == len(cond) and int(g["count"].sum()) == int(cond["count"].sum())
    print(ratio_line("condensed table vs groupby.agg", t_c, t_g, "s"))
    try:
        import conntility
    except ImportError:
        print("condensed table vs conntility compress: skipped (pip install Connectome-Utilities)")
        return
    # conntility is square-only and breaks on uint64 ids: give it positions over the union
    ids = np.union1d(df["pre_pt_root_id"].to_numpy(), df["post_pt_root_id"].to_numpy())
    rows = np.searchsorted(ids, df["pre_pt_root_id"].to_numpy())
    cols = np.searchsorted(ids, df["post_pt_root_id"].to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cm = conntility.ConnectivityMatrix(
            pd.DataFrame({"row": rows, "col": cols}),
            edge_properties={"size": df["size"].to_numpy()},
            shape=(ids.size, ids.size),
        )
        t0 = time.perf_counter()
        cc = cm.compress({"size_sum": ("size", "sum"), "size_mean": ("size", "mean")})
        t_cu = time.perf_counter() - t0
    assert len(cc.edges) == len(cond)
    print(ratio_line("condensed table vs conntility compress", t_c, t_cu, "s"))
    print(f"condensed peak memory: ours {mem_c:.0f} MB (tracemalloc)")


class RssSampler:
    """Samples the summed RSS of this process and its children (psutil) in a thread."""

    def __init__(self, every: float = 0.05) -> None:
        import threading

        import psutil

        self.proc = psutil.Process()
        self.peak = 0.0
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for p in [self.proc, *self.proc.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total / 1e6)
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def bench_out_of_core(n: int, workers: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cs-ooc-"))
    try:
        t0 = time.perf_counter()
        parts = max(4, -(-n // 2_000_000))
        src = write_synthetic_dataset(tmp / "synapses", n, n_partitions=parts, workers=workers)
        t_gen = time.perf_counter() - t0
        base = RssSampler().proc.memory_info().rss / 1e6
        with RssSampler() as rss:
            t0 = time.perf_counter()
            r = condense_parquet(src, tmp / "condensed", workers=workers)
            t_ooc = time.perf_counter() - t0
        size_gb = sum(f.stat().st_size for f in src.glob("*.parquet")) / 1e9
        assert r["synapses"] == n
        print(
            f"out-of-core condense {n} synapses ({r['files']} files, {size_gb:.2f} GB Parquet, "
            f"{r['buckets']} buckets, {workers} worker processes): ours {t_ooc:.1f} s, "
            f"{n / t_ooc / 1e6:.2f} M synapses/s -> {r['pairs']} pairs; peak RSS of this "
            f"process + workers {rss.peak:.0f} MB (this process {base:.0f} MB before; "
            f"input generation {t_gen:.1f} s)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="1/20 of the table, 1 M out of core")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--skip-pivot", action="store_true", help="skip the minutes-long pivot reference"
    )
    args = ap.parse_args()
    s = 20 if args.quick else 1
    shape = {k: v // s for k, v in MICRONS_SHAPE.items()}
    shape["n_pre"] = MICRONS_SHAPE["n_pre"] // (5 if args.quick else 1)
    df = synthetic_synapses(**shape, seed=0, id_dtype="uint64")
    assert df["pre_pt_root_id"].min() > 2**53
    print(
        f"table: {len(df)} synapses, {df.pre_pt_root_id.nunique()} pre x "
        f"{df.post_pt_root_id.nunique()} post (uint64 ids > 2**53), "
        f"{len(df.drop_duplicates(['pre_pt_root_id', 'post_pt_root_id']))} pairs"
    )
    if not args.skip_pivot:
        bench_matrices(df)
    bench_condensed(df)
    bench_out_of_core(1_000_000 if args.quick else 100_000_000, args.workers)
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
