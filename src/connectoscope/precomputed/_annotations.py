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

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._atomic import write_json_atomic
from ..errors import DataFormatError, DatasetExistsError, InvalidParameterError
from ._sharding import compressed_morton_code, sharding_spec, write_sharded

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["write_synapse_annotations"]
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
