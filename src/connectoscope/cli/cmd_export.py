"""``connectoscope export chimerax|precomputed``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import add_overwrite, add_subcommand, clean_stale_parts_of, xyz_int


def register(sub: Any) -> None:
    g = add_subcommand(
        sub, "export", help="export a dataset for other tools (ChimeraX, Neuroglancer precomputed)"
    )
    g.set_defaults(_group_parser=g)
    gs = g.add_subparsers(dest="export_kind", metavar="FORMAT")
    p = add_subcommand(
        gs,
        "chimerax",
        help="write a ChimeraX .cmap (HDF5, Blosc lz4hc) with subsamples, attributes and a .cxc",
        description=(
            "Write one layer as a ChimeraX .cmap: data_zyx plus subsampled copies "
            "(data_zyx_i_j_k with subsample_spacing), /attributes/<kind> int32 arrays when the "
            "dataset has object maps, and a .cxc command script next to it that reproduces the "
            "seed ChimeraX commands."
        ),
        epilog=(
            "examples:\n"
            "  connectoscope export chimerax demo.cscope seg.cmap --layer segmentation "
            "--subsamples 2,2,1 4,4,2\n  then in ChimeraX: open seg.cxc"
        ),
    )
    p.add_argument("dataset")
    p.add_argument("out", help="OUT.cmap")
    p.add_argument("--layer", default="segmentation")
    p.add_argument(
        "--subsamples",
        nargs="+",
        type=xyz_int,
        default=None,
        metavar="I,J,K",
        help="subsample spacings x,y,z (default: every pyramid level)",
    )
    p.add_argument(
        "--renumber",
        action="store_true",
        help=(
            "write segment and object ids as 1, 2, 3... (for ids ChimeraX's int32 attributes "
            "cannot hold) and the lookup table OUT.ids.csv"
        ),
    )
    add_overwrite(p)
    p.set_defaults(func=run)
    q = add_subcommand(
        gs,
        "precomputed",
        help="write a layer as a Neuroglancer precomputed volume (sharded; crackle/compresso/"
        "compressed_segmentation labels, raw/jpeg images)",
        description=(
            "Write one layer (every pyramid level a scale) as a Neuroglancer precomputed volume "
            "that Neuroglancer, cloud-volume and tensorstore open: sharded by default, labels "
            "crackle-encoded by default (the smallest; compresso and compressed_segmentation "
            "too), images raw or jpeg. Prints the size and the compression ratio."
        ),
        epilog=(
            "examples:\n"
            "  connectoscope export precomputed demo.cscope seg_precomputed --layer segmentation\n"
            "  connectoscope export precomputed demo.cscope em --layer image --encoding jpeg\n"
            "  then: connectoscope view, or Neuroglancer precomputed://https://HOST/seg_precomputed"
        ),
    )
    q.add_argument("dataset")
    q.add_argument("out", help="output folder (the precomputed layer)")
    q.add_argument("--layer", default="segmentation")
    q.add_argument(
        "--encoding",
        choices=["crackle", "compresso", "compressed_segmentation", "raw", "jpeg"],
        default=None,
        help="labels: crackle (default), compresso, compressed_segmentation, raw; images: raw "
        "(default), jpeg",
    )
    q.add_argument("--unsharded", action="store_true", help="one file per chunk")
    q.add_argument(
        "--chunk", type=xyz_int, default=(64, 64, 64), metavar="X,Y,Z", help="chunk shape, voxels"
    )
    q.add_argument("--levels", type=int, default=None, help="only the finest N levels")
    q.add_argument("--jpeg-quality", type=int, default=90)
    add_overwrite(q)
    q.set_defaults(func=run_precomputed)


def run(args: argparse.Namespace) -> int:
    from ..dataset import Dataset
    from ..export import export_chimerax, lookup_table_path, write_cxc

    ds = Dataset(args.dataset)
    clean_stale_parts_of(args.out)  # what a killed earlier run left beside it
    out = export_chimerax(
        ds,
        args.out,
        layer=args.layer,
        subsamples=args.subsamples,
        overwrite=args.overwrite,
        renumber=args.renumber,
    )
    kinds: list[str] = sorted(ds.layers.get("objects", {}).get("kinds", {}))
    image = None
    if args.layer != "image" and ds.has_layer("image"):
        image = str(Path(out).with_name(Path(out).stem + "_image.cmap"))
    cxc = write_cxc(Path(out).with_suffix(".cxc"), segmentation=str(out), image=image, kinds=kinds)
    size = Path(out).stat().st_size
    print(f"{out}: {size / 1e6:.1f} MB; ChimeraX script {cxc}")
    if args.renumber and lookup_table_path(out).exists():
        print(f"  ids renumbered: {lookup_table_path(out)} maps cmap ids to the original ids")
    if image:
        print(
            f"  the script also opens {image}: write it with "
            f"`connectoscope export chimerax {ds.path} {image} --layer image`"
        )
    return 0


def run_precomputed(args: argparse.Namespace) -> int:
    from ..dataset import Dataset
    from ..export import export_precomputed

    rep = export_precomputed(
        Dataset(args.dataset),
        args.out,
        layer=args.layer,
        encoding=args.encoding,
        sharded=not args.unsharded,
        chunk_xyz=args.chunk,
        levels=args.levels,
        jpeg_quality=args.jpeg_quality,
        overwrite=args.overwrite,
    )
    print(rep)
    print(f"next: connectoscope info {rep.path}")
    return 0
