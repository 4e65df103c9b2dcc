"""Connectivity matrix files: our Parquet folder, the Connectome-Utilities HDF5 layout, the
L4dense connectome CSV, and edge lists (named or integer vertices, weighted, typed).

**Ours** (a folder): ``matrix.json`` (form, shape, counts), ``pre_vertices.parquet`` and
``post_vertices.parquet`` (index ``id`` int64/uint64 + properties), ``edges.parquet`` (full
form: one row per synapse, ``pre_idx``, ``post_idx`` + synapse columns; absent for a
condensed-only matrix) and ``condensed.parquet`` (one row per pair: ``pre``, ``post``,
``pre_idx``, ``post_idx``, ``count``, ``size_sum``, ``size_mean``).

**Connectome-Utilities HDF5** (the MICrONS release layout): ``/<prefix>/<group>/`` with
attributes ``NEUROTOP_CLASS`` = "ConnectivityMatrix", ``NEUROTOP_DEFAULT_EDGE``,
``NEUROTOP_SHAPE``; ``vertex_properties`` in the pandas "table" format (a compound dataset;
column names in the protocol-0 pickled ``values_block_N_kind`` attributes, which we parse
without unpickling), ``edges`` and ``edge_indices`` (``row``, ``col``) in the pandas "fixed"
format. Read and written with h5py alone (no PyTables). That layout is square-only: a
rectangular matrix is written as its square view over the union of ids with boolean vertex
properties ``is_pre``/``is_post`` (and read back rectangular); root ids go in an ``id``
column (int64/uint64, exact), the row index being 0..n-1.

**L4dense connectome CSV**: a dense table, rows = axons, columns = targets; the first row
and the first column hold the class labels; cells are synapse counts.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._atomic import atomic_path
from ..errors import (
    ConnectoscopeWarning,
    DataFormatError,
    DatasetExistsError,
    InvalidParameterError,
    SourceNotFoundError,
)
from ._ids import as_id_array
from ._matrix import ConnectivityMatrix
from ._pickle0 import loads_protocol0

__all__ = [
    "convert_matrix",
    "load_matrix",
    "read_conntility_h5",
    "read_edge_list",
    "read_l4dense_csv",
    "save_matrix",
    "write_conntility_h5",
    "write_l4dense_csv",
]

FORMAT_VERSION = 1


# ---------------------------------------------------------------------------- our Parquet folder
def save_matrix(
    m: ConnectivityMatrix, out: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write ``m`` to the folder ``out`` (atomically: a temporary folder renamed at the end).

    Raises
    ------
    DatasetExistsError
        ``out`` exists and ``overwrite`` is False.
    """
    p = Path(out)
    if p.exists() and not overwrite:
        raise DatasetExistsError(
            f"{p}: exists; pass overwrite=True (CLI: --overwrite) to replace it"
        )
    tmp = p.with_name(f".{p.name}.part")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    m.pre_vertices.to_parquet(tmp / "pre_vertices.parquet")
    m.post_vertices.to_parquet(tmp / "post_vertices.parquet")
    if m.edges is not None:
        m.edges.to_parquet(tmp / "edges.parquet", index=False)
    m.condensed.to_parquet(tmp / "condensed.parquet", index=False)
    meta = {
        "format": "connectoscope.connectome",
        "version": FORMAT_VERSION,
        "form": "full" if m.is_full else "condensed",
        "shape": list(m.shape),
        "n_synapses": m.n_synapses,
        "n_pairs": m.n_pairs,
        "id_dtype": str(m.pre_ids.dtype),
    }
    (tmp / "matrix.json").write_text(json.dumps(meta, indent=1) + "\n")
    old = None
    if p.exists():  # keep the old folder until the new one has its name
        old = p.with_name(f".{p.name}.{os.getpid()}.old")
        os.replace(p, old)
    os.replace(tmp, p)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return p


def load_matrix(path: str | os.PathLike[str]) -> ConnectivityMatrix:
    """Read a matrix: our folder (:func:`save_matrix`), a Connectome-Utilities ``.h5`` or an
    L4dense connectome ``.csv`` (chosen by what ``path`` is)."""
    p = Path(path)
    if p.is_file() and p.suffix.lower() in (".h5", ".hdf5"):
        return read_conntility_h5(p)
    if p.is_file() and p.suffix.lower() == ".csv":
        return read_l4dense_csv(p)
    if not (p / "condensed.parquet").exists() and not (p / "edges.parquet").exists():
        raise SourceNotFoundError(
            f"{p}: not a connectivity matrix (no edges.parquet / condensed.parquet, not .h5 or "
            ".csv); build one with `connectoscope connectome build SYNAPSES -o OUT`"
        )
    pre = pd.read_parquet(p / "pre_vertices.parquet")
    post = pd.read_parquet(p / "post_vertices.parquet")
    if (p / "edges.parquet").exists():
        return ConnectivityMatrix(pre, post, pd.read_parquet(p / "edges.parquet"))
    cond = pd.read_parquet(p / "condensed.parquet").drop(columns=["pre", "post"], errors="ignore")
    return ConnectivityMatrix(pre, post, condensed=cond)


