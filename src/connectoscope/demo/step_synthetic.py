"""Demo step: generate the synthetic L4dense-style source folder (first step of the demo)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..sources.synthetic import generate

if TYPE_CHECKING:  # pragma: no cover
    from ._context import DemoContext

__all__ = ["demo_step"]


def demo_step(ctx: DemoContext) -> None:
    """Write ``ctx.synth_dir`` with ``ctx.shape_xyz``, ``ctx.cube`` and ``ctx.seed``."""

    t0 = time.perf_counter()
    m = generate(
        ctx.synth_dir,
        shape_xyz=ctx.shape_xyz,
        cube=ctx.cube,
        seed=ctx.seed,
        overwrite=True,
        progress=False,
        workers=ctx.workers,
    )
    dt = time.perf_counter() - t0
    d = ctx.synth_dir
    ctx.synth_manifest = m
    sx, sy, sz = m.shape_xyz
    ctx.note(
        f"synthetic volume {sx}x{sy}x{sz} voxels in {len(m.cubes_present)} cubes of {m.cube}^3, "
        f"generated in {dt:.1f} s"
    )
    ctx.note(
        "objects: "
        + ", ".join(f"{v} {k}" for k, v in m.counts.items())
        + f"; {m.n_segments} segments ({m.n_glia_segments} glia)"
    )
    ctx.note(
        f"synapses: {m.n_synapses} ({m.n_spine_synapses} on spines, {m.n_shaft_synapses} on "
        f"shafts); cells: {m.n_cells} ({m.n_neurons} with a soma in the volume)"
    )
    ctx.add(d, "synthetic source folder in the L4dense layout")
    ctx.add(d / "color", "EM cubes x{i}y{j}z{k}.hdf5 (/data uint8 [z, y, x])")
    ctx.add(d / "segmentation", "segmentation cubes (/data uint32, 0 on membranes)")
    ctx.add(d / "objects.hdf5", "object maps /attributes/neuron|axon|dendrite|spinehead")
    ctx.add(d / "objects.parquet", "object maps as a table (segment_id, kind, object_id)")
    ctx.add(d / "synapses.parquet", "synapses, MICrONS columns, 64-bit root ids")
    ctx.add(d / "cells.parquet", "cells: type, excitatory/inhibitory, proofreading status")
    ctx.add(d / "synth.json", "manifest: shape, cubes present/missing, counts")
    ctx.next_steps.append(f"connectoscope info {d / 'segmentation'}")
