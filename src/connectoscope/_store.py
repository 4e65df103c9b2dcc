"""The dataset directory: create/open, metadata under a lock, provenance, and one layout.

Layout of ``mydata.cscope/`` (every name is a :class:`Layout` property; no other module
spells a path inside a dataset)::

    connectoscope.json        metadata: format version, voxel size (nm), offset (voxels),
                              axis order, units, layer descriptions, provenance of every step
    .connectoscope.lock       advisory lock file (holder's pid, host, command)
    volume.ome.zarr/          OME-Zarr 0.5 (Zarr v3, sharded): the EM image as the root
                              multiscale image, label layers under labels/<name>
    volume.ome.zarr/.progress one record per finished output shard (resume)
    objects/                  object maps (segment_id, kind, object_id) and object tables
    meshes/                   Neuroglancer precomputed meshes + segment properties
    skeletons/                skeletons (Neuroglancer precomputed + Parquet)
    annotations/              synapse annotations (Neuroglancer precomputed)
    synapses/ cells/          synapse and cell tables (Parquet)
    connectome/ figures/      matrices; pictures and movies made from the dataset

:class:`Store` is the floor every layer builds on; :class:`connectoscope.Dataset` (the
facade with ``.image``, ``.objects``, ``.synapses``...) is a ``Store`` and sits on top.
Metadata changes are read-modify-write under an exclusive ``flock`` on the lock file, so
two processes recording steps at once lose nothing.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import platform
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._atomic import write_json_atomic
from .errors import (
    DataFormatError,
    DatasetExistsError,
    DatasetNotFoundError,
    InvalidParameterError,
    LayerNotFoundError,
)
from .geometry import LevelFrame, VoxelSize, VoxelSizeLike, int3

__all__ = [
    "FORMAT_VERSION",
    "METADATA_NAME",
    "Layout",
    "Store",
    "is_dataset",
    "jsonable",
    "refuse_foreign_folder",
]

#: Version of the dataset directory layout (bumped on incompatible changes).
FORMAT_VERSION = 1
#: Name of the metadata file inside a dataset directory.
METADATA_NAME = "connectoscope.json"
#: OME-Zarr root inside a dataset directory.
VOLUME_ROOT = "volume.ome.zarr"


@dataclass(frozen=True)
class Layout:
    """Every path inside one dataset directory.

    >>> lay = Layout(Path("d.cscope"))
    >>> str(lay.layer_group("segmentation", "segmentation"))
    'd.cscope/volume.ome.zarr/labels/segmentation'
    >>> str(lay.object_table("neuron"))
    'd.cscope/objects/objects_neuron.parquet'
    """

    root: Path

    # ------------------------------------------------------------------ metadata
    @property
    def metadata(self) -> Path:
        return self.root / METADATA_NAME

    @property
    def lock(self) -> Path:
        """The metadata lock (held for each read-modify-write of the metadata)."""
        return self.root / ".connectoscope.lock"

    @property
    def writer_lock(self) -> Path:
        """The writer lock (one writer per dataset; names its holder)."""
        return self.root / ".connectoscope.writer"

    def layer_lock(self, layer: str) -> Path:
        """The read/write lock of one volume layer."""
        return self.root / ".connectoscope.layers" / f"{layer}.lock"

    # ------------------------------------------------------------------ volumes
    @property
    def volume_root(self) -> Path:
        return self.root / VOLUME_ROOT

    @staticmethod
    def layer_relpath(name: str, kind: str) -> str:
        """A volume layer's multiscale group relative to the dataset directory: the image
        is the OME-Zarr root, every label layer sits under ``labels/``."""
        if kind == "image" and name == "image":
            return VOLUME_ROOT
        return f"{VOLUME_ROOT}/labels/{name}"

    def layer_group(self, name: str, kind: str) -> Path:
        return self.root / self.layer_relpath(name, kind)

    def level_array(self, relpath: str, level: int) -> Path:
        """The Zarr array of one pyramid level of the layer stored at ``relpath``."""
        return self.root / relpath / str(level)

    def progress(self, layer: str) -> Path:
        """Completion records of a layer's write (one per finished output shard)."""
        return self.volume_root / ".progress" / layer

    # ------------------------------------------------------------------ objects
    @property
    def objects(self) -> Path:
        return self.root / "objects"

    @property
    def segment_objects(self) -> Path:
        """The object map: one row per (segment, kind) pair."""
        return self.objects / "segment_objects.parquet"

    @property
    def segments_table(self) -> Path:
        """Per-segment statistics (voxels, box, centroid)."""
        return self.objects / "segments.parquet"

    def object_table(self, kind: str) -> Path:
        """Per-object statistics of one kind."""
        return self.objects / f"objects_{kind}.parquet"

    # ------------------------------------------------------------------ the rest
    @property
    def meshes(self) -> Path:
        return self.root / "meshes"

    @property
    def skeletons(self) -> Path:
        return self.root / "skeletons"

    @property
    def annotations(self) -> Path:
        return self.root / "annotations"

    @property
    def synapse_annotations(self) -> Path:
        return self.annotations / "synapses"

    @property
    def synapses(self) -> Path:
        return self.root / "synapses"

    @property
    def synapses_table(self) -> Path:
        return self.synapses / "synapses.parquet"

    @property
    def cells(self) -> Path:
        return self.root / "cells"

    @property
    def cells_table(self) -> Path:
        return self.cells / "cells.parquet"

    @property
    def connectome(self) -> Path:
        return self.root / "connectome"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    def relative(self, path: Path) -> str:
        """``path`` relative to the dataset root, as stored in the metadata."""
        return Path(path).relative_to(self.root).as_posix()


