"""Demo step: the seed's pictures (surfaces, a coloured neuron, coloured EM planes, movies)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..dataset import Dataset
from ..render import (
    dataset_levels,
    plane_picture,
    surface_picture,
    turn_frames,
    write_movie,
)
from ..render._scene import selection_legend
from ..segmentation import Selection
from ..surfaces import make_surfaces

if TYPE_CHECKING:  # pragma: no cover
    from ._context import DemoContext


def demo_step(ctx: DemoContext) -> None:

    ds = Dataset(ctx.dataset_path)
    f = ctx.figures
    each = make_surfaces(ds, Selection.parse(each="neuron"), ctx.out / "meshes", level=1)
    ctx.note(
        f"surfaces: {len(each['meshes'])} neurons meshed at level {each['level']} (closed: "
        f"{all(m.is_closed for m in each['meshes'].values())})"
    )
    ctx.add(ctx.out / "meshes", "one PLY surface per neuron (seg surf #1 each neuron)")
    every = list(each["meshes"].values())
    ctx.add(
        surface_picture(every, label="neuron").save(f / "neurons_each.png"),
        "neurons, one palette colour each (legend, scale bar)",
    )
    sel1 = Selection.parse(["neuron=1"], by="spinehead:red", color="yellow")
    # display meshes: simplified within half a voxel edge (the files above keep every face)
    one = make_surfaces(
        ds,
        sel1,
        None,
        level=1,
        precomputed=False,
        simplify_nm="voxel",
    )
    meshes = list(one["meshes"].values())
    legend = selection_legend(sel1, meshes)
    ctx.add(
        surface_picture(meshes, legend=legend).save(f / "neuron1_spineheads.png"),
        "neuron 1 in yellow, spine heads red",
    )
    lv = dataset_levels(ds)
    z, y, x = ds.image.shape_zyx(0)
    by = [("axon", "lime"), ("dendrite", "red"), ("spinehead", "blue")]
    for axis, idx in (("z", z // 2), ("y", y // 2), ("x", x // 2)):
        pic = plane_picture(ds, axis, idx, by=by, levels=lv)
        ctx.add(
            pic.save(f / f"plane_{axis}{idx}.png"),
            f"EM plane {axis}={idx} in true aspect: axon lime, dendrite red, spine head blue",
        )
    turn = turn_frames(meshes, frames=48, size=(960, 720), legend=legend)
    ctx.add(write_movie(turn, f / "neuron1_turn.gif", fps=12), "movie turning around neuron 1")
    nz = ds.image.shape_zyx(1)[0]
    planes = list(range(0, nz, 2))
    frames = [
        plane_picture(ds, "z", i, level=1, by=by, levels=lv, min_size=720).annotated()
        for i in planes
    ]
    ctx.add(write_movie(frames, f / "slice_z.mp4", fps=12), "movie slicing through z (MP4)")
    ctx.next_steps.append(
        f"connectoscope render plane {ds.path} --z 50 --by axon:lime -o plane.png"
    )
