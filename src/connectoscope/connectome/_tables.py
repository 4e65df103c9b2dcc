"""Validated synapse and cell tables with exact 64-bit ids.

Ids are stored as int64 and never pass through float64: a float id column is accepted only
when every value is a whole number below 2**53 (otherwise it has already lost precision and
we say so); NaN and negative ids are refused with the count and the first rows.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import (
    ConnectoscopeWarning,
    DataFormatError,
    InvalidParameterError,
    SourceNotFoundError,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..dataset import Dataset

__all__ = ["CellTable", "SynapseTable", "as_id_array"]

#: MICrONS column names -> ours.
MICRONS_SYNAPSE_COLUMNS = {"pre_pt_root_id": "pre", "post_pt_root_id": "post", "size": "size"}
_POSITION = ("ctr_pt_position_x", "ctr_pt_position_y", "ctr_pt_position_z")


def as_id_array(values: Any, *, name: str, source: str = "table") -> np.ndarray:
    """Convert a column of ids to int64 exactly, or raise naming the problem.

    Raises
    ------
    DataFormatError
        NaN, negative, non-integer or precision-lost float ids, or ids above 2**63 - 1.
    """
    s = pd.Series(values)
    if s.dtype == object:
        try:
            arr = np.array([int(v) for v in s], dtype=np.int64)
        except (TypeError, ValueError, OverflowError) as e:
            raise DataFormatError(
                f"{source}: column {name!r} holds values that are not integer ids ({e})"
            ) from e
        s = pd.Series(arr)
    if pd.api.types.is_float_dtype(s.dtype) or str(s.dtype) in ("Float64", "Float32"):
        f = s.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(f)
        if bad.any():
            raise DataFormatError(
                f"{source}: column {name!r} has {int(bad.sum())} missing (NaN) ids, first at row "
                f"{int(np.flatnonzero(bad)[0])}; drop those rows or fill them before loading"
            )
        if np.any(f != np.round(f)) or np.any(np.abs(f) >= 2**53):
            raise DataFormatError(
                f"{source}: column {name!r} holds ids as floating point numbers above 2**53 or with "
                "fractions: they have lost precision (64-bit root ids do not fit a float64). "
                "Read the file with integer dtypes (for CSV: dtype={'" + name + "': 'int64'}, and "
                "no NaN in the column)"
            )
        arr = f.astype(np.int64)
    elif pd.api.types.is_integer_dtype(s.dtype):
        if isinstance(s.dtype, pd.api.extensions.ExtensionDtype):
            if s.isna().any():
                raise DataFormatError(
                    f"{source}: column {name!r} has {int(s.isna().sum())} missing ids"
                )
            s = s.astype(str(s.dtype).lower())
        raw = s.to_numpy()
        if raw.dtype == np.uint64 and raw.size and raw.max() > np.iinfo(np.int64).max:
            raise DataFormatError(f"{source}: column {name!r} has ids above 2**63 - 1")
        arr = raw.astype(np.int64)
    else:
        raise DataFormatError(
            f"{source}: column {name!r} has dtype {s.dtype}; expected integer ids"
        )
    neg = arr < 0
    if neg.any():
        raise DataFormatError(
            f"{source}: column {name!r} has {int(neg.sum())} negative ids, first at row {int(np.flatnonzero(neg)[0])}"
        )
    return arr


def _read_frame(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise SourceNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq") or path.is_dir():
            return pd.read_parquet(path)
        if suffix in (".feather", ".arrow"):
            return pd.read_feather(path)
        if suffix in (".csv", ".gz", ".txt"):
            return pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise DataFormatError(f"{path}: cannot read table ({e})") from e
    raise SourceNotFoundError(f"{path}: unsupported table format; use .csv, .parquet or .feather")


class SynapseTable:
    """One row per synapse: ``pre``, ``post`` (int64 ids), optional ``size``, optional position
    ``x_nm, y_nm, z_nm`` and any extra columns.

    Build with :meth:`read` (CSV/Parquet/Feather, MICrONS names by default), :meth:`from_frame`
    or :meth:`from_dataset`.
    """

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df

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
            (positions); default MICrONS names (``pre_pt_root_id``, ``post_pt_root_id``,
            ``size``, ``ctr_pt_position_x/y/z``) or already ``pre``/``post``.
        voxel_size : (x, y, z) nm, optional
            Positions are in voxels of this size (MICrONS convention) and are converted to nm.
            Without it, positions named ``*_nm`` are taken as nm and voxel positions are kept as
            extra columns.
        """
        from ..geometry import VoxelSize

        mapping = dict(columns or {})
        for ours, theirs in (("pre", "pre_pt_root_id"), ("post", "post_pt_root_id")):
            if ours not in mapping:
                mapping[ours] = ours if ours in df.columns else theirs
        if "size" not in mapping and "size" in df.columns:
            mapping["size"] = "size"
        missing = [f"{k} (as {v!r})" for k, v in mapping.items() if v not in df.columns]
        if missing:
            raise DataFormatError(
                f"{source}: missing columns {', '.join(missing)}; found {list(df.columns)}. Map "
                "other names with columns={'pre': 'pre_root_id', 'post': 'post_root_id', 'size': "
                "'cleft_vx'} (CLI: --columns pre=pre_root_id,post=post_root_id,size=cleft_vx)"
            )
        out = pd.DataFrame(
            {
                "pre": as_id_array(df[mapping["pre"]], name=mapping["pre"], source=source),
                "post": as_id_array(df[mapping["post"]], name=mapping["post"], source=source),
            }
        )
        if "size" in mapping:
            out["size"] = pd.to_numeric(df[mapping["size"]]).to_numpy()
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
                xyz = xyz * np.asarray(VoxelSize.parse(voxel_size).xyz)
                for a, col in zip("xyz", xyz.T):
                    out[f"{a}_nm"] = col
                used.update(pos_cols)
            elif all(c.endswith("_nm") for c in pos_cols):
                for a, col in zip("xyz", xyz.T):
                    out[f"{a}_nm"] = col
                used.update(pos_cols)
        for c in df.columns:
            if c not in used and c not in out.columns:
                out[c] = df[c].to_numpy()
        return cls(out)

    @classmethod
    def read(
        cls,
        path: str | os.PathLike[str],
        *,
        columns: Mapping[str, str] | None = None,
        voxel_size: Any = None,
    ) -> SynapseTable:
        """Read CSV / Parquet / Feather (see :meth:`from_frame`).

        A ``synth.json`` next to the file provides the voxel size of synthetic tables.
        """
        p = Path(path)
        df = _read_frame(p)
        if voxel_size is None and (p.parent / "synth.json").exists():
            import json

            voxel_size = json.loads((p.parent / "synth.json").read_text())["voxel_size_nm"]
        return cls.from_frame(df, columns=columns, voxel_size=voxel_size, source=str(p))

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> SynapseTable:
        """The synapse table stored in a dataset."""
        from ..errors import LayerNotFoundError

        p = dataset.path / "synapses" / "synapses.parquet"
        if not p.exists():
            raise LayerNotFoundError(
                f"{dataset.path}: no synapse table; add one with "
                f"`connectoscope connectome build SYNAPSES --dataset {dataset.path}`"
            )
        return cls(pd.read_parquet(p))

    def save(self, dataset: Dataset) -> Path:
        """Store as ``synapses/synapses.parquet`` in the dataset."""
        folder = dataset.folder("synapses", create=True)
        p = folder / "synapses.parquet"
        tmp = folder / ".synapses.parquet.part"
        self.df.to_parquet(tmp, index=False)
        os.replace(tmp, p)
        dataset.set_layer(
            "synapses",
            {"kind": "synapses", "path": "synapses/synapses.parquet", "n_synapses": len(self)},
        )
        return p

    @property
    def pre(self) -> np.ndarray:
        return self.df["pre"].to_numpy()

    @property
    def post(self) -> np.ndarray:
        return self.df["post"].to_numpy()

    @property
    def size(self) -> np.ndarray | None:
        return self.df["size"].to_numpy() if "size" in self.df else None

    def __len__(self) -> int:
        return len(self.df)

    def __repr__(self) -> str:
        return f"SynapseTable({len(self)} synapses, columns={list(self.df.columns)})"


