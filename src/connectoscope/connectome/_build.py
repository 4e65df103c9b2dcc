"""``connectome build`` of any size in bounded memory: the out-of-core path.

Above a size threshold (:data:`STREAM_ROWS` synapses) the synapse table is never loaded
whole:

1. it is condensed out of core (:func:`~connectoscope.connectome.condense_parquet`: pairs and
   per-cell sums, progress in synapses/s);
2. the vertices are the ids of the per-cell table (presynaptic: out-degree > 0;
   postsynaptic: in-degree > 0), joined with the cell table; unmatched partners are counted
   (and dropped with ``missing_cells="drop"``) in one pass over the pairs; vertex
   selections (``--pre``/``--post``/``--where``) restrict the vertex tables;
3. the matrix folder is written by streaming: ``condensed.parquet`` from the pairs and
   ``edges.parquet`` (the full form, one row per synapse) from a second read of the table,
   batch by batch, every id mapped to its row or column by a binary search.

The result is the same folder as :func:`~connectoscope.connectome.save_matrix` writes for
the in-memory build (:func:`~connectoscope.connectome.load_matrix` reads it). A
Connectome-Utilities ``.h5`` or an L4dense ``.csv`` output holds the condensed form, built
in memory from the pairs (about 40 bytes per pair).
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._atomic import atomic_path, write_json_atomic
from ..errors import (
    ConnectoscopeWarning,
    DataFormatError,
    DatasetExistsError,
    InvalidParameterError,
)
from ._ids import common_id_dtype, to_id_dtype
from ._tablesource import count_rows, inspect_file, iter_batches, table_files

__all__ = ["STREAM_ROWS", "VertexFilter", "build_out_of_core", "count_rows"]

#: ``connectome build`` streams tables with more synapses than this (``out_of_core="auto"``).
STREAM_ROWS = 5_000_000
#: A vertex selection: (side "pre" / "post" / "both", property, operation, value), the
#: operations of :mod:`connectoscope.connectome._select` (eq, ne, lt, le, gt, ge, isin).
VertexFilter = tuple[str, str, str, Any]
_BATCH = 500_000


def _resolve_columns(names: Sequence[str], columns: Mapping[str, str] | None) -> dict[str, Any]:
    """Our names -> the table's, as :meth:`SynapseTable.from_frame` resolves them."""
    from ._synapses import _MAPPING_HINT

    mapping = dict(columns or {})
    unknown = set(mapping) - {"pre", "post", "size", "x", "y", "z"}
    if unknown:
        raise InvalidParameterError(
            f"columns: unknown keys {sorted(unknown)}; use pre, post, size, x, y, z"
        )
    for ours, theirs in (("pre", "pre_pt_root_id"), ("post", "post_pt_root_id")):
        if ours not in mapping:
            mapping[ours] = ours if ours in names else theirs
    if "size" not in mapping and "size" in names:
        mapping["size"] = "size"
    missing = [f"{k} (as {v!r})" for k, v in mapping.items() if v not in names]
    if missing:
        raise DataFormatError(
            f"synapse table: missing columns {', '.join(missing)}; found {list(names)}. "
            + _MAPPING_HINT
        )
    return mapping


def _sorted_ids(parts: Path, column: str, dtype: Any) -> np.ndarray:
    import pyarrow.dataset as ds

    t = ds.dataset(parts).to_table(columns=["id", column])
    ids = t.column("id").to_numpy()
    keep = t.column(column).to_numpy() > 0
    return np.sort(np.asarray(ids[keep], dtype=dtype))


