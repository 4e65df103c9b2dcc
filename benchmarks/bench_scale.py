"""The whole MICrONS shape on this machine: 3.37x10^8 synthetic synapses.

1. **Generation** (timed on its own): a partitioned Parquet synapse table written in a
   stream (2 million rows per file, 1 million per write; never the whole table in memory)
   by ``--workers`` processes: ``id``, ``pre_pt_root_id``, ``post_pt_root_id`` (int64
   MICrONS-like root ids, all above 2**53), ``size`` and ``ctr_pt_position_x/y/z`` (voxels
   of 4 x 4 x 40 nm). Pairs are drawn uniformly from ``0.6 n`` pair numbers mapped to
   (pre, post) by an affine bijection, so pairs repeat across files (about 1.6 synapses per
   connected pair) without any table of pairs in memory.
2. **Condense** with ``connectoscope connectome condense`` (pairs + per-cell sums), in its
   own process, and the references on the same files: DuckDB's plain ``GROUP BY pre, post``
   to Parquet at the same memory limit (default) and Polars streaming (``--references
   duckdb,polars``; Polars has no memory limit and needed 7.7 GB at 10^8 synapses, so it
   is opt-in here). Peak RSS of each process tree, sampled from outside.

Goal: the condense under 4 minutes and under 1.5 GB peak RSS on this 2-core machine.

    python benchmarks/bench_scale.py                       # 3.37e8 synapses (~10 GB of Parquet)
    python benchmarks/bench_scale.py --data /big/scale     # keep / reuse the generated files
    python benchmarks/bench_scale.py --smoke               # 10^6 synapses, seconds
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import peak_rss_mb, ratio_line
from bench_connectome import run_tool

MICRONS_SYNAPSES = 337_000_000
ID_BASE = 864691135000000000  # MICrONS-like root ids (above 2**53)
ROWS_PER_FILE = 2_000_000
ROWS_PER_WRITE = 1_000_000


def _root_ids(i: np.ndarray, stride: int, salt: int) -> np.ndarray:
    """Distinct increasing 64-bit ids for the numbers ``i`` (no table of ids needed)."""
    return (ID_BASE + salt + i * stride + (i * 2654435761) % (stride - 7)).astype(np.int64)


def _write_file(args: tuple) -> int:
    """Write one Parquet file of synthetic synapses, ROWS_PER_WRITE rows at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path, k, rows, row0, n_pre, n_post, n_pairs, seed = args
    rng = np.random.default_rng([seed, k])
    n = n_pre * n_post
    a = 2_654_435_761 % n or 1
    while math.gcd(a, n) != 1:
        a += 1
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("pre_pt_root_id", pa.int64()),
            ("post_pt_root_id", pa.int64()),
            ("size", pa.int64()),
            ("ctr_pt_position_x", pa.int32()),
            ("ctr_pt_position_y", pa.int32()),
            ("ctr_pt_position_z", pa.int32()),
        ]
    )
    tmp = Path(str(path) + ".part")
    with pq.ParquetWriter(tmp, schema, compression="snappy", use_dictionary=False) as w:
        done = 0
        while done < rows:
            m = min(ROWS_PER_WRITE, rows - done)
            pair = rng.integers(0, n_pairs, m, dtype=np.int64)
            key = (pair * a) % n
            cols = [
                np.arange(row0 + done, row0 + done + m, dtype=np.int64),
                _root_ids(key // n_post, 4099, 0),
                _root_ids(key % n_post, 1031, 7),
                np.maximum(1, rng.lognormal(5.5, 0.9, m)).astype(np.int64),
                rng.integers(0, 250_000, m, dtype=np.int32),
                rng.integers(0, 200_000, m, dtype=np.int32),
                rng.integers(0, 25_000, m, dtype=np.int32),
            ]
            w.write_table(pa.Table.from_arrays([pa.array(c) for c in cols], schema=schema))
            done += m
    tmp.rename(path)
    return rows


def generate(out: Path, n: int, workers: int, seed: int = 0) -> tuple[Path, float, bool]:
    """Write (or reuse) ``n`` synthetic synapses under ``out``; (folder, seconds, reused)."""
    from connectoscope._progress import progress

    n_pre = max(100, n // 170)  # 2 M presynaptic ids at 3.37e8 (orphan fragments included)
    n_post = max(200, n // 85)  # 4 M postsynaptic ids
    n_pairs = max(1, int(0.6 * n))
    meta = {"n": n, "n_pre": n_pre, "n_post": n_post, "n_pairs": n_pairs, "seed": seed}
    done = out / "_generated.json"
    if done.exists() and json.loads(done.read_text()) == meta:
        return out, 0.0, True
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    n_files = max(1, math.ceil(n / ROWS_PER_FILE))
    sizes = np.full(n_files, n // n_files)
    sizes[: n % n_files] += 1
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    items = [
        (out / f"part-{k:05d}.parquet", k, int(r), int(s), n_pre, n_post, n_pairs, seed)
        for k, (r, s) in enumerate(zip(sizes, starts))
    ]
    t0 = time.perf_counter()
    with (
        ProcessPoolExecutor(max_workers=workers) as pool,
        progress(total=n, desc="generate", unit="syn", unit_scale=True) as bar,
    ):
        for rows in pool.map(_write_file, items):
            bar.update(rows)
    seconds = time.perf_counter() - t0
    done.write_text(json.dumps(meta) + "\n")
    return out, seconds, False


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--smoke", action="store_true", help="10^6 synapses (seconds)")
    ap.add_argument("--synapses", type=int, default=None, help="default 3.37e8 (MICrONS)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="1.5GB", help="DuckDB memory_limit")
    ap.add_argument("--references", default="duckdb", help="comma list of duckdb, polars (or none)")
    ap.add_argument("--data", default=None, help="keep the generated Parquet here (reused)")
    ap.add_argument("--tmp-dir", default=None, help="where outputs and temporary files go")
    args = ap.parse_args()
    n = args.synapses or (10**6 if args.smoke else MICRONS_SYNAPSES)
    tmp = Path(tempfile.mkdtemp(prefix="cs-scale-", dir=args.tmp_dir))
    data = Path(args.data) if args.data else tmp / "synapses"
    try:
        src, t_gen, reused = generate(data, n, args.workers)
        size_gb = sum(f.stat().st_size for f in src.glob("*.parquet")) / 1e9
        n_files = len(list(src.glob("*.parquet")))
        how = "reused from an earlier run" if reused else f"generated in {t_gen:.1f} s"
        print(
            f"input: {n} synthetic MICrONS-shaped synapses (int64 root ids > 2**53, positions, "
            f"sizes), {n_files} Parquet files, {size_gb:.2f} GB, {how}"
            + ("" if reused else f" ({n / t_gen / 1e6:.2f} M synapses/s, {args.workers} processes)")
        )
        o = run_tool("ours", src, tmp / "out-ours", args.workers, args.memory_limit)
        assert o["synapses"] == n
        goal = "met" if o["seconds"] < 240 and o["rss"] < 1500 else "NOT met"
        print(
            f"condense {n} synapses: ours {o['seconds']:.1f} s, {n / o['seconds'] / 1e6:.2f} M "
            f"synapses/s -> {o['pairs']} pairs; peak RSS of all processes {o['rss']:.0f} MB "
            f"(goal < 240 s and < 1500 MB: {goal})"
        )
        for tool in [
            t.strip() for t in args.references.split(",") if t.strip() not in ("", "none")
        ]:
            r = run_tool(tool, src, tmp / f"out-{tool}", args.workers, args.memory_limit)
            assert (r["pairs"], r["synapses"]) == (o["pairs"], o["synapses"]), (tool, r, o)
            label = {"duckdb": "DuckDB GROUP BY", "polars": "Polars streaming"}[tool]
            limit = f"memory_limit {args.memory_limit}" if tool == "duckdb" else "no memory limit"
            print(
                ratio_line(f"condense {n} synapses vs {label}", o["seconds"], r["seconds"], "s")
                + f"; peak RSS ours {o['rss']:.0f} MB, {tool} {r['rss']:.0f} MB "
                f"({args.workers} workers, {limit})"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
