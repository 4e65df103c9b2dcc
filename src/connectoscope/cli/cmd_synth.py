"""``connectoscope synth OUT``: write a synthetic L4dense-style source folder."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_overwrite, add_subcommand, xyz_float, xyz_int

EPILOG = """\
examples:
  connectoscope synth source --shape 512,512,256 --cube 256 --seed 0
  connectoscope synth big --shape 2048,2048,1024 --cube 1024 --missing 2 --workers 8
  connectoscope synth source --overwrite --voxel-size 11.24,11.24,28

OUT gets color/ and segmentation/ folders of x{i}y{j}z{k}.hdf5 cubes (dataset /data,
[z, y, x], uint8 EM and uint32 segment ids with 0 on membranes), objects.hdf5 with
/attributes/neuron|axon|dendrite|spinehead, objects.parquet, synapses.parquet (MICrONS
columns, 64-bit root ids), cells.parquet and synth.json (counts). The same seed and shape
give the same bytes. Then: connectoscope info OUT/segmentation"""


def register(sub: Any) -> None:
    p = add_subcommand(
        sub,
        "synth",
        help="generate realistic synthetic EM, segmentation, objects and synapses",
        description=(
            "Generate a synthetic cortex-like volume in the L4dense cube layout: somata with "
            "spiny dendrites, thin axons with boutons and glia, EM-like grey values, an "
            "over-segmentation, object maps, synapses and cell types, all consistent."
        ),
        epilog=EPILOG,
    )
    p.add_argument("out", metavar="OUT", help="output folder (created)")
    p.add_argument(
        "--shape",
        type=xyz_int,
        default=(512, 512, 256),
        metavar="X,Y,Z",
        help="volume size in voxels, each a multiple of --cube (default 512,512,256)",
    )
    p.add_argument(
        "--cube",
        type=int,
        default=256,
        metavar="N",
        help="cube edge in voxels (default 256; L4dense: 1024)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--missing",
        type=int,
        default=0,
        metavar="K",
        help="leave K cube positions (chosen from the seed) without files (default 0)",
    )
    p.add_argument(
        "--voxel-size",
        type=xyz_float,
        default=(11.24, 11.24, 28.0),
        metavar="X,Y,Z",
        help="voxel size in nm (default 11.24,11.24,28 as L4dense)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="threads computing blocks at once (default: number of cores; same output for any N)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_overwrite(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..sources.synthetic import generate

    m = generate(
        args.out,
        shape_xyz=args.shape,
        cube=args.cube,
        seed=args.seed,
        voxel_size=args.voxel_size,
        missing=args.missing,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        workers=args.workers,
    )
    sx, sy, sz = m.shape_xyz
    print(
        f"wrote {args.out}: {sx}x{sy}x{sz} voxels in {len(m.cubes_present)} cubes of {m.cube}^3 "
        f"({len(m.cubes_missing)} missing)"
    )
    print("objects: " + ", ".join(f"{v} {k}" for k, v in m.counts.items()))
    print(
        f"segments: {m.n_segments} ({m.n_glia_segments} glia); synapses: {m.n_synapses} "
        f"({m.n_spine_synapses} spine, {m.n_shaft_synapses} shaft); cells: {m.n_cells} "
        f"({m.n_neurons} with a soma in the volume)"
    )
    print(f"next: connectoscope info {args.out}/segmentation")
    return 0
