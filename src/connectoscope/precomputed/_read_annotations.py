"""Reading precomputed annotations (``neuroglancer_annotations_v1``) from any writer.

Points, lines, axis-aligned boxes and ellipsoids; properties of every type (``uint8`` ...
``float32``, ``rgb``, ``rgba``, enum labels); relationships; spatial, by-id and relationship
indices, each sharded or not; local or remote.

Encoding (the Neuroglancer specification): one annotation is its geometry (``float32``: a
point is ``rank`` values, the other types ``2 * rank``: two corners, two end points, or
centre and radii), then the properties, laid out by alignment (all 4-byte ones in ``info``
order, then 2-byte, then 1-byte ones), padded to a multiple of 4 bytes. A spatial cell or a
relationship entry is ``uint64`` count, the annotations, then their ``uint64`` ids. A by-id
entry is one annotation followed, per relationship, by a ``uint32`` count and the ``uint64``
related ids.

Reading everything takes the spatial index (every cell of every level, ids de-duplicated)
and each relationship index (inverted: annotation -> related ids), so a sharded layer costs
one read per shard file; where an unsharded index cannot be listed (plain HTTP) the
relationships come from the by-id index instead.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import numpy as np
import pandas as pd

from .._kvstore import Location
from ..errors import DataFormatError, InvalidParameterError
from ._layer import PrecomputedLayer, open_layer

__all__ = ["annotation_dtype", "annotations_info", "read_annotations"]

ANNOTATION_TYPES = ("point", "line", "axis_aligned_bounding_box", "ellipsoid")
_PROP: dict[str, tuple[Any, int]] = {
    "uint32": ("<u4", 4),
    "int32": ("<i4", 4),
    "float32": ("<f4", 4),
    "uint16": ("<u2", 2),
    "int16": ("<i2", 2),
    "uint8": ("u1", 1),
    "int8": ("i1", 1),
    "rgb": (("u1", (3,)), 1),
    "rgba": (("u1", (4,)), 1),
}


def _open(url: str | os.PathLike[str] | Location) -> PrecomputedLayer:
    layer = open_layer(url, expect=("neuroglancer_annotations_v1",))
    t = str(layer.info.get("annotation_type", "")).lower()
    if t not in ANNOTATION_TYPES:
        raise DataFormatError(
            f"{layer.url}: annotation_type {t!r} is not readable (readable: "
            f"{', '.join(ANNOTATION_TYPES)})"
        )
    layer.info["annotation_type"] = t
    return layer


def annotation_dtype(info: dict[str, Any]) -> np.dtype:
    """The numpy record dtype of one encoded annotation (geometry, properties, padding)."""
    rank = len(info.get("dimensions", {"x": 0, "y": 0, "z": 0}))
    t = str(info["annotation_type"]).lower()
    n = rank if t == "point" else 2 * rank
    fields: list[tuple[Any, ...]] = [("geometry", "<f4", (n,))]
    props = list(info.get("properties", []))
    for p in props:
        if p.get("type") not in _PROP:
            raise DataFormatError(
                f"annotation property {p.get('id')!r}: unknown type {p.get('type')!r}"
            )
    offset = 4 * n
    for align in (4, 2, 1):
        for p in props:
            spec, a = _PROP[p["type"]]
            if a != align:
                continue
            if isinstance(spec, tuple):
                fields.append((f"p_{p['id']}", spec[0], spec[1]))
                offset += int(np.prod(spec[1]))
            else:
                fields.append((f"p_{p['id']}", spec))
                offset += np.dtype(str(spec)).itemsize
    if offset % 4:
        fields.append(("_pad", "u1", (4 - offset % 4,)))
    return np.dtype(fields)


def _decode_many(raw: bytes, dt: np.dtype, where: str) -> tuple[np.ndarray, np.ndarray]:
    if len(raw) < 8:
        raise DataFormatError(f"{where}: {len(raw)} bytes, too short for an annotation list")
    n = int(np.frombuffer(raw, "<u8", 1)[0])
    need = 8 + n * dt.itemsize + 8 * n
    if len(raw) != need:
        raise DataFormatError(
            f"{where}: {len(raw)} bytes, expected {need} for {n} annotations of "
            f"{dt.itemsize} bytes (does the info's property list match the data?)"
        )
    rec = np.frombuffer(raw, dt, n, 8)
    ids = np.frombuffer(raw, "<u8", n, 8 + n * dt.itemsize)
    return rec, ids


def _decode_one(
    raw: bytes, dt: np.dtype, n_rel: int, where: str
) -> tuple[np.ndarray, list[np.ndarray]]:
    if len(raw) < dt.itemsize:
        raise DataFormatError(f"{where}: too short for one annotation")
    rec = np.frombuffer(raw, dt, 1, 0)
    off = dt.itemsize
    rels = []
    for _ in range(n_rel):
        c = int(np.frombuffer(raw, "<u4", 1, off)[0])
        off += 4
        rels.append(np.sort(np.frombuffer(raw, "<u8", c, off)))
        off += 8 * c
    if off != len(raw):
        raise DataFormatError(f"{where}: {len(raw) - off} unexpected trailing bytes")
    return rec, rels


def _index_items(layer: PrecomputedLayer, meta: dict[str, Any], keys: Any = None) -> Any:
    """(key, bytes) of an index (sharded: every shard; unsharded: listing or ``keys``)."""
    loc = layer.loc.child(str(meta["key"]))
    if isinstance(meta.get("sharding"), dict):
        from ._layer import ShardedReader

        yield from ShardedReader(loc, meta["sharding"]).items()
        return
    names: list[str] | None = None
    if loc.scheme != "http" and loc.scheme != "https":
        try:
            names = [
                k.decode() if isinstance(k, bytes) else str(k)
                for k in loc.kvstore().list().result()
            ]
        except Exception:
            names = None
    if names is None:
        if keys is None:
            return
        names = list(keys)
    for name in names:
        raw = loc.read(name)
        if raw is not None:
            yield name, raw


def _spatial_cells(meta: dict[str, Any], rank: int) -> list[str]:
    grid = [int(g) for g in meta.get("grid_shape", [1] * rank)]
    return ["_".join(map(str, c)) for c in itertools.product(*(range(g) for g in grid))]


def _geometry_columns(info: dict[str, Any]) -> list[str]:
    dims = list(info.get("dimensions", {"x": 0, "y": 0, "z": 0}))
    t = info["annotation_type"]
    if t == "point":
        return dims
    if t == "ellipsoid":
        return dims + [f"radius_{d}" for d in dims]
    return [f"{d}_a" for d in dims] + [f"{d}_b" for d in dims]


def read_annotations(
    url: str | os.PathLike[str] | Location,
    *,
    ids: Any = None,
    relationship: tuple[str, int] | None = None,
) -> pd.DataFrame:
    """Read precomputed annotations into a table (one row per annotation).

    Parameters
    ----------
    url : path-like or URL
        The annotation folder (``info`` with ``@type`` ``neuroglancer_annotations_v1``).
    ids : iterable of int, optional
        Only these annotation ids (through the by-id index).
    relationship : (name, segment_id), optional
        Only the annotations related to that segment (through that relationship's index),
        e.g. ``("pre_segment", 864691135...)``.

    Returns
    -------
    pandas.DataFrame
        ``id`` (uint64), the geometry in the annotation coordinate space (points: one column
        per dimension, ``x, y, z``; lines and boxes ``x_a ... z_b``; ellipsoids centre and
        ``radius_x ...``), one column per property (``rgb``/``rgba`` as ``#rrggbb[aa]``,
        enum properties also as ``<id>_label``) and one column per relationship holding the
        related segment ids (arrays of uint64). ``df.attrs`` holds ``annotation_type``,
        ``dimensions`` (name -> [scale, unit]) and the ``info``. Sorted by id.
    """
    layer = _open(url)
    info = layer.info
    dt = annotation_dtype(info)
    rels = [r["id"] for r in info.get("relationships", [])]
    if ids is not None:
        return _by_ids(layer, dt, rels, [int(i) for i in ids])
    if relationship is not None:
        name, seg = relationship
        meta = next((r for r in info.get("relationships", []) if r["id"] == name), None)
        if meta is None:
            raise InvalidParameterError(
                f"{layer.url}: no relationship {name!r} (relationships: {', '.join(rels) or 'none'})"
            )
        raw = _get_index_value(layer, meta, int(seg))
        if raw is None:
            return _frame(info, np.zeros(0, dt), np.zeros(0, np.uint64), {})
        rec, aid = _decode_many(raw, dt, f"{layer.url}/{meta['key']}/{seg}")
        return _with_relationships(layer, dt, rels, rec, aid)
    rank = len(info.get("dimensions", {"x": 0, "y": 0, "z": 0}))
    recs, idss = [], []
    for level in info.get("spatial", []):
        cells = _spatial_cells(level, rank)
        for key, raw in _index_items(layer, level, keys=cells):
            rec, aid = _decode_many(raw, dt, f"{layer.url}/{level['key']}/{key}")
            recs.append(rec)
            idss.append(aid)
    if not recs:
        return _frame(info, np.zeros(0, dt), np.zeros(0, np.uint64), {})
    rec = np.concatenate(recs)
    aid = np.concatenate(idss)
    _, first = np.unique(aid, return_index=True)  # boxes/lines may sit in several cells
    rec, aid = rec[first], aid[first]
    return _with_relationships(layer, dt, rels, rec, aid)


def _get_index_value(layer: PrecomputedLayer, meta: dict[str, Any], key: int) -> bytes | None:
    loc = layer.loc.child(str(meta["key"]))
    if isinstance(meta.get("sharding"), dict):
        from ._layer import ShardedReader

        return ShardedReader(loc, meta["sharding"]).get(key)
    return loc.read(str(key))


def _with_relationships(
    layer: PrecomputedLayer, dt: np.dtype, rels: list[str], rec: np.ndarray, aid: np.ndarray
) -> pd.DataFrame:
    info = layer.info
    related: dict[str, Any] = {}
    if rels and len(aid):
        pairs: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {r: ([], []) for r in rels}
        complete = True
        for meta in info.get("relationships", []):
            seen = False
            members_l, segs_l = pairs[meta["id"]]
            for key, raw in _index_items(layer, meta):
                seen = True
                _, members = _decode_many(raw, dt, f"{layer.url}/{meta['key']}/{key}")
                members_l.append(members)
                segs_l.append(np.full(members.size, int(key), np.uint64))
            if not seen and not isinstance(meta.get("sharding"), dict):
                complete = False  # unlistable (http): take the by-id index instead
        if not complete and info.get("by_id"):
            return _by_ids(layer, dt, rels, aid.tolist())
        for r in rels:
            members_l, segs_l = pairs[r]
            m = np.concatenate(members_l) if members_l else np.zeros(0, np.uint64)
            g = np.concatenate(segs_l) if segs_l else np.zeros(0, np.uint64)
            order = np.lexsort((g, m))
            m, g = m[order], g[order]
            cuts = np.searchsorted(m, aid, side="left"), np.searchsorted(m, aid, side="right")
            related[r] = [g[a:b] for a, b in zip(cuts[0].tolist(), cuts[1].tolist())]
    return _frame(info, rec, aid, related)


def _by_ids(layer: PrecomputedLayer, dt: np.dtype, rels: list[str], ids: list[int]) -> pd.DataFrame:
    meta = layer.info.get("by_id")
    if not meta:
        raise DataFormatError(f"{layer.url}: no by_id index in the info")
    recs, found = [], []
    related: dict[str, list[np.ndarray]] = {r: [] for r in rels}
    for i in ids:
        raw = _get_index_value(layer, meta, i)
        if raw is None:
            raise InvalidParameterError(f"{layer.url}: no annotation with id {i}")
        rec, rl = _decode_one(raw, dt, len(rels), f"{layer.url}/{meta['key']}/{i}")
        recs.append(rec)
        found.append(i)
        for r, v in zip(rels, rl):
            related[r].append(v)
    rec = np.concatenate(recs) if recs else np.zeros(0, dt)
    aid = np.asarray(found, np.uint64)
    order = np.argsort(aid, kind="stable")
    related = {r: [v[j] for j in order] for r, v in related.items()}
    return _frame(layer.info, rec[order], aid[order], related)


def _frame(
    info: dict[str, Any], rec: np.ndarray, aid: np.ndarray, related: dict[str, Any]
) -> pd.DataFrame:
    order = np.argsort(aid, kind="stable")
    rec, aid = rec[order], aid[order]
    cols: dict[str, Any] = {"id": aid.astype(np.uint64)}
    geom = rec["geometry"] if len(rec) else np.zeros((0, len(_geometry_columns(info))), np.float32)
    for j, name in enumerate(_geometry_columns(info)):
        cols[name] = np.asarray(geom[:, j], np.float32)
    for p in info.get("properties", []):
        v = rec[f"p_{p['id']}"] if len(rec) else np.zeros(0)
        if p["type"] in ("rgb", "rgba"):
            cols[p["id"]] = ["#" + bytes(row.astype(np.uint8)).hex() for row in v]
        else:
            cols[p["id"]] = np.asarray(v)
            if p.get("enum_values") and p.get("enum_labels"):
                lut = dict(zip(p["enum_values"], p["enum_labels"]))
                cols[f"{p['id']}_label"] = [lut.get(x, "") for x in np.asarray(v).tolist()]
    for r, v in related.items():
        cols[r] = [v[j] for j in order] if len(v) == len(order) else v
    df = pd.DataFrame(cols)
    df.attrs["annotation_type"] = info["annotation_type"]
    df.attrs["dimensions"] = info.get("dimensions", {})
    return df


def annotations_info(
    url: str | os.PathLike[str] | Location, *, count: bool = True
) -> dict[str, Any]:
    """What an annotation layer holds: type, dimensions, bounds, properties, relationships,
    indices (sharded or not) and, with ``count``, the number of annotations (JSON-ready)."""
    layer = _open(url)
    info = layer.info
    out: dict[str, Any] = {
        "url": layer.url,
        "annotation_type": info["annotation_type"],
        "dimensions": info.get("dimensions"),
        "lower_bound": info.get("lower_bound"),
        "upper_bound": info.get("upper_bound"),
        "properties": [
            {k: p[k] for k in ("id", "type", "description", "enum_labels") if k in p}
            for p in info.get("properties", [])
        ],
        "relationships": [
            {"id": r["id"], "sharded": isinstance(r.get("sharding"), dict)}
            for r in info.get("relationships", [])
        ],
        "by_id_sharded": isinstance((info.get("by_id") or {}).get("sharding"), dict),
        "spatial_levels": [
            {
                "key": s.get("key"),
                "grid_shape": s.get("grid_shape"),
                "limit": s.get("limit"),
                "sharded": isinstance(s.get("sharding"), dict),
            }
            for s in info.get("spatial", [])
        ],
    }
    if count:
        df = read_annotations(layer.loc)
        out["count"] = len(df)
        geo = _geometry_columns(info)
        if len(df):
            out["data_bounds"] = {c: [float(df[c].min()), float(df[c].max())] for c in geo}
        for r in info.get("relationships", []):
            if r["id"] in df:
                segs = df[r["id"]]
                n = int(sum(len(x) for x in segs))
                out.setdefault("relationship_counts", {})[r["id"]] = {
                    "links": n,
                    "segments": len(np.unique(np.concatenate(list(segs)))) if n else 0,
                }
    return out