class CellTable:
    """One row per cell: ``id`` (int64 root id) and properties (cell type, broad type,
    proofreading status, soma position...).

    Parameters
    ----------
    df : pandas.DataFrame
        Must have a ``pt_root_id`` column (MICrONS; a row ``id`` column beside it becomes
        ``row_id``) or an ``id`` column.
    duplicates : {"error", "first", "drop"}
        What to do with ids listed more than once (real MICrONS soma tables have some):
        refuse (naming them), keep the first row, or drop every row of such ids.
    """

    def __init__(
        self, df: pd.DataFrame, *, duplicates: str = "error", source: str = "cell table"
    ) -> None:
        if "pt_root_id" in df.columns:
            # MICrONS tables also carry a row "id" column: the root id is the vertex id
            df = df.rename(columns={"id": "row_id"}).rename(columns={"pt_root_id": "id"})
        elif "id" not in df.columns:
            raise DataFormatError(
                f"{source}: no 'pt_root_id' or 'id' column (found {list(df.columns)}); rename "
                "the root id column to pt_root_id"
            )
        df = df.copy()
        df["id"] = as_id_array(df["id"], name="id", source=source)
        dup = df["id"].duplicated(keep=False)
        if dup.any():
            ids = sorted(set(df.loc[dup, "id"].tolist()))
            shown = ", ".join(map(str, ids[:5]))
            if duplicates == "error":
                raise DataFormatError(
                    f"{source}: {len(ids)} ids listed more than once ({shown}); choose a policy: "
                    "duplicates='first' keeps the first row, 'drop' removes those cells "
                    "(CLI: --duplicates first|drop)"
                )
            if duplicates == "first":
                df = df[~df["id"].duplicated(keep="first")]
            elif duplicates == "drop":
                df = df[~dup]
            else:
                raise InvalidParameterError(
                    f"duplicates must be error, first or drop, got {duplicates!r}"
                )
            warnings.warn(
                f"{source}: {len(ids)} duplicate ids ({shown}) handled with policy {duplicates!r}",
                ConnectoscopeWarning,
                stacklevel=2,
            )
        self.df = df.set_index("id", drop=True)
        self.duplicate_ids = ids if dup.any() else []

    @classmethod
    def read(cls, path: str | os.PathLike[str], *, duplicates: str = "error") -> CellTable:
        """Read CSV / Parquet / Feather."""
        p = Path(path)
        return cls(_read_frame(p), duplicates=duplicates, source=str(p))

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> CellTable:
        """The cell table stored in a dataset."""
        from ..errors import LayerNotFoundError

        p = dataset.path / "cells" / "cells.parquet"
        if not p.exists():
            raise LayerNotFoundError(
                f"{dataset.path}: no cell table; add one with `connectoscope connectome build ... --cells CELLS --dataset {dataset.path}`"
            )
        return cls(pd.read_parquet(p))

    def save(self, dataset: Dataset) -> Path:
        """Store as ``cells/cells.parquet`` in the dataset."""
        folder = dataset.folder("cells", create=True)
        p = folder / "cells.parquet"
        self.df.reset_index().to_parquet(p, index=False)
        dataset.set_layer(
            "cells", {"kind": "cells", "path": "cells/cells.parquet", "n_cells": len(self.df)}
        )
        return p

    def __len__(self) -> int:
        return len(self.df)

    def __repr__(self) -> str:
        return f"CellTable({len(self)} cells, columns={list(self.df.columns)})"