def _lookup(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions, found) of ``ids`` in ``sorted_ids``."""
    if sorted_ids.size == 0:
        return np.zeros(ids.size, np.int64), np.zeros(ids.size, bool)
    pos = np.searchsorted(sorted_ids, ids)
    pos_c = np.minimum(pos, sorted_ids.size - 1)
    return pos_c.astype(np.int64), sorted_ids[pos_c] == ids


def build_out_of_core(
    synapses: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    cells: Any = None,
    columns: Mapping[str, str] | None = None,
    voxel_size: Any = None,
    duplicates: str = "error",
    cell_id: str | None = None,
    missing_cells: str = "keep",
    filters: Sequence[VertexFilter] = (),
    dataset: Any = None,
    overwrite: bool = False,
    workers: int | None = None,
    tmp_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Build a connectivity matrix from a synapse table of any size in bounded memory.

    Parameters
    ----------
    synapses : path
        A synapse table: Parquet file or folder, Feather or CSV (MICrONS column names by
        default; ``columns`` maps others).
    out : path
        Output: a folder (our format, full form), a ``.h5`` (Connectome-Utilities, condensed
        form) or a ``.csv`` (L4dense, dense: small matrices only).
    cells : CellTable, DataFrame or path, optional
        Vertex properties (``pt_root_id`` + properties).
    columns, voxel_size, duplicates, cell_id, missing_cells
        As for :meth:`SynapseTable.read`, :class:`CellTable` and
        :meth:`ConnectivityMatrix.from_synapses`.
    filters : sequence of (side, property, operation, value)
        Vertex selections applied in order, as ``m.pre.index(prop).eq(value)`` does.
    dataset : Store, optional
        Also store the (validated) synapse table and the cell table there, streamed.
    overwrite : bool
        Replace an existing output.
    workers : int, optional
        Local worker threads of the condense pass.
    tmp_dir : path, optional
        Work folder (spill files; about 24 bytes per synapse); default beside ``out``.

    Returns
    -------
    dict
        ``out``, ``shape``, ``n_synapses``, ``n_pairs``, ``unmatched_synapses``,
        ``dropped``, ``notes`` (warnings), ``seconds``.
    """
    import time

    from ._cells import CellTable
    from ._matrix import _vertex_table
    from ._outofcore import condense_parquet
    from ._select import _check_prop, _mask
    from ._synapses import synth_voxel_size

    t0 = time.perf_counter()
    if missing_cells not in ("keep", "drop", "error"):
        raise InvalidParameterError(
            f"missing_cells must be keep, drop or error, got {missing_cells!r}"
        )
    src = Path(synapses)
    dst = Path(out)
    kind = dst.suffix.lower()
    if dst.exists() and not overwrite:
        raise DatasetExistsError(f"{dst}: exists; pass overwrite=True (CLI: --overwrite)")
    if dst.is_dir() and not (dst / "matrix.json").exists():
        raise DatasetExistsError(
            f"{dst}: exists and is not a connectivity matrix folder; refusing to replace it"
        )
    if voxel_size is None:
        voxel_size = synth_voxel_size(src)
    files = table_files(src)
    schema = inspect_file(files[0])[0]
    mapping = _resolve_columns(schema.names, columns)
    work = Path(tmp_dir) if tmp_dir else dst.with_name(f".{dst.name}.build")
    work.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    # the work folder is kept when this fails: a re-run resumes the condense
    if True:
        cond = work / "condensed"
        if not (cond / "_condense.json").exists():
            condense_parquet(
                src,
                cond,
                columns={k: mapping[k] for k in ("pre", "post", "size") if k in mapping},
                workers=workers,
                tmp_dir=work / "condense-work",
                overwrite=True,
            )
        info = json.loads((cond / "_condense.json").read_text())
        id_dtype = np.dtype(info["id_dtype"])
        cell = None
        if cells is not None:
            cell = (
                cells
                if isinstance(cells, CellTable)
                else CellTable(
                    cells, duplicates=duplicates, voxel_size=voxel_size, id_column=cell_id
                )
                if isinstance(cells, pd.DataFrame)
                else CellTable.read(
                    cells, duplicates=duplicates, voxel_size=voxel_size, id_column=cell_id
                )
            )
            id_dtype = common_id_dtype(np.zeros(0, id_dtype), cell.ids)
        pre_ids = _sorted_ids(cond / "cells", "out_degree", id_dtype)
        post_ids = _sorted_ids(cond / "cells", "in_degree", id_dtype)
        unmatched = dropped = 0
        if cell is not None:
            known = np.sort(to_id_dtype(cell.ids, id_dtype))
            pre_ids, post_ids, unmatched, dropped, msg = _check_cells(
                cond / "pairs", known, pre_ids, post_ids, id_dtype, missing_cells, info
            )
            if msg:
                warnings.warn(msg, ConnectoscopeWarning, stacklevel=2)
                notes.append(msg)
        pv = _vertex_table(pre_ids, cell)
        qv = _vertex_table(post_ids, cell)
        pre_keep = np.ones(len(pv), bool)
        post_keep = np.ones(len(qv), bool)
        for side, prop, op, value in filters:
            probe = _Probe(pv, qv)
            _check_prop(probe, prop, side)  # type: ignore[arg-type]
            if side in ("pre", "both"):
                pre_keep &= _mask(pv[prop], op, value)
            if side in ("post", "both"):
                post_keep &= _mask(qv[prop], op, value)
        pv, qv = pv[pre_keep], qv[post_keep]
        pre_ids = pv.index.to_numpy()
        post_ids = qv.index.to_numpy()
        if kind in (".h5", ".hdf5", ".csv"):
            summary = _write_in_memory(dst, kind, pv, qv, cond / "pairs", overwrite, info)
        else:
            summary = _write_folder(
                dst,
                work,
                files,
                mapping,
                voxel_size,
                pv,
                qv,
                cond / "pairs",
                info,
                dataset,
                overwrite,
            )
        if dataset is not None and cell is not None:
            cell.save(dataset)
    shutil.rmtree(work, ignore_errors=True)
    summary.update(
        unmatched_synapses=int(unmatched),
        dropped=int(dropped),
        notes=notes,
        seconds=round(time.perf_counter() - t0, 3),
    )
    return summary


