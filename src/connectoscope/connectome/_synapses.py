"""Validated synapse tables with exact 64-bit ids, and their loaders.

Sources: CSV / Parquet / Feather with MICrONS column names (``pre_pt_root_id``,
``post_pt_root_id``, ``size``, ``ctr_pt_position_x/y/z`` in voxels with a voxel size) or a
column mapping for other names; the synthetic data's ``synapses.parquet`` (voxel size from
``synth.json`` beside it); the L4dense form (each synapse a set of pre and a set of post
segment ids, resolved to objects through object maps); a dataset's ``synapses/``.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .._atomic import write_parquet_atomic
from .._store import Store
from ..errors import (
    ConnectoscopeWarning,
    DataFormatError,
    InvalidParameterError,
    LayerNotFoundError,
    SourceNotFoundError,
)
from ..geometry import LevelFrame, VoxelSize
from ._ids import as_id_array, common_id_dtype, to_id_dtype

__all__ = ["ObjectLookup", "SynapseTable", "read_table", "synth_voxel_size"]

#: MICrONS column names (ours -> theirs).
MICRONS_SYNAPSE_COLUMNS = {"pre": "pre_pt_root_id", "post": "post_pt_root_id", "size": "size"}
_POSITION = ("ctr_pt_position_x", "ctr_pt_position_y", "ctr_pt_position_z")
_MAPPING_HINT = (
    "Map other names with columns={'pre': 'pre_root_id', 'post': 'post_root_id', 'size': "
    "'cleft_vx'} (CLI: --columns pre=pre_root_id,post=post_root_id,size=cleft_vx)"
)


class ObjectLookup(Protocol):
    """Anything with ``lookup(kind, segment_ids) -> object ids`` (0 = none), such as
    :class:`connectoscope.segmentation.ObjectMaps`."""

    def lookup(self, kind: str, segment_ids: np.ndarray) -> np.ndarray: ...  # pragma: no cover


def read_table(path: Path) -> pd.DataFrame:
    """Read CSV / Parquet (file or partitioned folder) / Feather into a DataFrame.

    CSV id columns are read as integers by pandas; a column with an empty cell becomes float
    and is refused later (never rounded).
    """
    if not path.exists():
        raise SourceNotFoundError(f"{path}: no such file")
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    try:
        if path.is_dir():
            return pd.read_parquet(path)
        if suffix in (".parquet", ".pq"):
            return _read_parquet_file(path)
        if suffix in (".feather", ".arrow"):
            return pd.read_feather(path)
        if suffix in (".csv", ".csv.gz", ".txt", ".tsv"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    except (OSError, ValueError) as e:
        raise DataFormatError(f"{path}: cannot read table ({e})") from e
    raise SourceNotFoundError(
        f"{path}: unsupported table format {suffix!r}; use .csv, .parquet or .feather"
    )


def _read_parquet_file(path: Path) -> pd.DataFrame:
    """One Parquet file as a DataFrame, holding about the table's own size at the peak.

    ``pd.read_parquet`` decodes the whole file into Arrow's pool (which keeps what it frees)
    and converts that to pandas: two to three times the table stays resident. A table of
    plain numeric columns (the synapse tables) is instead decoded batch by batch, into the
    system allocator, and copied into numpy arrays allocated once; any other table is decoded
    into the system allocator and converted column by column (``self_destruct``), which hands
    the Arrow memory back.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    pool = pa.system_memory_pool()
    f = pq.ParquetFile(path)
    if _plain_numeric(f.schema_arrow, f.metadata.num_rows):
        n = f.metadata.num_rows
        cols = {
            fld.name: np.empty(n, dtype=np.dtype(fld.type.to_pandas_dtype()))
            for fld in f.schema_arrow
        }
        at = 0
        batches = ds.dataset(path, format="parquet").to_batches(
            batch_size=1 << 20, memory_pool=pool
        )
        for batch in batches:
            if any(c.null_count for c in batch.columns):
                break  # missing values: pandas' own conversion (NaN / float) below
            k = batch.num_rows
            for name, col in zip(batch.schema.names, batch.columns):
                cols[name][at : at + k] = col.to_numpy(zero_copy_only=False)
            at += k
        else:
            if at == n:
                return pd.DataFrame(cols, copy=False)
        del cols
    table = ds.dataset(path, format="parquet").to_table(memory_pool=pool)
    return table.to_pandas(split_blocks=True, self_destruct=True, memory_pool=pool)


