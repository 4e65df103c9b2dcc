"""Benchmark of the synthetic data generator.

Usage: ``python benchmarks/bench_synth.py [--quick] [--big]``

Prints ``name: ours X, reference Y, ratio R`` lines. There is no other generator of this
data to compare with, so the reference is the floor any generator pays: writing the same
cube files (same dtypes, chunks and compression) with h5py from arrays already in memory; for
the MICrONS-shaped connectome, writing the same two tables with pandas from memory.
``--big`` also times one 1024^3 cube (about 2 minutes).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import h5py
import pandas as pd

from connectoscope.sources import CubeFolder
from connectoscope.sources.synthetic import generate
from connectoscope.sources.synthetic._microns import write_microns_connectome
from connectoscope.sources.synthetic._writer import SEG_GZIP_LEVEL

#: the volume benchmark times the overview cubes only (the reference writes those)
VOLUME_ONLY = {"fullres_cube": 0, "connectome_synapses": 0}


def _write_reference(src: Path, dst: Path) -> float:
    """Seconds to write the cubes of ``src`` again with the generator's HDF5 settings
    (one cube in memory at a time; reading is not timed)."""
    total = 0.0
    for layer in ("color", "segmentation"):
        (dst / layer).mkdir(parents=True, exist_ok=True)
        for c in CubeFolder(src / layer):
            a = c.read()
            n = a.shape[0]
            chunks = (min(n, 64), min(n, 128), min(n, 128))
            kw = (
                {"compression": "gzip", "compression_opts": SEG_GZIP_LEVEL}
                if layer == "segmentation"
                else {}
            )
            t0 = time.perf_counter()
            with h5py.File(dst / layer / c.path.name, "w") as f:
                f.create_dataset("data", data=a, chunks=chunks, **kw)
            total += time.perf_counter() - t0
            del a
    return total


def run(shape: tuple[int, int, int], cube: int, tmp: Path) -> None:
    out = tmp / f"synth_{cube}"
    generate(
        tmp / "warm", shape_xyz=(64, 64, 64), cube=64, progress=False, overwrite=True, **VOLUME_ONLY
    )
    t0 = time.perf_counter()
    m = generate(
        out, shape_xyz=shape, cube=cube, seed=0, progress=False, overwrite=True, workers=1,
        **VOLUME_ONLY,
    )  # fmt: skip
    ours = time.perf_counter() - t0
    ref = _write_reference(out, tmp / f"ref_{cube}")
    vox = shape[0] * shape[1] * shape[2]
    name = f"synth {shape[0]}x{shape[1]}x{shape[2]} cube {cube}"
    print(
        f"{name}: ours {ours:.2f} s, reference {ref:.2f} s (h5py write of the same cubes), "
        f"ratio {ours / ref:.2f}; {vox / ours / 1e6:.1f} M voxels/s; "
        f"{m.n_segments} segments, {m.n_synapses} synapses"
    )
    shutil.rmtree(out)
    shutil.rmtree(tmp / f"ref_{cube}")


def run_connectome(n_synapses: int, tmp: Path) -> None:
    """Time the MICrONS-shaped connectome against writing the same tables from memory."""
    out = tmp / "microns"
    t0 = time.perf_counter()
    info = write_microns_connectome(out, n_synapses=n_synapses, seed=0)
    ours = time.perf_counter() - t0
    syn = pd.read_parquet(out / "synapses.parquet")
    cells = pd.read_parquet(out / "cells.parquet")
    t0 = time.perf_counter()
    syn.to_parquet(tmp / "ref_syn.parquet", index=False)
    cells.to_parquet(tmp / "ref_cells.parquet", index=False)
    ref = time.perf_counter() - t0
    print(
        f"microns connectome {info['n_synapses']} synapses, {info['n_pre']} x {info['n_post']}: "
        f"ours {ours:.2f} s, reference {ref:.2f} s (pandas write of the same tables), "
        f"ratio {ours / ref:.2f}; {info['n_pairs']} connected pairs"
    )
    shutil.rmtree(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="tiny volume (for the test suite)")
    p.add_argument("--big", action="store_true", help="also one 1024^3 cube")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.quick:
            run((128, 128, 64), 64, tmp)
            run_connectome(20_000, tmp)
        else:
            run((512, 512, 256), 256, tmp)
            run_connectome(2_088_830, tmp)
            if args.big:
                run((1024, 1024, 1024), 1024, tmp)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {rss:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
