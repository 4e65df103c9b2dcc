"""Per-segment and per-object tables: voxel count, bounding box, centroid (nm).

Computed block by block (one task per storage shard) and merged exactly across block
borders: counts and coordinate sums add, boxes take the min of starts and max of stops.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._atomic import atomic_path
from .._store import Store
from ..geometry import Bbox, LevelFrame
from ..parallel import run_tasks
from ..volume import VolumeLayer
from ._maps import ObjectMaps

__all__ = [
    "block_statistics",
    "object_table",
    "read_segment_table",
    "segment_table",
    "write_segment_table",
]

#: Parquet schema-metadata key holding the level and the segmentation's signature.
_META_KEY = b"connectoscope"

_COLS = ["segment_id", "voxels", "x0", "y0", "z0", "x1", "y1", "z1", "sx", "sy", "sz"]


def block_statistics(
    labels_zyx: np.ndarray, start_xyz: tuple[int, int, int] = (0, 0, 0)
) -> pd.DataFrame:
    """Statistics of one block of labels (label 0 excluded).

    Returns
    -------
    pandas.DataFrame
        ``segment_id`` (uint64), ``voxels``, box ``x0..z1`` (half-open, voxels, global), and
        coordinate sums ``sx, sy, sz`` (voxel index sums, for exact centroid merging).
    """
    import cc3d
    import fastremap

    arr = np.ascontiguousarray(labels_zyx)
    renum, mapping = fastremap.renumber(arr, preserve_zero=True, in_place=False)
    if len(mapping) <= 1 and 0 in mapping:
        return pd.DataFrame(
            {c: np.zeros(0, np.uint64 if c == "segment_id" else np.int64) for c in _COLS}
        )
    # cc3d expects x, y, z order (Fortran view of our C [z, y, x] array)
    stats = cc3d.statistics(renum.T)
    inv = np.zeros(int(renum.max()) + 1, np.uint64)
    for orig, new in mapping.items():
        inv[int(new)] = orig
    counts = np.asarray(stats["voxel_counts"], np.int64)
    ids = np.flatnonzero(counts)
    ids = ids[ids != 0]
    boxes = stats["bounding_boxes"]
    cents = np.asarray(stats["centroids"], np.float64)
    out = pd.DataFrame({"segment_id": inv[ids], "voxels": counts[ids]})
    b = np.array(
        [[s.start for s in boxes[i]] + [s.stop for s in boxes[i]] for i in ids], np.int64
    ).reshape(-1, 6)
    for j, c in enumerate(["x0", "y0", "z0", "x1", "y1", "z1"]):
        out[c] = b[:, j] + start_xyz[j % 3]
    for j, c in enumerate(["sx", "sy", "sz"]):
        out[c] = (cents[ids, j] + start_xyz[j]) * counts[ids]
    return out


#: How block (or segment) statistics combine: counts and coordinate sums add, boxes widen.
_MERGE = {
    "voxels": ("voxels", "sum"),
    **{c: (c, "min") for c in ("x0", "y0", "z0")},
    **{c: (c, "max") for c in ("x1", "y1", "z1")},
    **{c: (c, "sum") for c in ("sx", "sy", "sz")},
}


def _merge(parts: list[pd.DataFrame]) -> pd.DataFrame:
    df = pd.concat(parts, ignore_index=True)
    if df.empty:
        return df
    agg = df.groupby("segment_id", sort=True).agg(**_MERGE)
    return agg.reset_index()


def _finish(df: pd.DataFrame, frame: LevelFrame | None) -> pd.DataFrame:
    """Turn voxel-index sums into centroids: in the dataset's nm through ``frame``, or, with
    no frame, the sums are already nm-weighted (``s{ax}`` = sum of nm * voxels)."""
    out = df.copy()
    mean = np.stack([out[f"s{ax}"] / out["voxels"] for ax in "xyz"], axis=1)
    nm = frame.to_nm(mean) if frame is not None else mean
    for i, ax in enumerate("xyz"):
        out[f"centroid_{ax}_nm"] = nm[:, i]
    return out.drop(columns=["sx", "sy", "sz"])


@dataclass(frozen=True)
class _StatsTask:
    """One shard of one level to measure (picklable: runs in worker processes)."""

    ds_path: str
    layer: str
    level: int
    start_xyz: tuple[int, int, int]
    stop_xyz: tuple[int, int, int]


def _stats_task(task: _StatsTask) -> pd.DataFrame:

    layer = VolumeLayer(Store(task.ds_path), task.layer)
    labels = layer.read(Bbox(task.start_xyz, task.stop_xyz), level=task.level)
    return block_statistics(labels, task.start_xyz)


def segment_table(
    dataset: Store,
    *,
    level: int = 0,
    layer: str = "segmentation",
    workers: int | None = None,
) -> pd.DataFrame:
    """Per-segment table of a label layer, one task per storage shard, merged exactly.

    Parameters
    ----------
    dataset : Store
    level : int
        Pyramid level measured.
    layer : str
        Label layer (``segmentation`` or a mapped layer such as ``mapped_neuron``).
    workers : int, optional
        Worker processes (default: all cores; 1 runs in this process).

    Returns
    -------
    pandas.DataFrame
        ``segment_id`` (uint64), ``voxels`` (int64, at ``level``), box ``x0, y0, z0, x1, y1,
        z1`` (int64 voxels of ``level``, half-open), ``centroid_{x,y,z}_nm`` (float64, nm in
        dataset coordinates, the dataset offset included, as mesh vertices).
    """

    vol = VolumeLayer(dataset, layer)
    vol.shape_zyx(level)  # names the levels that exist when ``level`` does not
    lev = vol.levels[level]
    tasks = [
        _StatsTask(
            str(dataset.path),
            layer,
            level,
            (start[2], start[1], start[0]),
            (stop[2], stop[1], stop[0]),
        )
        for start, stop in lev.shard_boxes()
    ]
    parts = run_tasks(
        _stats_task,
        tasks,
        workers=1 if len(tasks) < 2 else workers,
        desc="segment table",
        unit="shard",
    )
    if not parts:
        parts = [block_statistics(np.zeros((1, 1, 1), np.uint8))]
    # dataset nm, as mesh vertices (the dataset offset and the level's voxel centres)
    return _finish(_merge(parts), vol.frame(level))


def _signature(dataset: Store, layer: str) -> str:
    return str(dataset.layer(layer).get("signature", ""))


def write_segment_table(
    dataset: Store, table: pd.DataFrame, *, level: int, layer: str = "segmentation"
) -> Path:
    """Store a per-segment table as ``objects/segments.parquet``, recording the level and
    the segmentation it was measured on (so a stale table is never used)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pa.Table.from_pandas(table, preserve_index=False)
    meta = dict(t.schema.metadata or {})
    meta[_META_KEY] = json.dumps(
        {"level": int(level), "layer": layer, "signature": _signature(dataset, layer)}
    ).encode()
    with atomic_path(dataset.layout.segments_table) as tmp:
        pq.write_table(t.replace_schema_metadata(meta), tmp)
    return dataset.layout.segments_table


