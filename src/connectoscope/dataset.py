"""The dataset directory: one folder that holds every layer, with one JSON metadata file.

Layout of ``mydata.cscope/``::

    connectoscope.json        metadata: format version, voxel size (nm), offset (voxels),
                              axis order, units, layer descriptions, provenance of every step
    volume.ome.zarr/          OME-Zarr 0.5 (Zarr v3, sharded): the EM image as the root
                              multiscale image, the segmentation under labels/segmentation
    objects/                  object maps (segment_id, kind, object_id) and object tables (Parquet)
    meshes/                   Neuroglancer precomputed legacy meshes + segment properties
    skeletons/                skeletons (Neuroglancer precomputed + Parquet)
    annotations/              synapse annotations (Neuroglancer precomputed)
    synapses/                 synapse tables (Parquet)
    cells/                    cell tables (Parquet)
    connectome/               connectivity matrices (Parquet)
    figures/                  pictures and movies made from the dataset

Everything reads and writes through :class:`Dataset`. The metadata file is rewritten
atomically (write to a temporary file, then rename), so an interrupted run never leaves it
half-written.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DataFormatError, DatasetExistsError, DatasetNotFoundError, LayerNotFoundError
from .geometry import VoxelSize, VoxelSizeLike

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .connectome import CellTable, SynapseTable
    from .segmentation import ObjectMaps
    from .volume import VolumeLayer

__all__ = [
    "FORMAT_VERSION",
    "METADATA_NAME",
    "Dataset",
    "is_dataset",
    "write_json_atomic",
    "write_parquet_atomic",
]

#: Version of the dataset directory layout (bumped on incompatible changes).
FORMAT_VERSION = 1
#: Name of the metadata file inside a dataset directory.
METADATA_NAME = "connectoscope.json"

#: Sub-folders of a dataset, by purpose.
FOLDERS = {
    "volume": "volume.ome.zarr",
    "objects": "objects",
    "meshes": "meshes",
    "skeletons": "skeletons",
    "annotations": "annotations",
    "synapses": "synapses",
    "cells": "cells",
    "connectome": "connectome",
    "figures": "figures",
}


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_parquet_atomic(df: pd.DataFrame, path: Path, *, index: bool = False) -> Path:
    """Write a table as Parquet to ``path`` through a hidden ``.NAME.part`` file and an atomic
    rename, so a reader never sees half a file and an interrupted write leaves the old one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        df.to_parquet(tmp, index=index)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def is_dataset(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a directory holding a connectoscope metadata file."""
    return (Path(path) / METADATA_NAME).is_file()


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class Dataset:
    """A connectoscope dataset directory.

    Use :meth:`create` for a new one and :meth:`open` (or the constructor) for an existing
    one. Layers are reached through properties (:attr:`image`, :attr:`segmentation`,
    :attr:`objects`, :attr:`synapses`, :attr:`cells`) which load lazily.

    Parameters
    ----------
    path : path-like
        The dataset directory.

    Raises
    ------
    DatasetNotFoundError
        When ``path`` holds no ``connectoscope.json``.
    DataFormatError
        When the metadata file is unreadable or of a newer format.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "demo.cscope"
    >>> ds = Dataset.create(d, voxel_size=(11.24, 11.24, 28))
    >>> Dataset.open(d).voxel_size.z
    28.0
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        meta_path = self.path / METADATA_NAME
        if not meta_path.is_file():
            hint = ""
            if self.path.is_dir():
                hint = (
                    " The folder exists but is not a dataset; create one with "
                    "`connectoscope ingest SOURCE " + str(self.path) + "`."
                )
            raise DatasetNotFoundError(
                f"{self.path}: not a connectoscope dataset (no {METADATA_NAME}).{hint}"
            )
        try:
            self._meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise DataFormatError(f"{meta_path}: unreadable metadata file ({e})") from e
        version = self._meta.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise DataFormatError(
                f"{meta_path}: format_version {version!r} is not supported by this connectoscope "
                f"(supports <= {FORMAT_VERSION}); upgrade connectoscope."
            )

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        voxel_size: VoxelSizeLike,
        offset_vx: tuple[int, int, int] = (0, 0, 0),
        name: str | None = None,
        overwrite: bool = False,
    ) -> Dataset:
        """Create a new, empty dataset directory.

        Parameters
        ----------
        path : path-like
            Directory to create (conventionally ending in ``.cscope``).
        voxel_size : VoxelSize, str or sequence
            Voxel size ``(x, y, z)`` in nm of the finest level.
        offset_vx : tuple of int
            Position ``(x, y, z)`` in voxels of the dataset's first voxel in the source frame
            (zero-based).
        name : str, optional
            Human-readable name (defaults to the folder name).
        overwrite : bool
            Replace an existing dataset at ``path``. Without it an existing dataset or a
            non-empty folder is refused.

        Returns
        -------
        Dataset
        """
        p = Path(path)
        if p.exists():
            if not overwrite and (is_dataset(p) or (p.is_dir() and any(p.iterdir()))):
                raise DatasetExistsError(
                    f"{p}: already exists and is not empty; choose another path or pass "
                    "overwrite=True (CLI: --overwrite)."
                )
            if overwrite and p.is_dir():
                import shutil

                shutil.rmtree(p)
            elif overwrite:
                p.unlink()
        vs = VoxelSize.parse(voxel_size)
        p.mkdir(parents=True, exist_ok=True)
        from . import __version__

        meta = {
            "format_version": FORMAT_VERSION,
            "name": name or p.name.removesuffix(".cscope"),
            "created": _now(),
            "axis_order": "zyx",
            "units": "nanometer",
            "voxel_size": vs.to_dict(),
            "offset_vx": [int(v) for v in offset_vx],
            "layers": {},
            "provenance": [
                {
                    "step": "create",
                    "time": _now(),
                    "connectoscope": __version__,
                    "python": platform.python_version(),
                }
            ],
        }
        write_json_atomic(p / METADATA_NAME, meta)
        return cls(p)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Dataset:
        """Open an existing dataset directory (same as the constructor)."""
        return cls(path)

    # ------------------------------------------------------------------ metadata
    @property
    def metadata(self) -> dict[str, Any]:
        """A copy of the parsed metadata file."""
        return json.loads(json.dumps(self._meta))

    @property
    def name(self) -> str:
        """Human-readable dataset name."""
        return str(self._meta.get("name", self.path.name))

    @property
    def voxel_size(self) -> VoxelSize:
        """Voxel size of the finest level, nm ``(x, y, z)``."""
        return VoxelSize.from_dict(self._meta["voxel_size"])

    @property
    def offset_vx(self) -> tuple[int, int, int]:
        """Offset ``(x, y, z)`` in voxels of the dataset's origin in the source frame."""
        o = self._meta.get("offset_vx", [0, 0, 0])
        return (int(o[0]), int(o[1]), int(o[2]))

    @property
    def provenance(self) -> list[dict[str, Any]]:
        """Every step that wrote into this dataset, oldest first."""
        return list(self.metadata.get("provenance", []))

    @property
    def layers(self) -> dict[str, dict[str, Any]]:
        """Descriptions of the layers present, keyed by layer name."""
        return dict(self.metadata.get("layers", {}))

    def reload(self) -> None:
        """Re-read the metadata file (after another process changed it)."""
        self.__init__(self.path)  # type: ignore[misc]

    @contextmanager
    def edit_metadata(self) -> Iterator[dict[str, Any]]:
        """Context manager yielding the metadata dict; saved atomically on exit.

        Re-reads the file first so concurrent writers of distinct keys do not lose each
        other's changes in the common sequential case.
        """
        self.reload()
        meta = self.metadata
        yield meta
        write_json_atomic(self.path / METADATA_NAME, meta)
        self._meta = meta

    def set_layer(self, name: str, description: dict[str, Any]) -> None:
        """Record (or replace) a layer description in the metadata."""
        with self.edit_metadata() as meta:
            meta.setdefault("layers", {})[name] = description

    def remove_layer(self, name: str) -> None:
        """Forget a layer description (files are not touched)."""
        with self.edit_metadata() as meta:
            meta.setdefault("layers", {}).pop(name, None)

    def layer(self, name: str) -> dict[str, Any]:
        """Description of one layer.

        Raises
        ------
        LayerNotFoundError
            Names the layers that exist.
        """
        layers = self.layers
        if name not in layers:
            have = ", ".join(sorted(layers)) or "none"
            raise LayerNotFoundError(f"{self.path}: no layer {name!r} (layers present: {have}).")
        return layers[name]

    def has_layer(self, name: str) -> bool:
        """True when the metadata lists layer ``name``."""
        return name in self.layers

    def record_step(self, step: str, **params: Any) -> None:
        """Append one provenance entry (the step name, its parameters, time, versions)."""
        from . import __version__

        entry = {"step": step, "time": _now(), "connectoscope": __version__}
        entry.update({k: _jsonable(v) for k, v in params.items()})
        with self.edit_metadata() as meta:
            meta.setdefault("provenance", []).append(entry)

    def folder(self, purpose: str, *, create: bool = False) -> Path:
        """Path of the sub-folder for ``purpose`` (one of :data:`FOLDERS`)."""
        try:
            p = self.path / FOLDERS[purpose]
        except KeyError:
            raise LayerNotFoundError(
                f"unknown dataset folder {purpose!r}; known: {', '.join(FOLDERS)}"
            ) from None
        if create:
            p.mkdir(parents=True, exist_ok=True)
        return p

    def disk_usage(self) -> dict[str, int]:
        """Bytes on disk per top-level entry of the dataset directory."""
        out: dict[str, int] = {}
        for entry in sorted(self.path.iterdir()):
            if entry.is_file():
                out[entry.name] = entry.stat().st_size
            else:
                out[entry.name] = sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
        return out

    # ------------------------------------------------------------------ layers
    @property
    def image(self) -> VolumeLayer:
        """The EM image pyramid (see :class:`connectoscope.volume.VolumeLayer`)."""
        from .volume import VolumeLayer

        return VolumeLayer(self, "image")

    @property
    def segmentation(self) -> VolumeLayer:
        """The segmentation pyramid (see :class:`connectoscope.volume.VolumeLayer`)."""
        from .volume import VolumeLayer

        return VolumeLayer(self, "segmentation")

    def volume(self, name: str) -> VolumeLayer:
        """Any volume layer by name (``image``, ``segmentation`` or a mapped label layer)."""
        from .volume import VolumeLayer

        return VolumeLayer(self, name)

    @property
    def objects(self) -> ObjectMaps:
        """Segment-to-object maps (see :class:`connectoscope.segmentation.ObjectMaps`)."""
        from .segmentation import ObjectMaps

        return ObjectMaps.from_dataset(self)

    @property
    def synapses(self) -> SynapseTable:
        """The dataset's synapse table (see :class:`connectoscope.connectome.SynapseTable`)."""
        from .connectome import SynapseTable

        return SynapseTable.from_dataset(self)

    @property
    def cells(self) -> CellTable:
        """The dataset's cell table (see :class:`connectoscope.connectome.CellTable`)."""
        from .connectome import CellTable

        return CellTable.from_dataset(self)

    def __repr__(self) -> str:
        vs = self.voxel_size
        return (
            f"Dataset({str(self.path)!r}, voxel_size=({vs.x:g}, {vs.y:g}, {vs.z:g}) nm, "
            f"layers={sorted(self.layers)})"
        )


def _jsonable(v: Any) -> Any:
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if hasattr(v, "to_dict"):
        return v.to_dict()
    if hasattr(v, "item"):
        return v.item()
    return v
