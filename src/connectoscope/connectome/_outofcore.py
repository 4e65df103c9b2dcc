"""Condense a synapse table larger than memory (a partitioned Parquet dataset) with bounded
memory, locally or on a Dask cluster.

Two passes, each a set of independent tasks run through :func:`connectoscope.parallel.run_tasks`
(local worker processes by default, a ``distributed`` scheduler address when given):

1. **map**: every input file is read in batches of ``batch_rows`` rows (only the id and size
   columns); each batch is condensed (sort by (pre, post), reduce) and its pairs are
   hash-partitioned into ``n_buckets`` spill files (same pair -> same bucket);
2. **reduce**: every bucket's spill files are read and condensed again into one output
   part (``count``, ``size_sum``, ``size_mean``, ``size_min``, ``size_max``).

Memory per task is bounded by one batch (map) or one bucket (reduce); the number of
buckets is chosen from the row count in the Parquet metadata so a bucket holds at most
``bucket_rows`` partial rows. Ids stay exact: they travel as uint64 (never float) and come
out int64 when every id fits. On a cluster, ``tmp_dir`` and ``out`` must be on a filesystem
the workers share.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataFormatError, DatasetExistsError, SourceNotFoundError
from ..parallel import run_tasks
from ._ids import as_id_array

__all__ = ["condense_parquet"]

_MIX = np.uint64(0x9E3779B97F4A7C15)


def _files(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    files = sorted(
        f
        for f in src.rglob("*.parquet")
        if not any(part.startswith(("_", ".")) for part in f.relative_to(src).parts)
    )
    if not files:
        raise SourceNotFoundError(f"{src}: no .parquet files")
    return files


def _reduce_sorted(
    pre: np.ndarray,
    post: np.ndarray,
    cnt: np.ndarray,
    s: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
) -> dict[str, np.ndarray]:
    order = np.lexsort((post, pre))
    pre, post = pre[order], post[order]
    start = np.flatnonzero(np.r_[True, (pre[1:] != pre[:-1]) | (post[1:] != post[:-1])])
    return {
        "pre": pre[start],
        "post": post[start],
        "count": np.add.reduceat(cnt[order], start) if start.size else cnt[:0],
        "size_sum": np.add.reduceat(s[order], start) if start.size else s[:0],
        "size_min": np.minimum.reduceat(lo[order], start) if start.size else lo[:0],
        "size_max": np.maximum.reduceat(hi[order], start) if start.size else hi[:0],
    }


def _bucket_of(pre: np.ndarray, post: np.ndarray, n: int) -> np.ndarray:
    h = (pre * _MIX) ^ (post + np.uint64(0x632BE59BD9B4E019))
    h ^= h >> np.uint64(29)
    return (h % np.uint64(n)).astype(np.int64)


def _map_task(args: tuple[Any, ...]) -> dict[str, Any]:
    import pyarrow.parquet as pq

    path, task, cols, n_buckets, spill, batch_rows = args
    pre_c, post_c, size_c = cols
    pf = pq.ParquetFile(path)
    read = [pre_c, post_c] + ([size_c] if size_c else [])
    missing = [c for c in read if c not in pf.schema_arrow.names]
    if missing:
        raise DataFormatError(
            f"{path}: missing columns {missing} (found {pf.schema_arrow.names}); map names with "
            "columns={'pre': ..., 'post': ..., 'size': ...}"
        )
    n_rows = 0
    max_id = 0
    for b, batch in enumerate(pf.iter_batches(batch_size=batch_rows, columns=read)):
        df = batch.to_pandas()
        pre = as_id_array(df[pre_c], name=pre_c, source=str(path)).astype(np.uint64)
        post = as_id_array(df[post_c], name=post_c, source=str(path)).astype(np.uint64)
        size = df[size_c].to_numpy(np.float64) if size_c else np.zeros(pre.size)
        n_rows += pre.size
        if pre.size:
            max_id = max(max_id, int(pre.max()), int(post.max()))
        part = _reduce_sorted(pre, post, np.ones(pre.size, np.int64), size, size, size)
        bucket = _bucket_of(part["pre"], part["post"], n_buckets)
        order = np.argsort(bucket, kind="stable")
        bounds = np.searchsorted(bucket[order], np.arange(n_buckets + 1))
        for k in range(n_buckets):
            sel = order[bounds[k] : bounds[k + 1]]
            if sel.size:
                d = Path(spill) / f"bucket-{k:05d}"
                d.mkdir(parents=True, exist_ok=True)
                pd.DataFrame({c: v[sel] for c, v in part.items()}).to_parquet(
                    d / f"m{task:05d}-{b:05d}.parquet", index=False
                )
    return {"rows": n_rows, "max_id": max_id}


def _reduce_task(args: tuple[Any, ...]) -> int:
    bucket_dir, out_file, as_int64 = args
    files = sorted(Path(bucket_dir).glob("*.parquet"))
    if not files:
        return 0
    df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    r = _reduce_sorted(
        df["pre"].to_numpy(np.uint64),
        df["post"].to_numpy(np.uint64),
        df["count"].to_numpy(np.int64),
        df["size_sum"].to_numpy(np.float64),
        df["size_min"].to_numpy(np.float64),
        df["size_max"].to_numpy(np.float64),
    )
    del df
    if as_int64:
        r["pre"] = r["pre"].astype(np.int64)
        r["post"] = r["post"].astype(np.int64)
    out = pd.DataFrame(r)
    out.insert(4, "size_mean", out["size_sum"] / out["count"])
    tmp = Path(str(out_file) + ".part")
    out.to_parquet(tmp, index=False)
    os.replace(tmp, out_file)
    return len(out)


def condense_parquet(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    workers: int | None = None,
    batch_rows: int = 2_000_000,
    bucket_rows: int = 4_000_000,
    tmp_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Condense a (partitioned) Parquet synapse table into one row per (pre, post) pair with
    bounded memory.

    Parameters
    ----------
    source : path
        A Parquet file or a folder of them (searched recursively; names starting with ``_``
        or ``.`` are ignored).
    out : path
        Output folder: ``part-NNNNN.parquet`` with ``pre``, ``post``, ``count``,
        ``size_sum``, ``size_mean``, ``size_min``, ``size_max``, plus ``_condense.json``.
    columns : mapping, optional
        ``pre``/``post``/``size`` column names (default MICrONS names; ``size`` may be
        absent).
    workers : int, optional
        Local worker processes (default: number of cores; 1 runs in this process).
    batch_rows, bucket_rows : int
        Rows read at a time per map task; partial rows per reduce bucket (memory bounds).
    tmp_dir : path, optional
        Where spill files go (default: a hidden folder beside ``out``).
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    dict
        ``synapses``, ``pairs``, ``files``, ``buckets``, ``seconds``, ``out``.
    """
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    src = Path(source)
    if not src.exists():
        raise SourceNotFoundError(f"{src}: no such file or folder")
    dst = Path(out)
    if dst.exists():
        if not overwrite:
            raise DatasetExistsError(f"{dst}: exists; pass overwrite=True (CLI: --overwrite)")
        shutil.rmtree(dst)
    files = _files(src)
    m = dict(columns or {})
    cols: tuple[str, str, str | None] = (
        m.get("pre", "pre_pt_root_id"),
        m.get("post", "post_pt_root_id"),
        m.get("size", "size"),
    )
    schema = pq.ParquetFile(files[0]).schema_arrow.names
    if cols[2] not in schema and "size" not in m:
        cols = (cols[0], cols[1], None)
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    n_buckets = max(1, math.ceil(total / bucket_rows))
    spill = Path(tmp_dir) if tmp_dir else dst.with_name(f".{dst.name}.spill")
    if spill.exists():
        shutil.rmtree(spill)
    spill.mkdir(parents=True)
    try:
        maps = run_tasks(
            _map_task,
            [(str(f), i, cols, n_buckets, str(spill), batch_rows) for i, f in enumerate(files)],
            workers=workers,
            desc="condense: map",
            unit="file",
        )
        as_int64 = max((r["max_id"] for r in maps), default=0) <= np.iinfo(np.int64).max
        tmp_out = dst.with_name(f".{dst.name}.part")
        if tmp_out.exists():
            shutil.rmtree(tmp_out)
        tmp_out.mkdir(parents=True)
        pairs = run_tasks(
            _reduce_task,
            [
                (str(spill / f"bucket-{k:05d}"), str(tmp_out / f"part-{k:05d}.parquet"), as_int64)
                for k in range(n_buckets)
            ],
            workers=workers,
            desc="condense: reduce",
            unit="bucket",
        )
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    result = {
        "synapses": int(sum(r["rows"] for r in maps)),
        "pairs": int(sum(pairs)),
        "files": len(files),
        "buckets": n_buckets,
        "seconds": round(time.perf_counter() - t0, 3),
        "out": str(dst),
    }
    (tmp_out / "_condense.json").write_text(json.dumps(result, indent=1) + "\n")
    os.replace(tmp_out, dst)
    return result
