"""Connectivity matrices: ours vs the MICrONS tutorial's pandas pivot tables, side by side.

A seeded synthetic table with the MICrONS "proofread axons to all targets" shape: 2,088,830
synapses, 2,275 pre ids and 63,718 post ids drawn as 64-bit root ids (> 2**53), about 1.26
million connected pairs. Ours builds binary + count + sum + mean sparse matrices; the
reference builds the same four with ``pivot_table`` (the tutorial's lambda for binary).

    python benchmarks/bench_connectome.py            # full size (the reference takes minutes)
    python benchmarks/bench_connectome.py --quick    # 1/20 of the synapses
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import measure, peak_rss_mb, ratio_line
from connectoscope.connectome import ConnectivityMatrix, SynapseTable

BASE = 864691135000000000


def synthetic_table(
    n_syn: int, n_pre: int, n_post: int, n_pairs: int, seed: int = 0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pre_ids = BASE + np.sort(rng.choice(10**9, n_pre, replace=False)).astype(np.int64)
    post_ids = BASE + np.sort(rng.choice(10**10, n_post, replace=False)).astype(np.int64)
    keys = np.unique(rng.integers(0, n_pre * n_post, int(n_pairs * 1.02)))[:n_pairs]
    rng.shuffle(keys)
    extra = rng.choice(keys.size, n_syn - keys.size, replace=True, p=None)
    all_keys = np.concatenate([keys, keys[extra]])
    rng.shuffle(all_keys)
    return pd.DataFrame(
        {
            "pre_pt_root_id": pre_ids[all_keys // n_post],
            "post_pt_root_id": post_ids[all_keys % n_post],
            "size": rng.lognormal(5, 1, all_keys.size).round().astype(np.int64),
        }
    )


def ours(df: pd.DataFrame) -> list:
    m = ConnectivityMatrix.from_synapses(SynapseTable.from_frame(df))
    return [m.matrix(w) for w in ("binary", "count", "sum", "mean")]


def reference(df: pd.DataFrame) -> list:
    kw = dict(index="pre_pt_root_id", columns="post_pt_root_id", values="size", fill_value=0)
    return [
        df.pivot_table(aggfunc=lambda x: np.sum(x) > 0, **kw),
        df.pivot_table(aggfunc="count", **kw),
        df.pivot_table(aggfunc="sum", **kw),
        df.pivot_table(aggfunc="mean", **kw),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    scale = 20 if args.quick else 1
    n_syn, n_pre, n_post, n_pairs = (
        2_088_830 // scale,
        2_275 // (scale // 4 or 1),
        63_718 // scale,
        1_260_000 // scale,
    )
    df = synthetic_table(n_syn, n_pre, n_post, n_pairs)
    print(
        f"table: {len(df)} synapses, {df.pre_pt_root_id.nunique()} pre x {df.post_pt_root_id.nunique()} post, "
        f"{len(df.drop_duplicates(['pre_pt_root_id', 'post_pt_root_id']))} pairs"
    )
    t_ours, mem_ours, mats = measure(lambda: ours(df), repeat=3)
    t0 = time.perf_counter()
    ref = reference(df)
    t_ref = time.perf_counter() - t0
    # correctness: same counts and sums
    count_ref = ref[1]
    m = ConnectivityMatrix.from_synapses(SynapseTable.from_frame(df))
    assert int(mats[1].sum()) == int(count_ref.to_numpy().sum()) == len(df)
    assert float(mats[2].sum()) == float(ref[2].to_numpy().sum())
    assert np.array_equal(np.sort(m.pre_ids), count_ref.index.to_numpy(np.int64))
    print(ratio_line("matrices binary+count+sum+mean", t_ours, t_ref, "s"))
    print(f"matrices peak memory: ours {mem_ours:.0f} MB traced (target < 500 MB)")
    t_c, _mem_c, _ = measure(
        lambda: ConnectivityMatrix.from_synapses(SynapseTable.from_frame(df)).compress(
            ("count", "size_sum", "size_mean")
        ),
        repeat=3,
    )
    t0 = time.perf_counter()
    df.groupby(["pre_pt_root_id", "post_pt_root_id"])["size"].agg(["count", "sum", "mean"])
    t_g = time.perf_counter() - t0
    print(ratio_line("condensed table vs groupby.agg", t_c, t_g, "s"))
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
