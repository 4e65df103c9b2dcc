"""Demo step: the seed's pictures (surfaces, a coloured neuron, coloured EM planes, movies)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..demo import DemoContext


def demo_step(ctx: DemoContext) -> None:
    from ..dataset import Dataset
    from ..segmentation import Selection
    from ..surfaces import make_surfaces
    from . import (
        parse_levels,
        render_dataset_plane,
        render_meshes,
        save_png,
        turn_frames,
        write_movie,
    )

    ds = Dataset(ctx.dataset_path)
    f = ctx.figures
    each = make_surfaces(ds, Selection.parse(each="neuron"), ctx.out / "meshes", level=1)
    ctx.note(
        f"surfaces: {len(each['meshes'])} neurons meshed at level {each['level']} (closed: "
        f"{all(m.is_closed for m in each['meshes'].values())})"
    )
    ctx.add(ctx.out / "meshes", "one PLY surface per neuron (seg surf #1 each neuron)")
    ctx.add(
        save_png(render_meshes(list(each["meshes"].values())), f / "neurons_each.png"),
        "neurons, one colour each",
    )
    one = make_surfaces(
        ds,
        Selection.parse(["neuron=1"], by="spinehead:red", color="yellow"),
        None,
        level=1,
        precomputed=False,
    )
    meshes = list(one["meshes"].values())
    ctx.add(
        save_png(render_meshes(meshes), f / "neuron1_spineheads.png"),
        "neuron 1 in yellow, spine heads red",
    )
    lv = parse_levels(["95,0", "120,0.9", "234,1"])
    z, y, x = ds.image.shape_zyx(0)
    by = [("axon", "lime"), ("dendrite", "red"), ("spinehead", "blue")]
    for axis, idx in (("z", z // 2), ("y", y // 2), ("x", x // 2)):
        img = render_dataset_plane(ds, axis, idx, by=by, levels=lv)
        ctx.add(
            save_png(img, f / f"plane_{axis}{idx}.png"),
            f"EM plane {axis}={idx}: axon lime, dendrite red, spine head blue",
        )
    write_movie(turn_frames(meshes, frames=24, size=(360, 270)), f / "neuron1_turn.gif", fps=8)
    ctx.add(f / "neuron1_turn.gif", "movie turning around neuron 1")
    z1 = ds.image.shape_zyx(1)[0]  # level 1 may halve z too (near-isotropic voxels)
    frames = [
        render_dataset_plane(ds, "z", int(i), level=1, by=by, levels=lv)
        for i in range(0, z1, max(1, z1 // 24))
    ]
    ctx.add(write_movie(frames, f / "slice_z.mp4", fps=8), "movie slicing through z (MP4)")
    ctx.next_steps.append(
        f"connectoscope render plane {ds.path} --z 50 --by axon:lime -o plane.png"
    )
