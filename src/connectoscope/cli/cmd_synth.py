"""``connectoscope synth OUT``: write a synthetic L4dense-style source folder."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_overwrite, add_subcommand, xyz_float, xyz_int

EPILOG = """\
examples:
  connectoscope synth source                      # 28.8 x 28.8 x 21.5 um at 56.2 x 56.2 x 84 nm
  connectoscope synth big --shape 1024,1024,512 --cube 512 --missing 2 --workers 8
  connectoscope synth small --shape 256,256,128 --cube 128 --connectome-synapses 20000
  connectoscope synth source --overwrite --voxel-size 11.24,11.24,28 --shape 512,512,256

OUT gets color/ and segmentation/ folders of x{i}y{j}z{k}.hdf5 cubes (dataset /data,
[z, y, x], uint8 EM and uint32 segment ids with 0 on cell membranes), objects.hdf5 with
/attributes/neuron|axon|dendrite|spinehead, objects.parquet, synapses.parquet (MICrONS
columns, 64-bit root ids, target spine/shaft/soma), cells.parquet, synth.json (counts),
fullres/ (one cube of the same tissue at 11.24 x 11.24 x 28 nm, same layout) and microns/
(a MICrONS-shaped connectome: 2,088,830 synapses from 2,275 proofread cells onto 63,718
cells, with a cell-type table). The same seed and shape give the same bytes.
Then: connectoscope info OUT/segmentation"""


def register(sub: Any) -> None:
    p = add_subcommand(
        sub,
        "synth",
        help="generate realistic synthetic EM, segmentation, objects and synapses",
        description=(
            "Generate a synthetic cortex at real scale in the L4dense cube layout: somata 10-13 "
            "um across with spiny dendrites 1-3 um thick and axons with output boutons, "
            "passing axons (0.1-0.3 um) and dendrites, glia, EM-like grey values, an "
            "over-segmentation, object maps, synapses and cell types, all consistent; a "
            "full-resolution cube of the same tissue; and a MICrONS-shaped connectome."
        ),
        epilog=EPILOG,
    )
    p.add_argument("out", metavar="OUT", help="output folder (created)")
    p.add_argument(
        "--shape",
        type=xyz_int,
        default=(512, 512, 256),
        metavar="X,Y,Z",
        help="overview volume in voxels, each a multiple of --cube (default 512,512,256)",
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
        default=(56.2, 56.2, 84.0),
        metavar="X,Y,Z",
        help="overview voxel size in nm (default 56.2,56.2,84: 5 x 5 x 3 L4dense voxels)",
    )
    p.add_argument(
        "--fullres-cube",
        type=int,
        default=None,
        metavar="N",
        help="edge of the full-resolution (11.24,11.24,28 nm) cube written to OUT/fullres "
        "(default 256 when the voxel size is a multiple of it; 0 for none)",
    )
    p.add_argument(
        "--connectome-synapses",
        type=int,
        default=2_088_830,
        metavar="N",
        help="synapses of the MICrONS-shaped connectome in OUT/microns (default 2088830; "
        "0 for none)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="threads computing blocks at once (default: number of cores; same output for any N)",
    )
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
        fullres_cube=args.fullres_cube,
        connectome_synapses=args.connectome_synapses,
        overwrite=args.overwrite,
        workers=args.workers,
    )
    sx, sy, sz = m.shape_xyz
    print(
        f"wrote {args.out}: {sx}x{sy}x{sz} voxels in {len(m.cubes_present)} cubes of {m.cube}^3 "
        f"({len(m.cubes_missing)} missing)"
    )
    print("objects: " + ", ".join(f"{v} {k}" for k, v in m.counts.items()))
    ext = [s * v / 1000 for s, v in zip(m.shape_xyz, m.voxel_size_nm)]
    print(f"extent {ext[0]:.1f} x {ext[1]:.1f} x {ext[2]:.1f} um at {m.voxel_size_nm} nm")
    print(
        f"segments: {m.n_segments} ({m.n_glia_segments} glia); synapses: {m.n_synapses} "
        f"({m.n_spine_synapses} spine, {m.n_shaft_synapses} shaft, {m.n_soma_synapses} soma); "
        f"cells: {m.n_cells} ({m.n_neurons} with a soma in the volume)"
    )
    if m.fullres:
        f = m.fullres
        print(
            f"full-resolution cube: {args.out}/{f['path']} ({f['cube']}^3 voxels of "
            f"{tuple(f['voxel_size_nm'])} nm at voxel offset {tuple(f['offset_vx'])})"
        )
    if m.connectome:
        c = m.connectome
        print(
            f"connectome: {args.out}/{c['path']} ({c['n_synapses']} synapses, {c['n_pre']} "
            f"proofread x {c['n_post']} cells, {c['n_cells']} neurons in the cell table)"
        )
    print(f"next: connectoscope info {args.out}/segmentation")
    return 0