class _Probe:
    """Just enough of a matrix for :func:`_select._check_prop`."""

    def __init__(self, pv: pd.DataFrame, qv: pd.DataFrame) -> None:
        self.pre_vertices, self.post_vertices = pv, qv


def _pair_parts(pairs: Path) -> list[Path]:
    return sorted(pairs.glob("part-*.parquet"))


def _check_cells(
    pairs: Path,
    known: np.ndarray,
    pre_ids: np.ndarray,
    post_ids: np.ndarray,
    id_dtype: Any,
    missing_cells: str,
    info: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray, int, int, str]:
    """Count synapses whose partner is not in the cell table (and drop them)."""
    import pyarrow.parquet as pq

    n_syn = int(info["synapses"])
    bad_syn = miss_pre_syn = miss_post_syn = 0
    kept_pre: list[np.ndarray] = []
    kept_post: list[np.ndarray] = []
    for f in _pair_parts(pairs):
        pf = pq.ParquetFile(f)
        for b in pf.iter_batches(batch_size=2_000_000, columns=["pre", "post", "count"]):
            p = np.asarray(b.column(0).to_numpy(), id_dtype)
            q = np.asarray(b.column(1).to_numpy(), id_dtype)
            c = b.column(2).to_numpy()
            _, in_p = _lookup(known, p)
            _, in_q = _lookup(known, q)
            both = in_p & in_q
            bad_syn += int(c[~both].sum())
            miss_pre_syn += int(c[~in_p].sum())
            miss_post_syn += int(c[~in_q].sum())
            if missing_cells == "drop":
                kept_pre.append(np.unique(p[both]))
                kept_post.append(np.unique(q[both]))
    if not bad_syn:
        return pre_ids, post_ids, 0, 0, ""
    n_pre_ids = int((~_lookup(known, pre_ids)[1]).sum())
    n_post_ids = int((~_lookup(known, post_ids)[1]).sum())
    msg = (
        f"{bad_syn} of {n_syn} synapses have a partner missing from the cell table "
        f"({miss_pre_syn} pre, {miss_post_syn} post; {n_pre_ids} pre ids, {n_post_ids} post ids)"
    )
    if missing_cells == "error":
        raise DataFormatError(msg + "; pass missing_cells='keep' or 'drop'")
    if missing_cells == "drop":
        pre_ids = np.unique(np.concatenate(kept_pre)) if kept_pre else pre_ids[:0]
        post_ids = np.unique(np.concatenate(kept_post)) if kept_post else post_ids[:0]
        return pre_ids, post_ids, bad_syn, bad_syn, msg + "; dropped"
    return (
        pre_ids,
        post_ids,
        bad_syn,
        0,
        msg + "; kept with missing properties (missing_cells='drop' drops them)",
    )


