"""``connectoscope ingest`` and ``connectoscope cutout``."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_overwrite, add_parallel_options, add_subcommand, xyz_float, xyz_int


def register(sub: Any) -> None:
    p = add_subcommand(
        sub,
        "ingest",
        help="convert cubes / HDF5 / image stacks / NPY into a dataset's sharded OME-Zarr pyramid",
        description=(
            "Convert a source volume into one layer of a dataset: a sharded OME-Zarr 0.5 "
            "(Zarr v3) multiscale pyramid. Sources: a folder of L4dense x{i}y{j}z{k}.hdf5 cubes "
            "(missing grid positions read as background and are reported), FILE.h5[:/path], a "
            "folder of PNG/TIFF planes, .npy or .npz. One task per output shard; an interrupted "
            "run resumes when re-run with the same arguments."
        ),
        epilog=(
            "examples:\n"
            "  connectoscope ingest src/color demo.cscope --layer image --voxel-size 11.24,11.24,28\n"
            "  connectoscope ingest src/segmentation demo.cscope --layer segmentation\n"
            "  connectoscope ingest labels.h5:/volumes/labels my.cscope --layer segmentation "
            "--voxel-size 16,16,40 --scheduler tcp://127.0.0.1:8786"
        ),
    )
    p.add_argument("source", help="cube folder, FILE.h5[:/path], plane folder, .npy or .npz")
    p.add_argument("dataset", help="dataset directory (created when missing)")
    p.add_argument("--layer", choices=["image", "segmentation"], default="image")
    p.add_argument("--voxel-size", type=xyz_float, default=None, metavar="X,Y,Z", help="nm")
    p.add_argument(
        "--chunk", type=xyz_int, default=None, metavar="X,Y,Z", help="chunk shape, voxels"
    )
    p.add_argument(
        "--shard", type=xyz_int, default=None, metavar="X,Y,Z", help="shard shape, voxels"
    )
    add_parallel_options(p)
    add_overwrite(p, force=True)
    p.set_defaults(func=run_ingest)


def run_ingest(args: argparse.Namespace) -> int:
    from ..volume import StorageSpec, ingest

    report = ingest(
        args.source,
        args.dataset,
        layer=args.layer,
        voxel_size=args.voxel_size,
        workers=args.workers,
        overwrite=args.overwrite,
        force=args.force,
        storage=StorageSpec(chunk_xyz=args.chunk, shard_xyz=args.shard),
    )
    print(report)
    if report.missing:
        print(f"  missing cubes read as background: {', '.join(report.missing)}")
    if report.skipped:
        print(
            f"  skipped {len(report.skipped)} files whose names are not x{{i}}y{{j}}z{{k}}.hdf5: "
            f"{', '.join(report.skipped)}"
        )
    print(f"next: connectoscope info {report.path}")
    return 0
