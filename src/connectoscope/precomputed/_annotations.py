"""Neuroglancer precomputed annotations (``neuroglancer_annotations_v1``) for synapses.

Layout of an annotation folder (``DS/annotations/synapses/``)::

    info             {"@type": "neuroglancer_annotations_v1", "annotation_type": "point",
                      "dimensions": {"x": [1e-9, "m"], ...}, "lower_bound", "upper_bound",
                      "properties": [{"id": "size", "type": "float32"}],
                      "relationships": [{"id": "pre_segment", ...}, {"id": "post_segment", ...}],
                      "by_id": {...}, "spatial": [{level 0}, {level 1}, ...]}
    by_id/           annotation id -> one annotation (position, properties, related ids)
    pre_segment/     presynaptic root id -> the synapses it makes
    post_segment/    postsynaptic root id -> the synapses it receives
    spatial0/ ...    one folder per spatial index level, coarsest first

Every index is stored in the ``neuroglancer_uint64_sharded_v1`` format (a few shard files
instead of one file per key): uint64 ids hashed with MurmurHash3 x86-128, spatial cells keyed
by their compressed Morton code (identity hash). Positions are nm, ``x, y, z``.

The spatial index follows the Neuroglancer specification: level 0 is one cell covering the
bounds; each finer level halves the longest cell edges (towards isotropic cells); every level
emits a uniform random subsample of the remaining annotations, at most ``limit`` per cell,
the same fraction in every cell, and passes the rest down. So every synapse appears in exactly
one cell of exactly one level, and a viewer that stops at a coarse level still shows a
spatially uniform sample: a million synapses load progressively.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._atomic import write_json_atomic
from ..errors import DataFormatError, DatasetExistsError, InvalidParameterError
from ._sharding import compressed_morton_code, sharding_spec, write_sharded

__all__ = ["write_synapse_annotations", "write_synapse_annotations_streaming"]
#: Relationship names, as Neuroglancer shows them.
RELATIONSHIPS = ("pre_segment", "post_segment")


# --------------------------------------------------------------------------- encoding
def _record_dtype(n_props: int) -> np.dtype:
    """Position (3 float32) + ``n_props`` float32 properties: a multiple of 4 bytes."""
    fields = [("xyz", "<f4", (3,))] + [(f"p{i}", "<f4") for i in range(n_props)]
    return np.dtype(fields)


def _spatial_levels(
    lower: np.ndarray, upper: np.ndarray, max_levels: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(grid_shape, chunk_size) per level: level 0 one cell; halve the long edges each step."""
    extent = upper - lower
    grid = np.ones(3, np.int64)
    out = []
    for _ in range(max_levels):
        chunk = extent / grid
        out.append((grid.copy(), chunk))
        halve = chunk > chunk.max() / 2  # the edges at least half the longest one
        grid = np.where(halve, grid * 2, grid)
    return out


