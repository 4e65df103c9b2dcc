"""Layers of a dataset's volume store: write any source or array as a pyramid, remove one.

The public entry points every other layer uses (``objects map`` builds its mapped layer with
:func:`write_layer`, as ingest does). All layers of a dataset share one level plan, recorded
in the metadata by the first layer written (see :mod:`._plan`).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._lock import holds_layer
from .._store import Store
from ..errors import DatasetExistsError, InvalidParameterError
from ..geometry import int3
from ..sources import ArraySource, SourceReader
from ._build import StorageSpec, build_layer, levels_for
from ._omezarr import LevelSpec
from ._plan import DEFAULT_MIN_XY, level_factors, plan_pyramid
from ._volume_layer import VolumeLayer

__all__ = ["layer_levels", "remove_layer", "write_layer"]

KINDS = ("image", "segmentation")


def _plan_for(
    store: Store, shape_zyx: tuple[int, int, int], storage: StorageSpec, pyramid: bool
) -> list[tuple[int, int, int]]:
    """The dataset's level plan (cumulative factors), recorded on first use."""
    if not pyramid:
        return [(1, 1, 1)]
    meta = store.metadata.get("pyramid")
    if meta and tuple(meta.get("shape_zyx", ())) == tuple(shape_zyx):
        return [int3(f) for f in meta["factors_xyz"]]
    min_xy = DEFAULT_MIN_XY
    if storage.chunk_xyz is not None:
        min_xy = max(1, min(storage.chunk_xyz[0], storage.chunk_xyz[1]))
    factors = level_factors(plan_pyramid(shape_zyx, store.voxel_size, min_xy=min_xy))
    if not meta:
        with store.edit_metadata() as m:
            m["pyramid"] = {
                "shape_zyx": list(shape_zyx),
                "factors_xyz": [list(f) for f in factors],
                "rule": "2x2x1 while z voxel >= 2 x xy voxel, else 2x2x2; stop when x, y fit "
                f"in {min_xy} voxels",
            }
    return factors


def layer_levels(
    store: Store,
    shape_zyx: Sequence[int],
    dtype: Any,
    *,
    storage: StorageSpec | None = None,
    pyramid: bool = True,
) -> list[LevelSpec]:
    """The levels a layer of this shape and dtype gets in ``store`` (for planning and
    ``--dry-run``; records the dataset's level plan when it has none)."""
    shape = int3(shape_zyx)
    spec = storage or StorageSpec()
    factors = _plan_for(store, shape, spec, pyramid)
    return levels_for(shape, np.dtype(dtype), store.voxel_size, factors, spec)


