"""Our Parquet form of a skeleton: one table, one row per vertex.

Columns: ``node_id`` (int64), ``parent_id`` (int64, -1 for roots; the edges are the
``(node_id, parent_id)`` pairs), ``x``, ``y``, ``z`` (float64, nm), then every feature
(``compartment`` int32, ``radius`` float64 nm, others as stored). The Parquet key-value
metadata ``connectoscope`` holds JSON: ``{"format": "connectoscope-skeleton", "version": 1,
"name": ..., "units": {"x": "nm", ..., "radius": "nm"}, "meta": {...}}``. Rows are in the
skeleton's topological order, so reading gives back the same skeleton exactly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataFormatError, SourceNotFoundError
from ._skeleton import Skeleton

__all__ = ["read_skeleton_parquet", "write_skeleton_parquet"]

_KEY = b"connectoscope"
_FORMAT = "connectoscope-skeleton"


def write_skeleton_parquet(skel: Skeleton, path: str | os.PathLike[str]) -> Path:
    """Write ``skel`` as one Parquet table (see the module docstring for the layout)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pid = np.where(skel.parent >= 0, skel.node_ids[np.maximum(skel.parent, 0)], -1)
    cols: dict[str, Any] = {
        "node_id": skel.node_ids.astype(np.int64),
        "parent_id": pid.astype(np.int64),
        "x": skel.vertices[:, 0],
        "y": skel.vertices[:, 1],
        "z": skel.vertices[:, 2],
    }
    for k, v in skel.features.items():
        if k in cols:
            raise DataFormatError(f"feature name {k!r} clashes with a Parquet skeleton column")
        cols[k] = np.asarray(v)
    unit = str(skel.meta.get("unit", "nm"))
    meta = {
        "format": _FORMAT,
        "version": 1,
        "name": skel.name,
        "units": {"x": unit, "y": unit, "z": unit, "radius": unit},
        "meta": _jsonable(skel.meta),
    }
    table = pa.table(cols)
    table = table.replace_schema_metadata({_KEY: json.dumps(meta).encode()})
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, p, compression="zstd")
    return p


def read_skeleton_parquet(path: str | os.PathLike[str]) -> Skeleton:
    """Read a skeleton written by :func:`write_skeleton_parquet`.

    Raises
    ------
    SourceNotFoundError, DataFormatError
        Missing file; not our skeleton table (no ``connectoscope`` metadata or columns missing).
    """
    import pyarrow.parquet as pq

    p = Path(path)
    if not p.exists():
        raise SourceNotFoundError(f"{p}: no such file")
    try:
        table = pq.read_table(p)
    except Exception as e:
        raise DataFormatError(f"{p}: not a Parquet file ({e})") from None
    raw = (table.schema.metadata or {}).get(_KEY)
    info = json.loads(raw) if raw else {}
    if info.get("format") != _FORMAT:
        raise DataFormatError(
            f"{p}: not a connectoscope skeleton table (metadata 'connectoscope' with format "
            f"{_FORMAT!r} missing); write it with write_skeleton_parquet"
        )
    need = {"node_id", "parent_id", "x", "y", "z"}
    if not need <= set(table.column_names):
        raise DataFormatError(f"{p}: needs columns {sorted(need)}, has {table.column_names}")
    cols = {c: table.column(c).to_numpy() for c in table.column_names}
    feats = {k: v for k, v in cols.items() if k not in need}
    return Skeleton.from_parents(
        cols["node_id"],
        cols["parent_id"],
        np.stack([cols["x"], cols["y"], cols["z"]], axis=1),
        features=feats,
        name=str(info.get("name", p.stem)),
        source=str(p),
        meta=info.get("meta", {}),
    )


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