def write_synapse_annotations(
    synapses: pd.DataFrame | Any,
    out: str | os.PathLike[str],
    *,
    properties: Sequence[str] = ("size",),
    limit: int = 2000,
    max_levels: int = 20,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a synapse table as Neuroglancer precomputed point annotations.

    Parameters
    ----------
    synapses : pandas.DataFrame or SynapseTable
        A table (or any object whose ``.df`` is one). Needs positions ``x_nm, y_nm, z_nm`` (nm) and ``pre``/``post`` ids (non-negative,
        64-bit exact). The ``pre_segment``/``post_segment`` relationships hold the ids of the
        segmentation: the ``pre_segment_id``/``post_segment_id`` columns when the table has
        both (segments grouped into objects, as in L4dense and the synthetic data), else
        ``pre``/``post`` (MICrONS root ids are segmentation ids). An integer ``id`` column, when present and unique, gives the annotation
        ids; otherwise the row numbers do.
    out : path-like
        Annotation folder to create.
    properties : sequence of str
        Numeric columns stored as float32 properties (``size`` by default; missing ones are
        skipped only when they are the default ``size``).
    limit : int
        Most annotations in one spatial cell of one level.
    max_levels : int
        Most spatial index levels; the last one takes every remaining synapse.
    seed : int
        Seed of the random subsampling (the output is deterministic for a given seed).
    overwrite : bool
        Replace an existing folder.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    DataFormatError
        No positions, negative ids, non-numeric or missing properties.
    DatasetExistsError
        ``out`` exists and ``overwrite`` is False.
    """
    out = Path(out)
    df = synapses.df if hasattr(synapses, "df") else synapses
    need = ["x_nm", "y_nm", "z_nm"]
    if any(c not in df.columns for c in need):
        raise DataFormatError(
            f"synapse annotations need positions x_nm, y_nm, z_nm (nm); the table has "
            f"{list(df.columns)}. Read the table with its voxel size so positions become nm "
            "(SynapseTable.read(path, voxel_size=(4, 4, 40)); CLI: --voxel-size 4,4,40)"
        )
    if limit < 1:
        raise InvalidParameterError(f"limit must be >= 1, got {limit}")
    props = [p for p in properties if not (p == "size" and "size" not in df.columns)]
    for p in props:
        if p not in df.columns or not np.issubdtype(df[p].dtype, np.number):
            raise DataFormatError(
                f"property {p!r}: not a numeric column of the synapse table {list(df.columns)}"
            )
    if out.exists():
        if not overwrite:
            raise DatasetExistsError(f"{out}: already exists; pass overwrite=True (--overwrite)")
        shutil.rmtree(out)
    n = len(df)
    if n == 0:
        raise DataFormatError("the synapse table is empty: no annotations to write")
    xyz = df[need].to_numpy(np.float64)
    if n and not np.isfinite(xyz).all():
        raise DataFormatError(
            f"synapse positions: {int((~np.isfinite(xyz)).any(1).sum())} rows "
            "have missing or infinite coordinates"
        )
    seg_cols = ("pre_segment_id", "post_segment_id")
    rel_cols = seg_cols if all(c in df.columns for c in seg_cols) else ("pre", "post")
    related = []
    for col in rel_cols:
        ids = df[col].to_numpy()
        if ids.dtype.kind == "i" and n and ids.min() < 0:
            raise DataFormatError(f"{col} ids must be >= 0 for annotations, got {ids.min()}")
        related.append(ids.astype(np.uint64))
    if "id" in df.columns and df["id"].dtype.kind in "iu" and df["id"].is_unique:
        ann_ids = df["id"].to_numpy().astype(np.uint64)
    else:
        ann_ids = np.arange(n, dtype=np.uint64)

    rec = np.zeros(n, _record_dtype(len(props)))
    rec["xyz"] = xyz.astype(np.float32)
    for i, p in enumerate(props):
        rec[f"p{i}"] = df[p].to_numpy(np.float64).astype(np.float32)
    rec_bytes = (
        rec.view(np.uint8).reshape(n, rec.dtype.itemsize) if n else np.zeros((0, 1), np.uint8)
    )

    if n:
        lower = xyz.min(0)
        upper = xyz.max(0)
    else:
        lower = upper = np.zeros(3)
    upper = np.maximum(upper, lower + 1.0)  # a non-empty box even for one synapse
    out.mkdir(parents=True)
    info: dict[str, Any] = {
        "@type": "neuroglancer_annotations_v1",
        "dimensions": {"x": [1e-9, "m"], "y": [1e-9, "m"], "z": [1e-9, "m"]},
        "lower_bound": [float(v) for v in lower],
        "upper_bound": [float(v) for v in upper],
        "annotation_type": "point",
        "properties": [{"id": p, "type": "float32", "description": p} for p in props],
        "relationships": [],
        "by_id": {},
        "spatial": [],
    }

    # by_id: record + for each relationship (count=1, id)
    single = np.zeros(
        n,
        [
            ("r", f"V{rec.dtype.itemsize}"),
            ("c0", "<u4"),
            ("s0", "<u8"),
            ("c1", "<u4"),
            ("s1", "<u8"),
        ],
    )
    if n:
        single["r"] = rec.view(f"V{rec.dtype.itemsize}")
    single["c0"] = 1
    single["s0"] = related[0]
    single["c1"] = 1
    single["s1"] = related[1]
    w = single.dtype.itemsize
    spec = sharding_spec(n, data_encoding="raw")
    write_sharded(out / "by_id", ann_ids, single.view(np.uint8), np.arange(n + 1) * w, spec)
    info["by_id"] = {"key": "by_id", "sharding": spec}

    # relationship indices: segment -> all its synapses (multiple annotation encoding)
    for name, seg in zip(RELATIONSHIPS, related):
        keys, buf, offs = _group_encode(seg, np.arange(n), rec_bytes, ann_ids)
        spec = sharding_spec(len(keys))
        write_sharded(out / name, keys, buf, offs, spec)
        info["relationships"].append({"id": name, "key": name, "sharding": spec})

    # spatial index
    rng = np.random.default_rng(seed)
    priority = rng.permutation(n)
    remaining = np.arange(n)
    levels = _spatial_levels(lower, upper, max_levels)
    for li, (grid, chunk) in enumerate(levels):
        if not len(remaining) and li > 0:
            break
        cells = np.floor((xyz[remaining] - lower) / chunk).astype(np.int64)
        cells = np.clip(cells, 0, grid - 1)
        code = compressed_morton_code(cells, grid.tolist())
        order = np.lexsort((priority[remaining], code))
        code_s = code[order]
        first = np.r_[True, code_s[1:] != code_s[:-1]]
        starts = np.flatnonzero(first)
        counts = np.diff(np.r_[starts, len(code_s)])
        last = li == len(levels) - 1
        max_count = int(counts.max()) if len(counts) else 0
        frac = 1.0 if last or max_count <= limit else limit / max_count
        # the same fraction in every cell, rounded at random (unbiased), never above limit
        take = np.floor(counts * frac + rng.random(len(counts))).astype(np.int64)
        take = np.minimum(take, counts)
        if not last:
            take = np.minimum(take, limit)
        rank = np.arange(len(code_s)) - np.repeat(starts, counts)
        emit = rank < np.repeat(take, counts)
        emitted = remaining[order[emit]]  # grouped by cell, random order within a cell
        cell_of = code_s[emit]
        keys, buf, offs = _group_encode(cell_of, emitted, rec_bytes, ann_ids, presorted=True)
        spec = sharding_spec(len(keys), hash="identity")
        key = f"spatial{li}"
        write_sharded(out / key, keys, buf, offs, spec)
        info["spatial"].append(
            {
                "key": key,
                "grid_shape": [int(g) for g in grid],
                "chunk_size": [float(c) for c in chunk],
                "limit": int(take.max()) if len(take) and last else int(limit),
                "sharding": spec,
            }
        )
        remaining = np.sort(remaining[order[~emit]])
    write_json_atomic(out / "info", info, indent=1)
    return out


def _group_encode(
    group: np.ndarray,
    rows: np.ndarray,
    rec_bytes: np.ndarray,
    ann_ids: np.ndarray,
    *,
    presorted: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Multiple-annotation encoding per group key: uint64 count, the records, uint64 ids.

    Returns the distinct keys, the concatenated values and their offsets (n + 1).
    """
    group = np.asarray(group, np.uint64)
    if not presorted:
        order = np.argsort(group, kind="stable")
        group, rows = group[order], rows[order]
    if not len(group):
        return np.zeros(0, np.uint64), np.zeros(0, np.uint8), np.zeros(1, np.int64)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    counts = np.diff(np.r_[starts, len(group)])
    w = rec_bytes.shape[1]
    sizes = 8 + counts * (w + 8)
    offs = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    buf = np.empty(int(offs[-1]), np.uint8)
    recs = rec_bytes[rows]
    ids = ann_ids[rows].astype("<u8").view(np.uint8).reshape(-1, 8)
    for s, c, o in zip(starts.tolist(), counts.tolist(), offs[:-1].tolist()):
        buf[o : o + 8] = np.frombuffer(np.uint64(c).astype("<u8").tobytes(), np.uint8)
        buf[o + 8 : o + 8 + c * w] = recs[s : s + c].reshape(-1)
        buf[o + 8 + c * w : o + 8 + c * (w + 8)] = ids[s : s + c].reshape(-1)
    return group[starts], buf, offs


# =========================================================================== streaming
# The same layout from a table of any size, in bounded memory (see
# :func:`write_synapse_annotations_streaming`).

_U64 = np.uint64
_GOLD = np.uint64(0x9E3779B97F4A7C15)


def _priority(ann_ids: np.ndarray, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per annotation id, the same on every pass (and resume)."""
    h = (np.asarray(ann_ids, np.uint64) + _U64(seed) * _U64(0xD6E8FEB86659FD93)) * _GOLD
    h ^= h >> _U64(31)
    h *= _U64(0xBF58476D1CE4E5B9)
    h ^= h >> _U64(29)
    return (h >> _U64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _spec_for(n_keys: int, total_bytes: float, hash: str, key_bits: int = 64) -> dict[str, Any]:
    """Sharding parameters giving shards of about ``32 MiB`` of entries at most and about 64 keys per
    minishard, within the ``key_bits`` the keys use (identity-hashed Morton codes)."""
    shard_bits = max(0, math.ceil(math.log2(max(1.0, total_bytes / (32 << 20)))))
    shard_bits = min(shard_bits, 14, key_bits)
    per_shard = max(1.0, n_keys / (1 << shard_bits))
    mini = max(0, math.ceil(math.log2(max(1.0, per_shard / 512))))  # ~12 KB minishard indices
    mini = min(mini, 10, max(0, key_bits - shard_bits))
    return {
        "@type": "neuroglancer_uint64_sharded_v1",
        "hash": hash,
        "preshift_bits": 0,
        "minishard_bits": int(mini),
        "shard_bits": int(shard_bits),
        "minishard_index_encoding": "gzip",
        "data_encoding": "gzip",
    }


def _murmur(keys: np.ndarray) -> np.ndarray:
    """:func:`~._sharding.murmurhash3_x86_128_uint64`, compiled (same values; tested)."""
    from ._annkernels import murmur

    return np.asarray(murmur(np.ascontiguousarray(keys, np.uint64)))


def _shard_numbers(keys: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    k = np.asarray(keys, np.uint64) >> _U64(spec["preshift_bits"])
    h = _murmur(k) if spec["hash"] == "murmurhash3_x86_128" else k
    mbits, sbits = int(spec["minishard_bits"]), int(spec["shard_bits"])
    return ((h >> _U64(mbits)) & _U64((1 << sbits) - 1)).astype(np.int64)


def _kmv_update(sketch: np.ndarray, values: np.ndarray, k: int = 4096) -> np.ndarray:
    """K minimum values of the hashes of ``values`` (a distinct-count sketch)."""
    h = np.asarray(values, np.uint64) * _GOLD
    h ^= h >> _U64(29)
    h *= _U64(0xBF58476D1CE4E5B9)
    h ^= h >> _U64(32)
    m = min(h.size, 4 * k)
    if m < h.size:
        h = np.partition(h, m - 1)[:m]  # the smallest, duplicates included
    return np.union1d(sketch, h)[:k]


def _kmv_estimate(sketch: np.ndarray, k: int = 4096) -> int:
    if sketch.size < k:
        return int(sketch.size)
    return int((k - 1) / (float(sketch[-1]) / 2.0**64))


def _nested_counts(fine: np.ndarray, fine_grid: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Cell counts of a coarser grid (each axis a divisor of the fine one), [x, y, z]."""
    f = (fine_grid // grid).astype(int)
    return fine.reshape(grid[0], f[0], grid[1], f[1], grid[2], f[2]).sum(axis=(1, 3, 5))


def write_synapse_annotations_streaming(
    batches: Any,
    out: str | os.PathLike[str],
    *,
    properties: Sequence[str] = ("size",),
    limit: int = 2000,
    max_levels: int = 20,
    seed: int = 0,
    overwrite: bool = False,
    work_dir: str | os.PathLike[str] | None = None,
    chunk_rows: int = 1_000_000,
    source_key: str = "",
    workers: int | None = None,
    progress: Any = None,
    compress: bool = False,
) -> Path:
    """:func:`write_synapse_annotations` for tables larger than memory: the same folder
    layout (by-id, ``pre_segment``/``post_segment`` and multi-level spatial indices, all
    sharded), written from batches in bounded memory, resumably.

    Parameters
    ----------
    batches : callable
        ``batches(columns)`` returns a fresh iterable of pandas DataFrames holding at least
        ``columns`` (None: every column needed), in the same order every time. It is
        called for two passes of statistics (positions; then positions and ids) and once to
        write. Columns as for :func:`write_synapse_annotations` (``x_nm, y_nm, z_nm``,
        ``pre``/``post`` or ``pre_segment_id``/``post_segment_id``, optional unique ``id``
        and property columns).
    out : path-like
        Annotation folder to create (its ``info`` is written last: a folder without one is
        incomplete).
    properties, limit, max_levels, seed, overwrite
        As for :func:`write_synapse_annotations`. The spatial subsampling draws one
        uniform number per annotation (from ``seed`` and its id) and emits, at each level,
        the annotations whose number falls in that level's band, the same band in every
        cell, sized from the fullest cell so that a cell holds about ``limit`` (the info
        records the largest count actually written per level).
    work_dir : path-like, optional
        Spill files (about 150 bytes per synapse) and completion records; default
        ``.OUT.annotations`` beside ``out``. Kept after an interruption: a re-run with the
        same ``source_key`` and options resumes it.
    chunk_rows : int
        Rows per spill chunk (one completion record each).
    source_key : str
        Identifies the input (a fingerprint of the files) for resuming.
    workers : int, optional
        Threads writing shards (default: the number of cores).
    progress : callable, optional
        ``progress(phase, rows)`` as rows are read (for progress bars).
    compress : bool
        gzip every value of the relationship and spatial indices (about half the size,
        several times slower to write); default raw.

    Returns
    -------
    Path
        ``out``.
    """
    import json

    out = Path(out)
    if limit < 1:
        raise InvalidParameterError(f"limit must be >= 1, got {limit}")
    if out.exists():
        if not overwrite:
            raise DatasetExistsError(f"{out}: already exists; pass overwrite=True (--overwrite)")
        if not (out / "info").exists() and any(out.iterdir()):
            raise DatasetExistsError(
                f"{out}: exists and is not an annotation folder; refusing to replace it"
            )
    work = Path(work_dir) if work_dir else out.with_name(f".{out.name}.annotations")
    tick = progress or (lambda phase, rows: None)
    plan = {
        "version": 1,
        "source": source_key,
        "properties": list(properties),
        "limit": int(limit),
        "max_levels": int(max_levels),
        "seed": int(seed),
        "chunk_rows": int(chunk_rows),
        "compress": bool(compress),
    }
    if (work / "plan.json").exists():
        try:
            same = json.loads((work / "plan.json").read_text()) == plan
        except (OSError, ValueError):
            same = False
        if not same or not source_key:
            shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    write_json_atomic(work / "plan.json", plan)
    stats = _stream_stats(batches, work, properties, limit, max_levels, tick, compress)
    props = stats["props"]
    W = _record_dtype(len(props)).itemsize
    levels = [(np.array(g), np.array(c)) for g, c in stats["levels"]]
    specs = stats["specs"]
    lower = np.array(stats["lower"])
    thresholds = np.array(stats["thresholds"])
    rel_cols = stats["rel_cols"]
    # main pass: spill every index's entries, chunk by chunk, ordered by shard
    chunk = 0
    row0 = 0
    pending: list[pd.DataFrame] = []
    pending_rows = 0

    def flush(dfs: list[pd.DataFrame], chunk: int, row0: int) -> None:
        if (work / f"c{chunk:05d}.json").exists():
            return
        df = pd.concat(dfs, ignore_index=True) if len(dfs) > 1 else dfs[0]
        _spill_chunk(
            df, row0, work, chunk, props, rel_cols, W, levels, lower, thresholds, specs, seed
        )

    needed = ["x_nm", "y_nm", "z_nm", *rel_cols, *props] + (["id"] if stats["has_id"] else [])
    for df in batches(needed):
        n = len(df)
        if not n:
            continue
        pending.append(df)
        pending_rows += n
        if pending_rows >= chunk_rows:
            flush(pending, chunk, row0)
            tick("write", pending_rows)
            chunk += 1
            row0 += pending_rows
            pending, pending_rows = [], 0
    if pending:
        flush(pending, chunk, row0)
        tick("write", pending_rows)
        chunk += 1
    n_chunks = chunk
    # reduce: one task per (index, shard)
    tmp_out = out.with_name(f".{out.name}.part") if not out.exists() else out
    tasks = []
    for name, spec in specs.items():
        for shard in range(1 << int(spec["shard_bits"])):
            tasks.append((name, shard))
    _write_shards(tasks, work, tmp_out, n_chunks, specs, W, workers)
    info: dict[str, Any] = {
        "@type": "neuroglancer_annotations_v1",
        "dimensions": {"x": [1e-9, "m"], "y": [1e-9, "m"], "z": [1e-9, "m"]},
        "lower_bound": stats["lower"],
        "upper_bound": stats["upper"],
        "annotation_type": "point",
        "properties": [{"id": p, "type": "float32", "description": p} for p in props],
        "relationships": [{"id": r, "key": r, "sharding": specs[r]} for r in RELATIONSHIPS],
        "by_id": {"key": "by_id", "sharding": specs["by_id"]},
        "spatial": [],
    }
    maxima = _level_maxima(work, specs, len(thresholds))
    for li, (grid, chunk_size) in enumerate(levels[: len(thresholds)]):
        key = f"spatial{li}"
        info["spatial"].append(
            {
                "key": key,
                "grid_shape": [int(g) for g in grid],
                "chunk_size": [float(c) for c in chunk_size],
                "limit": int(max(maxima[li], 1)),
                "sharding": specs[key],
            }
        )
    write_json_atomic(tmp_out / "info", info, indent=1)
    if tmp_out != out:
        os.replace(tmp_out, out)
    shutil.rmtree(work, ignore_errors=True)
    return out


def _stream_stats(
    batches: Any,
    work: Path,
    properties: Sequence[str],
    limit: int,
    max_levels: int,
    tick: Any,
    compress: bool,
) -> dict[str, Any]:
    """Bounds, counts, distinct-id sketches, the spatial levels and their bands, the
    sharding of every index (cached in the work folder for a resume)."""
    import json

    cache = work / "stats.json"
    if cache.exists():
        return dict(json.loads(cache.read_text()))
    need = ["x_nm", "y_nm", "z_nm"]
    lower = np.full(3, np.inf)
    upper = np.full(3, -np.inf)
    n = 0
    cols: list[str] | None = None
    for df in batches(None):
        if cols is None:
            cols = list(df.columns)
            if any(c not in cols for c in need):
                raise DataFormatError(
                    f"synapse annotations need positions x_nm, y_nm, z_nm (nm); the table has "
                    f"{cols}. Give the voxel size so positions become nm (CLI: --voxel-size)"
                )
        if not len(df):
            continue
        xyz = df[need].to_numpy(np.float64)
        if not np.isfinite(xyz).all():
            raise DataFormatError(
                f"synapse positions: {int((~np.isfinite(xyz)).any(1).sum())} rows (in a batch "
                f"from row {n}) have missing or infinite coordinates"
            )
        lower = np.minimum(lower, xyz.min(0))
        upper = np.maximum(upper, xyz.max(0))
        n += len(df)
        tick("scan", len(df))
    if not n or cols is None:
        raise DataFormatError("the synapse table is empty: no annotations to write")
    props = [p for p in properties if not (p == "size" and "size" not in cols)]
    for p in props:
        if p not in cols:
            raise DataFormatError(f"property {p!r}: not a column of the synapse table {cols}")
    seg_cols = ("pre_segment_id", "post_segment_id")
    rel_cols = list(seg_cols) if all(c in cols for c in seg_cols) else ["pre", "post"]
    upper = np.maximum(upper, lower + 1.0)
    levels = _spatial_levels(lower, upper, max_levels)
    # the finest level whose grid stays under 4 M cells: its counts give every coarser one's
    fine_i = max(i for i, (g, _) in enumerate(levels) if int(np.prod(g)) <= 1 << 22)
    fine_grid, fine_chunk = levels[fine_i]
    fine = np.zeros(int(np.prod(fine_grid)), np.int64)
    sk = [np.zeros(0, np.uint64), np.zeros(0, np.uint64)]
    has_id = "id" in cols
    seen_ids = 0
    for df in batches(["x_nm", "y_nm", "z_nm", *rel_cols] + (["id"] if has_id else [])):
        if not len(df):
            continue
        xyz = df[need].to_numpy(np.float64)
        cell = np.clip(np.floor((xyz - lower) / fine_chunk).astype(np.int64), 0, fine_grid - 1)
        flat = (cell[:, 0] * fine_grid[1] + cell[:, 1]) * fine_grid[2] + cell[:, 2]
        fine += np.bincount(flat, minlength=fine.size)
        for i, c in enumerate(rel_cols):
            ids = df[c].to_numpy()
            if ids.dtype.kind not in "iu":
                raise DataFormatError(f"{c}: ids must be integers, got {ids.dtype}")
            if ids.dtype.kind == "i" and ids.min() < 0:
                raise DataFormatError(f"{c} ids must be >= 0 for annotations, got {ids.min()}")
            sk[i] = _kmv_update(sk[i], ids)
        if has_id and df["id"].dtype.kind not in "iu":
            has_id = False
        seen_ids += len(df)
        tick("count", len(df))
    fine = fine.reshape(tuple(int(g) for g in fine_grid))
    props_w = _record_dtype(len(props)).itemsize
    # bands: level l emits the annotations whose number u is in [t[l-1], t[l])
    thresholds: list[float] = []
    t_prev = 0.0
    margin = max(0.5, 1.0 - 3.0 / math.sqrt(limit))  # keeps binomial overshoot rare
    level_keys: list[int] = []
    level_rows: list[float] = []
    for li, (grid, _) in enumerate(levels):
        if li <= fine_i:
            counts = _nested_counts(fine, fine_grid, grid)
        else:  # finer than the histogram: bound by the fine counts
            counts = fine
        maxc = float(counts.max())
        last = li == len(levels) - 1 or maxc * (1 - t_prev) <= limit
        t = 1.0 if last else min(1.0, t_prev + margin * limit / maxc)
        thresholds.append(t)
        level_keys.append(int(min(np.count_nonzero(counts), np.prod(grid))))
        level_rows.append(n * (t - t_prev))
        t_prev = t
        if t >= 1.0:
            break
    specs: dict[str, Any] = {
        "by_id": _spec_for(n, n * (props_w + 24), "murmurhash3_x86_128"),
    }
    for name, s in zip(RELATIONSHIPS, sk):
        specs[name] = _spec_for(_kmv_estimate(s), n * (props_w + 24), "murmurhash3_x86_128")
    for li in range(len(thresholds)):
        grid = levels[li][0]
        bits = sum(max(0, math.ceil(math.log2(int(g)))) for g in grid)
        specs[f"spatial{li}"] = _spec_for(
            level_keys[li], level_rows[li] * (props_w + 24), "identity", key_bits=bits
        )
    for name, v in specs.items():  # by_id raw (one record each); the grouped ones maybe gzip
        v["data_encoding"] = "gzip" if compress and name != "by_id" else "raw"
    stats = {
        "n": n,
        "props": props,
        "rel_cols": rel_cols,
        "has_id": has_id,
        "lower": [float(v) for v in lower],
        "upper": [float(v) for v in upper],
        "levels": [[[int(g) for g in grid], [float(c) for c in ch]] for grid, ch in levels],
        "thresholds": thresholds,
        "specs": specs,
    }
    write_json_atomic(cache, stats)
    return stats


def _spill_chunk(
    df: pd.DataFrame,
    row0: int,
    work: Path,
    chunk: int,
    props: list[str],
    rel_cols: list[str],
    W: int,
    levels: list[tuple[np.ndarray, np.ndarray]],
    lower: np.ndarray,
    thresholds: np.ndarray,
    specs: dict[str, Any],
    seed: int,
) -> None:
    """One chunk of rows -> one spill file per index, entries ordered by shard (offsets in
    the chunk's completion record)."""
    import json

    from .._atomic import atomic_path, write_text_atomic

    n = len(df)
    xyz = df[["x_nm", "y_nm", "z_nm"]].to_numpy(np.float64)
    if "id" in df.columns and df["id"].dtype.kind in "iu":
        ann = df["id"].to_numpy().astype(np.uint64)
    else:
        ann = np.arange(row0, row0 + n, dtype=np.uint64)
    rec = np.zeros(n, _record_dtype(len(props)))
    rec["xyz"] = xyz.astype(np.float32)
    for i, p in enumerate(props):
        rec[f"p{i}"] = df[p].to_numpy(np.float64).astype(np.float32)
    rel = [df[c].to_numpy().astype(np.uint64) for c in rel_cols]
    u = _priority(ann, seed)
    level = np.searchsorted(thresholds, u, side="right").clip(0, len(thresholds) - 1)
    morton = np.zeros(n, np.uint64)
    for li in range(len(thresholds)):
        sel = np.flatnonzero(level == li)
        if not sel.size:
            continue
        grid, chunk_size = levels[li]
        cells = np.clip(np.floor((xyz[sel] - lower) / chunk_size).astype(np.int64), 0, grid - 1)
        morton[sel] = compressed_morton_code(cells, grid.tolist())
    # entries: (key u64, payload) per index
    by = np.zeros(
        n,
        [("k", "<u8"), ("r", f"V{W}"), ("c0", "<u4"), ("s0", "<u8"), ("c1", "<u4"), ("s1", "<u8")],
    )
    by["k"] = ann
    by["r"] = rec.view(f"V{W}")
    by["c0"] = 1
    by["s0"] = rel[0]
    by["c1"] = 1
    by["s1"] = rel[1]
    entry = np.dtype([("k", "<u8"), ("o", "<u8"), ("i", "<u8"), ("r", f"V{W}")])
    offsets: dict[str, list[int]] = {}
    for name in ["by_id", *RELATIONSHIPS, *(f"spatial{li}" for li in range(len(thresholds)))]:
        spec = specs[name]
        if name == "by_id":
            arr = by
            keys = ann
        else:
            if name in RELATIONSHIPS:
                keys = rel[RELATIONSHIPS.index(name)]
                sel = np.arange(n)
                order_key = ann
            else:
                li = int(name[len("spatial") :])
                sel = np.flatnonzero(level == li)
                keys = morton[sel]
                order_key = (u[sel] * 2**53).astype(np.uint64)  # random order in a cell
            arr = np.zeros(sel.size, entry)
            arr["k"] = keys
            arr["o"] = order_key
            arr["i"] = ann[sel]
            arr["r"] = rec[sel].view(f"V{W}")
        shard = _shard_numbers(arr["k"], spec)
        order = np.argsort(shard, kind="stable")
        arr = arr[order]
        offs = np.searchsorted(shard[order], np.arange((1 << int(spec["shard_bits"])) + 1))
        with atomic_path(work / f"c{chunk:05d}.{name}.bin") as tmp:
            arr.tofile(tmp)
        offsets[name] = offs.tolist()
    write_text_atomic(work / f"c{chunk:05d}.json", json.dumps({"rows": n, "offsets": offsets}))


def _level_maxima(work: Path, specs: dict[str, Any], n_levels: int) -> list[int]:
    """Per level, the largest number of annotations written in one cell (each cell lives in
    one shard, whose writer recorded its largest cell)."""
    out = [0] * n_levels
    for li in range(n_levels):
        name = f"spatial{li}"
        for shard in range(1 << int(specs[name]["shard_bits"])):
            p = work / "done" / f"{name}.{shard}"
            out[li] = max(out[li], int(p.read_text() or 0))
    return out


def _write_shards(
    tasks: list[tuple[str, int]],
    work: Path,
    dest: Path,
    n_chunks: int,
    specs: dict[str, Any],
    W: int,
    workers: int | None,
) -> None:
    import json
    from concurrent.futures import ThreadPoolExecutor

    from .._atomic import write_text_atomic
    from ._sharding import write_sharded

    metas = [json.loads((work / f"c{c:05d}.json").read_text()) for c in range(n_chunks)]
    dest.mkdir(parents=True, exist_ok=True)
    by_dt = np.dtype(
        [("k", "<u8"), ("r", f"V{W}"), ("c0", "<u4"), ("s0", "<u8"), ("c1", "<u4"), ("s1", "<u8")]
    )
    entry = np.dtype([("k", "<u8"), ("o", "<u8"), ("i", "<u8"), ("r", f"V{W}")])

    def one(task: tuple[str, int]) -> None:
        name, shard = task
        done = work / "done" / f"{name}.{shard}"
        if done.exists():
            return
        dt = by_dt if name == "by_id" else entry
        parts = []
        for c, meta in enumerate(metas):
            a, b = meta["offsets"][name][shard], meta["offsets"][name][shard + 1]
            if b > a:
                parts.append(
                    np.fromfile(
                        work / f"c{c:05d}.{name}.bin", dt, count=b - a, offset=a * dt.itemsize
                    )
                )
        biggest = 0
        if parts:
            arr = np.concatenate(parts)
            del parts
            spec = specs[name]
            if name == "by_id":
                arr = arr[np.argsort(arr["k"], kind="stable")]
                if arr.size > 1 and (arr["k"][1:] == arr["k"][:-1]).any():
                    dup = int(arr["k"][1:][arr["k"][1:] == arr["k"][:-1]][0])
                    raise DataFormatError(
                        f"annotation ids: id {dup} is listed more than once; drop the id "
                        "column (row numbers become the ids) or make it unique"
                    )
                w = by_dt.itemsize - 8  # the value: everything after the key
                raw = arr.view(np.uint8).reshape(arr.size, by_dt.itemsize)[:, 8:]
                buf = np.ascontiguousarray(raw).reshape(-1)
                _write_shard_file(dest / name, arr["k"], buf, np.arange(arr.size + 1) * w, spec)
            else:
                arr = arr[np.lexsort((arr["o"], arr["k"]))]
                keys, buf, offs = _encode_sorted(arr["k"], arr["r"], arr["i"], W)
                del arr
                if spec["data_encoding"] == "gzip":
                    write_sharded(dest / name, keys, buf, offs, spec)
                else:
                    _write_shard_file(dest / name, keys, buf, offs, spec)
                biggest = int(((offs[1:] - offs[:-1] - 8) // (W + 8)).max())
        else:
            (dest / name).mkdir(parents=True, exist_ok=True)
        (work / "done").mkdir(exist_ok=True)
        write_text_atomic(done, str(biggest))

    from ..parallel import default_workers

    n = workers or default_workers()
    if n <= 1:
        for t in tasks:
            one(t)
        return
    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(one, tasks))


def _write_shard_file(
    folder: Path, keys: np.ndarray, buf: np.ndarray, offs: np.ndarray, spec: dict[str, Any]
) -> None:
    """One ``neuroglancer_uint64_sharded_v1`` shard file holding every key given (all of
    one shard), raw data: the values in (minishard, key) order, then the gzip'd minishard
    indices. Memory: one copy of the values (no per-byte index arrays)."""
    import gzip

    from .._atomic import atomic_path
    from ._annkernels import gather
    from ._sharding import shard_file_name

    keys = np.asarray(keys, np.uint64)
    if not keys.size:
        return
    k = keys >> _U64(spec["preshift_bits"])
    h = _murmur(k) if spec["hash"] == "murmurhash3_x86_128" else k
    mbits, sbits = int(spec["minishard_bits"]), int(spec["shard_bits"])
    mini = (h & _U64((1 << mbits) - 1)).astype(np.int64)
    shard = int((h[0] >> _U64(mbits)) & _U64((1 << sbits) - 1))
    order = np.lexsort((keys, mini))
    offs = np.asarray(offs, np.int64)
    data = gather(buf, offs, order)
    sizes = (offs[1:] - offs[:-1])[order]
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    n_mini = 1 << mbits
    index = np.zeros((n_mini, 2), "<u8")
    parts = []
    pos = len(data)
    mo = mini[order]
    ko = keys[order]
    bounds = np.flatnonzero(np.r_[True, mo[1:] != mo[:-1], True])
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        arr = np.empty((3, b - a), "<u8")
        arr[0] = np.diff(ko[a:b], prepend=_U64(0))
        prev_end = np.r_[0, starts[a : b - 1] + sizes[a : b - 1]]
        arr[1] = (starts[a:b] - prev_end).astype(np.uint64)
        arr[2] = sizes[a:b].astype(np.uint64)
        enc = gzip.compress(arr.tobytes(), compresslevel=1, mtime=0)
        index[int(mo[a])] = (pos, pos + len(enc))
        pos += len(enc)
        parts.append(enc)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / shard_file_name(shard, spec)) as tmp, open(tmp, "wb") as f:
        f.write(index.tobytes())
        f.write(memoryview(data))
        for p in parts:
            f.write(p)


def _encode_sorted(
    keys: np.ndarray, recs: np.ndarray, ids: np.ndarray, W: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The multiple-annotation encoding of entries sorted by key: per key a uint64 count,
    the records, then the uint64 ids (compiled; memory: the output only)."""
    from ._annkernels import encode

    m = len(keys)
    rb = np.ascontiguousarray(recs).view(np.uint8).reshape(m, W)
    ib = np.ascontiguousarray(ids, "<u8").view(np.uint8).reshape(m, 8)
    k, buf, offs = encode(np.ascontiguousarray(keys, np.uint64), rb, ib, W)
    return np.asarray(k), np.asarray(buf), np.asarray(offs)
