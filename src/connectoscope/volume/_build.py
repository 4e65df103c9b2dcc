"""Writing pyramids shard by shard: ingest from a source, resumable, one task per shard.

Every output shard is written by exactly one task (whole shard regions, so no two writers
ever touch one shard file). After a shard is written its task creates an empty completion
record ``.progress/<layer>/<level>/<shard>.done``; a re-run skips recorded shards, so a run
killed at any point resumes and yields byte-identical output. The layer is marked
``complete`` in the dataset metadata only after every level is done.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..dataset import Dataset, is_dataset
from ..errors import DatasetExistsError, InvalidParameterError
from ..geometry import VoxelSize, VoxelSizeLike
from ..sources._readers import SourceReader, open_source
from ._downsample import downsample_image, downsample_labels
from ._omezarr import (
    ROOT,
    LevelSpec,
    choose_chunk_shard,
    create_level,
    layer_relpath,
    open_level,
    write_ome_metadata,
)
from ._plan import level_factors, plan_pyramid
from ._volume_layer import VolumeLayer

__all__ = ["ingest", "write_array"]


@dataclass(frozen=True)
class _ShardTask:
    """One output shard of one level (picklable)."""

    ds_path: str
    relpath: str
    level: int
    index: int
    start: tuple[int, int, int]
    stop: tuple[int, int, int]
    label: bool
    source: Any  # SourceReader for level 0, None for pyramid levels
    factor_xyz: tuple[int, int, int] = (1, 1, 1)

    @property
    def record(self) -> Path:
        name = Path(self.relpath).name if self.relpath != ROOT else "image"
        return (
            Path(self.ds_path) / ROOT / ".progress" / name / str(self.level) / f"{self.index}.done"
        )


def _run_shard(task: _ShardTask) -> int:
    """Write one shard; returns the bytes of raw data written."""
    dst = open_level(Path(task.ds_path) / task.relpath / str(task.level))
    if task.level == 0:
        data = task.source.read(task.start, task.stop)
        # Testing knob for the kill-and-resume test: pause between reading and writing.
        delay = float(os.environ.get("CONNECTOSCOPE_SLOW_SHARD_S", "0") or 0)
        if delay:
            time.sleep(delay)
    else:
        fx, fy, fz = task.factor_xyz
        src = open_level(Path(task.ds_path) / task.relpath / str(task.level - 1))
        shape = src.domain.shape
        lo = (task.start[0] * fz, task.start[1] * fy, task.start[2] * fx)
        hi = tuple(min(s * f, n) for s, f, n in zip(task.stop, (fz, fy, fx), shape))
        block = np.asarray(src[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]].read().result())
        kernel = downsample_labels if task.label else downsample_image
        data = kernel(block, task.factor_xyz)
    sl = tuple(slice(a, b) for a, b in zip(task.start, task.stop))
    dst[sl].write(data).result()
    rec = task.record
    rec.parent.mkdir(parents=True, exist_ok=True)
    rec.touch()
    return int(data.nbytes)


def _levels_for(
    shape_zyx: tuple[int, int, int],
    dtype: np.dtype,
    voxel_size: VoxelSize,
    pyramid: bool,
    chunk_xyz: Sequence[int] | None = None,
    shard_xyz: Sequence[int] | None = None,
) -> list[LevelSpec]:
    chunk, _ = choose_chunk_shard(shape_zyx, dtype, voxel_size)
    if chunk_xyz is not None:
        chunk = (int(chunk_xyz[2]), int(chunk_xyz[1]), int(chunk_xyz[0]))
    plan = plan_pyramid(shape_zyx, voxel_size, min_shape_zyx=chunk) if pyramid else []
    levels = []
    for f in level_factors(plan):
        shape = (
            -(-shape_zyx[0] // f[2]),
            -(-shape_zyx[1] // f[1]),
            -(-shape_zyx[2] // f[0]),
        )
        vs = voxel_size.scaled(f)
        c, s = choose_chunk_shard(shape, dtype, voxel_size)
        if chunk_xyz is not None:
            c = tuple(min(int(v), n) for v, n in zip(chunk_xyz[::-1], shape))  # type: ignore[assignment]
        if shard_xyz is not None:
            s = tuple(  # type: ignore[assignment]
                min(-(-n // ci) * ci, -(-int(v) // ci) * ci)
                for v, n, ci in zip(shard_xyz[::-1], shape, c)
            )
        elif chunk_xyz is not None:
            s = tuple(min(ci * 4, -(-n // ci) * ci) for ci, n in zip(c, shape))  # type: ignore[assignment]
        levels.append(LevelSpec(shape, c, s, f, vs))
    return levels


def _build(
    ds: Dataset,
    name: str,
    kind: str,
    source: SourceReader,
    *,
    workers: int | None,
    scheduler: Any,
    pyramid: bool = True,
    signature: str,
    extra: dict[str, Any] | None = None,
    chunk_xyz: Sequence[int] | None = None,
    shard_xyz: Sequence[int] | None = None,
) -> VolumeLayer:
    from ..parallel import run_tasks

    label = kind != "image"
    dtype = np.dtype(source.dtype)
    if label and not np.issubdtype(dtype, np.integer):
        raise InvalidParameterError(
            f"{source.description}: a segmentation must hold integer ids, found {dtype}"
        )
    levels = _levels_for(source.shape_zyx, dtype, ds.voxel_size, pyramid, chunk_xyz, shard_xyz)
    relpath = layer_relpath(name, kind)
    method = "mode (COUNTLESS 2x2x1, most frequent otherwise)" if label else "area average"
    existing = ds.layers.get(name)
    if existing is not None and existing.get("signature") != signature:
        raise DatasetExistsError(
            f"{ds.path}: layer {name!r} exists from another source or with other settings; "
            "pass --overwrite (overwrite=True) to replace it"
        )
    desc = {
        "kind": kind,
        "path": relpath,
        "dtype": dtype.name,
        "levels": [lev.to_dict() for lev in levels],
        "complete": False,
        "downsampling": method,
        "signature": signature,
        "source": source.description,
        **(extra or {}),
    }
    ds.set_layer(name, desc)
    write_ome_metadata(ds.path, name, kind, levels, offset_vx=ds.offset_vx, method=method)
    t0 = time.perf_counter()
    total = 0
    for li, lev in enumerate(levels):
        create_level(ds.path / relpath / str(li), dtype, lev, label=label)
        step = (
            (
                lev.factor_xyz[0] // levels[li - 1].factor_xyz[0],
                lev.factor_xyz[1] // levels[li - 1].factor_xyz[1],
                lev.factor_xyz[2] // levels[li - 1].factor_xyz[2],
            )
            if li
            else (1, 1, 1)
        )
        tasks = [
            _ShardTask(
                str(ds.path), relpath, li, i, start, stop, label, source if li == 0 else None, step
            )
            for i, (start, stop) in enumerate(lev.shard_boxes())
        ]
        todo = [t for t in tasks if not t.record.exists()]
        results = run_tasks(
            _run_shard,
            todo,
            scheduler=scheduler,
            workers=workers if len(todo) > 1 else 1,
            desc=f"{name} level {li}",
            unit="shard",
        )
        total += sum(results)
    ds.reload()
    desc = dict(ds.layer(name))
    desc["complete"] = True
    ds.set_layer(name, desc)
    ds.record_step(
        "ingest" if name in ("image", "segmentation") else f"write {name}",
        layer=name,
        source=source.description,
        levels=len(levels),
        seconds=round(time.perf_counter() - t0, 3),
        bytes_written=total,
        missing=source.missing(),
    )
    return VolumeLayer(ds, name)


def _signature(source: SourceReader, kind: str) -> str:
    h = hashlib.sha1()
    h.update(
        json.dumps([source.description, list(source.shape_zyx), str(source.dtype), kind]).encode()
    )
    return h.hexdigest()[:16]


def ingest(
    source: str | os.PathLike[str],
    dataset: str | os.PathLike[str] | Dataset,
    *,
    layer: str = "image",
    voxel_size: VoxelSizeLike | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    overwrite: bool = False,
    chunk_xyz: Sequence[int] | None = None,
    shard_xyz: Sequence[int] | None = None,
) -> Dataset:
    """Convert a source volume into a layer of a dataset: a sharded OME-Zarr pyramid.

    Parameters
    ----------
    source : path-like
        L4dense cube folder, ``file.h5[:/path]``, PNG/TIFF plane folder, ``.npy``/``.npz``.
    dataset : path-like or Dataset
        Target dataset; created when it does not exist (needs a voxel size).
    layer : {"image", "segmentation"}
        Which layer the source becomes.
    voxel_size : (x, y, z) nm, optional
        Needed when creating the dataset, unless a ``synth.json`` manifest sits beside the
        cube folder. Checked against an existing dataset.
    workers : int, optional
        Local worker processes (default: all cores).
    scheduler : str or distributed.Client, optional
        Run the shard tasks on a Dask cluster instead.
    overwrite : bool
        Replace an existing complete layer of this name. An incomplete layer from the same
        source resumes without it.
    chunk_xyz, shard_xyz : (x, y, z) voxels, optional
        Override the chunk shape (default: about 1 MB) and the shard shape (default: 4
        chunks per axis; rounded up to whole chunks).

    Returns
    -------
    Dataset
    """
    if layer not in ("image", "segmentation"):
        raise InvalidParameterError(f"layer must be 'image' or 'segmentation', got {layer!r}")
    src = open_source(source)
    if isinstance(dataset, Dataset):
        ds = dataset
    elif is_dataset(dataset):
        ds = Dataset(dataset)
    else:
        vs = voxel_size if voxel_size is not None else _manifest_voxel_size(Path(source))
        if vs is None:
            raise InvalidParameterError(
                f"{dataset}: a new dataset needs a voxel size; pass --voxel-size X,Y,Z in nm "
                "(for example 11.24,11.24,28 for L4dense)"
            )
        ds = Dataset.create(dataset, voxel_size=vs, offset_vx=src.offset_vx)
    if voxel_size is not None and VoxelSize.parse(voxel_size) != ds.voxel_size:
        raise InvalidParameterError(
            f"{ds.path}: voxel size {VoxelSize.parse(voxel_size).xyz} nm differs from the "
            f"dataset's {ds.voxel_size.xyz} nm"
        )
    other = "segmentation" if layer == "image" else "image"
    if ds.has_layer(other):
        shape = tuple(ds.layer(other)["levels"][0]["shape_zyx"])
        if shape != src.shape_zyx:
            sz = src.shape_zyx
            raise InvalidParameterError(
                f"{src.description}: extent {sz[2]} x {sz[1]} x {sz[0]} (x, y, z) differs from the "
                f"dataset's {other} layer {shape[2]} x {shape[1]} x {shape[0]}; image and "
                "segmentation must cover the same voxels"
            )
    if ds.has_layer(layer):
        if overwrite:
            _remove_layer(ds, layer)
        elif ds.layer(layer).get("complete"):
            raise DatasetExistsError(
                f"{ds.path}: already has a complete {layer!r} layer; pass --overwrite to replace it"
            )
    kind = "image" if layer == "image" else "segmentation"
    sig = _signature(src, kind) + (f"-{chunk_xyz}-{shard_xyz}" if chunk_xyz or shard_xyz else "")
    _build(
        ds,
        layer,
        kind,
        src,
        workers=workers,
        scheduler=scheduler,
        signature=sig,
        chunk_xyz=chunk_xyz,
        shard_xyz=shard_xyz,
    )
    return ds


def _remove_layer(ds: Dataset, name: str) -> None:
    import shutil

    desc = ds.layer(name)
    root = ds.path / desc["path"]
    if name == "image":
        for child in root.iterdir():
            if child.name.isdigit():
                shutil.rmtree(child)
    elif root.exists():
        shutil.rmtree(root)
    prog = ds.path / ROOT / ".progress" / (Path(desc["path"]).name if name != "image" else "image")
    if prog.exists():
        shutil.rmtree(prog)
    ds.remove_layer(name)


def _manifest_voxel_size(source: Path) -> VoxelSize | None:
    for cand in (source / "synth.json", source.parent / "synth.json"):
        if cand.is_file():
            try:
                vs = json.loads(cand.read_text())["voxel_size_nm"]
                return VoxelSize(float(vs[0]), float(vs[1]), float(vs[2]))
            except (KeyError, ValueError, TypeError):
                return None
    return None


@dataclass
class _ArraySource(SourceReader):
    array: np.ndarray | None = None

    def read(self, start_zyx: tuple[int, int, int], stop_zyx: tuple[int, int, int]) -> np.ndarray:
        assert self.array is not None
        return np.asarray(self.array[tuple(slice(a, b) for a, b in zip(start_zyx, stop_zyx))])


def write_array(
    dataset: Dataset,
    name: str,
    array_zyx: np.ndarray,
    *,
    kind: str,
    overwrite: bool = False,
    pyramid: bool = True,
) -> VolumeLayer:
    """Write an in-memory ``[z, y, x]`` array as a layer with its pyramid (small volumes).

    Parameters
    ----------
    dataset : Dataset
    name : str
        ``"image"``, ``"segmentation"`` or the name of another label layer (``"neuron"``).
    array_zyx : numpy.ndarray
        3-D array; integer for label layers.
    kind : {"image", "segmentation"}
    overwrite : bool
        Replace an existing layer of that name.
    pyramid : bool
        Build the downsampled levels.
    """
    arr = np.asarray(array_zyx)
    if arr.ndim != 3:
        raise InvalidParameterError(f"write_array: expected a 3-D [z, y, x] array, got {arr.shape}")
    if kind not in ("image", "segmentation"):
        raise InvalidParameterError(f"kind must be 'image' or 'segmentation', got {kind!r}")
    if name == "image" and kind != "image":
        raise InvalidParameterError("the layer named 'image' must be of kind 'image'")
    if dataset.has_layer(name):
        if not overwrite:
            raise DatasetExistsError(
                f"{dataset.path}: layer {name!r} exists; pass overwrite=True to replace it"
            )
        _remove_layer(dataset, name)
    src = _ArraySource(Path(f"<array {name}>"), arr.shape, arr.dtype, array=arr)  # type: ignore[arg-type]
    sig = hashlib.sha1(arr.tobytes()).hexdigest()[:16] if arr.nbytes < 2**28 else "array"
    return _build(
        dataset, name, kind, src, workers=1, scheduler=None, pyramid=pyramid, signature=sig
    )


def level_shapes(shape_zyx: Sequence[int], voxel_size: VoxelSize, dtype: Any) -> list[LevelSpec]:
    """The levels an ingest of this shape would write (for planning and ``--dry-run``)."""
    return _levels_for(tuple(shape_zyx), np.dtype(dtype), voxel_size, True)  # type: ignore[arg-type]