# ---------------------------------------------------------------------------- HDF5 helpers
def _attr_str(v: Any) -> str:
    if isinstance(v, bytes | np.bytes_):
        return bytes(v).decode("utf-8")
    return str(v)


def _attr_obj(v: Any) -> Any:
    """A PyTables attribute: a pickled literal when it ends with '.', else the string."""
    if isinstance(v, bytes | np.bytes_):
        b = bytes(v)
        if b.endswith(b"."):
            try:
                return loads_protocol0(b)
            except DataFormatError:
                return b.decode("utf-8", "replace")
        return b.decode("utf-8", "replace")
    return v


def _decode_strings(a: np.ndarray, nan_rep: str = "nan") -> np.ndarray:
    out = np.array([x.decode("utf-8") for x in a.reshape(-1)], dtype=object).reshape(a.shape)
    out[out == nan_rep] = None
    return out


def _read_index(ds: Any) -> list[Any]:
    """Column names of a fixed-format block (S array; pickled object arrays refused)."""
    cls = _attr_str(ds.attrs.get("CLASS", b""))
    if cls == "VLARRAY":
        raise DataFormatError(
            f"{ds.name}: holds pickled Python objects; not read (we never unpickle)"
        )
    a = ds[()]
    if a.dtype.kind == "S":
        return [x.decode("utf-8") for x in a]
    return a.tolist()


def read_pandas_fixed(group: Any) -> pd.DataFrame:
    """A DataFrame stored by pandas in the HDF5 "fixed" format, read with h5py.

    Blocks of pickled Python objects (object columns) are skipped with a warning.
    """
    if _attr_str(group.attrs.get("pandas_type", b"")) != "frame":
        raise DataFormatError(f"{group.name}: not a pandas fixed-format frame")
    try:
        columns: list[Any] | None = _read_index(group["axis0"])
    except DataFormatError:  # pickled column labels: use the readable blocks' labels
        columns = None
    n_rows = group["axis1"].shape[0]
    data: dict[Any, np.ndarray] = {}
    for i in range(int(group.attrs["nblocks"])):
        try:
            items = _read_index(group[f"block{i}_items"])
        except DataFormatError as e:
            warnings.warn(f"skipped: {e}", ConnectoscopeWarning, stacklevel=3)
            continue
        ds = group[f"block{i}_values"]
        if _attr_str(ds.attrs.get("CLASS", b"")) == "VLARRAY":
            warnings.warn(
                f"{ds.name}: columns {items} hold pickled Python objects; skipped (we never "
                "unpickle)",
                ConnectoscopeWarning,
                stacklevel=3,
            )
            continue
        vals = ds[()]
        if not int(ds.attrs.get("transposed", 0)):
            vals = vals.T
        if vals.dtype.kind == "S":
            vals = _decode_strings(vals)
        for j, name in enumerate(items):
            data[name] = vals[:, j]
    order = columns if columns is not None else list(data)
    return pd.DataFrame({c: data[c] for c in order if c in data}, index=pd.RangeIndex(n_rows))


def read_pandas_table(group: Any) -> pd.DataFrame:
    """A DataFrame stored by pandas in the HDF5 "table" format, read with h5py; column names
    come from the protocol-0 pickled attributes, parsed without unpickling."""
    t = group["table"]
    arr = t[()]
    attrs = t.attrs
    cols: dict[str, np.ndarray] = {}
    for field in arr.dtype.names or ():
        if field == "index":
            continue
        vals = arr[field]
        kind_attr = attrs.get(f"{field}_kind")
        names = _attr_obj(kind_attr) if kind_attr is not None else [field]
        if isinstance(names, str):
            names = [names]
        if vals.ndim == 1:
            vals = vals[:, None]
        dtype = _attr_str(attrs.get(f"{field}_dtype", b""))
        meta = _attr_obj(attrs.get(f"{field}_meta", b"N."))
        if meta == "category":
            raise DataFormatError(
                f"{group.name}: categorical column(s) {names} are not supported; store them "
                "as strings"
            )
        if vals.dtype.kind == "S":
            nan_rep = _attr_obj(attrs.get(f"{field}_nan_rep", None)) or _attr_obj(
                group.attrs.get("nan_rep", b"nan")
            )
            vals = _decode_strings(vals, nan_rep if isinstance(nan_rep, str) else "nan")
        elif dtype == "bool":
            vals = vals.astype(bool)
        for j, name in enumerate(names):
            cols[str(name)] = vals[:, j]
    order = _attr_obj(group.attrs.get("non_index_axes", b"N."))
    names_order = [str(c) for c in order[0][1]] if order else list(cols)
    index = arr["index"] if "index" in (arr.dtype.names or ()) else np.arange(len(arr))
    return pd.DataFrame({c: cols[c] for c in names_order if c in cols}, index=index)


