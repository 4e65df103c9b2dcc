"""Our own on-disk form of a connectivity matrix: a folder of Parquet tables.

``OUT/pre_vertices.parquet``, ``OUT/post_vertices.parquet`` (index ``id`` int64 + properties),
``OUT/edges.parquet`` (full form: one row per synapse), ``OUT/condensed.parquet`` (one row per
pair: ``pre``, ``post``, ``count``, ``size_sum``, ``size_mean``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd

from ..errors import DatasetExistsError, SourceNotFoundError
from ._matrix import ConnectivityMatrix

__all__ = ["load_matrix", "save_matrix"]


def save_matrix(
    m: ConnectivityMatrix, out: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write ``m`` to the folder ``out`` (atomically: a temporary folder renamed at the end)."""
    p = Path(out)
    if p.exists() and not overwrite:
        raise DatasetExistsError(f"{p}: exists; pass --overwrite to replace it")
    tmp = p.with_name(f".{p.name}.part")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    m.pre_vertices.to_parquet(tmp / "pre_vertices.parquet")
    m.post_vertices.to_parquet(tmp / "post_vertices.parquet")
    m.edges.to_parquet(tmp / "edges.parquet", index=False)
    m.condensed.to_parquet(tmp / "condensed.parquet", index=False)
    if p.exists():
        shutil.rmtree(p)
    os.replace(tmp, p)
    return p


def load_matrix(path: str | os.PathLike[str]) -> ConnectivityMatrix:
    """Read a folder written by :func:`save_matrix`."""
    p = Path(path)
    if not (p / "edges.parquet").exists():
        raise SourceNotFoundError(
            f"{p}: not a connectivity matrix folder (no edges.parquet); build one with "
            "`connectoscope connectome build SYNAPSES -o OUT`"
        )
    return ConnectivityMatrix(
        pd.read_parquet(p / "pre_vertices.parquet"),
        pd.read_parquet(p / "post_vertices.parquet"),
        pd.read_parquet(p / "edges.parquet"),
    )