def _plain_numeric(schema: Any, n_rows: int) -> bool:
    """True when every column is a plain integer / float / bool column that pandas would
    read as the same numpy dtype, under a default (0..n-1) index."""
    import pyarrow as pa

    names = schema.names
    if len(set(names)) != len(names) or not names:
        return False
    for fld in schema:
        t = fld.type
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
            return False
        if pa.types.is_float16(t):
            return False
    meta = schema.pandas_metadata
    if meta is None:
        return True
    for ix in meta.get("index_columns", []):
        if not (
            isinstance(ix, dict)
            and ix.get("kind") == "range"
            and ix.get("name") is None
            and ix.get("start") == 0
            and ix.get("step") == 1
            and ix.get("stop") == n_rows
        ):
            return False
    for c in meta.get("columns", []):
        if c.get("name") in names:
            nt = str(c.get("numpy_type"))
            try:
                if np.dtype(nt).name != nt:
                    return False
            except TypeError:
                return False  # an extension dtype (Int64, boolean ...): pandas' conversion
    return not meta.get("column_indexes") or len(meta["column_indexes"]) <= 1


def synth_voxel_size(path: Path) -> Any:
    """The ``voxel_size_nm`` of a ``synth.json`` beside ``path`` (synthetic data), or None."""
    manifest = (path if path.is_dir() else path.parent) / "synth.json"
    if manifest.exists():
        return json.loads(manifest.read_text())["voxel_size_nm"]
    return None


