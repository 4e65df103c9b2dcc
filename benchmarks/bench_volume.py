"""Volume store benchmarks, ours vs named references, side by side in one process.

* ingest of a synthetic cube folder vs merely reading + decompressing the same cubes (h5py)
* label compression on pinky40 mip2 and on synthetic segmentation; write and read MB/s
* random 256x256 plane and 128^3 block reads at levels 0 and 2 (median latency)
* label 2x2x1 / 2x2x2 downsampling vs a plain numpy mode
* peak RSS of ingesting a large synthetic label volume (default 4 GB; --quick: 256 MB)

    python benchmarks/bench_volume.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import connectoscope as cs
from _common import peak_rss_mb, ratio_line
from connectoscope import config
from connectoscope.sources.synthetic import generate
from connectoscope.testing import load_pinky40
from connectoscope.volume import downsample_labels, ingest, write_array


def numpy_mode(a: np.ndarray, fz: int) -> np.ndarray:
    """Reference: plain vectorised mode over each block (sort-based)."""
    z, y, x = (s // f for s, f in zip(a.shape, (fz, 2, 2)))
    blocks = (
        a[: z * fz, : y * 2, : x * 2]
        .reshape(z, fz, y, 2, x, 2)
        .transpose(0, 2, 4, 1, 3, 5)
        .reshape(z, y, x, -1)
    )
    s = np.sort(blocks, axis=-1)
    n = s.shape[-1]
    best = s[..., 0].copy()
    best_n = np.zeros(best.shape, np.int8)
    run = np.ones(best.shape, np.int8)
    for i in range(1, n):
        same = s[..., i] == s[..., i - 1]
        run = np.where(same, run + 1, 1).astype(np.int8)
        upd = run > best_n
        best = np.where(upd, s[..., i], best)
        best_n = np.maximum(best_n, run)
    return best


def store_bytes(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_volume_"))
    config._values["progress"] = False
    try:
        run(tmp, args.quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path, quick: bool) -> None:
    shape = (256, 256, 128) if quick else (512, 512, 512)
    cube = 128 if quick else 256
    generate(tmp / "src", shape_xyz=shape, cube=cube, seed=1, progress=False)
    # reference: read + decompress every source cube
    t0 = time.perf_counter()
    nbytes = 0
    for layer in ("segmentation", "color"):
        for f in sorted((tmp / "src" / layer).glob("*.hdf5")):
            with h5py.File(f, "r") as h:
                nbytes += h["data"][()].nbytes
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    ingest(tmp / "src" / "segmentation", tmp / "d.cscope", layer="segmentation", workers=2)
    ds = ingest(tmp / "src" / "color", tmp / "d.cscope", layer="image", workers=2)
    t_ingest = time.perf_counter() - t0
    print(
        ratio_line(
            "ingest (full pyramid, 2 workers) vs read+decompress sources", t_ingest, t_read, "s"
        )
        + f" (time ratio ingest/read = {t_ingest / t_read:.2f}, target <= 1.5)"
    )
    seg_raw = ds.segmentation.dtype.itemsize * ds.segmentation.bbox(0).volume
    seg_disk = store_bytes(ds.path / "volume.ome.zarr" / "labels" / "segmentation" / "0")
    print(
        f"label compression synthetic level 0: {seg_raw / seg_disk:.1f}x ({seg_disk / 1e6:.1f} MB for {seg_raw / 1e6:.0f} MB)"
    )

    # pinky40 mip2: compression, write and read throughput
    labels = load_pinky40("mip2") if not quick else load_pinky40("crop")
    pds = cs.Dataset.create(tmp / "p.cscope", voxel_size=(16, 16, 40))
    t0 = time.perf_counter()
    write_array(pds, "segmentation", labels, kind="segmentation", pyramid=False)
    t_w = time.perf_counter() - t0
    disk = store_bytes(pds.path / "volume.ome.zarr" / "labels" / "segmentation" / "0")
    t0 = time.perf_counter()
    back = pds.segmentation.read()
    t_r = time.perf_counter() - t0
    assert np.array_equal(back, labels)

    print(
        f"label compression pinky40 {'crop' if quick else 'mip2'}: ours {labels.nbytes / disk:.1f}x "
        f"(zstd-3 in 64^3 chunks, no shuffle; goal >= 30x)"
    )
    print(
        f"label write: {labels.nbytes / 1e6 / t_w:.0f} MB/s (one process); label read: {labels.nbytes / 1e6 / t_r:.0f} MB/s"
    )

    # random plane / block latency at levels 0 and 2
    rng = np.random.default_rng(0)
    for level in (0, 2):
        seg = ds.segmentation
        z, y, x = seg.shape_zyx(level)
        lat_plane, lat_block = [], []
        for _ in range(20):
            zz = int(rng.integers(0, z))
            y0 = int(rng.integers(0, max(1, y - 256)))
            x0 = int(rng.integers(0, max(1, x - 256)))
            b = cs.Bbox((x0, y0, zz), (min(x, x0 + 256), min(y, y0 + 256), zz + 1))
            t0 = time.perf_counter()
            seg.read(b, level=level)
            lat_plane.append(time.perf_counter() - t0)
            z0 = int(rng.integers(0, max(1, z - 128)))
            b = cs.Bbox((x0, y0, z0), (min(x, x0 + 128), min(y, y0 + 128), min(z, z0 + 128)))
            t0 = time.perf_counter()
            seg.read(b, level=level)
            lat_block.append(time.perf_counter() - t0)
        print(
            f"read latency level {level}: 256x256 plane median {np.median(lat_plane) * 1e3:.1f} ms, "
            f"128^3 block median {np.median(lat_block) * 1e3:.1f} ms"
        )

    # downsampling kernels vs a plain numpy mode
    vol = load_pinky40("crop" if quick else "mip2")
    for fz, name in ((1, "2x2x1"), (2, "2x2x2")):
        t0 = time.perf_counter()
        ours = downsample_labels(vol, (2, 2, fz))
        t_o = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = numpy_mode(vol, fz)
        t_ref = time.perf_counter() - t0
        if fz == 2:
            assert np.array_equal(ours.shape, ref.shape)
        print(
            ratio_line(
                f"label {name} mode",
                vol.size / t_o / 1e6,
                vol.size / t_ref / 1e6,
                "M voxels/s",
                higher_is_better=True,
            )
        )

    # peak RSS of a large ingest, in a fresh process
    big = (1024, 1024, 256) if quick else (1024, 1024, 1024)
    code = (
        "import resource, sys, numpy as np\n"
        "from pathlib import Path\n"
        "from connectoscope.sources.synthetic import generate\n"
        "from connectoscope.volume import ingest\n"
        f"generate(Path(sys.argv[1]) / 's', shape_xyz={big}, cube=256, seed=2, progress=False)\n"
        "import gc; gc.collect()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "ingest(Path(sys.argv[1]) / 's' / 'segmentation', Path(sys.argv[1]) / 'b.cscope', layer='segmentation', workers=2)\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(before / 1024, kids / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp)], capture_output=True, text=True, check=True
    )
    gen_rss, worker_rss = (float(v) for v in out.stdout.split())
    gb = big[0] * big[1] * big[2] * 4 / 2**30
    print(
        f"ingest of a {gb:.1f} GB label volume: peak RSS per worker process {worker_rss:.0f} MB "
        f"(target < 1.5 GB; the generator before it peaked at {gen_rss:.0f} MB)"
    )
    print(f"peak RSS (this process): {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
