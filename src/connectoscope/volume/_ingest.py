"""``ingest``: a foreign volume (cubes, HDF5, stacks, NumPy...) into a layer of a dataset."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._store import Store, is_dataset
from ..errors import InvalidParameterError
from ..geometry import VoxelSize, VoxelSizeLike
from ..sources import SourceReader, open_source
from ._build import StorageSpec
from ._layers import write_layer
from ._verify import resolved_source, source_identity

__all__ = ["IngestReport", "ingest"]


def _signature(source: SourceReader, kind: str) -> str:
    # keyed on what the source is (real path, sizes, mtimes), not on how it was spelled
    h = hashlib.sha1()
    h.update(
        json.dumps(
            [source_identity(source), list(source.shape_zyx), str(source.dtype), kind]
        ).encode()
    )
    return h.hexdigest()[:16]


def ingest(
    source: str | os.PathLike[str] | SourceReader,
    dataset: str | os.PathLike[str] | Store,
    *,
    layer: str = "image",
    voxel_size: VoxelSizeLike | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    force: bool = False,
    storage: StorageSpec | None = None,
    scale: str | int | None = None,
    bbox: Any = None,
    fill_missing: bool = False,
    axes: str | None = None,
) -> IngestReport:
    """Convert a source volume into a layer of a dataset: a sharded OME-Zarr pyramid.

    Parameters
    ----------
    source : path-like, URL or SourceReader
        L4dense cube folder, ``file.h5[:/path]``, PNG/TIFF plane folder, ``.npy``/``.npz``,
        a Neuroglancer precomputed layer (path or ``precomputed://``/``http(s)://``/``gs://``/
        ``s3://`` URL), a webKnossos layer (``DATASET/LAYER``) or annotation ``.zip``, a
        dataset we wrote at a URL (``URL#LAYER``), or an opened reader.
    dataset : path-like or Store
        Target dataset; created when it does not exist (needs a voxel size).
    layer : {"image", "segmentation"}
        Which layer the source becomes.
    voxel_size : (x, y, z) nm, optional
        Needed when creating the dataset, unless a ``synth.json`` manifest sits beside the
        cube folder. Checked against an existing dataset.
    workers : int, optional
        Local workers (default: all cores); ``1`` runs in this thread.
    overwrite : bool
        Replace an existing complete layer of this name. An incomplete layer from the same
        source resumes without it. A folder that is not a dataset is never deleted by it.
    force : bool
        With ``overwrite``: also replace a non-empty folder that is not a dataset.
    storage : StorageSpec, optional
        Chunk and shard shapes (default: about 1 MB chunks) and the label downsampling rule
        (see :class:`~connectoscope.volume.StorageSpec`).
    scale, bbox, fill_missing
        Precomputed sources: the scale (default the finest), the box ``x0,y0,z0:x1,y1,z1``
        in voxels of that scale, missing chunks as 0. webKnossos: the mag and a box of it.
    axes : {"zyx", "xyz"}, optional
        ``.npy``/``.npz`` sources: the stored axis order (required for Fortran-ordered
        arrays; C-ordered ones default to ``zyx``).

    Returns
    -------
    IngestReport
        Source files read, missing and skipped, bytes, seconds; ``report.path`` is the
        dataset.
    """
    if layer not in ("image", "segmentation"):
        raise InvalidParameterError(f"layer must be 'image' or 'segmentation', got {layer!r}")
    if isinstance(source, SourceReader) and not isinstance(source, str | os.PathLike):
        src = source
    else:
        src = open_source(source, scale=scale, bbox=bbox, fill_missing=fill_missing, axes=axes)
    created = not isinstance(dataset, Store) and not is_dataset(dataset)
    if isinstance(dataset, Store):
        ds = dataset
    elif is_dataset(dataset):
        ds = Store(dataset)
    else:
        vs = voxel_size if voxel_size is not None else getattr(src, "voxel_size_nm", None)
        if vs is None and isinstance(source, str | os.PathLike):
            vs = _manifest_voxel_size(Path(source))
        if vs is None:
            raise InvalidParameterError(
                f"{dataset}: a new dataset needs a voxel size; pass --voxel-size X,Y,Z in nm "
                "(for example 11.24,11.24,28 for L4dense)"
            )
        ds = Store.create(
            dataset, voxel_size=vs, offset_vx=src.offset_vx, overwrite=overwrite, force=force
        )
    if voxel_size is not None and VoxelSize.parse(voxel_size) != ds.voxel_size:
        raise InvalidParameterError(
            f"{ds.path}: voxel size {VoxelSize.parse(voxel_size).xyz} nm differs from the "
            f"dataset's {ds.voxel_size.xyz} nm"
        )
    kind = "image" if layer == "image" else "segmentation"
    resumed = ds.has_layer(layer) and not overwrite
    t0 = time.perf_counter()
    try:
        vol = write_layer(
            ds,
            layer,
            src,
            kind=kind,
            overwrite=overwrite,
            storage=storage,
            workers=workers,
            signature=_signature(src, kind),
            extra={"source_resolved": resolved_source(src)},  # for verify --repair
        )
    except BaseException:
        if created:  # a dataset this call created and nothing finished in: leave no folder
            _drop_if_nothing_done(ds)
        raise
    step = ds.provenance[-1]
    return IngestReport(
        path=ds.path,
        layer=layer,
        source=src.description,
        shape_zyx=vol.shape_zyx(0),
        dtype=vol.dtype.name,
        levels=vol.num_levels,
        files=src.files(),
        missing=src.missing(),
        skipped=src.skipped(),
        bytes_written=int(step.get("bytes_written", 0)),
        seconds=time.perf_counter() - t0,
        resumed=resumed,
    )


@dataclass(frozen=True)
class IngestReport:
    """What :func:`ingest` did.

    Attributes
    ----------
    path : Path
        The dataset directory (open it with ``connectoscope.Dataset(report.path)``).
    layer : str
        The layer written.
    source : str
        The source, as described in the dataset's provenance.
    shape_zyx : (z, y, x) int
        Level-0 shape in voxels.
    dtype : str
    levels : int
        Pyramid levels written.
    files : int
        Source files read (cube files; 1 for a single file).
    missing : list of str
        Grid positions of the source without a file (read as background).
    skipped : list of str
        Files in the source folder that were not read (names not matching the pattern).
    bytes_written : int
        Uncompressed bytes of every level written by this run (0 when all was done).
    seconds : float
    resumed : bool
        True when an interrupted ingest of the same source was continued.
    """

    path: Path
    layer: str
    source: str
    shape_zyx: tuple[int, int, int]
    dtype: str
    levels: int
    files: int
    missing: list[str]
    skipped: list[str]
    bytes_written: int
    seconds: float
    resumed: bool

    @property
    def store(self) -> Store:
        """The dataset, opened."""
        return Store(self.path)

    def __str__(self) -> str:
        z, y, x = self.shape_zyx
        mb = self.bytes_written / 1e6
        rate = mb / self.seconds if self.seconds > 0 else 0.0
        text = (
            f"{self.path}: layer {self.layer} {x} x {y} x {z} voxels {self.dtype}, "
            f"{self.levels} levels, {self.files} source file{'s' if self.files != 1 else ''}, "
            f"{mb:.0f} MB in {self.seconds:.1f} s ({rate:.0f} MB/s)"
        )
        if self.resumed:
            text += " (resumed)"
        return text


def _drop_if_nothing_done(ds: Store) -> None:
    """Remove a dataset folder this ingest created when no shard of it was finished (a run
    that failed at once leaves no empty dataset behind; one with finished shards is kept, to
    be resumed)."""
    import shutil

    prog = ds.layout.volume_root / ".progress"
    if not prog.exists() or not any(p.is_file() for p in prog.rglob("*.done")):
        shutil.rmtree(ds.path, ignore_errors=True)


def _manifest_voxel_size(source: Path) -> VoxelSize | None:
    for cand in (source / "synth.json", source.parent / "synth.json"):
        if cand.is_file():
            try:
                vs = json.loads(cand.read_text())["voxel_size_nm"]
                return VoxelSize(float(vs[0]), float(vs[1]), float(vs[2]))
            except (KeyError, ValueError, TypeError):
                return None
    return None