class SynapseTable:
    """One row per synapse: ``pre``, ``post`` (exact int64 ids; uint64 only above 2**63 - 1),
    optional ``size``, optional position ``x_nm, y_nm, z_nm`` and any extra columns.

    Build with :meth:`read` (CSV/Parquet/Feather, MICrONS names by default),
    :meth:`from_frame`, :meth:`from_l4dense` or :meth:`from_store`.

    Examples
    --------
    >>> import pandas as pd
    >>> t = SynapseTable.from_frame(pd.DataFrame({"pre_pt_root_id": [2**60 + 1],
    ...     "post_pt_root_id": [2**60 + 3], "size": [120]}))
    >>> int(t.pre[0]) == 2**60 + 1
    True
    """

    def __init__(self, df: pd.DataFrame) -> None:
        if "pre" not in df or "post" not in df:
            raise DataFormatError(
                f"a SynapseTable needs 'pre' and 'post' columns, got {list(df.columns)}; "
                "use SynapseTable.from_frame for MICrONS names or a column mapping"
            )
        self.df = df

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        *,
        columns: Mapping[str, str] | None = None,
        voxel_size: Any = None,
        source: str = "synapse table",
    ) -> SynapseTable:
        """Validate a DataFrame.

        Parameters
        ----------
        df : pandas.DataFrame
        columns : mapping, optional
            Our name -> the table's name, for ``pre``, ``post``, ``size`` and ``x``/``y``/``z``
            (positions). Default: MICrONS names (``pre_pt_root_id``, ``post_pt_root_id``,
            ``size``, ``ctr_pt_position_x/y/z``) or already ``pre``/``post``.
        voxel_size : (x, y, z) nm, optional
            Positions are voxels of this size (MICrONS convention) and become ``x_nm`` ... .
            Without it, positions named ``*_nm`` are taken as nm and voxel positions stay as
            extra columns.
        source : str
            Name used in error messages.

        Raises
        ------
        DataFormatError
            Missing columns (named, with the mapping option), bad ids.
        """

        mapping = dict(columns or {})
        unknown = set(mapping) - {"pre", "post", "size", "x", "y", "z"}
        if unknown:
            raise InvalidParameterError(
                f"columns: unknown keys {sorted(unknown)}; use pre, post, size, x, y, z"
            )
        for ours, theirs in (("pre", "pre_pt_root_id"), ("post", "post_pt_root_id")):
            if ours not in mapping:
                mapping[ours] = ours if ours in df.columns else theirs
        if "size" not in mapping and "size" in df.columns:
            mapping["size"] = "size"
        missing = [f"{k} (as {v!r})" for k, v in mapping.items() if v not in df.columns]
        if missing:
            raise DataFormatError(
                f"{source}: missing columns {', '.join(missing)}; found {list(df.columns)}. "
                + _MAPPING_HINT
            )
        pre = as_id_array(df[mapping["pre"]], name=mapping["pre"], source=source)
        post = as_id_array(df[mapping["post"]], name=mapping["post"], source=source)
        dt = common_id_dtype(pre, post)
        # columns gathered first and wrapped without a copy (pandas would copy a dict of
        # arrays into one block: twice the table at the peak)
        out: dict[str, np.ndarray] = {"pre": to_id_dtype(pre, dt), "post": to_id_dtype(post, dt)}
        if "size" in mapping:
            size = pd.to_numeric(df[mapping["size"]], errors="coerce")
            if size.isna().any():
                raise DataFormatError(
                    f"{source}: column {mapping['size']!r} (size) has {int(size.isna().sum())} "
                    "missing or non-numeric values"
                )
            out["size"] = size.to_numpy()
        pos = [mapping.get(a) for a in "xyz"]
        if all(p is not None for p in pos):
            pos_cols = [str(p) for p in pos]
        elif all(c in df.columns for c in _POSITION):
            pos_cols = list(_POSITION)
        else:
            pos_cols = []
        used = {mapping["pre"], mapping["post"], mapping.get("size")}
        if pos_cols:
            xyz = df[pos_cols].to_numpy(dtype=np.float64)
            if voxel_size is not None:
                # voxel indices of the source's whole volume (offset 0): centres, as the
                # dataset frame places voxels, so a synapse in voxel i lands in voxel i
                xyz = LevelFrame(VoxelSize.parse(voxel_size)).to_nm(xyz)
            if voxel_size is not None or all(c.endswith("_nm") for c in pos_cols):
                for a, col in zip("xyz", xyz.T):
                    out[f"{a}_nm"] = col
                used.update(pos_cols)
        for c in df.columns:
            if c not in used and c not in out:
                out[c] = df[c].to_numpy()
        return cls(pd.DataFrame(out, copy=False))

    @classmethod
    def read(
        cls,
        path: str | os.PathLike[str],
        *,
        columns: Mapping[str, str] | None = None,
        voxel_size: Any = None,
    ) -> SynapseTable:
        """Read CSV / Parquet (a file or a partitioned folder) / Feather (see :meth:`from_frame`).

        A ``synth.json`` beside the file provides the voxel size of synthetic tables.
        """
        p = Path(path)
        df = read_table(p)
        if voxel_size is None:
            voxel_size = synth_voxel_size(p)
        return cls.from_frame(df, columns=columns, voxel_size=voxel_size, source=str(p))

    @classmethod
    def from_l4dense(
        cls,
        pre_segments: Sequence[Any],
        post_segments: Sequence[Any],
        objects: ObjectLookup,
        *,
        pre_kind: str = "axon",
        post_kind: str = "dendrite",
        extra: pd.DataFrame | None = None,
        unresolved: str = "drop",
    ) -> SynapseTable:
        """Synapses in the L4dense form: each synapse a *set* of presynaptic and a set of
        postsynaptic segment ids, resolved to objects.

        Parameters
        ----------
        pre_segments, post_segments : sequence of array-like
            Per synapse, the segment ids on each side (L4dense ``presynId`` / ``postsynId``).
        objects : ObjectLookup
            Anything with ``lookup(kind, segment_ids)``, such as
            :class:`connectoscope.segmentation.ObjectMaps` (``dataset.objects``).
        pre_kind, post_kind : str
            Object kinds of each side (``axon``; ``dendrite``, ``neuron`` or ``spinehead``).
        extra : DataFrame, optional
            Per-synapse columns to keep (same length), for example ``size`` or positions.
        unresolved : {"drop", "error"}
            Synapses with a side that maps to no object: dropped (with a warning giving the
            count) or refused. A side whose segments map to several objects takes the object
            with most segments (ties: the smallest id); the count is reported in the warning.

        Returns
        -------
        SynapseTable
            ``pre``/``post`` are object ids; ``n_pre_objects``/``n_post_objects`` hold how
            many distinct objects each side touched.
        """
        if len(pre_segments) != len(post_segments):
            raise DataFormatError(
                f"L4dense synapses: {len(pre_segments)} pre sets but {len(post_segments)} post sets"
            )
        if unresolved not in ("drop", "error"):
            raise InvalidParameterError(f"unresolved must be drop or error, got {unresolved!r}")
        n = len(pre_segments)
        pre_obj, pre_n = _resolve_sets(pre_segments, objects, pre_kind)
        post_obj, post_n = _resolve_sets(post_segments, objects, post_kind)
        ok = (pre_obj > 0) & (post_obj > 0)
        n_bad = int(n - ok.sum())
        n_multi = int(((pre_n > 1) | (post_n > 1)).sum())
        if n_bad and unresolved == "error":
            raise DataFormatError(
                f"L4dense synapses: {n_bad} of {n} have a side whose segments map to no "
                f"{pre_kind}/{post_kind} object; pass unresolved='drop' to drop them"
            )
        if n_bad or n_multi:
            warnings.warn(
                f"L4dense synapses: {n_bad} of {n} dropped (a side maps to no object); "
                f"{n_multi} touch several objects on a side (majority object kept)",
                ConnectoscopeWarning,
                stacklevel=2,
            )
        df = pd.DataFrame(
            {
                "pre": pre_obj[ok],
                "post": post_obj[ok],
                "n_pre_objects": pre_n[ok],
                "n_post_objects": post_n[ok],
            }
        )
        if extra is not None:
            if len(extra) != n:
                raise DataFormatError(f"extra has {len(extra)} rows, expected {n}")
            for c in extra.columns:
                df[c] = extra[c].to_numpy()[ok]
        return cls(df)

    @classmethod
    def from_store(cls, dataset: Store) -> SynapseTable:
        """The synapse table stored in a dataset (``synapses/synapses.parquet``)."""

        p = dataset.layout.synapses_table
        if not p.exists():
            raise LayerNotFoundError(
                f"{dataset.path}: no synapse table; add one with "
                f"`connectoscope connectome build SYNAPSES --dataset {dataset.path} -o OUT`"
            )
        return cls(pd.read_parquet(p))

    def save(self, dataset: Store) -> Path:
        """Store as ``synapses/synapses.parquet`` in the dataset (atomically)."""
        p = write_parquet_atomic(self.df, dataset.layout.synapses_table)
        dataset.set_layer(
            "synapses",
            {"kind": "synapses", "path": "synapses/synapses.parquet", "n_synapses": len(self)},
        )
        return p

    # ------------------------------------------------------------------ access
    @property
    def pre(self) -> np.ndarray:
        """Presynaptic ids (int64, or uint64 above 2**63 - 1)."""
        return self.df["pre"].to_numpy()

    @property
    def post(self) -> np.ndarray:
        """Postsynaptic ids."""
        return self.df["post"].to_numpy()

    @property
    def size(self) -> np.ndarray | None:
        """Synapse sizes, or None."""
        return self.df["size"].to_numpy() if "size" in self.df else None

    def __len__(self) -> int:
        return len(self.df)

    def __repr__(self) -> str:
        return f"SynapseTable({len(self)} synapses, columns={list(self.df.columns)})"