class _Pickled(bytes):
    """Marks an attribute value as a protocol-0 pickle (stored as an ASCII string)."""


def _pt(v: Any) -> _Pickled:
    """A PyTables-style attribute value (pickled protocol 0 for containers)."""
    return _Pickled(pickle.dumps(v, protocol=0))


def _sattr(obj: Any, name: str, value: str | bytes, *, empty: bool = False) -> None:
    """A string attribute as PyTables writes it: fixed length, null-terminated, UTF-8 for
    text and ASCII for pickles (PyTables decodes the first and unpickles the second)."""
    import h5py

    b = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    tid = h5py.h5t.TypeID.copy(h5py.h5t.C_S1)
    tid.set_size(max(len(b), 1))
    tid.set_strpad(h5py.h5t.STR_NULLTERM)
    tid.set_cset(h5py.h5t.CSET_ASCII if isinstance(value, _Pickled) else h5py.h5t.CSET_UTF8)
    if name in obj.attrs:
        del obj.attrs[name]
    space = h5py.h5s.create(h5py.h5s.NULL if empty else h5py.h5s.SCALAR)
    aid = h5py.h5a.create(obj.id, name.encode("utf-8"), tid, space)
    if not empty:
        aid.write(np.array(b, dtype=f"S{max(len(b), 1)}"), mtype=tid)


def _pt_node(obj: Any, cls: str, version: str) -> None:
    _sattr(obj, "CLASS", cls)
    _sattr(obj, "VERSION", version)
    _sattr(obj, "TITLE", "", empty=True)


def _group(parent: Any, name: str) -> Any:
    if name in parent:
        del parent[name]
    g = parent.create_group(name)
    _pt_node(g, "GROUP", "1.0")
    return g


def _fixed_array(g: Any, name: str, a: np.ndarray, *, kind: str | None = None) -> None:
    ds = g.create_dataset(name, data=a)
    _pt_node(ds, "ARRAY", "2.4")
    _sattr(ds, "FLAVOR", "numpy")
    ds.attrs["transposed"] = np.uint8(1)
    if kind is not None:
        _sattr(ds, "kind", kind)
        _sattr(ds, "name", _pt(None))


def _names(cols: Sequence[str]) -> np.ndarray:
    enc = [str(c).encode("utf-8") for c in cols]
    return np.array(enc, dtype=f"S{max([len(x) for x in enc] + [1])}")


def write_pandas_fixed(parent: Any, name: str, df: pd.DataFrame) -> None:
    """Write numeric/bool columns of ``df`` in the pandas "fixed" format with h5py (what
    ``pd.read_hdf`` reads). Bool columns are stored as uint8."""
    g = _group(parent, name)
    blocks: dict[str, list[str]] = {}
    for c in df.columns:
        k = df[c].dtype
        if k.kind not in "iufb":
            raise DataFormatError(f"column {c!r} ({k}) is not numeric; cannot write it as an edge")
        key = "uint8" if k.kind == "b" else str(k)
        blocks.setdefault(key, []).append(c)
    for k, v in {
        "pandas_type": "frame",
        "pandas_version": "0.15.2",
        "encoding": "UTF-8",
        "errors": "strict",
        "axis0_variety": "regular",
        "axis1_variety": "regular",
    }.items():
        _sattr(g, k, v)
    g.attrs["ndim"] = np.int64(2)
    g.attrs["nblocks"] = np.int64(len(blocks))
    _fixed_array(g, "axis0", _names(list(df.columns)), kind="string")
    _fixed_array(g, "axis1", np.arange(len(df), dtype=np.int64), kind="integer")
    for i, (k, cols) in enumerate(blocks.items()):
        _sattr(g, f"block{i}_items_variety", "regular")
        _fixed_array(g, f"block{i}_items", _names(cols), kind="string")
        vals = np.empty((len(df), len(cols)), dtype=np.dtype(k))
        for j, c in enumerate(cols):
            vals[:, j] = df[c].to_numpy()
        _fixed_array(g, f"block{i}_values", vals)