def is_dataset(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a directory holding a connectoscope metadata file."""
    return (Path(path) / METADATA_NAME).is_file()


def refuse_foreign_folder(path: str | os.PathLike[str], *, force: bool = False) -> None:
    """Refuse to delete or replace ``path`` unless it is a connectoscope dataset (or empty).

    Raises
    ------
    DatasetExistsError
        ``path`` is a non-empty folder (or a file) without ``connectoscope.json``; names the
        folder and the explicit way out (``--force``).
    """
    p = Path(path)
    if force or not p.exists() or is_dataset(p):
        return
    if p.is_dir() and not any(p.iterdir()):
        return
    what = "folder" if p.is_dir() else "file"
    raise DatasetExistsError(
        f"{p}: this {what} is not a connectoscope dataset (no {METADATA_NAME}); refusing to "
        "delete it. Choose another path, or pass force=True (CLI: --force) to replace it."
    )


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def package_version() -> str:
    """The installed distribution's version (pyproject.toml is the one source)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("connectoscope")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def jsonable(v: Any) -> Any:
    """``v`` with paths, tuples, numpy scalars and value objects turned into JSON types."""
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, tuple | list):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if hasattr(v, "to_dict"):
        return v.to_dict()
    if hasattr(v, "item"):
        return v.item()
    return v