def _resolve_sets(
    sets: Sequence[Any], objects: ObjectLookup, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per synapse: the majority object of its segment set (0 = none) and how many distinct
    objects the set touched. Vectorised over all segments at once."""
    n = len(sets)
    lens = np.fromiter((np.size(s) for s in sets), np.int64, count=n)
    flat = (
        np.concatenate([np.asarray(s, dtype=np.int64).reshape(-1) for s in sets])
        if n and lens.sum()
        else np.zeros(0, np.int64)
    )
    syn = np.repeat(np.arange(n, dtype=np.int64), lens)
    obj = np.asarray(objects.lookup(kind, flat), dtype=np.int64).reshape(-1)
    keep = obj > 0
    syn, obj = syn[keep], obj[keep]
    best = np.zeros(n, np.int64)
    n_obj = np.zeros(n, np.int64)
    if syn.size:
        pairs = np.unique(np.stack([syn, obj], axis=1), axis=0, return_counts=True)
        (ps, po), cnt = pairs[0].T, pairs[1]
        n_obj = np.bincount(ps, minlength=n)
        order = np.lexsort((po, -cnt, ps))  # per synapse: most segments first, then smallest id
        ps, po = ps[order], po[order]
        first = np.r_[True, ps[1:] != ps[:-1]]
        best[ps[first]] = po[first]
    return best, n_obj
