"""Segment-to-object maps: for each kind (``neuron``, ``axon``, ``dendrite``, ``spinehead``...)
an object id per segment id (0 = the segment is not part of an object of that kind).

Stored in a dataset as ``objects/segment_objects.parquet`` with columns ``segment_id``
(uint64), ``kind`` (string), ``object_id`` (int64). Sources: L4dense-style HDF5
``/attributes/<kind>`` arrays indexed by segment id (also a ChimeraX ``.cmap``: any 1-D
integer array is an attribute named after it), Parquet/CSV tables with the three columns,
two-column maps of one kind (CSV/Parquet ``segment,object`` under any two names, e.g. FlyEM's
``supervoxel,body``; an N x 2 HDF5 array such as NeuroProof's ``/transforms``), and
agglomerate lists (JSON ``{"kind": [[seg, seg, ...], ...]}``: object id = position + 1).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._atomic import write_parquet_atomic
from .._store import Store
from ..errors import (
    ConnectoscopeWarning,
    DataFormatError,
    InvalidParameterError,
    SelectionError,
    SourceNotFoundError,
)

__all__ = ["ObjectMaps", "import_objects"]

#: Most segments written as inline Neuroglancer segment properties (JSON size).
MAX_INLINE_IDS = 1_000_000


#: What an object kind may be called (it becomes part of file names: objects_<kind>.parquet).
_KIND = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


class ObjectMaps:
    """Object maps of any number of kinds.

    Parameters
    ----------
    maps : mapping of str to (segment_ids, object_ids)
        Per kind, two equal-length integer arrays (segments with object id 0 are dropped).
    """

    def __init__(self, maps: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
        self._maps: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for kind, (seg, obj) in maps.items():
            if not isinstance(kind, str) or not _KIND.fullmatch(kind):
                raise DataFormatError(
                    f"object kind {kind!r}: a kind names files and options, so it must be a "
                    "plain name of letters, digits, '_', '-' or '.' (neuron, axon, spine_head)"
                )
            seg = np.asarray(seg)
            obj = np.asarray(obj)
            if seg.shape != obj.shape or seg.ndim != 1:
                raise InvalidParameterError(
                    f"object map {kind!r}: segment and object id arrays must be 1-D and equal length"
                )
            if seg.size and (
                np.issubdtype(seg.dtype, np.floating) or np.issubdtype(obj.dtype, np.floating)
            ):
                raise DataFormatError(f"object map {kind!r}: ids must be integers, not floats")
            if seg.size and seg.dtype.kind == "i" and int(seg.min()) < 0:
                bad = np.unique(seg[seg < 0])[:5]
                raise DataFormatError(
                    f"object map {kind!r}: negative segment ids ({', '.join(map(str, bad))}); "
                    "segment ids are non-negative integers (0 is background)"
                )
            keep = obj != 0
            seg = seg[keep].astype(np.uint64)
            obj = obj[keep].astype(np.int64)
            order = np.argsort(seg, kind="stable")
            seg, obj = seg[order], obj[order]
            if seg.size > 1 and np.any(seg[1:] == seg[:-1]):
                dup = seg[1:][seg[1:] == seg[:-1]][:5]
                raise DataFormatError(
                    f"object map {kind!r}: segment ids listed twice ({', '.join(map(str, dup))})"
                )
            self._maps[str(kind)] = (seg, obj)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_table(cls, df: pd.DataFrame) -> ObjectMaps:
        """From a table with columns ``segment_id``, ``kind``, ``object_id``."""
        missing = {"segment_id", "kind", "object_id"} - set(df.columns)
        if missing:
            raise DataFormatError(
                f"object table lacks columns {sorted(missing)}; expected segment_id, kind, "
                f"object_id (found {list(df.columns)})"
            )
        maps = {}
        for kind, sub in df.groupby("kind", sort=True):
            maps[str(kind)] = (sub["segment_id"].to_numpy(), sub["object_id"].to_numpy())
        return cls(maps)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> ObjectMaps:
        """From arrays indexed by segment id (``arr[segment_id] = object_id``)."""
        maps = {}
        for kind, arr in arrays.items():
            arr = np.asarray(arr)
            nz = np.flatnonzero(arr)
            maps[kind] = (nz.astype(np.uint64), arr[nz].astype(np.int64))
        return cls(maps)

    @classmethod
    def from_hdf5(cls, path: str | os.PathLike[str]) -> ObjectMaps:
        """From an HDF5 file: ``/attributes/<kind>`` arrays, or any 1-D integer array in the
        file (ChimeraX ``.cmap`` semantics: the array name is the kind)."""
        import h5py

        p = Path(path)
        arrays: dict[str, np.ndarray] = {}
        try:
            with h5py.File(p, "r") as f:

                def visit(name: str, obj: Any) -> None:
                    if (
                        isinstance(obj, h5py.Dataset)
                        and obj.ndim == 1
                        and np.issubdtype(obj.dtype, np.integer)
                    ):
                        arrays[name.rsplit("/", 1)[-1]] = obj[()]

                f.visititems(visit)
        except OSError as e:
            raise DataFormatError(f"{p}: cannot open as HDF5 ({e})") from e
        if not arrays:
            raise DataFormatError(
                f"{p}: no 1-D integer arrays (expected /attributes/<kind> indexed by segment id)"
            )
        return cls.from_arrays(arrays)

    @classmethod
    def from_cmap(cls, path: str | os.PathLike[str]) -> ObjectMaps:
        """From a ChimeraX ``.cmap`` file's segment attributes."""
        return cls.from_hdf5(path)

    @classmethod
    def from_store(cls, dataset: Store) -> ObjectMaps:
        """The maps stored in a dataset (empty when none were imported)."""
        p = dataset.layout.segment_objects
        if not p.exists():
            return cls({})
        return cls.from_table(pd.read_parquet(p))

    @classmethod
    def from_pairs(
        cls,
        df: pd.DataFrame,
        *,
        kind: str | None,
        columns: tuple[str, str] | None = None,
        where: str = "table",
    ) -> ObjectMaps:
        """From a two-column map of one kind: segment id, object id (any column names).

        Parameters
        ----------
        df : DataFrame
            Two columns, or more with ``columns`` naming the two to use.
        kind : str
            The kind of object the second column names (``body``, ``neuron``).
        columns : (segment_column, object_column), optional
            Default: the table's two columns, in order.
        where : str
            The file, for messages.
        """
        if kind is None:
            raise InvalidParameterError(
                f"{where}: a two-column segment -> object map needs the kind it maps to; "
                "pass --kind NAME (e.g. --kind body)"
            )
        cols = [str(c) for c in df.columns]
        if columns is None:
            if len(cols) != 2:
                raise InvalidParameterError(
                    f"{where}: {len(cols)} columns ({', '.join(cols)}); name the segment and "
                    "object columns with --columns SEGMENT,OBJECT (or give segment_id, kind, "
                    "object_id)"
                )
            columns = (cols[0], cols[1])
        missing = [c for c in columns if c not in cols]
        if missing:
            raise InvalidParameterError(
                f"{where}: no column {', '.join(missing)} (columns: {', '.join(cols)}); fix "
                "--columns SEGMENT,OBJECT"
            )
        seg = df[columns[0]].to_numpy()
        obj = df[columns[1]].to_numpy()
        for name, a in zip(columns, (seg, obj)):
            if a.size and not np.issubdtype(a.dtype, np.integer):
                raise DataFormatError(
                    f"{where}: column {name!r} holds {a.dtype} values, not integer ids"
                )
            if a.size and np.issubdtype(a.dtype, np.signedinteger) and a.min() < 0:
                raise DataFormatError(f"{where}: column {name!r} has negative ids")
        return cls({kind: (seg, obj)})

    @classmethod
    def read(
        cls,
        source: str | os.PathLike[str],
        *,
        kind: str | None = None,
        columns: tuple[str, str] | None = None,
    ) -> ObjectMaps:
        """Read any supported source.

        Parameters
        ----------
        source : path-like
            HDF5/.cmap (``/attributes/<kind>`` arrays, or an N x 2 array, optionally named
            as ``file.h5:/transforms``), Parquet/CSV (``segment_id, kind, object_id``, or a
            two-column ``segment,object`` map of one kind), agglomerate JSON.
        kind : str, optional
            Three-column tables and HDF5 attributes: keep only this kind. Two-column maps,
            N x 2 arrays and bare agglomerate lists: the kind they map to (required).
        columns : (segment_column, object_column), optional
            The two columns of a wider table to read as a segment -> object map.
        """
        text = os.fspath(source)
        inner: str | None = None
        if ":" in text and not Path(text).exists():
            text, inner = text.rsplit(":", 1)
        p = Path(text)
        if not p.exists():
            raise SourceNotFoundError(f"{p}: no such file")
        suffix = p.suffix.lower()
        if suffix in (".h5", ".hdf5", ".cmap", ".hdf"):
            pairs = _hdf5_pairs(p, inner)
            if pairs is not None:
                return cls.from_pairs(pairs, kind=kind, where=str(source))
            maps = cls.from_hdf5(p)
        elif suffix in (".parquet", ".csv", ".tsv"):
            df = _read_table(p)
            if columns is None and {"segment_id", "kind", "object_id"} <= set(map(str, df.columns)):
                maps = cls.from_table(df)
            else:
                return cls.from_pairs(df, kind=kind, columns=columns, where=str(p))
        elif suffix == ".json":
            maps = cls.from_agglomerates(json.loads(p.read_text()), kind=kind)
        else:
            raise SourceNotFoundError(
                f"{p}: unsupported object source; expected .h5/.hdf5/.cmap (/attributes/<kind>), "
                ".parquet/.csv (segment_id, kind, object_id, or two columns segment,object with "
                "--kind) or .json agglomerate lists"
            )
        if kind is not None and suffix != ".json":
            maps = maps.subset([kind])
        return maps

    @classmethod
    def from_agglomerates(cls, data: Any, *, kind: str | None = None) -> ObjectMaps:
        """From agglomerate lists: ``{"kind": [[seg, ...], ...]}`` or ``[[seg, ...], ...]``
        with ``kind`` given; object id = position in the list + 1."""
        if isinstance(data, list):
            if kind is None:
                raise InvalidParameterError("a bare agglomerate list needs --kind NAME")
            data = {kind: data}
        if not isinstance(data, dict) or not all(isinstance(g, list) for g in data.values()):
            raise DataFormatError(
                'agglomerate JSON: expected {"kind": [[segment ids], ...]} or a list of '
                f"lists, got {type(data).__name__}"
            )
        maps = {}
        for k, groups in data.items():
            try:
                seg = [np.asarray(g, dtype=np.int64).reshape(-1) for g in groups]
            except (TypeError, ValueError, OverflowError):
                raise DataFormatError(
                    f"agglomerate JSON {k!r}: every group must be a list of integer segment ids"
                ) from None
            if any(len(g) and int(g.min()) < 0 for g in seg):
                raise DataFormatError(f"agglomerate JSON {k!r}: negative segment ids")
            obj = [np.full(len(g), i + 1, np.int64) for i, g in enumerate(seg)]
            maps[k] = (
                np.concatenate(seg) if seg else np.zeros(0, np.uint64),
                np.concatenate(obj) if obj else np.zeros(0, np.int64),
            )
        return cls(maps)

    # ------------------------------------------------------------------ queries
    @property
    def kinds(self) -> list[str]:
        """Kinds present, sorted."""
        return sorted(self._maps)

    def _get(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        if kind not in self._maps:
            have = ", ".join(self.kinds) or "none (import some with `connectoscope objects import`)"
            raise SelectionError(f"unknown kind {kind!r}; kinds present: {have}")
        return self._maps[kind]

    def segments(self, kind: str) -> np.ndarray:
        """Segment ids (uint64, sorted) that belong to an object of ``kind``."""
        return self._get(kind)[0]

    def object_ids(self, kind: str) -> np.ndarray:
        """Distinct object ids of ``kind`` (int64, sorted)."""
        return np.unique(self._get(kind)[1])

    def array(self, kind: str, *, length: int | None = None) -> np.ndarray:
        """Dense int64 array indexed by segment id (``length`` = max id + 1 by default)."""
        seg, obj = self._get(kind)
        n = int(seg.max()) + 1 if seg.size else 1
        out = np.zeros(max(n, length or 0), np.int64)
        out[seg.astype(np.int64)] = obj
        return out

    def lookup(self, kind: str, segment_ids: np.ndarray) -> np.ndarray:
        """Object id of every segment id (same shape; 0 when none).

        Parameters
        ----------
        kind : str
        segment_ids : numpy.ndarray
            Any shape, any integer dtype (a label volume works).

        Returns
        -------
        numpy.ndarray
            int64 array of the same shape.
        """
        seg, obj = self._get(kind)
        ids = np.asarray(segment_ids)
        flat = ids.reshape(-1).astype(np.uint64, copy=False)
        out = np.zeros(flat.shape, np.int64)
        if seg.size:
            uniq, inv = np.unique(flat, return_inverse=True)
            pos = np.searchsorted(seg, uniq)
            pos_c = np.minimum(pos, seg.size - 1)
            hit = seg[pos_c] == uniq
            vals = np.where(hit, obj[pos_c], 0)
            out = vals[inv]
        return out.reshape(ids.shape)

    def counts(self) -> dict[str, int]:
        """Number of distinct objects per kind."""
        return {k: int(np.unique(self._maps[k][1]).size) for k in self.kinds}

    def segment_counts(self) -> dict[str, int]:
        """Number of segments per kind."""
        return {k: int(self._maps[k][0].size) for k in self.kinds}

    def subset(self, kinds: Iterable[str]) -> ObjectMaps:
        """Only the given kinds."""
        return ObjectMaps({k: self._get(k) for k in kinds})

    def merged(self, other: ObjectMaps) -> ObjectMaps:
        """These maps with ``other``'s kinds added (other wins for a kind in both)."""
        maps = dict(self._maps)
        maps.update(other._maps)
        return ObjectMaps(maps)

    def segment_properties(
        self,
        *,
        segment_ids: Iterable[int] = (),
        meshed_ids: Iterable[int] = (),
        max_ids: int = MAX_INLINE_IDS,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The segments to describe in Neuroglancer segment properties, with their object
        id of every kind: ``(ids (N,) uint64, {kind: (N,) object ids})``.

        Every segment of any kind, plus ``segment_ids``. The properties are inline JSON, so
        above ``max_ids`` segments only ``meshed_ids`` plus ``segment_ids`` are kept, with
        a warning. Write them with :func:`connectoscope.precomputed.write_segment_properties`.
        """
        pools = [self.segments(k) for k in self.kinds]
        extra = np.fromiter((int(s) for s in segment_ids), np.uint64)
        ids = np.unique(np.concatenate([*pools, extra])) if pools or extra.size else extra
        ids = ids[ids != 0]
        if len(ids) > max_ids:
            meshed = np.fromiter((int(s) for s in meshed_ids), np.uint64)
            keep = np.unique(np.concatenate([meshed, extra]))
            warnings.warn(
                f"{len(ids):,} segments belong to object kinds, more than {max_ids:,} inline "
                f"segment properties; writing the {len(keep):,} meshed ones only",
                ConnectoscopeWarning,
                stacklevel=2,
            )
            ids = keep[keep != 0]
        return ids, {k: self.lookup(k, ids) for k in self.kinds}

    @property
    def table(self) -> pd.DataFrame:
        """Long table ``segment_id`` (uint64), ``kind``, ``object_id`` (int64)."""
        parts = [
            pd.DataFrame({"segment_id": s, "kind": k, "object_id": o})
            for k, (s, o) in sorted(self._maps.items())
        ]
        if not parts:
            return pd.DataFrame(
                {
                    "segment_id": np.zeros(0, np.uint64),
                    "kind": np.zeros(0, object),
                    "object_id": np.zeros(0, np.int64),
                }
            )
        return pd.concat(parts, ignore_index=True)

    def save(self, dataset: Store) -> Path:
        """Write into ``dataset/objects/`` and record the ``objects`` layer."""
        p = write_parquet_atomic(self.table, dataset.layout.segment_objects)
        all_segs = [s for s, _ in self._maps.values()]
        n_segments = int(np.unique(np.concatenate(all_segs)).size) if all_segs else 0
        dataset.set_layer(
            "objects",
            {
                "kind": "objects",
                "path": dataset.layout.relative(p),
                "kinds": self.counts(),
                "segments_per_kind": self.segment_counts(),
                "n_segments": n_segments,
            },
        )
        return p

    def __repr__(self) -> str:
        return f"ObjectMaps({self.counts()})"


def _read_table(p: Path) -> pd.DataFrame:
    """A CSV/TSV/Parquet table; a CSV without a header (both names are numbers) is re-read
    headerless with columns ``segment``, ``object``."""
    try:
        if p.suffix.lower() == ".parquet":
            return pd.read_parquet(p)
        sep = "\t" if p.suffix.lower() == ".tsv" else ","
        df = pd.read_csv(p, sep=sep)
        if len(df.columns) == 2 and all(str(c).strip().isdigit() for c in df.columns):
            df = pd.read_csv(p, sep=sep, header=None, names=["segment", "object"])
        return df
    except (OSError, ValueError) as err:
        raise DataFormatError(f"{p}: unreadable table ({err})") from err


def _hdf5_pairs(p: Path, inner: str | None) -> pd.DataFrame | None:
    """An N x 2 integer array (``inner``, or the only one when the file has no 1-D arrays)
    as a two-column frame; None when the file holds 1-D attribute arrays instead."""
    import h5py

    try:
        with h5py.File(p, "r") as f:
            if inner is not None:
                name = inner.lstrip("/")
                if name not in f or not isinstance(f[name], h5py.Dataset):
                    raise InvalidParameterError(f"{p}: no dataset /{name}")
                d = f[name]
                if d.ndim == 1:
                    return None
                pairs = [name]
            else:
                pairs, ones = [], []

                def visit(n: str, obj: Any) -> None:
                    if isinstance(obj, h5py.Dataset) and np.issubdtype(obj.dtype, np.integer):
                        if obj.ndim == 2 and 2 in obj.shape:
                            pairs.append(n)
                        elif obj.ndim == 1:
                            ones.append(n)

                f.visititems(visit)
                if ones or not pairs:
                    return None
                if len(pairs) > 1:
                    raise InvalidParameterError(
                        f"{p}: {len(pairs)} N x 2 arrays ({', '.join('/' + n for n in pairs)}); "
                        f"name one as {p}:/PATH"
                    )
            d = f[pairs[0]]
            if d.ndim != 2 or 2 not in d.shape or not np.issubdtype(d.dtype, np.integer):
                raise DataFormatError(
                    f"{p}:/{pairs[0]}: expected an N x 2 integer array (segment, object), got "
                    f"shape {d.shape} {d.dtype}"
                )
            a = d[()]
    except OSError as e:
        raise DataFormatError(f"{p}: cannot open as HDF5 ({e})") from e
    if a.shape[1] != 2:  # stored 2 x N
        a = a.T
    return pd.DataFrame({"segment": a[:, 0], "object": a[:, 1]})


def import_objects(
    dataset: Store | str | os.PathLike[str],
    source: str | os.PathLike[str],
    *,
    kind: str | None = None,
    replace: bool = False,
    columns: tuple[str, str] | None = None,
) -> ObjectMaps:
    """Import object maps into a dataset (kinds are added to those already there).

    Parameters
    ----------
    dataset : Store or path
    source : path-like
        HDF5 ``/attributes/<kind>`` / ``.cmap``, Parquet/CSV ``(segment_id, kind,
        object_id)``, a two-column ``segment,object`` CSV/Parquet map (any names), an
        N x 2 HDF5 array (``file.h5[:/transforms]``), or agglomerate JSON.
    kind : str, optional
        Import only this kind; for two-column maps, N x 2 arrays and bare agglomerate
        lists, the kind they map to (required).
    replace : bool
        Drop the kinds already stored instead of merging.
    columns : (segment_column, object_column), optional
        Which two columns of a wider table form the map.
    """

    ds = dataset if isinstance(dataset, Store) else Store(dataset)
    new = ObjectMaps.read(source, kind=kind, columns=columns)
    maps = new if replace else ObjectMaps.from_store(ds).merged(new)
    maps.save(ds)
    ds.record_step("objects import", source=str(source), kinds=new.counts())
    return maps
