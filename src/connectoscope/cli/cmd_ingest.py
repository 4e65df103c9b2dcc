"""``connectoscope ingest`` and ``connectoscope cutout``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import (
    add_overwrite,
    add_parallel_options,
    add_subcommand,
    clean_stale_parts_of,
    parse_bbox_option,
    xyz_float,
    xyz_positive_int,
)


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
        "--chunk", type=xyz_positive_int, default=None, metavar="X,Y,Z", help="chunk shape, voxels"
    )
    p.add_argument(
        "--shard", type=xyz_positive_int, default=None, metavar="X,Y,Z", help="shard shape, voxels"
    )
    add_parallel_options(p)
    p.add_argument(
        "--local",
        choices=["threads", "processes"],
        default="threads",
        help="without --scheduler: Dask's local threads (default) or a pool of processes",
    )
    add_overwrite(p, force=True)
    p.set_defaults(func=run_ingest)

    c = add_subcommand(
        sub,
        "cutout",
        help="write a region of a layer at any level to .npy, .h5 or .tif",
        description="Read a box of one layer at one pyramid level and save it ([z, y, x]).",
        epilog=(
            "examples:\n"
            "  connectoscope cutout demo.cscope --layer segmentation --bbox 0,0,0:256,256,64 -o cut.npy\n"
            "  connectoscope cutout demo.cscope --level 2 -o whole_level2.tif"
        ),
    )
    c.add_argument("dataset")
    c.add_argument("--layer", default="image", help="image, segmentation or another layer")
    c.add_argument(
        "--bbox",
        default=None,
        metavar="X0,Y0,Z0:X1,Y1,Z1",
        help="half-open box in voxels of --level (default: the whole level)",
    )
    c.add_argument("--level", type=int, default=0)
    c.add_argument("-o", "--output", required=True, help="out.npy, out.h5 or out.tif")
    add_overwrite(c)
    c.set_defaults(func=run_cutout)


def run_ingest(args: argparse.Namespace) -> int:
    from ..volume import ingest

    report = ingest(
        args.source,
        args.dataset,
        layer=args.layer,
        voxel_size=args.voxel_size,
        workers=args.workers,
        scheduler=args.scheduler,
        local=args.local,
        overwrite=args.overwrite,
        force=args.force,
        chunk_xyz=args.chunk,
        shard_xyz=args.shard,
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


def run_cutout(args: argparse.Namespace) -> int:
    import numpy as np

    from .._atomic import atomic_path
    from ..dataset import Dataset
    from ..errors import DatasetExistsError, InvalidParameterError

    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise DatasetExistsError(f"{out}: exists; pass --overwrite to replace it")
    suffix = out.suffix.lower()
    if suffix not in (".npy", ".h5", ".hdf5", ".tif", ".tiff"):
        raise InvalidParameterError(f"{out}: output must end in .npy, .h5 or .tif")
    ds = Dataset(args.dataset)
    bbox = parse_bbox_option(args.bbox) if args.bbox else None
    arr = ds.volume(args.layer).read(bbox, level=args.level)
    # written under a temporary name and renamed when complete (--overwrite replaces the old
    # file only then); a failure (full disk) leaves the old file or nothing
    clean_stale_parts_of(out)  # what a killed earlier run left beside it
    with atomic_path(out) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as fh:
                np.save(fh, arr)
        elif suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(tmp, "w") as f:
                d = f.create_dataset("data", data=arr, compression="gzip")
                d.attrs["axes"] = "zyx"
                d.attrs["voxel_size_nm_xyz"] = ds.volume(args.layer).voxel_size(args.level).xyz
        else:
            import tifffile

            tifffile.imwrite(tmp, arr)
    print(f"{out}: {arr.shape} [z, y, x] {arr.dtype}")
    return 0
