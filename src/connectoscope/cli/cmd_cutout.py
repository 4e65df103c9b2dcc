"""``connectoscope cutout``: a region of one layer at any level, to .npy, .h5 or .tif."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import add_overwrite, add_subcommand, clean_stale_parts_of, parse_bbox_option
from .cmd_ingest import add_precomputed_options


def register(sub: Any) -> None:
    c = add_subcommand(
        sub,
        "cutout",
        help="write a region of a layer at any level to .npy, .h5 or .tif",
        description="Read a box of one layer at one pyramid level and save it ([z, y, x]).",
        epilog=(
            "examples:\n"
            "  connectoscope cutout demo.cscope --layer segmentation --bbox 0,0,0:256,256,64 -o cut.npy\n"
            "  connectoscope cutout demo.cscope --level 2 -o whole_level2.tif\n"
            "  connectoscope cutout precomputed://https://HOST/seg --scale 16_16_40 "
            "--bbox 0,0,0:256,256,64 -o cut.npy"
        ),
    )
    c.add_argument(
        "dataset",
        help="dataset (local, or a dataset we wrote served at http(s)://, s3://, gs://), or a "
        "precomputed layer path/URL",
    )
    c.add_argument("--layer", default="image", help="image, segmentation or another layer")
    c.add_argument(
        "--bbox",
        default=None,
        metavar="X0,Y0,Z0:X1,Y1,Z1",
        help="half-open box in voxels of --level (default: the whole level)",
    )
    c.add_argument("--level", type=int, default=0)
    add_precomputed_options(c, bbox=False)
    c.add_argument("-o", "--output", required=True, help="out.npy, out.h5 or out.tif")
    add_overwrite(c)
    c.set_defaults(func=run_cutout)


def run_cutout(args: argparse.Namespace) -> int:
    import numpy as np

    from .._store import is_dataset
    from ..dataset import Dataset
    from ..errors import DatasetExistsError, InvalidParameterError
    from ..sources._precomputed import looks_like_precomputed

    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise DatasetExistsError(f"{out}: exists; pass --overwrite to replace it")
    suffix = out.suffix.lower()
    if suffix not in (".npy", ".h5", ".hdf5", ".tif", ".tiff"):
        raise InvalidParameterError(f"{out}: output must end in .npy, .h5 or .tif")
    bbox = parse_bbox_option(args.bbox) if args.bbox else None
    voxel_size: tuple[float, ...]
    from .._kvstore import is_url
    from ..sources._remote_dataset import is_remote_dataset, open_remote_dataset

    if is_url(args.dataset) and is_remote_dataset(args.dataset):
        rd = open_remote_dataset(args.dataset)
        arr = rd.read(args.layer, bbox, level=args.level)
        voxel_size = tuple(rd.level_spec(args.layer, args.level)["voxel_size_nm"])
    elif not is_dataset(args.dataset) and looks_like_precomputed(args.dataset):
        from ..sources._precomputed import open_precomputed

        src = open_precomputed(
            args.dataset, scale=args.scale, bbox=bbox, fill_missing=args.fill_missing
        )
        arr = src.read((0, 0, 0), src.shape_zyx)
        voxel_size = src.voxel_size_nm
    else:
        ds = Dataset(args.dataset)
        arr = ds.volume(args.layer).read(bbox, level=args.level)
        voxel_size = ds.volume(args.layer).voxel_size(args.level).xyz
    from .._atomic import atomic_path

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
                d.attrs["voxel_size_nm_xyz"] = voxel_size
        else:
            import tifffile

            tifffile.imwrite(tmp, arr)
    print(f"{out}: {arr.shape} [z, y, x] {arr.dtype}")
    return 0
