"""``VolumeLayer``: read any region of an image or label pyramid at any level."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .._store import METADATA_NAME, Store
from ..errors import IncompleteStoreError, InvalidParameterError, LayerNotFoundError
from ..geometry import Bbox, LevelFrame, VoxelSize
from ._omezarr import LevelSpec, open_level

__all__ = ["Level", "VolumeLayer"]


def _stamp(path: Any) -> tuple[int, int] | None:
    """Change stamp of a file (mtime, inode): a replaced metadata file changes it."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ino)


Level = LevelSpec


class VolumeLayer:
    """One multiscale volume of a dataset (``image``, ``segmentation`` or a mapped layer).

    Parameters
    ----------
    dataset : Store
    name : str
        Layer name as listed in the dataset metadata.
    allow_incomplete : bool
        Read a layer whose ingest was interrupted (missing parts read as 0).
    """

    def __init__(self, dataset: Store, name: str, *, allow_incomplete: bool = False) -> None:
        self.dataset = dataset
        self.name = name
        self.allow_incomplete = allow_incomplete
        self._arrays: dict[int, Any] = {}
        self._meta_stamp: tuple[int, int] | None = None
        self._records: dict[int, dict[int, Any]] = {}  # completion records per level

    # ------------------------------------------------------------------ description
    @property
    def exists(self) -> bool:
        """True when the dataset lists this layer."""
        return self.dataset.has_layer(self.name)

    @property
    def description(self) -> dict[str, Any]:
        """The layer's metadata entry (raises LayerNotFoundError naming the fix)."""
        if not self.exists:
            have = ", ".join(sorted(self.dataset.layers)) or "none"
            if self.name.startswith("mapped_"):
                how = f"connectoscope objects map {self.dataset.path} --kind {self.name[7:]}"
            else:
                verb = "--layer image" if self.name == "image" else "--layer segmentation"
                how = f"connectoscope ingest SOURCE {self.dataset.path} {verb}"
            raise LayerNotFoundError(
                f"{self.dataset.path}: no {self.name!r} layer (layers present: {have}); add it "
                f"with `{how}`"
            )
        return self.dataset.layer(self.name)

    @property
    def kind(self) -> str:
        """``"image"`` or ``"segmentation"``."""
        return str(self.description["kind"])

    @property
    def complete(self) -> bool:
        return bool(self.description.get("complete", False))

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.description["dtype"])

    @property
    def levels(self) -> list[Level]:
        """Every pyramid level, finest first."""
        return [LevelSpec.from_dict(d) for d in self.description["levels"]]

    @property
    def num_levels(self) -> int:
        return len(self.description["levels"])

    def _level(self, level: int) -> Level:
        levels = self.levels
        if not 0 <= level < len(levels):
            raise InvalidParameterError(
                f"layer {self.name!r}: level {level} does not exist (levels 0-{len(levels) - 1})"
            )
        return levels[level]

    def shape_zyx(self, level: int = 0) -> tuple[int, int, int]:
        """Array shape ``(z, y, x)`` of a level."""
        return self._level(level).shape_zyx

    def voxel_size(self, level: int = 0) -> VoxelSize:
        """Voxel size (nm) of a level."""
        return self._level(level).voxel_size

    def frame(self, level: int = 0) -> LevelFrame:
        """The voxel <-> nm frame of a level (dataset offset and voxel-centre convention)."""
        return self.dataset.frame.level(self._level(level).factor_xyz)

    def bbox(self, level: int = 0) -> Bbox:
        """The whole level as a box in its voxels."""
        return Bbox.from_shape_zyx(self.shape_zyx(level))

    # ------------------------------------------------------------------ reads
    def _array(self, level: int) -> Any:
        if not self.complete and not self.allow_incomplete:
            raise IncompleteStoreError(
                f"{self.dataset.path}: layer {self.name!r} is incomplete (an ingest was "
                "interrupted). Re-run the same `connectoscope ingest` command to resume, or pass "
                "allow_incomplete=True to read what is there."
            )
        self._level(level)
        if level not in self._arrays:
            path = self.dataset.path / self.description["path"] / str(level)
            self._arrays[level] = open_level(path)
        return self._arrays[level]

    def read(
        self,
        bbox: Bbox | None = None,
        *,
        level: int = 0,
        bbox_nm: tuple[Sequence[float], Sequence[float]] | None = None,
    ) -> np.ndarray:
        """Read a region as a ``[z, y, x]`` numpy array.

        Parameters
        ----------
        bbox : Bbox, optional
            Region in voxels of ``level`` (half-open). Parts outside the volume are refused.
        level : int
            Pyramid level (0 = finest).
        bbox_nm : ((x0, y0, z0), (x1, y1, z1)), optional
            Region in dataset nm (the frame of meshes, tables and skeletons: the dataset
            offset included); converted to the voxels of ``level`` it overlaps, clipped to
            the volume.

        Returns
        -------
        numpy.ndarray
            ``[z, y, x]`` array of the layer's dtype. With neither box, the whole level.
        """
        if bbox is not None and bbox_nm is not None:
            raise InvalidParameterError("give bbox (voxels) or bbox_nm, not both")
        whole = self.bbox(level)
        if bbox_nm is not None:
            bbox = self.frame(level).bbox_from_nm(bbox_nm[0], bbox_nm[1]).intersection(whole)
        if bbox is None:
            bbox = whole
        if not whole.contains(bbox):
            raise InvalidParameterError(
                f"layer {self.name!r} level {level}: bbox {bbox.start}-{bbox.stop} (x, y, z voxels) "
                f"is outside the volume {whole.start}-{whole.stop}"
            )
        with self._reading(level, bbox.start[::-1], bbox.stop[::-1]) as arr:
            return np.asarray(arr[bbox.slices_zyx].read().result())

    def read_plane(self, axis: str, index: int, *, level: int = 0) -> np.ndarray:
        """One plane: ``z`` -> ``[y, x]``, ``y`` -> ``[z, x]``, ``x`` -> ``[z, y]``."""
        z, y, x = self.shape_zyx(level)
        sizes = {"z": z, "y": y, "x": x}
        if axis not in sizes:
            raise InvalidParameterError(f"axis must be x, y or z, got {axis!r}")
        if not 0 <= index < sizes[axis]:
            raise InvalidParameterError(
                f"layer {self.name!r} level {level}: {axis}={index} is out of range "
                f"(valid 0-{sizes[axis] - 1})"
            )
        sl: list[Any] = [slice(None)] * 3
        sl["zyx".index(axis)] = index
        lo = [index if a == axis else 0 for a in "zyx"]
        hi = [index + 1 if a == axis else n for a, n in zip("zyx", (z, y, x))]
        with self._reading(level, lo, hi) as arr:
            return np.asarray(arr[tuple(sl)].read().result())

    @contextmanager
    def _reading(
        self, level: int, start_zyx: Sequence[int], stop_zyx: Sequence[int]
    ) -> Iterator[Any]:
        """The level's array for one read: under the layer's shared lock (a rewrite in
        progress is waited for), with metadata and handles refreshed when the layer was
        replaced since, and every shard of the box checked against its completion record
        (a hole is an error, never zeros)."""
        from .._lock import layer_read_lock
        from ._verify import check_region

        with layer_read_lock(self.dataset.path, self.name):
            stamp = _stamp(self.dataset.path / METADATA_NAME)
            if stamp != self._meta_stamp:
                if self._meta_stamp is not None:
                    self.dataset.reload()
                    self._arrays.clear()
                    self._records.clear()
                self._meta_stamp = stamp
            arr = self._array(level)
            lev = self._level(level)
            check_region(
                self.dataset,
                self.name,
                level,
                lev.shard_zyx,
                lev.shard_grid(),
                start_zyx,
                stop_zyx,
                self._records.setdefault(level, {}),
            )
            yield arr

    def __repr__(self) -> str:
        if not self.exists:
            return f"VolumeLayer({self.name!r}, missing)"
        return (
            f"VolumeLayer({self.name!r}, {self.kind}, {self.dtype}, levels={self.num_levels}, "
            f"shape_zyx={self.shape_zyx(0)})"
        )
