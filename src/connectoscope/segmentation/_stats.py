"""``objects stats``: counts per kind and the per-segment / per-object tables in Parquet."""

from __future__ import annotations

import os
from typing import Any

from .._atomic import write_parquet_atomic
from .._store import Store
from ._components import segment_components
from ._maps import ObjectMaps
from ._tables import object_table, segment_table, write_segment_table

__all__ = ["object_stats"]


def object_stats(
    dataset: Store | str | os.PathLike[str],
    *,
    level: int = 0,
    workers: int | None = None,
    components: bool = False,
    connectivity: int = 26,
) -> dict[str, Any]:
    """Compute and store the segment and object tables; return counts per kind.

    The segmentation is measured one storage shard per task (worker processes, or a Dask
    cluster handed over with :func:`connectoscope.executor`) and the block tables are merged exactly. Writes
    ``objects/segments.parquet`` (see :func:`~connectoscope.segmentation.read_segment_table`)
    and ``objects/objects_<kind>.parquet`` per kind.

    Parameters
    ----------
    dataset : Store or path
    level : int
        Pyramid level measured (voxel counts and boxes are in its voxels).
    workers : int, optional
        Worker processes (default: all cores).
    components : bool
        Also count the connected pieces of every segment (column ``components`` of the
        segment table; see :func:`~connectoscope.segmentation.segment_components`).
    connectivity : {6, 18, 26}
        Voxel neighbourhood of ``components``.

    Returns
    -------
    dict
        ``{"segments": n, "voxels": n, "kinds": {kind: {"objects": n, "segments": n,
        "voxels": n}}}``; with ``components``, also ``"components"`` (pieces in all) and
        ``"split_segments"`` (segments in more than one piece).
    """

    ds = dataset if isinstance(dataset, Store) else Store(dataset)
    seg = segment_table(ds, level=level, workers=workers)
    extra: dict[str, Any] = {}
    if components:
        comp = segment_components(ds, level=level, connectivity=connectivity, workers=workers)
        seg = seg.merge(comp, on="segment_id", how="inner", validate="one_to_one")
        extra = {
            "components": int(seg["components"].sum()),
            "split_segments": int((seg["components"] > 1).sum()),
            "connectivity": connectivity,
        }
    write_segment_table(ds, seg, level=level)
    maps = ObjectMaps.from_store(ds)
    kinds: dict[str, dict[str, int]] = {}
    for kind in maps.kinds:
        ot = object_table(seg, maps, kind)
        write_parquet_atomic(ot, ds.layout.object_table(kind))
        kinds[kind] = {
            "objects": len(ot),
            "segments": int(ot["segments"].sum()) if len(ot) else 0,
            "voxels": int(ot["voxels"].sum()) if len(ot) else 0,
        }
    ds.record_step("objects stats", level=level, segments=len(seg))
    return {
        "segments": len(seg),
        "voxels": int(seg["voxels"].sum()) if len(seg) else 0,
        "kinds": kinds,
        **extra,
    }
