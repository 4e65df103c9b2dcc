"""Demo step: ingest the synthetic cubes into a dataset and export a ChimeraX map."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..export import export_chimerax
from ..volume import VolumeLayer, ingest

if TYPE_CHECKING:  # pragma: no cover
    from ._context import DemoContext


def demo_step(ctx: DemoContext) -> None:
    """Ingest ``ctx.synth_dir/{color,segmentation}`` into ``ctx.dataset_path``; export .cmap."""

    t0 = time.perf_counter()
    ingest(
        ctx.synth_dir / "segmentation", ctx.dataset_path, layer="segmentation", workers=ctx.workers
    )
    ds = ingest(ctx.synth_dir / "color", ctx.dataset_path, layer="image", workers=ctx.workers).store
    dt = time.perf_counter() - t0
    seg = VolumeLayer(ds, "segmentation")
    raw = sum(c.stat().st_size for c in (ctx.synth_dir / "segmentation").glob("*.hdf5"))
    stored = sum(
        f.stat().st_size
        for f in ds.layout.level_array(seg.description["path"], 0).rglob("*")
        if f.is_file()
    )
    nbytes = seg.dtype.itemsize * seg.bbox(0).volume
    ctx.note(
        f"ingested image + segmentation ({2 * seg.bbox(0).volume / 1e6:.0f} M voxels) in {dt:.1f} s; "
        f"{seg.num_levels} levels; segmentation level 0 stored in {stored / 1e6:.1f} MB "
        f"({nbytes / max(stored, 1):.0f}x smaller than raw; source cubes {raw / 1e6:.1f} MB)"
    )
    ctx.add(ds.path, "dataset directory: OME-Zarr 0.5 image + labels pyramid, metadata, provenance")
    cmap = export_chimerax(ds, ctx.out / "segmentation.cmap", layer="segmentation", overwrite=True)
    img = export_chimerax(ds, ctx.out / "segmentation_image.cmap", layer="image", overwrite=True)
    ctx.cmap = cmap
    ctx.cmap_image = img
    ctx.next_steps.append(f"connectoscope info {ds.path}")
    ctx.next_steps.append(
        f"connectoscope cutout {ds.path} --layer segmentation --level 1 --bbox 0,0,0:128,128,32 -o cut.npy"
    )
    ctx.add(cmap, "ChimeraX map of the segmentation with subsampled levels (open in ChimeraX)")
    ctx.add(img, "ChimeraX map of the EM image")
