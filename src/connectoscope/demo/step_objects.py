"""Demo step: import the synthetic object maps and count objects of each kind."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..dataset import Dataset
from ..export import export_chimerax, write_cxc
from ..segmentation import import_objects, map_segmentation, object_stats

if TYPE_CHECKING:  # pragma: no cover
    from ._context import DemoContext


def demo_step(ctx: DemoContext) -> None:

    ds = Dataset(ctx.dataset_path)
    import_objects(ds, ctx.synth_dir / "objects.hdf5")
    r = object_stats(ds, components=True)
    counts = ", ".join(f"{k}: {v['objects']}" for k, v in r["kinds"].items())
    ctx.note(
        f"objects per kind: {counts}; {r['segments']} segments in the volume "
        f"({r['split_segments']} in more than one connected piece)"
    )
    if "neuron" in ds.objects.kinds:
        layer = map_segmentation(ds, "neuron")
        ctx.note(f"mapped segmentation: layer {layer.name} ({layer.num_levels} levels)")
    ctx.add(ds.layout.objects, "object maps and per-segment / per-object tables (Parquet)")
    if ctx.cmap is not None:
        cmap = export_chimerax(ds, ctx.cmap, layer="segmentation", overwrite=True)
        cxc = write_cxc(
            ctx.out / "seed_commands.cxc",
            segmentation=str(cmap),
            image=str(ctx.cmap_image),
            kinds=ds.objects.kinds,
        )
        ctx.add(cxc, "ChimeraX script with the seed commands (seg surf each neuron, ...)")
