"""``connectoscope ingest`` and ``connectoscope cutout``."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import (
    add_overwrite,
    add_parallel_options,
    add_subcommand,
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
            "--voxel-size 16,16,40 --scheduler tcp://127.0.0.1:8786\n"
            "  connectoscope ingest precomputed://https://HOST/layer my.cscope --layer segmentation "
            "--scale 16_16_40 --bbox 0,0,0:512,512,64\n"
            "  connectoscope ingest pinky.npz my.cscope --layer segmentation --voxel-size 16,16,40 "
            "--axes xyz --label-downsampling mode-smallest"
        ),
    )
    p.add_argument(
        "source",
        help="cube folder, FILE.h5[:/path], plane folder, .npy, .npz, a precomputed layer "
        "(PATH, precomputed://file://PATH, http(s)://, gs://, s3://), a webKnossos "
        "DATASET/LAYER or annotation .zip, a remote dataset URL#LAYER",
    )
    p.add_argument("dataset", help="dataset directory (created when missing)")
    p.add_argument("--layer", choices=["image", "segmentation"], default="image")
    p.add_argument("--voxel-size", type=xyz_float, default=None, metavar="X,Y,Z", help="nm")
    p.add_argument(
        "--chunk", type=xyz_positive_int, default=None, metavar="X,Y,Z", help="chunk shape, voxels"
    )
    p.add_argument(
        "--shard", type=xyz_positive_int, default=None, metavar="X,Y,Z", help="shard shape, voxels"
    )
    add_precomputed_options(p, bbox=True)
    p.add_argument(
        "--axes",
        choices=["xyz", "zyx"],
        default=None,
        help=".npy/.npz: the stored array's axis order; required for Fortran-ordered arrays "
        "(seung-lab [x, y, z] files: --axes xyz); default zyx for C-ordered ones",
    )
    p.add_argument(
        "--label-downsampling",
        choices=["countless", "mode-smallest", "mode-first"],
        default="countless",
        help="segmentation pyramid rule: COUNTLESS (default); the mode with ties to the "
        "smallest id (webKnossos/L4dense mags); the mode with ties to the first value",
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
        storage=StorageSpec(
            chunk_xyz=args.chunk,
            shard_xyz=args.shard,
            label_downsampling=args.label_downsampling,
        ),
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


def add_precomputed_options(p: argparse.ArgumentParser, *, bbox: bool) -> None:
    """``--scale``, ``--fill-missing`` (and ``--bbox``) for precomputed/webKnossos sources."""
    p.add_argument(
        "--scale",
        default=None,
        metavar="KEY",
        help="precomputed source: the scale key (e.g. 16_16_40) or resolution X,Y,Z nm; "
        "webKnossos: the mag (1, 2-2-1); default: the finest",
    )
    if bbox:
        p.add_argument(
            "--bbox",
            default=None,
            metavar="X0,Y0,Z0:X1,Y1,Z1",
            help="precomputed/webKnossos source: ingest only this half-open box (voxels of "
            "--scale, the layer's own coordinates as Neuroglancer shows them)",
        )
    p.add_argument(
        "--fill-missing",
        action="store_true",
        help="precomputed source: read missing chunks as 0 instead of failing",
    )
