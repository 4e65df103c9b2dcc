"""``connectoscope ingest`` and ``connectoscope cutout``."""

from __future__ import annotations

import argparse
from pathlib import Path
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
            "--voxel-size 16,16,40 --scheduler tcp://127.0.0.1:8786\n"
            "  connectoscope ingest precomputed://https://HOST/layer my.cscope --layer segmentation "
            "--scale 16_16_40 --bbox 0,0,0:512,512,64"
        ),
    )
    p.add_argument(
        "source",
        help="cube folder, FILE.h5[:/path], plane folder, .npy, .npz, or a precomputed layer "
        "(PATH, precomputed://file://PATH, http(s)://, gs://, s3://)",
    )
    p.add_argument("dataset", help="dataset directory (created when missing)")
    p.add_argument("--layer", choices=["image", "segmentation"], default="image")
    p.add_argument("--voxel-size", type=xyz_float, default=None, metavar="X,Y,Z", help="nm")
    p.add_argument(
        "--chunk", type=xyz_int, default=None, metavar="X,Y,Z", help="chunk shape, voxels"
    )
    p.add_argument(
        "--shard", type=xyz_int, default=None, metavar="X,Y,Z", help="shard shape, voxels"
    )
    _add_precomputed_options(p, bbox=True)
    p.add_argument(
        "--axes",
        choices=["xyz", "zyx"],
        default=None,
        help=".npy/.npz: the stored array's axis order; required for Fortran-ordered arrays "
        "(seung-lab [x, y, z] files: --axes xyz); default zyx for C-ordered ones",
    )
    add_parallel_options(p)
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
    c.add_argument("dataset", help="dataset, or a precomputed layer path/URL")
    c.add_argument("--layer", default="image", help="image, segmentation or another layer")
    c.add_argument(
        "--bbox",
        default=None,
        metavar="X0,Y0,Z0:X1,Y1,Z1",
        help="half-open box in voxels of --level (default: the whole level)",
    )
    c.add_argument("--level", type=int, default=0)
    _add_precomputed_options(c, bbox=False)
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
        overwrite=args.overwrite,
        force=args.force,
        chunk_xyz=args.chunk,
        shard_xyz=args.shard,
        scale=args.scale,
        bbox=args.bbox,
        fill_missing=args.fill_missing,
        axes=args.axes,
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

    from .._store import is_dataset
    from ..dataset import Dataset
    from ..errors import DatasetExistsError, InvalidParameterError
    from ..geometry import Bbox
    from ..sources._precomputed import looks_like_precomputed

    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise DatasetExistsError(f"{out}: exists; pass --overwrite to replace it")
    bbox = Bbox.parse(args.bbox) if args.bbox else None
    voxel_size: tuple[float, ...]
    if not is_dataset(args.dataset) and looks_like_precomputed(args.dataset):
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
    suffix = out.suffix.lower()
    if suffix == ".npy":
        np.save(out, arr)
    elif suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(out, "w") as f:
            d = f.create_dataset("data", data=arr, compression="gzip")
            d.attrs["axes"] = "zyx"
            d.attrs["voxel_size_nm_xyz"] = voxel_size
    elif suffix in (".tif", ".tiff"):
        import tifffile

        tifffile.imwrite(out, arr)
    else:
        raise InvalidParameterError(f"{out}: output must end in .npy, .h5 or .tif")
    print(f"{out}: {arr.shape} [z, y, x] {arr.dtype}")
    return 0


def _add_precomputed_options(p: argparse.ArgumentParser, *, bbox: bool) -> None:
    """``--scale``, ``--fill-missing`` (and ``--bbox``) for precomputed sources."""
    p.add_argument(
        "--scale",
        default=None,
        metavar="KEY",
        help="precomputed source: the scale key (e.g. 16_16_40) or resolution X,Y,Z nm "
        "(default: the finest)",
    )
    if bbox:
        p.add_argument(
            "--bbox",
            default=None,
            metavar="X0,Y0,Z0:X1,Y1,Z1",
            help="precomputed source: ingest only this half-open box (voxels of --scale, the "
            "layer's own coordinates as Neuroglancer shows them)",
        )
    p.add_argument(
        "--fill-missing",
        action="store_true",
        help="precomputed source: read missing chunks as 0 instead of failing",
    )
