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

import numpy as np

from .._store import Store
from ..errors import DatasetExistsError, InvalidParameterError
from ..geometry import Bbox
from ..volume import VolumeLayer

__all__ = ["export_chimerax", "write_cxc"]


def _blosc() -> dict[str, object]:
    import hdf5plugin

    return dict(hdf5plugin.Blosc(cname="lz4hc", clevel=5, shuffle=hdf5plugin.Blosc.NOSHUFFLE))


def export_chimerax(
    dataset: Store | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    layer: str = "segmentation",
    subsamples: Sequence[Sequence[int]] | None = None,
    overwrite: bool = False,
    chunk: int = 64,
) -> Path:
    """Write one layer (all requested levels) as a ChimeraX ``.cmap`` file.

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
        Replace an existing file.
    chunk : int
        Edge of the HDF5 cube chunks.

    Returns
    -------
    Path
        The written file.
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
            chosen.append(by_factor[f])  # type: ignore[index]
    tmp = out.with_name(f".{out.name}.part")
    vs = ds.voxel_size
    try:
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
                    dtype=vol.dtype,
                    chunks=tuple(min(chunk, s) for s in shape),
                    **_blosc(),  # type: ignore[arg-type]
                )
                if li:
                    d.attrs["subsample_spacing"] = np.array(lev.factor_xyz, np.int32)
                step_z = max(1, lev.shard_zyx[0])
                for z0 in range(0, shape[0], step_z):
                    z1 = min(shape[0], z0 + step_z)

                    d[z0:z1] = vol.read(Bbox((0, 0, z0), (shape[2], shape[1], z1)), level=li)
            _write_attributes(f, ds)
        os.replace(tmp, out)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    ds.record_step("export chimerax", layer=layer, out=str(out), levels=[0, *chosen])
    return out


def _write_attributes(f: object, ds: Store) -> None:
    table = ds.layout.segment_objects
    if not table.exists():
        return
    import pandas as pd

    df = pd.read_parquet(table)
    if df.empty:
        return
    max_id = int(df["segment_id"].max())
    grp = f.create_group("attributes")  # type: ignore[attr-defined]
    for kind, sub in df.groupby("kind", sort=True):
        arr = np.zeros(max_id + 1, np.int32)
        arr[sub["segment_id"].to_numpy(np.int64)] = sub["object_id"].to_numpy(np.int64)
        grp.create_dataset(str(kind), data=arr, **_blosc())
    grp.attrs["maximum_segment_id"] = np.int32(max_id)
    f.attrs["maximum_segment_id"] = np.int32(max_id)  # type: ignore[attr-defined]


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
    p = Path(out)
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p