def _condensed_batches(
    pairs: Path, pre_ids: np.ndarray, post_ids: np.ndarray, int_sizes: bool
) -> Any:
    """The matrix's condensed rows (pre, post, pre_idx, post_idx, count, size_sum,
    size_mean), part by part, restricted to the vertices."""
    import pyarrow.parquet as pq

    dt = pre_ids.dtype
    for f in _pair_parts(pairs):
        t = pq.read_table(f)
        p = np.asarray(t.column("pre").to_numpy(), dt)
        q = np.asarray(t.column("post").to_numpy(), dt)
        pi, fp = _lookup(pre_ids, p)
        qi, fq = _lookup(post_ids, q)
        keep = fp & fq
        df = pd.DataFrame(
            {
                "pre": p[keep],
                "post": q[keep],
                "pre_idx": pi[keep],
                "post_idx": qi[keep],
                "count": t.column("count").to_numpy()[keep],
            }
        )
        if "size_sum" in t.column_names:
            s = t.column("size_sum").to_numpy()[keep]
            df["size_sum"] = s.astype(np.int64) if int_sizes else s
            df["size_mean"] = t.column("size_mean").to_numpy()[keep]
        yield df


def _write_in_memory(
    dst: Path,
    kind: str,
    pv: pd.DataFrame,
    qv: pd.DataFrame,
    pairs: Path,
    overwrite: bool,
    info: dict[str, Any],
) -> dict[str, Any]:
    from ._formats import write_conntility_h5, write_l4dense_csv
    from ._matrix import ConnectivityMatrix

    parts = list(_condensed_batches(pairs, pv.index.to_numpy(), qv.index.to_numpy(), False))
    cond = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    del parts
    cond = cond.drop(columns=["pre", "post"])
    m = ConnectivityMatrix(pv, qv, condensed=cond)
    with atomic_path(
        dst, overwrite=overwrite
    ) as tmp:  # the old file stays until the new one is whole
        if kind == ".csv":
            write_l4dense_csv(m, tmp)
        else:
            write_conntility_h5(m, tmp)
    return {
        "out": str(dst),
        "form": "condensed",
        "shape": list(m.shape),
        "n_synapses": int(cond["count"].sum()) if len(cond) else 0,
        "n_pairs": len(cond),
    }


