"""Synapse tables of any size as Neuroglancer annotations, in bounded memory: the table's
files are read batch by batch (Parquet / Feather / CSV, MICrONS names or a column mapping,
voxel positions made nm) and handed to
:func:`connectoscope.precomputed.write_synapse_annotations_streaming`."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._progress import progress
from .._store import Store
from ..precomputed import write_synapse_annotations_streaming
from ._build import _resolve_columns
from ._synapses import _POSITION, SynapseTable, synth_voxel_size
from ._tablesource import inspect_file, iter_batches, table_files

__all__ = ["write_annotations_out_of_core"]


def _fingerprint(files: Sequence[Path], *extra: Any) -> str:
    h = hashlib.sha1()
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns};".encode())
    h.update(repr(extra).encode())
    return h.hexdigest()


def write_annotations_out_of_core(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    dataset: Store | None = None,
    columns: Mapping[str, str] | None = None,
    voxel_size: Any = None,
    properties: Sequence[str] = ("size",),
    limit: int = 2000,
    seed: int = 0,
    overwrite: bool = False,
    workers: int | None = None,
    tmp_dir: str | os.PathLike[str] | None = None,
    batch_rows: int = 500_000,
) -> Path:
    """Write a synapse table of any size as sharded Neuroglancer point annotations.

    Parameters
    ----------
    source : path
        Parquet file or folder, Feather or CSV synapse table (MICrONS names by default:
        ``pre_pt_root_id``, ``post_pt_root_id``, ``size``, ``ctr_pt_position_x/y/z``; an
        integer ``id`` column, when unique, gives the annotation ids).
    out : path, optional
        The annotation folder; or ``dataset`` (its ``annotations/synapses``, recorded as
        the dataset's annotation layer so ``connectoscope view`` shows it).
    columns : mapping, optional
        Our names -> the table's (``pre``, ``post``, ``size``, ``x``, ``y``, ``z``).
    voxel_size : (x, y, z) nm, optional
        Positions are voxels of this size (MICrONS: 4, 4, 40).
    properties, limit, seed, overwrite
        As for :func:`connectoscope.precomputed.write_synapse_annotations`.
    workers : int, optional
        Threads writing shards.
    tmp_dir : path, optional
        Work folder (about 150 bytes per synapse; kept after an interruption, a re-run
        resumes).
    batch_rows : int
        Rows read at a time.

    Returns
    -------
    Path
        The annotation folder.
    """
    from ..errors import InvalidParameterError

    if (out is None) == (dataset is None):
        raise InvalidParameterError("give exactly one of out= (a folder) and dataset=")
    src = Path(source)
    files = table_files(src)
    if voxel_size is None:
        voxel_size = synth_voxel_size(src)
    names = inspect_file(files[0])[0].names
    mapping = _resolve_columns(names, columns)
    pos = [mapping[a] for a in "xyz" if a in mapping]
    if len(pos) != 3:
        pos = [c for c in _POSITION if c in names] or [
            c for c in ("x_nm", "y_nm", "z_nm") if c in names
        ]
    user = {k: v for k, v in mapping.items() if k in ("pre", "post", "size", "x", "y", "z")}
    base = [mapping["pre"], mapping["post"], *pos]
    extra = [mapping["size"]] if "size" in mapping else []
    extra += [c for c in names if c == "id" or c in properties]
    target = Path(out) if out is not None else dataset.layout.synapse_annotations  # type: ignore[union-attr]
    bars: dict[str, Any] = {}
    total = sum(sum(inspect_file(f)[1]) for f in files)

    def tick(phase: str, rows: int) -> None:
        if phase not in bars:
            for b in bars.values():
                b.close()
            bars.clear()
            label = {"scan": "bounds", "count": "cells", "write": "spill"}.get(phase, phase)
            bars[phase] = progress(
                total=total, desc=f"annotations: {label}", unit="syn", unit_scale=True
            )
        bars[phase].update(rows)

    def batches(_cols: Sequence[str] | None) -> Iterator[pd.DataFrame]:
        read = list(dict.fromkeys(base + extra))  # every pass reads what the last needs
        for f in files:
            for b in iter_batches(
                f, read, batch_rows, id_columns=(mapping["pre"], mapping["post"])
            ):
                yield SynapseTable.from_frame(
                    b.to_pandas(), columns=user, voxel_size=voxel_size, source=str(f)
                ).df

    try:
        result = write_synapse_annotations_streaming(
            batches,
            target,
            properties=properties,
            limit=limit,
            seed=seed,
            overwrite=overwrite or dataset is not None,
            work_dir=tmp_dir,
            source_key=_fingerprint(files, user, voxel_size),
            workers=workers,
            progress=tick,
        )
    finally:
        for b in bars.values():
            b.close()
    if dataset is not None:
        dataset.set_layer(
            "annotations",
            {
                "kind": "annotations",
                "format": "neuroglancer_annotations_v1",
                "path": dataset.layout.relative(result),
                "n_synapses": int(total),
            },
        )
        dataset.record_step("annotations", n_synapses=int(total), limit=limit, seed=seed)
    return result