def write_pandas_table(parent: Any, name: str, df: pd.DataFrame) -> None:
    """Write ``df`` in the pandas "table" format with h5py (index 0..n-1; numeric, bool and
    string columns; other objects as strings, missing strings as ``nan``)."""
    g = _group(parent, name)
    blocks: list[tuple[str, list[str], np.ndarray, str]] = []  # (dtype name, cols, values, kind)
    by: dict[str, list[str]] = {}
    conv: dict[str, np.ndarray] = {}
    for c in df.columns:
        s = df[c]
        if s.dtype.kind in "iuf":
            key = str(s.dtype)
            conv[c] = s.to_numpy()
        elif s.dtype.kind == "b":
            key = "bool"
            conv[c] = s.to_numpy().astype(np.uint8)
        elif s.notna().any() and all(isinstance(v, bool | np.bool_) for v in s.dropna()):
            key = "float64"  # booleans with missing values: 1.0 / 0.0 / NaN
            conv[c] = s.astype("float64").to_numpy()
        else:
            key = "bytes"
            conv[c] = np.array(
                [
                    b"nan"
                    if v is None or (isinstance(v, float) and np.isnan(v))
                    else str(v).encode("utf-8")
                    for v in s.tolist()
                ],
                dtype=object,
            )
        by.setdefault(key, []).append(str(c))
    for key, cols in by.items():
        if key == "bytes":
            width = max([len(x) for c in cols for x in conv[c]] + [1])
            vals = np.empty((len(df), len(cols)), dtype=f"S{width}")
            name_dt = f"bytes{8 * width}"
        else:
            vals = np.empty(
                (len(df), len(cols)), dtype=np.uint8 if key == "bool" else np.dtype(key)
            )
            name_dt = key
        for j, c in enumerate(cols):
            vals[:, j] = conv[c]
        blocks.append((name_dt, cols, vals, key))
    fields = [("index", "<i8")] + [
        (f"values_block_{i}", b[2].dtype, (len(b[1]),)) for i, b in enumerate(blocks)
    ]
    arr = np.empty(len(df), dtype=fields)
    arr["index"] = np.arange(len(df), dtype=np.int64)
    for i, b in enumerate(blocks):
        arr[f"values_block_{i}"] = b[2]
    t = g.create_dataset("table", data=arr, maxshape=(None,), chunks=(max(1, min(len(df), 4096)),))
    _pt_node(t, "TABLE", "2.7")
    t.attrs["NROWS"] = np.int64(len(df))
    _sattr(t, "FIELD_0_NAME", "index")
    t.attrs["FIELD_0_FILL"] = np.int64(0)
    _sattr(t, "index_kind", "integer")
    for i, (name_dt, cols, vals, key) in enumerate(blocks):
        f = f"values_block_{i}"
        _sattr(t, f"FIELD_{i + 1}_NAME", f)
        if key == "bytes":
            _sattr(t, f"FIELD_{i + 1}_FILL", _Pickled(b""))
        else:
            t.attrs[f"FIELD_{i + 1}_FILL"] = vals.dtype.type(0)
        _sattr(t, f"{f}_dtype", name_dt)
        _sattr(t, f"{f}_kind", _pt(cols))
        _sattr(t, f"{f}_meta", _pt(None))
        if key == "bytes":
            _sattr(t, f"{f}_nan_rep", "nan")
    for k, v in {
        "pandas_type": "frame_table",
        "pandas_version": "0.15.2",
        "table_type": "appendable_frame",
        "encoding": "UTF-8",
        "errors": "strict",
        "nan_rep": "nan",
    }.items():
        _sattr(g, k, v)
    g.attrs["levels"] = np.int64(1)
    _sattr(g, "index_cols", _pt([(0, "index")]))
    _sattr(g, "values_cols", _pt([f"values_block_{i}" for i in range(len(blocks))]))
    _sattr(g, "non_index_axes", _pt([(1, [str(c) for c in df.columns])]))
    _sattr(g, "data_columns", _pt([]))
    info: dict[Any, Any] = {1: {"names": [None], "type": "Index"}, "index": {}}
    for i in range(len(blocks)):
        info[f"values_block_{i}"] = {}
    _sattr(g, "info", _pt(info))


