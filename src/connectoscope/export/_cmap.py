"""ChimeraX ``.cmap`` export (plain HDF5 that ChimeraX opens through PyTables).

Layout: group ``/Chimera/image1`` with attributes ``name`` (string), ``origin`` and ``step``
(float32 x, y, z, nm), ``chimera_map_version`` = 1; the full data ``data_zyx`` ``[z, y, x]``;
each subsample ``data_zyx_{i}_{j}_{k}`` with the dataset attribute ``subsample_spacing`` =
int32 ``(i, j, k)`` in x, y, z order. Segment attributes are 1-D int32 arrays under
``/attributes/<kind>`` of length max id + 1, with ``maximum_segment_id``. Compression: Blosc
lz4hc without shuffle (HDF5 filter 32001), cube chunks, written chunk by chunk.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._atomic import atomic_path, write_text_atomic
from .._store import Layout, Store
from ..errors import DatasetExistsError, InvalidParameterError
from ..geometry import Bbox
from ..volume import VolumeLayer

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["MAX_ATTRIBUTE_ID", "export_chimerax", "lookup_table_path", "write_cxc"]

INT32_MAX = 2**31 - 1
UINT32_MAX = 2**32 - 1
#: Largest segment id ChimeraX attribute arrays (int32, indexed by segment id, length max id
#: + 1) can take here: 2**28 entries are 1 GiB per kind. Larger ids need ``renumber``.
MAX_ATTRIBUTE_ID = 2**28 - 1


def _blosc() -> dict[str, object]:
    import hdf5plugin

    return dict(hdf5plugin.Blosc(cname="lz4hc", clevel=5, shuffle=hdf5plugin.Blosc.NOSHUFFLE))


def lookup_table_path(out: str | os.PathLike[str]) -> Path:
    """The renumbering table written beside ``OUT.cmap``: ``OUT.ids.csv``."""
    p = Path(out)
    return p.with_name(p.stem + ".ids.csv")


def export_chimerax(
    dataset: Store | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    layer: str = "segmentation",
    subsamples: Sequence[Sequence[int]] | None = None,
    overwrite: bool = False,
    chunk: int = 64,
    renumber: bool = False,
) -> Path:
    """Write one layer (all requested levels) as a ChimeraX ``.cmap`` file.

    Ids are exact or refused, never wrapped: ChimeraX segment attributes are int32 arrays
    indexed by segment id, so a segmentation whose ids exceed ``uint32`` (voxels) or
    :data:`MAX_ATTRIBUTE_ID` (attribute arrays), or whose object ids exceed int32, is refused
    unless ``renumber`` is given; then segments (and objects) get consecutive ids 1, 2, ...
    (0 stays 0) and the table ``OUT.ids.csv`` (:func:`lookup_table_path`; columns ``what``
    (``segment``/``object``), ``cmap_id``, ``original_id``) maps them back.

    Parameters
    ----------
    dataset : Store or path
    out : path-like
        The ``.cmap`` file (written to a temporary name, renamed when complete).
    layer : str
        ``"image"``, ``"segmentation"`` or another volume layer.
    subsamples : list of (i, j, k), optional
        Subsample spacings (x, y, z) to include; each must be a pyramid level's factor.
        Default: every pyramid level.
    overwrite : bool
        Replace an existing file (only once the new one is complete).
    chunk : int
        Edge of the HDF5 cube chunks.
    renumber : bool
        Renumber segment and object ids consecutively and write the lookup table.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    InvalidParameterError
        An id the format cannot hold (without ``renumber``), or an unknown subsample.
    """
    import h5py

    ds = dataset if isinstance(dataset, Store) else Store(dataset)
    vol = VolumeLayer(ds, layer)
    levels = vol.levels
    out = Path(out)
    if out.exists() and not overwrite:
        raise DatasetExistsError(f"{out}: exists; pass --overwrite to replace it")
    by_factor = {lev.factor_xyz: i for i, lev in enumerate(levels)}
    if subsamples is None:
        chosen = list(range(1, len(levels)))
    else:
        chosen = []
        for s in subsamples:
            f = tuple(int(v) for v in s)
            if f not in by_factor:
                have = " ".join(",".join(map(str, k)) for k in by_factor if k != (1, 1, 1))
                raise InvalidParameterError(
                    f"--subsamples {','.join(map(str, f))}: no pyramid level has that spacing; "
                    f"available: {have}"
                )
            chosen.append(by_factor[f])
    labels = vol.kind == "segmentation" and vol.dtype.kind in "iu"
    table = _object_table(ds) if labels else None
    ids = _IdPlan(vol, table, out, renumber=renumber) if labels else None
    vs = ds.voxel_size
    with atomic_path(out, overwrite=True) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = np.bytes_("chimera_map")
            g = f.create_group("Chimera").create_group("image1")
            g.attrs["chimera_map_version"] = np.int32(1)
            g.attrs["name"] = np.bytes_(f"{ds.name} {layer}")
            # ChimeraX places grid index (0, 0, 0) at `origin`: the frame's centre of voxel 0
            g.attrs["origin"] = np.asarray(ds.frame.origin_nm, np.float32)
            g.attrs["step"] = np.array(vs.xyz, np.float32)
            for li in [0, *chosen]:
                lev = levels[li]
                name = "data_zyx" if li == 0 else "data_zyx_{}_{}_{}".format(*lev.factor_xyz)
                shape = lev.shape_zyx
                d = g.create_dataset(
                    name,
                    shape=shape,
                    dtype=ids.dtype if ids is not None else vol.dtype,
                    chunks=tuple(min(chunk, s) for s in shape),
                    **_blosc(),
                )
                if li:
                    d.attrs["subsample_spacing"] = np.array(lev.factor_xyz, np.int32)
                step_z = max(1, lev.shard_zyx[0])
                for z0 in range(0, shape[0], step_z):
                    z1 = min(shape[0], z0 + step_z)
                    block = vol.read(Bbox((0, 0, z0), (shape[2], shape[1], z1)), level=li)
                    d[z0:z1] = ids.voxels(block, name) if ids is not None else block
            if ids is not None and table is not None:
                ids.write_attributes(f, table)
        if ids is not None and ids.renumbered:
            ids.write_lookup(lookup_table_path(out))
    ds.record_step(
        "export chimerax", layer=layer, out=str(out), levels=[0, *chosen], renumber=renumber
    )
    return out


def _object_table(ds: Store) -> pd.DataFrame | None:
    path = Layout(ds.path).segment_objects
    if not path.exists():
        return None
    import pandas as pd

    df = pd.read_parquet(path)
    return None if df.empty else df


def _as_uint64(values: Any, what: str) -> np.ndarray:
    """Integer ids as exact uint64 (negative ids are refused)."""
    a = np.asarray(values)
    if a.dtype.kind == "i":
        if a.size and int(a.min()) < 0:
            raise InvalidParameterError(
                f"{what}: negative id {int(a.min())}; ids are non-negative integers"
            )
        return a.astype(np.uint64)
    if a.dtype.kind == "u":
        return a.astype(np.uint64)
    raise InvalidParameterError(f"{what}: ids must be integers, got dtype {a.dtype}")


class _IdPlan:
    """How the ids of one label export are written: kept (each checked) or renumbered."""

    def __init__(
        self, vol: VolumeLayer, table: pd.DataFrame | None, out: Path, *, renumber: bool
    ) -> None:
        self.out = out
        self.renumbered = renumber
        self.segment_ids: np.ndarray | None = None
        self.object_ids: np.ndarray | None = None
        if table is not None:
            seg = _as_uint64(table["segment_id"].to_numpy(), "segment_objects.segment_id")
            obj = _as_uint64(table["object_id"].to_numpy(), "segment_objects.object_id")
        else:
            seg = obj = np.zeros(0, np.uint64)
        if not renumber:
            self.dtype = np.dtype(np.uint32) if vol.dtype.itemsize > 4 else vol.dtype
            if seg.size and int(seg.max()) > MAX_ATTRIBUTE_ID:
                raise InvalidParameterError(
                    f"{out}: segment id {int(seg.max())} is too large for a ChimeraX attribute "
                    f"array (int32, indexed by segment id, at most {MAX_ATTRIBUTE_ID}); pass "
                    "--renumber (renumber=True) to write consecutive ids and the lookup table "
                    f"{lookup_table_path(out).name}"
                )
            if obj.size and int(obj.max()) > INT32_MAX:
                raise InvalidParameterError(
                    f"{out}: object id {int(obj.max())} does not fit ChimeraX's int32 "
                    "attributes; pass --renumber (renumber=True) to write consecutive ids and "
                    f"the lookup table {lookup_table_path(out).name}"
                )
            return
        self.dtype = np.dtype(np.uint32)
        found = [seg]
        lev0 = vol.levels[0]
        shape = lev0.shape_zyx
        step_z = max(1, lev0.shard_zyx[0])
        for z0 in range(0, shape[0], step_z):
            z1 = min(shape[0], z0 + step_z)
            block = vol.read(Bbox((0, 0, z0), (shape[2], shape[1], z1)), level=0)
            found.append(np.unique(_as_uint64(block, f"{vol.name} voxels")))
        allids = np.unique(np.concatenate(found))
        self.segment_ids = allids[allids != 0]
        self.object_ids = np.unique(obj)
        if len(self.segment_ids) > UINT32_MAX:  # pragma: no cover - 4 G distinct segments
            raise InvalidParameterError(f"{out}: more than 2**32 segments cannot be exported")

    def _new(self, ids: np.ndarray, what: str) -> np.ndarray:
        assert self.segment_ids is not None
        n = len(self.segment_ids)
        if n == 0:
            pos_c = np.zeros(ids.shape, np.intp)
            ok = ids == 0
        else:
            pos_c = np.minimum(np.searchsorted(self.segment_ids, ids), n - 1)
            ok = (ids == 0) | (self.segment_ids[pos_c] == ids)
        if not np.all(ok):
            bad = int(ids[~ok][0])
            raise InvalidParameterError(f"{what}: segment id {bad} is not in level 0")
        return np.where(ids == 0, 0, pos_c + 1).astype(np.uint32)

    def voxels(self, block: np.ndarray, name: str) -> np.ndarray:
        """The voxels of ``block`` as written: exact (checked) or renumbered."""
        if self.renumbered:
            flat = _as_uint64(block, f"{name} voxels").ravel()
            uniq, inv = np.unique(flat, return_inverse=True)
            return self._new(uniq, name)[inv].reshape(block.shape)
        if block.dtype == self.dtype:
            return block
        if block.size and (
            int(block.max()) > UINT32_MAX or (block.dtype.kind == "i" and int(block.min()) < 0)
        ):
            bad = int(block.max()) if int(block.max()) > UINT32_MAX else int(block.min())
            raise InvalidParameterError(
                f"{self.out}: segment id {bad} does not fit the 32-bit labels ChimeraX "
                "segmentations use; pass --renumber (renumber=True) to write consecutive ids "
                f"and the lookup table {lookup_table_path(self.out).name}"
            )
        return block.astype(self.dtype)

    def write_attributes(self, f: Any, table: pd.DataFrame) -> None:
        """``/attributes/<kind>``: int32 object id of each (written) segment id."""
        seg = _as_uint64(table["segment_id"].to_numpy(), "segment_id")
        obj = _as_uint64(table["object_id"].to_numpy(), "object_id")
        if self.renumbered:
            assert self.object_ids is not None
            seg = self._new(seg, "segment_objects").astype(np.uint64)
            obj = (np.searchsorted(self.object_ids, obj) + 1).astype(np.uint64)
        max_id = int(seg.max())
        grp = f.create_group("attributes")
        kinds = table["kind"].astype(str).to_numpy()
        for kind in sorted(set(kinds)):
            sel = kinds == kind
            arr = np.zeros(max_id + 1, np.int32)
            arr[seg[sel].astype(np.int64)] = obj[sel].astype(np.int32)
            grp.create_dataset(str(kind), data=arr, **_blosc())
        grp.attrs["maximum_segment_id"] = np.int32(max_id)
        f.attrs["maximum_segment_id"] = np.int32(max_id)

    def write_lookup(self, path: Path) -> None:
        """``what,cmap_id,original_id`` rows (exact decimal integers)."""
        assert self.segment_ids is not None and self.object_ids is not None
        lines = ["what,cmap_id,original_id"]
        lines += [f"segment,{i + 1},{int(v)}" for i, v in enumerate(self.segment_ids)]
        lines += [f"object,{i + 1},{int(v)}" for i, v in enumerate(self.object_ids)]
        write_text_atomic(path, "\n".join(lines) + "\n")


def write_cxc(
    out: str | os.PathLike[str],
    *,
    segmentation: str,
    image: str | None = None,
    kinds: Sequence[str] = (),
) -> Path:
    """Write a ChimeraX command script reproducing the seed commands on exported files."""
    seg = Path(segmentation).name
    lines = ["# connectoscope: ChimeraX commands for the exported maps", f"open {seg}"]
    if "neuron" in kinds:
        lines += ["seg surf #1 each neuron", "close #2", "seg surf #1 where neuron=1 color yellow"]
        if "spinehead" in kinds:
            lines.append("seg color #1 red surf #2 by spinehead")
    if image is not None:
        img = Path(image).name
        lines += ["close", f"open {img} ; open {seg} ; hide #2"]
        for kind, colour in (("dendrite", "red"), ("axon", "lime"), ("spinehead", "blue")):
            if kind in kinds:
                lines.append(f"seg color #2 {colour} map #1 by {kind}")
        lines.append("volume #1 level 95,0 level 120,0.9 level 234,1")
    return write_text_atomic(out, "\n".join(lines) + "\n")