def read_segment_table(
    dataset: Store, *, layer: str = "segmentation"
) -> tuple[pd.DataFrame, int] | None:
    """The per-segment table stored by ``objects stats``, with the level it was measured at.

    Returns
    -------
    (pandas.DataFrame, int) or None
        The table (columns as :func:`segment_table`) and its level; None when no table is
        stored, or when it was measured on another layer or an older segmentation.
    """
    import pyarrow.parquet as pq

    path = dataset.layout.segments_table
    if not path.is_file() or not dataset.has_layer(layer):
        return None
    meta = (pq.read_schema(path).metadata or {}).get(_META_KEY)
    if meta is None:
        return None
    info = json.loads(meta)
    if info.get("layer") != layer or info.get("signature") != _signature(dataset, layer):
        return None
    return pd.read_parquet(path), int(info["level"])


def object_table(segments: pd.DataFrame, objects: ObjectMaps, kind: str) -> pd.DataFrame:
    """Per-object table for one kind from a per-segment table (exact: sums of segment sums;
    centroids are the voxel-weighted means of the segments' centroids, nm)."""
    df = segments.copy()
    df["object_id"] = objects.lookup(kind, df["segment_id"].to_numpy())
    df = df[df["object_id"] != 0]
    for ax in "xyz":
        df[f"s{ax}"] = df[f"centroid_{ax}_nm"] * df["voxels"]
    agg = (
        df.groupby("object_id", sort=True)
        .agg(segments=("segment_id", "size"), **_MERGE)
        .reset_index()
    )
    return _finish(agg, None)