# ---------------------------------------------------------------------------- Connectome-Utilities
def write_conntility_h5(
    m: ConnectivityMatrix,
    path: str | os.PathLike[str],
    *,
    prefix: str = "connectivity",
    groups: Sequence[str] | None = None,
) -> Path:
    """Write the Connectome-Utilities layout (h5py only) so that
    ``conntility.ConnectivityMatrix.from_h5(path, "full")`` (and ``"condensed"``) load it.

    Parameters
    ----------
    m : ConnectivityMatrix
    path : path
        The HDF5 file (created or appended to; the groups are replaced).
    prefix : str
        Top group (``connectivity`` as in the MICrONS release).
    groups : sequence of {"full", "condensed"}, optional
        Default: both for a full matrix, ``condensed`` for a condensed-only one.
    """
    import h5py

    groups = list(groups or (("full", "condensed") if m.is_full else ("condensed",)))
    if "full" in groups and not m.is_full:
        raise InvalidParameterError(
            "this matrix holds only the condensed form; write groups=['condensed']"
        )
    rect = m.shape[0] != m.shape[1] or not np.array_equal(m.pre_ids, m.post_ids)
    sq = m.square() if rect else m
    vp = sq.pre_vertices.reset_index()
    if not rect:
        vp["is_pre"] = True
        vp["is_post"] = True
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(p, "a") as f:
        top = f[prefix] if prefix in f else f.create_group(prefix)
        if "CLASS" not in top.attrs:
            _pt_node(top, "GROUP", "1.0")
        for name in groups:
            if name == "full":
                assert sq.edges is not None
                e = sq.edges
                default = "size" if "size" in e else None
            elif name == "condensed":
                e = sq.condensed
                default = "count"
            else:
                raise InvalidParameterError(f"groups: expected full or condensed, got {name!r}")
            props = e.drop(columns=["pre_idx", "post_idx", "pre", "post"], errors="ignore")
            skipped = [c for c in props.columns if props[c].dtype.kind not in "iufb"]
            if skipped:
                warnings.warn(
                    f"{name}: non-numeric edge columns {skipped} are not written",
                    ConnectoscopeWarning,
                    stacklevel=2,
                )
                props = props.drop(columns=skipped)
            if props.shape[1] == 0:
                props = pd.DataFrame({"data": np.ones(len(e), np.int64)})
            g = _group(top, name)
            write_pandas_table(g, "vertex_properties", vp)
            write_pandas_fixed(g, "edges", props.reset_index(drop=True))
            write_pandas_fixed(
                g,
                "edge_indices",
                pd.DataFrame(
                    {
                        "row": e["pre_idx"].to_numpy(np.int64),
                        "col": e["post_idx"].to_numpy(np.int64),
                    }
                ),
            )
            g.attrs["NEUROTOP_CLASS"] = "ConnectivityMatrix"
            g.attrs["NEUROTOP_DEFAULT_EDGE"] = default or str(props.columns[0])
            g.attrs["NEUROTOP_SHAPE"] = np.array(sq.shape, dtype=np.int64)
    return p


