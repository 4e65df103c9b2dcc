"""Per-segment and per-object tables: voxel count, bounding box, centroid (nm).

Computed block by block (one task per storage shard) and merged exactly across block
borders: counts and coordinate sums add, boxes take the min of starts and max of stops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._progress import progress

if TYPE_CHECKING:  # pragma: no cover
    from ..dataset import Dataset

__all__ = ["block_statistics", "object_table", "segment_table"]

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


def _finish(df: pd.DataFrame, voxel_size: tuple[float, float, float]) -> pd.DataFrame:
    out = df.copy()
    for ax, v in zip("xyz", voxel_size):
        out[f"centroid_{ax}_nm"] = out[f"s{ax}"] / out["voxels"] * v
    return out.drop(columns=["sx", "sy", "sz"])


def segment_table(dataset: Dataset, *, level: int = 0) -> pd.DataFrame:
    """Per-segment table of the dataset's segmentation, computed shard by shard.

    Returns
    -------
    pandas.DataFrame
        ``segment_id`` (uint64), ``voxels`` (int64, at ``level``), box ``x0, y0, z0, x1, y1,
        z1`` (voxels of ``level``, half-open), ``centroid_{x,y,z}_nm``.
    """
    from ..geometry import Bbox

    seg = dataset.segmentation
    lev = seg.levels[level]
    parts = []
    for start, stop in progress(lev.shard_boxes(), desc="segment table", unit="block"):
        b = Bbox((start[2], start[1], start[0]), (stop[2], stop[1], stop[0]))
        parts.append(_raw_stats(seg.read(b, level=level), b.start))
    return _finish(_merge(parts), lev.voxel_size.xyz)


def _raw_stats(labels: np.ndarray, start_xyz: tuple[int, int, int]) -> pd.DataFrame:
    return block_statistics(labels, start_xyz)


def object_table(
    segments: pd.DataFrame, objects: object, kind: str, voxel_size: tuple[float, float, float]
) -> pd.DataFrame:
    """Per-object table for one kind from a per-segment table (exact: sums of segment sums)."""
    from ._maps import ObjectMaps

    assert isinstance(objects, ObjectMaps)
    df = segments.copy()
    df["object_id"] = objects.lookup(kind, df["segment_id"].to_numpy())
    df = df[df["object_id"] != 0]
    for ax, v in zip("xyz", voxel_size):
        df[f"s{ax}"] = df[f"centroid_{ax}_nm"] / v * df["voxels"]
    agg = (
        df.groupby("object_id", sort=True)
        .agg(segments=("segment_id", "size"), **_MERGE)
        .reset_index()
    )
    return _finish(agg, voxel_size)