def _write_folder(
    dst: Path,
    work: Path,
    files: Sequence[Path],
    mapping: dict[str, Any],
    voxel_size: Any,
    pv: pd.DataFrame,
    qv: pd.DataFrame,
    pairs: Path,
    info: dict[str, Any],
    dataset: Any,
    overwrite: bool,
) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .._progress import progress
    from ._formats import FORMAT_VERSION
    from ._synapses import SynapseTable

    pre_ids = pv.index.to_numpy()
    post_ids = qv.index.to_numpy()
    tmp = work / "matrix"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    pv.to_parquet(tmp / "pre_vertices.parquet")
    qv.to_parquet(tmp / "post_vertices.parquet")
    # 1. the condensed table, from the pairs
    int_sizes = False
    if "size" in mapping:
        st = inspect_file(files[0])[0].field(mapping["size"]).type
        int_sizes = pa.types.is_integer(st)
    n_pairs = 0
    writer = None
    for df in _condensed_batches(pairs, pre_ids, post_ids, int_sizes):
        t = pa.Table.from_pandas(df, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(tmp / "condensed.parquet", t.schema)
        writer.write_table(t.cast(writer.schema))
        n_pairs += len(df)
    if writer is None:
        pd.DataFrame(
            {"pre": [], "post": [], "pre_idx": [], "post_idx": [], "count": []}
        ).to_parquet(tmp / "condensed.parquet", index=False)
    else:
        writer.close()
    # 2. the full form, one row per synapse, and the dataset's synapse table
    cols = list(inspect_file(files[0])[0].names)
    id_cols = [mapping["pre"], mapping["post"]]
    edges_w = None
    syn_w = None
    syn_tmp = None
    n_edges = 0
    n_total = int(info["synapses"])
    if dataset is not None:
        folder = dataset.folder("synapses", create=True)
        syn_tmp = folder / ".synapses.parquet.build.part"
    with progress(total=n_total, desc="build: edges", unit="syn", unit_scale=True) as bar:
        for f in files:
            for b in iter_batches(f, cols, _BATCH, id_columns=id_cols):
                syn = SynapseTable.from_frame(
                    b.to_pandas(),
                    columns=_user_columns(mapping),
                    voxel_size=voxel_size,
                    source=str(f),
                ).df
                p = to_id_dtype(syn["pre"].to_numpy(), pre_ids.dtype)
                q = to_id_dtype(syn["post"].to_numpy(), pre_ids.dtype)
                pi, fp = _lookup(pre_ids, p)
                qi, fq = _lookup(post_ids, q)
                keep = fp & fq
                e = syn.drop(columns=["pre", "post"])[keep].reset_index(drop=True)
                e.insert(0, "post_idx", qi[keep])
                e.insert(0, "pre_idx", pi[keep])
                t = pa.Table.from_pandas(e, preserve_index=False)
                if edges_w is None:
                    edges_w = pq.ParquetWriter(tmp / "edges.parquet", t.schema)
                edges_w.write_table(_cast(t, edges_w.schema, f))
                n_edges += len(e)
                if syn_tmp is not None:
                    ts = pa.Table.from_pandas(syn, preserve_index=False)
                    if syn_w is None:
                        syn_w = pq.ParquetWriter(syn_tmp, ts.schema)
                    syn_w.write_table(_cast(ts, syn_w.schema, f))
                bar.update(b.num_rows)
    if edges_w is not None:
        edges_w.close()
    if syn_w is not None and syn_tmp is not None:
        syn_w.close()
        os.replace(syn_tmp, syn_tmp.parent / "synapses.parquet")
        dataset.set_layer(
            "synapses",
            {"kind": "synapses", "path": "synapses/synapses.parquet", "n_synapses": n_total},
        )
    meta = {
        "format": "connectoscope.connectome",
        "version": FORMAT_VERSION,
        "form": "full" if edges_w is not None else "condensed",
        "shape": [len(pv), len(qv)],
        "n_synapses": n_edges,
        "n_pairs": n_pairs,
        "id_dtype": str(pre_ids.dtype),
    }
    write_json_atomic(tmp / "matrix.json", meta)
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
        os.replace(tmp, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dst)
    return {
        "out": str(dst),
        "form": meta["form"],
        "shape": meta["shape"],
        "n_synapses": n_edges,
        "n_pairs": n_pairs,
    }


def _user_columns(mapping: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in mapping.items() if k in ("pre", "post", "size", "x", "y", "z")}


def _cast(t: Any, schema: Any, f: Path) -> Any:
    import pyarrow as pa

    try:
        return t.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as e:
        raise DataFormatError(
            f"{f}: a batch's columns do not match the first batch's types ({e}); the table's "
            "files must agree on their schema"
        ) from e