class Store:
    """A connectoscope dataset directory: metadata, layout and frame.

    Use :meth:`create` for a new one and :meth:`open` (or the constructor) for an existing
    one. :class:`connectoscope.Dataset` adds the layer properties on top.

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
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.layout = Layout(self.path)
        self._meta: dict[str, Any] = self._read_metadata()

    def _read_metadata(self) -> dict[str, Any]:
        meta_path = self.layout.metadata
        if not meta_path.is_file():
            hint = ""
            if self.path.is_dir():
                hint = (
                    " The folder exists but is not a dataset; create one with "
                    f"`connectoscope ingest SOURCE {self.path}`."
                )
            raise DatasetNotFoundError(
                f"{self.path}: not a connectoscope dataset (no {METADATA_NAME}).{hint}"
            )
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise DataFormatError(f"{meta_path}: unreadable metadata file ({e})") from e
        if not isinstance(meta, dict):
            raise DataFormatError(f"{meta_path}: metadata must be a JSON object")
        version = meta.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise DataFormatError(
                f"{meta_path}: format_version {version!r} is not supported by this connectoscope "
                f"(supports <= {FORMAT_VERSION}); upgrade connectoscope."
            )
        for key in ("voxel_size", "layers"):
            if key not in meta:
                raise DataFormatError(f"{meta_path}: metadata lacks {key!r}")
        return meta

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
        force: bool = False,
    ) -> Store:
        """Create a new, empty dataset directory.

        Parameters
        ----------
        path : path-like
            Directory to create (conventionally ending in ``.cscope``).
        voxel_size : VoxelSize, str or sequence
            Voxel size ``(x, y, z)`` in nm of the finest level.
        offset_vx : (x, y, z) int
            Position in voxels of the dataset's first voxel in the source frame.
        name : str, optional
            Human-readable name (defaults to the folder name).
        overwrite : bool
            Replace an existing *dataset* at ``path``. A non-empty folder that is not a
            dataset is refused even then, unless ``force``.
        force : bool
            Also replace a folder that is not a dataset.

        Returns
        -------
        Store (or the subclass it is called on)
        """
        p = Path(path)
        if p.exists():
            if not overwrite and (is_dataset(p) or (p.is_dir() and any(p.iterdir()))):
                raise DatasetExistsError(
                    f"{p}: already exists and is not empty; choose another path or pass "
                    "overwrite=True (CLI: --overwrite)."
                )
            if overwrite:
                refuse_foreign_folder(p, force=force)
                if p.is_dir():
                    import shutil

                    shutil.rmtree(p)
                else:
                    p.unlink()
        vs = VoxelSize.parse(voxel_size)
        off = int3(offset_vx)
        p.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "name": name or p.name.removesuffix(".cscope"),
            "created": _now(),
            "axis_order": "zyx",
            "units": "nanometer",
            "voxel_size": vs.to_dict(),
            "offset_vx": list(off),
            "layers": {},
            "provenance": [
                {
                    "step": "create",
                    "time": _now(),
                    "connectoscope": package_version(),
                    "python": platform.python_version(),
                }
            ],
        }
        write_json_atomic(Layout(p).metadata, meta)
        return cls(p)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Store:
        """Open an existing dataset directory (same as the constructor)."""
        return cls(path)

    # ------------------------------------------------------------------ metadata
    @property
    def metadata(self) -> dict[str, Any]:
        """A copy of the parsed metadata file."""
        copy: dict[str, Any] = json.loads(json.dumps(self._meta))
        return copy

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
        return int3(self._meta.get("offset_vx", [0, 0, 0]))

    @property
    def frame(self) -> LevelFrame:
        """The voxel <-> nm frame of level 0 (see :class:`~connectoscope.geometry.LevelFrame`);
        ``frame.level(factor_xyz)`` gives any other level's."""
        return LevelFrame(self.voxel_size, self.offset_vx)

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
        self._meta = self._read_metadata()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the dataset's exclusive advisory lock (``flock``) inside the block.

        Re-entrant within one process; another process waits. The lock file names the
        holder (pid, host, command) for ``connectoscope info``.
        """
        if getattr(self, "_lock_depth", 0):
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        path = self.layout.lock
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise OSError(e.errno, f"{path}: cannot open the dataset lock ({e.strerror})") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            holder = f"{os.getpid()} {socket.gethostname()} {' '.join(sys.argv)[:200]}\n"
            os.ftruncate(fd, 0)
            os.pwrite(fd, holder.encode(), 0)
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    _lock_depth: int = 0

    @contextmanager
    def edit_metadata(self) -> Iterator[dict[str, Any]]:
        """Yield the metadata dict for changes; saved atomically on exit.

        The whole read-modify-write happens under :meth:`locked`, so concurrent writers
        (other processes, other keys or the same list) lose nothing.
        """
        with self.locked():
            self.reload()
            meta = self.metadata
            yield meta
            write_json_atomic(self.layout.metadata, meta)
            self._meta = meta

    def set_layer(self, name: str, description: dict[str, Any]) -> None:
        """Record (or replace) a layer description in the metadata."""
        with self.edit_metadata() as meta:
            meta.setdefault("layers", {})[name] = jsonable(description)

    def forget_layer(self, name: str) -> None:
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
        entry = {"step": step, "time": _now(), "connectoscope": package_version()}
        entry.update({k: jsonable(v) for k, v in params.items()})
        with self.edit_metadata() as meta:
            meta.setdefault("provenance", []).append(entry)

    def folder(self, purpose: str, *, create: bool = False) -> Path:
        """Path of a top-level sub-folder by purpose (``objects``, ``meshes``, ...)."""
        known = (
            "objects",
            "meshes",
            "skeletons",
            "annotations",
            "synapses",
            "cells",
            "connectome",
            "figures",
        )
        if purpose not in known:
            raise InvalidParameterError(
                f"unknown dataset folder {purpose!r}; known: {', '.join(known)}"
            )
        p: Path = getattr(self.layout, purpose)
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

    def __repr__(self) -> str:
        vs = self.voxel_size
        return (
            f"{type(self).__name__}({str(self.path)!r}, voxel_size=({vs.x:g}, {vs.y:g}, {vs.z:g})"
            f" nm, layers={sorted(self.layers)})"
        )
