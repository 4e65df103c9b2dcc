"""``connectoscope cutout``: a region of one layer at any level, to .npy, .h5 or .tif."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import add_overwrite, add_subcommand


def register(sub: Any) -> None:
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


def run_cutout(args: argparse.Namespace) -> int:
    import numpy as np

    from ..dataset import Dataset
    from ..errors import DatasetExistsError, InvalidParameterError
    from ..geometry import Bbox

    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise DatasetExistsError(f"{out}: exists; pass --overwrite to replace it")
    ds = Dataset(args.dataset)
    bbox = Bbox.parse(args.bbox) if args.bbox else None
    arr = ds.volume(args.layer).read(bbox, level=args.level)
    suffix = out.suffix.lower()
    if suffix == ".npy":
        np.save(out, arr)
    elif suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(out, "w") as f:
            d = f.create_dataset("data", data=arr, compression="gzip")
            d.attrs["axes"] = "zyx"
            d.attrs["voxel_size_nm_xyz"] = ds.volume(args.layer).voxel_size(args.level).xyz
    elif suffix in (".tif", ".tiff"):
        import tifffile

        tifffile.imwrite(out, arr)
    else:
        raise InvalidParameterError(f"{out}: output must end in .npy, .h5 or .tif")
    print(f"{out}: {arr.shape} [z, y, x] {arr.dtype}")
    return 0
