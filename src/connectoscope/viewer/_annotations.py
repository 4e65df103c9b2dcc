"""Synapse annotations for the viewer: written from the dataset's synapse table on demand."""

from __future__ import annotations

from pathlib import Path

from .._store import Store
from ..connectome import write_dataset_annotations

__all__ = ["ensure_annotations"]


def ensure_annotations(dataset: Store) -> Path | None:
    """Make sure ``annotations/synapses`` matches the dataset's synapse table.

    Writes the annotations (see
    :func:`connectoscope.connectome.write_dataset_annotations`) when the dataset has a synapse
    table with positions and the annotations are missing or older than the table.

    Returns
    -------
    Path or None
        The annotation folder, or None when the dataset has no synapse table with positions.
    """
    table = dataset.layout.synapses_table
    if not table.is_file():
        return None
    out = dataset.layout.synapse_annotations
    info = out / "info"
    if info.is_file() and info.stat().st_mtime >= table.stat().st_mtime:
        return out
    import pyarrow.parquet as pq

    meta = pq.read_metadata(table)
    if meta.num_rows == 0 or not {"x_nm", "y_nm", "z_nm"} <= set(meta.schema.names):
        return None
    return write_dataset_annotations(dataset)
