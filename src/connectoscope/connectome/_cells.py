"""Validated cell tables: one row per cell (vertex) with exact 64-bit ids and properties."""

from __future__ import annotations

import os
import re
import warnings
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
    LayerNotFoundError,
)
from ..geometry import LevelFrame, VoxelSize
from ._ids import as_id_array
from ._synapses import read_table, synth_voxel_size

__all__ = ["DUPLICATE_POLICIES", "CellTable"]

#: What to do with cell ids listed more than once.
DUPLICATE_POLICIES = ("error", "first", "drop")
_ID_COLUMNS = ("pt_root_id", "root_id", "id")
_NUMS = re.compile(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


class CellTable:
    """One row per cell: index ``id`` (int64 root id) and properties (cell type, broad type,
    proofreading status, soma position...).

    Parameters
    ----------
    df : pandas.DataFrame
        With a root id column: ``pt_root_id`` (MICrONS; a row ``id`` column beside it becomes
        ``row_id``), ``root_id`` or ``id``; or ``id_column=`` names it.
    duplicates : {"error", "first", "drop"}
        Ids listed more than once (real MICrONS soma tables have some): refuse, naming them
        and the options; keep the first row; or drop every row of such ids. The ids are kept
        in :attr:`duplicate_ids` and reported in a warning.
    voxel_size : (x, y, z) nm, optional
        Soma positions in voxels (``pt_position_x/y/z`` or a MICrONS ``pt_position`` string
        such as ``"[103860  44385    891]"``) become ``x_nm, y_nm, z_nm``.
    id_column : str, optional
        The root id column when it has another name.
    source : str
        Name used in messages.
    """

    def __init__(
        self,
        df: pd.DataFrame,
        *,
        duplicates: str = "error",
        voxel_size: Any = None,
        id_column: str | None = None,
        source: str = "cell table",
    ) -> None:
        if duplicates not in DUPLICATE_POLICIES:
            raise InvalidParameterError(
                f"duplicates must be one of {', '.join(DUPLICATE_POLICIES)}, got {duplicates!r}"
            )
        col = id_column or next((c for c in _ID_COLUMNS if c in df.columns), None)
        if col is None or col not in df.columns:
            if df.index.name == "id":
                df = df.reset_index()
                col = "id"
            else:
                raise DataFormatError(
                    f"{source}: no root id column (looked for {', '.join(_ID_COLUMNS)}; found "
                    f"{list(df.columns)}); name it with id_column= (CLI: --cell-id COLUMN)"
                )
        df = df.copy()
        if col != "id":
            if "id" in df.columns:
                df = df.rename(columns={"id": "row_id"})
            df = df.rename(columns={col: "id"})
        df["id"] = as_id_array(df["id"], name=col, source=source)
        dup = df["id"].duplicated(keep=False).to_numpy()
        self.duplicate_ids: list[int] = []
        if dup.any():
            ids = sorted(set(df.loc[dup, "id"].tolist()))
            self.duplicate_ids = ids
            shown = ", ".join(map(str, ids[:10])) + (" ..." if len(ids) > 10 else "")
            n_rows = int(dup.sum())
            if duplicates == "error":
                raise DataFormatError(
                    f"{source}: {len(ids)} ids listed more than once ({n_rows} rows): {shown}. "
                    "Choose a policy: duplicates='first' keeps the first row of each, 'drop' "
                    "removes those cells (CLI: --duplicates first|drop)"
                )
            df = df[~df["id"].duplicated(keep="first")] if duplicates == "first" else df[~dup]
            warnings.warn(
                f"{source}: {len(ids)} duplicate ids ({shown}) handled with policy {duplicates!r}",
                ConnectoscopeWarning,
                stacklevel=2,
            )
        if voxel_size is not None:
            _positions_to_nm(df, voxel_size)
        self.df = df.set_index("id", drop=True)

    @classmethod
    def read(
        cls,
        path: str | os.PathLike[str],
        *,
        duplicates: str = "error",
        voxel_size: Any = None,
        id_column: str | None = None,
    ) -> CellTable:
        """Read CSV / Parquet / Feather (a ``synth.json`` beside it gives the voxel size)."""
        p = Path(path)
        if voxel_size is None:
            voxel_size = synth_voxel_size(p)
        return cls(
            read_table(p),
            duplicates=duplicates,
            voxel_size=voxel_size,
            id_column=id_column,
            source=str(p),
        )

    @classmethod
    def from_store(cls, dataset: Store) -> CellTable:
        """The cell table stored in a dataset (``cells/cells.parquet``)."""

        p = dataset.layout.cells_table
        if not p.exists():
            raise LayerNotFoundError(
                f"{dataset.path}: no cell table; add one with `connectoscope connectome build "
                f"SYNAPSES --cells CELLS --dataset {dataset.path} -o OUT`"
            )
        return cls(pd.read_parquet(p))

    def save(self, dataset: Store) -> Path:
        """Store as ``cells/cells.parquet`` in the dataset (atomically)."""
        p = write_parquet_atomic(self.df.reset_index(), dataset.layout.cells_table)
        dataset.set_layer(
            "cells", {"kind": "cells", "path": "cells/cells.parquet", "n_cells": len(self.df)}
        )
        return p

    @property
    def ids(self) -> np.ndarray:
        """Cell ids (int64, or uint64 above 2**63 - 1)."""
        return self.df.index.to_numpy()

    def __len__(self) -> int:
        return len(self.df)

    def __repr__(self) -> str:
        return f"CellTable({len(self)} cells, columns={list(self.df.columns)})"


def _positions_to_nm(df: pd.DataFrame, voxel_size: Any) -> None:
    frame = LevelFrame(VoxelSize.parse(voxel_size))  # whole-volume voxel indices, offset 0
    cols = [f"pt_position_{a}" for a in "xyz"]
    if all(c in df.columns for c in cols):
        xyz = df[cols].to_numpy(np.float64)
    elif "pt_position" in df.columns:
        rows = [_NUMS.findall(str(v)) for v in df["pt_position"]]
        if any(len(r) != 3 for r in rows):
            raise DataFormatError("pt_position: expected three numbers per row such as '[1 2 3]'")
        xyz = np.array(rows, dtype=np.float64)
    else:
        return
    for a, c in zip("xyz", frame.to_nm(xyz).T):
        df[f"{a}_nm"] = c