def read_conntility_h5(
    path: str | os.PathLike[str],
    group: str | None = None,
    *,
    prefix: str = "connectivity",
    form: str | None = None,
    id_column: str | None = None,
) -> ConnectivityMatrix:
    """Read a Connectome-Utilities HDF5 group with h5py only (no PyTables, no unpickling).

    Parameters
    ----------
    path : path
    group : str, optional
        ``full``, ``condensed`` or any group name (default: ``full``, else ``condensed``,
        else ``full_matrix``, the conntility default).
    prefix : str
        The top group (``connectivity``).
    form : {"full", "condensed"}, optional
        How to read the edges (default: ``condensed`` when the group is named so).
    id_column : str, optional
        Vertex property holding the root ids (default ``id``, else ``pt_root_id``, else the
        table index).

    Returns
    -------
    ConnectivityMatrix
        Rectangular again when the file has ``is_pre``/``is_post`` vertex properties.
    """
    import h5py

    p = Path(path)
    if not p.exists():
        raise SourceNotFoundError(f"{p}: no such file")
    try:
        f = h5py.File(p, "r")
    except OSError as e:
        raise DataFormatError(f"{p}: not an HDF5 file ({e})") from e
    with f:
        top = f[prefix] if prefix in f else f
        names = [n for n in ("full", "condensed", "full_matrix") if n in top]
        gname = group or (names[0] if names else None)
        if gname is None or gname not in top:
            found = (
                [k for k in top if "NEUROTOP_CLASS" in top[k].attrs] if hasattr(top, "keys") else []
            )
            raise DataFormatError(
                f"{p}: no group {prefix}/{group or 'full'}; Connectome-Utilities groups here: "
                f"{found or 'none'}"
            )
        g = top[gname]
        if _attr_str(g.attrs.get("NEUROTOP_CLASS", "")) != "ConnectivityMatrix":
            raise DataFormatError(f"{p}:{g.name} is not a Connectome-Utilities ConnectivityMatrix")
        shape = tuple(int(x) for x in g.attrs["NEUROTOP_SHAPE"])
        vp = read_pandas_table(g["vertex_properties"])
        edges = read_pandas_fixed(g["edges"])
        idx = read_pandas_fixed(g["edge_indices"])
    if len(vp) != shape[0]:
        raise DataFormatError(f"{p}: {len(vp)} vertices but NEUROTOP_SHAPE {shape}")
    col = id_column or next((c for c in ("id", "pt_root_id") if c in vp.columns), None)
    ids = as_id_array(
        vp[col] if col else pd.Series(vp.index.to_numpy()), name=col or "index", source=str(p)
    )
    props = vp.drop(columns=[col]) if col else vp
    props = props.reset_index(drop=True)
    props.index = pd.Index(ids, name="id")
    row = idx["row"].to_numpy(np.int64)
    coln = idx["col"].to_numpy(np.int64)
    table = edges.reset_index(drop=True)
    table.insert(0, "post_idx", coln)
    table.insert(0, "pre_idx", row)
    condensed = (form or ("condensed" if "condensed" in gname else "full")) == "condensed"
    m = (
        ConnectivityMatrix(props, props.copy(), condensed=table)
        if condensed
        else ConnectivityMatrix(props, props.copy(), table)
    )
    if "is_pre" in props and "is_post" in props:
        pre_keep = props["is_pre"].to_numpy(bool)
        post_keep = props["is_post"].to_numpy(bool)
        m = m._restrict(pre_keep, post_keep)
        m.pre_vertices = m.pre_vertices.drop(columns=["is_pre", "is_post"])
        m.post_vertices = m.post_vertices.drop(columns=["is_pre", "is_post"])
    return m


# ---------------------------------------------------------------------------- L4dense CSV
def write_l4dense_csv(
    m: ConnectivityMatrix,
    path: str | os.PathLike[str],
    *,
    label: str | None = None,
    weight: str = "count",
    max_cells: int = 50_000_000,
) -> Path:
    """Write the L4dense connectome CSV: rows axons (pre), columns targets (post), the first
    row and first column the class labels (vertex property ``label``; the ids when None),
    cells the ``weight`` (synapse counts by default)."""
    dense = m.dense(weight, max_cells=max_cells)

    def labels(v: pd.DataFrame) -> list[str]:
        if label is None:
            return [str(x) for x in v.index]
        if label not in v:
            raise InvalidParameterError(f"no vertex property {label!r} for the class labels")
        return ["" if pd.isna(x) else str(x) for x in v[label]]

    df = pd.DataFrame(dense, index=labels(m.pre_vertices), columns=labels(m.post_vertices))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(p, index_label="axon \\ target")
    return p


def read_l4dense_csv(path: str | os.PathLike[str]) -> ConnectivityMatrix:
    """Read the L4dense connectome CSV (rows axons, columns targets, first row and column the
    class labels) as a condensed matrix: vertex ids are row / column positions (0..n-1) and
    the labels the ``class`` property; integer cells become ``count``, others ``weight``."""
    p = Path(path)
    if not p.exists():
        raise SourceNotFoundError(f"{p}: no such file")
    raw = pd.read_csv(p, header=None, dtype=str, keep_default_na=False)
    if raw.shape[0] < 2 or raw.shape[1] < 2:
        raise DataFormatError(f"{p}: expected a label row and a label column around the matrix")
    col_labels = [x if x != "" else None for x in raw.iloc[0, 1:].tolist()]
    row_labels = [x if x != "" else None for x in raw.iloc[1:, 0].tolist()]
    try:
        vals = raw.iloc[1:, 1:].replace("", "0").to_numpy(dtype=np.float64)
    except ValueError as e:
        raise DataFormatError(f"{p}: matrix cells must be numbers ({e})") from e
    r, c = np.nonzero(vals)
    w = vals[r, c]
    pre = pd.DataFrame(
        {"class": row_labels}, index=pd.Index(np.arange(len(row_labels), dtype=np.int64), name="id")
    )
    post = pd.DataFrame(
        {"class": col_labels}, index=pd.Index(np.arange(len(col_labels), dtype=np.int64), name="id")
    )
    table = pd.DataFrame({"pre_idx": r.astype(np.int64), "post_idx": c.astype(np.int64)})
    if np.all(w == np.round(w)):
        table["count"] = w.astype(np.int64)
    else:
        table["count"] = np.ones(w.size, np.int64)
        table["weight"] = w
    return ConnectivityMatrix(pre, post, condensed=table)


