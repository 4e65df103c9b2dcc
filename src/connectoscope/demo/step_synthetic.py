"""Demo step: generate the synthetic L4dense-style source folder (first step of the demo)."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from ..sources.synthetic import generate

if TYPE_CHECKING:  # pragma: no cover
    from ._context import DemoContext

__all__ = ["demo_step"]


def demo_step(ctx: DemoContext) -> None:
    """Write ``ctx.synth_dir`` with ``ctx.shape_xyz``, ``ctx.cube`` and ``ctx.seed``."""

    t0 = time.perf_counter()
    # the MICrONS tutorial's 2,088,830 synapses at the default size; a smaller volume (tests)
    # gets a proportionally smaller connectome
    share = min(1.0, math.prod(ctx.shape_xyz) / (512 * 512 * 256))
    m = generate(
        ctx.synth_dir,
        shape_xyz=ctx.shape_xyz,
        cube=ctx.cube,
        seed=ctx.seed,
        overwrite=True,
        progress=False,
        workers=ctx.workers,
        connectome_synapses=max(20_000, round(2_088_830 * share)),
    )
    dt = time.perf_counter() - t0
    d = ctx.synth_dir
    ctx.synth_manifest = m
    sx, sy, sz = m.shape_xyz
    ext = [s * v / 1000 for s, v in zip(m.shape_xyz, m.voxel_size_nm)]
    ctx.note(
        f"synthetic cortex {ext[0]:.1f} x {ext[1]:.1f} x {ext[2]:.1f} um: {sx}x{sy}x{sz} voxels "
        f"of {' x '.join(f'{v:g}' for v in m.voxel_size_nm)} nm in {len(m.cubes_present)} "
        f"cubes of {m.cube}^3, generated in {dt:.1f} s"
    )
    ctx.note(
        "objects: "
        + ", ".join(f"{v} {k}" for k, v in m.counts.items())
        + f"; {m.n_segments} segments ({m.n_glia_segments} glia)"
    )
    ctx.note(
        f"synapses: {m.n_synapses} ({m.n_spine_synapses} on spines, {m.n_shaft_synapses} on "
        f"shafts, {m.n_soma_synapses} on somata); cells: {m.n_cells} ({m.n_neurons} with a "
        "soma in the volume)"
    )
    ctx.add(d, "synthetic source folder in the L4dense layout")
    if m.fullres:
        f = m.fullres
        ctx.note(
            f"full-resolution cube {f['cube']}^3 voxels of "
            f"{' x '.join(f'{v:g}' for v in f['voxel_size_nm'])} nm at voxel offset "
            f"{tuple(f['offset_vx'])} ({f['path']}/)"
        )
        ctx.add(d / f["path"], "the same tissue at full L4dense resolution (one cube)")
    if m.connectome:
        c = m.connectome
        ctx.note(
            f"MICrONS-shaped connectome: {c['n_synapses']} synapses from {c['n_pre']} proofread "
            f"cells onto {c['n_post']} cells ({c['n_cells']} neurons typed)"
        )
        ctx.add(d / c["path"], "MICrONS-shaped connectome: synapses.parquet, cells.parquet")
    ctx.add(d / "color", "EM cubes x{i}y{j}z{k}.hdf5 (/data uint8 [z, y, x])")
    ctx.add(d / "segmentation", "segmentation cubes (/data uint32, 0 on membranes)")
    ctx.add(d / "objects.hdf5", "object maps /attributes/neuron|axon|dendrite|spinehead")
    ctx.add(d / "objects.parquet", "object maps as a table (segment_id, kind, object_id)")
    ctx.add(d / "synapses.parquet", "synapses, MICrONS columns, 64-bit root ids")
    ctx.add(d / "cells.parquet", "cells: type, excitatory/inhibitory, proofreading status")
    ctx.add(d / "synth.json", "manifest: shape, cubes present/missing, counts")
    ctx.next_steps.append(f"connectoscope info {d / 'segmentation'}")
