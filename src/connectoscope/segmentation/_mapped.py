"""Mapped segmentation: a label layer whose voxels hold the object id of one kind.

L4dense ships such "mapped segmentations" beside the segment-level one. Here one is
materialised on request: level 0 is computed shard by shard from level 0 of the
segmentation (each segment id replaced by its object id of the kind, 0 when none) and its
pyramid is built from it by mode downsampling, exactly as for the segmentation itself.
The layer is named ``mapped_<kind>`` and reads like any other layer
(``dataset.volume("mapped_neuron")``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._store import Store
from ..errors import DatasetExistsError, InvalidParameterError
from ..geometry import Bbox
from ..sources import BaseSource
from ..volume import StorageSpec, VolumeLayer, remove_layer, write_layer
from ._maps import ObjectMaps

__all__ = ["map_segmentation", "mapped_layer_name"]


def mapped_layer_name(kind: str) -> str:
    """Name of the mapped layer of ``kind``: ``mapped_<kind>``."""
    return f"mapped_{kind}"


@dataclass
class _MappedSource(BaseSource):
    """Level 0 of the segmentation seen through one kind's object map (picklable)."""

    ds_path: str = ""
    kind: str = ""
    _state: Any = field(default=None, repr=False, compare=False)

    @property
    def description(self) -> str:
        return f"{self.ds_path} segmentation mapped by {self.kind}"

    def __getstate__(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["_state"] = None  # the dataset handle and maps are reopened in each worker
        return d

    def read(self, start_zyx: tuple[int, int, int], stop_zyx: tuple[int, int, int]) -> np.ndarray:
        import fastremap

        if self._state is None:
            ds = Store(self.ds_path)
            self._state = (VolumeLayer(ds, "segmentation"), ObjectMaps.from_store(ds))
        seg, maps = self._state
        box = Bbox(start_zyx[::-1], stop_zyx[::-1])
        labels = np.ascontiguousarray(seg.read(box, level=0))
        uniq = fastremap.unique(labels)
        vals = maps.lookup(self.kind, uniq).astype(self.dtype)
        table = {int(u): int(v) for u, v in zip(uniq.tolist(), vals.tolist())}
        out = fastremap.remap(labels, table, preserve_missing_labels=False, in_place=False)
        return np.asarray(out, self.dtype)


def _dtype_for(object_ids: np.ndarray) -> np.dtype:
    if object_ids.size and int(object_ids.min()) < 0:
        raise InvalidParameterError("object ids must be 0 or more to be stored as labels")
    top = int(object_ids.max()) if object_ids.size else 0
    return np.dtype(np.uint32 if top < 2**32 else np.uint64)


def map_segmentation(
    dataset: Store | str | os.PathLike[str],
    kind: str,
    *,
    workers: int | None = None,
    overwrite: bool = False,
) -> VolumeLayer:
    """Materialise the mapped segmentation of ``kind`` as a label layer with its pyramid.

    Parameters
    ----------
    dataset : Store or path
    kind : str
        An object kind of the dataset (``neuron``, ``axon``...).
    workers : int, optional
        Worker processes (default: all cores), one output shard per task.
    overwrite : bool
        Replace an existing mapped layer of this kind. Without it, an existing layer made
        from the same segmentation and object map is returned as is, and one made from
        other inputs is refused.

    Returns
    -------
    VolumeLayer
        The layer ``mapped_<kind>``: ``[z, y, x]`` uint32 (uint64 when object ids need it)
        object ids, 0 where a voxel's segment has no object of ``kind``; same shape, voxel
        size and levels as the segmentation.

    Raises
    ------
    SelectionError
        ``kind`` is not an object kind of the dataset (the message lists those present).
    DatasetExistsError
        The layer exists from other inputs and ``overwrite`` is False.

    Examples
    --------
    >>> layer = map_segmentation("demo.cscope", "neuron")  # doctest: +SKIP
    >>> layer.read(level=1).max()  # doctest: +SKIP
    """
    ds = dataset if isinstance(dataset, Store) else Store(dataset)
    maps = ObjectMaps.from_store(ds)
    seg_ids, obj_ids = maps.segments(kind), maps.lookup(kind, maps.segments(kind))
    seg = VolumeLayer(ds, "segmentation")
    name = mapped_layer_name(kind)
    h = hashlib.sha1()
    h.update(str(seg.description.get("signature", "")).encode())
    h.update(np.ascontiguousarray(seg_ids).tobytes())
    h.update(np.ascontiguousarray(obj_ids).tobytes())
    sig = f"mapped-{h.hexdigest()[:16]}"
    if ds.has_layer(name):
        existing = ds.layer(name)
        if overwrite:
            remove_layer(ds, name)
        elif existing.get("signature") != sig:
            raise DatasetExistsError(
                f"{ds.path}: layer {name!r} was made from another segmentation or object map; "
                f"pass --overwrite (overwrite=True) to remake it"
            )
        elif existing.get("complete"):
            return VolumeLayer(ds, name)
    src = _MappedSource(
        Path(str(ds.path)),
        seg.shape_zyx(0),
        _dtype_for(obj_ids),
        ds_path=str(ds.path),
        kind=kind,
    )
    lev0 = seg.levels[0]
    return write_layer(
        ds,
        name,
        src,
        kind="segmentation",
        storage=StorageSpec(chunk_xyz=lev0.chunk_zyx[::-1], shard_xyz=lev0.shard_zyx[::-1]),
        workers=workers,
        signature=sig,
        extra={"mapped_from": "segmentation", "object_kind": kind},
    )