# ---------------------------------------------------------------------------- conversion
def _kind(path: Path) -> str:
    s = path.suffix.lower()
    if s in (".h5", ".hdf5"):
        return "conntility"
    if s == ".csv":
        return "l4dense"
    return "folder"


def convert_matrix(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    label: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Convert between our folder, Connectome-Utilities ``.h5`` and L4dense ``.csv`` (by
    suffix). ``label`` is the vertex property for the CSV class labels."""
    m = load_matrix(src)
    d = Path(dst)
    kind = _kind(d)
    if kind != "folder" and d.exists() and not overwrite:
        raise DatasetExistsError(f"{d}: exists; pass --overwrite to replace it")
    if kind in ("conntility", "l4dense"):  # a temporary name renamed when complete
        with atomic_path(d) as tmp:
            if kind == "conntility":
                write_conntility_h5(m, tmp)
            else:
                write_l4dense_csv(m, tmp, label=label)
        return d
    return save_matrix(m, d, overwrite=overwrite)


# ---------------------------------------------------------------------------- edge lists
def _read_any_table(src: str | os.PathLike[str] | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    if isinstance(src, pd.DataFrame):
        return src, "edge list"
    p = Path(src)
    if not p.exists():
        raise SourceNotFoundError(f"{p}: no such file")
    try:
        s = p.suffix.lower()
        if s == ".parquet" or p.is_dir():
            return pd.read_parquet(p), str(p)
        if s == ".feather":
            return pd.read_feather(p), str(p)
        return pd.read_csv(p, sep="\t" if s == ".tsv" else ","), str(p)
    except (OSError, ValueError) as err:
        raise DataFormatError(f"{p}: unreadable edge list ({err})") from err


def _is_integer_text(v: Any) -> bool:
    t = str(v).strip()
    return t.lstrip("+-").isdigit()


def read_edge_list(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    pre: str = "pre",
    post: str = "post",
    weight: str | None = None,
    names: bool = False,
    type_column: str | None = None,
    symmetric: Sequence[str] = (),
    where: dict[str, str] | None = None,
) -> ConnectivityMatrix:
    """A condensed connectivity matrix from an edge list (one row per connection).

    Parameters
    ----------
    source : path-like or DataFrame
        CSV/TSV/Parquet/Feather with a presynaptic and a postsynaptic vertex column.
    pre, post : str
        Those two columns' names (e.g. ``source``, ``target``).
    weight : str, optional
        A count or weight column (synapses, contact sections). Rows of the same
        (pre, post) pair add up. Default: each row weighs 1.
    names : bool
        The vertices are names (strings such as ``AVAL``): each distinct name over both
        columns gets an integer id 1..N in sorted name order, kept in the vertex property
        ``name``. Without it the columns must hold integer ids.
    type_column : str, optional
        An edge-type column (``chemical``, ``gap_junction``/``electrical``): per pair, the
        weight of each type is kept as ``weight_<type>`` (and ``weight`` holds the total).
    symmetric : sequence of str
        Edge types that are undirected (gap junctions): each such edge becomes (a, b) and
        (b, a) with the same weight. A file that lists both directions already is kept as
        it is; unequal weights for the two directions are refused.
    where : dict of str to str, optional
        Keep only rows whose column equals the value (``{"sex": "hermaphrodite"}``).

    Returns
    -------
    ConnectivityMatrix
        Condensed form: per pair ``count`` (the summed weight when every weight is an
        integer, else the number of rows), ``weight`` (summed weight) and ``weight_<type>``.
        Vertex tables: index ``id`` (int64), ``name`` when ``names``.

    Raises
    ------
    InvalidParameterError
        Missing columns (the message lists those present), string vertices without
        ``names``, names that look like integer ids (they would be confused with the ids
        assigned to the names).
    DataFormatError
        Non-numeric weights, asymmetric weights of a symmetric type.
    """
    df, where_txt = _read_any_table(source)
    cols = [str(c) for c in df.columns]
    need = [c for c in (pre, post, weight, type_column, *(where or {})) if c is not None]
    missing = [c for c in need if c not in cols]
    if missing:
        raise InvalidParameterError(
            f"{where_txt}: no column {', '.join(missing)} (columns: {', '.join(cols)}); name them "
            "with --columns pre=COLUMN,post=COLUMN, --weight COLUMN, --type-column COLUMN"
        )
    all_types = set(df[type_column].astype(str)) if type_column else set()
    for col, val in (where or {}).items():
        df = df[df[col].astype(str) == str(val)]
    if df.empty:
        raise DataFormatError(f"{where_txt}: no rows left after selecting {where}")
    a = df[pre].to_numpy()
    b = df[post].to_numpy()
    if weight is not None:
        w = pd.to_numeric(df[weight], errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(w).any():
            bad = df[weight][np.isnan(w)].iloc[0]
            raise DataFormatError(f"{where_txt}: column {weight!r} holds non-numeric {bad!r}")
    else:
        w = np.ones(len(df), np.float64)
    types = df[type_column].astype(str).to_numpy() if type_column else np.full(len(df), "", object)
    # vertex ids
    if names:
        ints = [v for v in np.unique(np.concatenate([a, b]).astype(str)) if _is_integer_text(v)]
        if ints:
            raise InvalidParameterError(
                f"{where_txt}: vertex names {', '.join(ints[:5])} look like integer ids and "
                "would be confused with the ids assigned to names; rename them (e.g. a prefix) "
                "or, when every vertex is an integer id, drop --names"
            )
        labels = np.unique(np.concatenate([a, b]).astype(str))
        a_id = np.searchsorted(labels, a.astype(str)).astype(np.int64) + 1
        b_id = np.searchsorted(labels, b.astype(str)).astype(np.int64) + 1
    else:
        for c, v in ((pre, a), (post, b)):
            if v.dtype.kind not in "iu":
                sample = next((x for x in v if not _is_integer_text(x)), v[0] if len(v) else "")
                raise InvalidParameterError(
                    f"{where_txt}: column {c!r} holds names such as {sample!r}, not integer ids; "
                    "pass --names (names=True) to give each name an integer id"
                )
        labels = None
        a_id = as_id_array(a, name=pre)
        b_id = as_id_array(b, name=post)
    edges = pd.DataFrame({"pre": a_id, "post": b_id, "type": types, "w": w})
    sym = set(map(str, symmetric))
    if sym:
        unknown = sym - all_types
        if unknown and type_column:
            raise InvalidParameterError(
                f"{where_txt}: --symmetric {', '.join(sorted(unknown))}: no such edge type in "
                f"column {type_column!r} (types: {', '.join(sorted(all_types))})"
            )
        is_sym = edges["type"].isin(sym) if type_column else pd.Series(True, index=edges.index)
        s = edges[is_sym.to_numpy()]
        s = s.groupby(["pre", "post", "type"], as_index=False, sort=False)["w"].sum()
        fwd = s.set_index(["pre", "post", "type"])["w"]
        rev = s.rename(columns={"pre": "post", "post": "pre"}).set_index(["pre", "post", "type"])[
            "w"
        ]
        both = fwd.index.intersection(rev.index)
        diff = both[(fwd.loc[both].to_numpy() != rev.loc[both].to_numpy())]
        if len(diff):
            p0 = diff[0]
            show = (labels[p0[0] - 1], labels[p0[1] - 1]) if labels is not None else p0[:2]
            raise DataFormatError(
                f"{where_txt}: {len(diff) // 2 or 1} {p0[2] or 'symmetric'} pairs have different "
                f"weights in the two directions (first {show[0]} -> {show[1]}); a symmetric "
                "type must list each edge once or both directions with the same weight"
            )
        merged = pd.concat([fwd, rev[~rev.index.isin(fwd.index)]])
        s = merged.reset_index()
        edges = pd.concat([edges[~is_sym.to_numpy()], s], ignore_index=True)
    g = edges.groupby(["pre", "post"], sort=True)
    table = g["w"].sum().rename("weight").reset_index()
    integral = bool(np.all(np.mod(table["weight"].to_numpy(), 1) == 0))
    table["count"] = (
        table["weight"].to_numpy().astype(np.int64) if integral else g.size().to_numpy()
    )
    if integral:
        table["weight"] = table["weight"].astype(np.int64)
    if type_column:
        per = edges.pivot_table(index=["pre", "post"], columns="type", values="w", aggfunc="sum")
        per = per.reindex(pd.MultiIndex.from_frame(table[["pre", "post"]])).fillna(0)
        for t in per.columns:
            v = per[t].to_numpy()
            col = "weight_" + "".join(ch if ch.isalnum() else "_" for ch in str(t))
            table[col] = v.astype(np.int64) if integral else v
    m = ConnectivityMatrix.from_condensed(table, pre="pre", post="post")
    if labels is not None:
        for v in (m.pre_vertices, m.post_vertices):
            v["name"] = labels[v.index.to_numpy().astype(np.int64) - 1]
    return m