@holds_layer("writing layer")  # remove + rewrite as one: readers see old or new, never a mix
def write_layer(
    store: Store,
    name: str,
    source: SourceReader | np.ndarray,
    *,
    kind: str | None = None,
    overwrite: bool = False,
    pyramid: bool = True,
    storage: StorageSpec | None = None,
    workers: int | None = None,
    signature: str | None = None,
    extra: dict[str, Any] | None = None,
) -> VolumeLayer:
    """Write a source (any :class:`~connectoscope.sources.SourceReader`) or an in-memory
    ``[z, y, x]`` array as a layer of ``store``, with its pyramid.

    Shard by shard on the executor handed over with :func:`connectoscope.executor`
    (resumable: re-running the same call continues an interrupted write).

    Parameters
    ----------
    store : Store
        The dataset (a :class:`connectoscope.Dataset` is one).
    name : str
        ``"image"``, ``"segmentation"`` or the name of another label layer.
    source : SourceReader or numpy.ndarray
        The level-0 voxels, ``[z, y, x]``; integer ids for label layers.
    kind : {"image", "segmentation"}, optional
        Default: ``"image"`` for the layer named image, else ``"segmentation"``.
    overwrite : bool
        Replace an existing layer of that name.
    pyramid : bool
        Build the downsampled levels (the dataset's level plan).
    storage : StorageSpec, optional
        Chunk and shard shapes (default: about 1 MB chunks).
    workers : int, optional
        Local workers (default: the executor's).
    signature : str, optional
        What identifies the input, so an interrupted write resumes only from the same
        input (default: a hash of an array; the source description).
    extra : dict, optional
        More entries for the layer's metadata.

    Returns
    -------
    VolumeLayer

    Raises
    ------
    DatasetExistsError
        The layer exists (pass ``overwrite``), or an unfinished write of it came from
        another input.
    InvalidParameterError
        Bad kind, a non-integer segmentation, a shape unlike the dataset's other layers.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from connectoscope._store import Store
    >>> st = Store.create(pathlib.Path(tempfile.mkdtemp()) / "d.cscope", voxel_size=(8, 8, 8))
    >>> lay = write_layer(st, "segmentation", np.ones((4, 300, 300), np.uint32))
    >>> [lev.shape_zyx for lev in lay.levels]
    [(4, 300, 300), (2, 150, 150), (1, 75, 75)]
    """
    kind = kind or ("image" if name == "image" else "segmentation")
    if kind not in KINDS:
        raise InvalidParameterError(f"kind must be 'image' or 'segmentation', got {kind!r}")
    if name == "image" and kind != "image":
        raise InvalidParameterError("the layer named 'image' must be of kind 'image'")
    if isinstance(source, np.ndarray):
        arr = source
        src: SourceReader = ArraySource.of(arr, name=f"array {name}")
        if signature is None:
            signature = (
                hashlib.sha1(np.ascontiguousarray(arr).tobytes()).hexdigest()[:16]
                if arr.nbytes < 2**28
                else f"array {arr.shape} {arr.dtype}"
            )
    else:
        src = source
    dtype = np.dtype(src.dtype)
    if kind == "segmentation" and not np.issubdtype(dtype, np.integer):
        raise InvalidParameterError(
            f"{src.description}: a segmentation must hold integer ids, found {dtype}"
        )
    for other, desc in store.layers.items():
        if other != name and "levels" in desc and desc.get("kind") in KINDS:
            shape = tuple(desc["levels"][0]["shape_zyx"])
            if shape != tuple(src.shape_zyx):
                sz = src.shape_zyx
                raise InvalidParameterError(
                    f"{src.description}: extent {sz[2]} x {sz[1]} x {sz[0]} (x, y, z) differs "
                    f"from the dataset's {other} layer {shape[2]} x {shape[1]} x {shape[0]}; "
                    "every layer of a dataset must cover the same voxels"
                )
            break
    if store.has_layer(name):
        if overwrite:
            remove_layer(store, name)
        elif store.layer(name).get("complete"):
            raise DatasetExistsError(
                f"{store.path}: already has a complete {name!r} layer; pass overwrite=True "
                "(CLI: --overwrite) to replace it"
            )
    spec = storage or StorageSpec()
    sig = signature or src.description
    previous = store.layers.get(name)
    if previous is not None and previous.get("storage", StorageSpec().to_dict()) != spec.to_dict():
        raise DatasetExistsError(
            f"{store.path}: an unfinished write of layer {name!r} used other chunk/shard shapes "
            f"({previous.get('storage')}); re-run it with those, or pass overwrite=True "
            "(CLI: --overwrite) to start again"
        )
    levels = layer_levels(store, src.shape_zyx, dtype, storage=spec, pyramid=pyramid)
    return build_layer(
        store,
        name,
        kind,
        src,
        levels=levels,
        workers=workers,
        signature=sig,
        extra={**(extra or {}), "storage": spec.to_dict()},
        step="ingest" if name in KINDS else f"write {name}",
        rule=spec.label_downsampling if kind != "image" else "countless",
    )


@holds_layer("removing layer")  # waits for reads in progress to end
def remove_layer(store: Store, name: str) -> None:
    """Delete a volume layer's files and its metadata entry.

    Raises
    ------
    LayerNotFoundError
        No such layer (names the layers present).
    """
    desc = store.layer(name)
    with store.locked():
        root = store.path / desc["path"]
        if name == "image":
            for child in root.iterdir():
                if child.name.isdigit():
                    shutil.rmtree(child)
        elif root.exists():
            shutil.rmtree(root)
        prog = store.layout.progress(name)
        if prog.exists():
            shutil.rmtree(prog)
        store.forget_layer(name)
