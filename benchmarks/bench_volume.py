"""Volume store benchmarks, ours vs named references, side by side in one process.

* ingest of a synthetic cube folder vs merely reading + decompressing the same cubes (h5py)
* label compression on pinky40 mip2 and on synthetic segmentation; write and read MB/s
* random 256x256 plane and 128^3 block reads at levels 0 and 2 (median latency)
* label 2x2x1 / 2x2x2 downsampling vs a plain numpy mode; image 2x2x1 / 2x2x2 average vs numpy
* peak RSS of ingesting a large synthetic label volume (default 4 GB; --quick: 256 MB)

    python benchmarks/bench_volume.py [--quick | --smoke]
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
from connectoscope.dataset import Dataset
from connectoscope.sources.synthetic import generate
from connectoscope.testing import load_pinky40
from connectoscope.volume import downsample_image, downsample_labels, ingest, write_layer


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
    ap.add_argument("--quick", action="store_true", help="smaller volumes (about 2 minutes)")
    ap.add_argument("--smoke", action="store_true", help="tiny volumes: checks the script runs")
    ap.add_argument(
        "--big-source",
        type=Path,
        default=None,
        help="an existing `connectoscope synth` folder of the large volume (skips generating it)",
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_volume_"))
    config._values["progress"] = False
    try:
        run(tmp, args.quick or args.smoke, smoke=args.smoke, big_source=args.big_source)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def numpy_average(a: np.ndarray, fz: int) -> np.ndarray:
    """Reference: plain vectorised numpy area average with rounding half up."""
    z, y, x = (s // f for s, f in zip(a.shape, (fz, 2, 2)))
    blocks = a[: z * fz, : y * 2, : x * 2].reshape(z, fz, y, 2, x, 2)
    n = fz * 4
    total = blocks.sum(axis=(1, 3, 5), dtype=np.uint32)
    return ((total + n // 2) // n).astype(a.dtype)


def best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def read_sources_h5py(src: Path) -> int:
    nbytes = 0
    for layer in ("segmentation", "color"):
        for f in sorted((src / layer).glob("*.hdf5")):
            with h5py.File(f, "r") as h:
                nbytes += h["data"][()].nbytes
    return nbytes


def read_sources_ours(src: Path) -> int:
    from connectoscope.sources._readers import open_source

    nbytes = 0
    for layer in ("segmentation", "color"):
        s = open_source(src / layer)
        nbytes += s.read((0, 0, 0), s.shape_zyx).nbytes
    return nbytes


def run(tmp: Path, quick: bool, *, smoke: bool = False, big_source: Path | None = None) -> None:
    shape = (256, 256, 64) if smoke else (256, 256, 128) if quick else (512, 512, 512)
    cube = 64 if smoke else 128 if quick else 256
    generate(tmp / "src", shape_xyz=shape, cube=cube, seed=1, progress=False)
    # warm this process first (imports, compiled kernels from the numba cache): the figures
    # below are throughput, not start-up; a cold `connectoscope ingest` adds a few seconds
    generate(tmp / "warm", shape_xyz=(128, 128, 64), cube=64, seed=3, progress=False)
    ingest(tmp / "warm" / "segmentation", tmp / "w.cscope", layer="segmentation", workers=2)
    ingest(tmp / "warm" / "color", tmp / "w.cscope", layer="image", workers=2)
    # reference: read + decompress every source cube with h5py
    t0 = time.perf_counter()
    nbytes = read_sources_h5py(tmp / "src")
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    read_sources_ours(tmp / "src")
    t_ours_read = time.perf_counter() - t0
    print(
        ratio_line(
            "source read+decompress: our reader (raw chunks, libdeflate)", t_ours_read, t_read, "s"
        )
        + " (reference: h5py)"
    )
    t0 = time.perf_counter()
    ingest(tmp / "src" / "segmentation", tmp / "d.cscope", layer="segmentation", workers=2)
    ds = Dataset(ingest(tmp / "src" / "color", tmp / "d.cscope", layer="image", workers=2).path)
    t_ingest = time.perf_counter() - t0
    print(
        ratio_line(
            "ingest (full pyramid, 2 workers) vs read+decompress sources with h5py",
            t_ingest,
            t_read,
            "s",
        )
        + f" (time ratio ingest/read = {t_ingest / t_read:.2f}, target <= 1.5; "
        f"{nbytes / 1e6:.0f} MB of sources; ingest/our-read = {t_ingest / t_ours_read:.2f})"
    )
    seg_raw = ds.segmentation.dtype.itemsize * ds.segmentation.bbox(0).volume
    seg_disk = store_bytes(ds.path / "volume.ome.zarr" / "labels" / "segmentation" / "0")
    print(
        f"label compression synthetic level 0: {seg_raw / seg_disk:.1f}x "
        f"({seg_disk / 1e6:.1f} MB for {seg_raw / 1e6:.0f} MB)"
    )
    img_raw = ds.image.bbox(0).volume
    img_disk = store_bytes(ds.path / "volume.ome.zarr" / "0")
    print(f"image compression synthetic level 0 (zstd-1): {img_raw / img_disk:.2f}x")

    # pinky40 mip2: compression, write and read throughput
    labels = load_pinky40("mip2") if not quick else load_pinky40("crop")
    pds = cs.Dataset.create(tmp / "p.cscope", voxel_size=(16, 16, 40))
    t0 = time.perf_counter()
    write_layer(pds, "segmentation", labels, kind="segmentation", pyramid=False)
    t_w = time.perf_counter() - t0
    disk = store_bytes(pds.path / "volume.ome.zarr" / "labels" / "segmentation" / "0")
    t0 = time.perf_counter()
    back = pds.segmentation.read()
    t_r = time.perf_counter() - t0
    assert np.array_equal(back, labels)
    chunk = pds.segmentation.levels[0].chunk_zyx
    print(
        f"label compression pinky40 {'crop' if quick else 'mip2'}: ours {labels.nbytes / disk:.1f}x, "
        f"reference ChimeraX lz4hc about 30x, ratio {labels.nbytes / disk / 30:.1f} "
        f"(zstd-1 in {chunk[2]}x{chunk[1]}x{chunk[0]} chunks, no shuffle; goal >= 30x)"
    )
    print(
        f"label write: {labels.nbytes / 1e6 / t_w:.0f} MB/s (one thread); "
        f"label read: {labels.nbytes / 1e6 / t_r:.0f} MB/s (tensorstore)"
    )

    # random plane / block latency at levels 0 and 2
    rng = np.random.default_rng(0)
    for level in (0, min(2, ds.segmentation.num_levels - 1)):
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
            f"read latency level {level} ({x}x{y}x{z}): 256x256 plane median "
            f"{np.median(lat_plane) * 1e3:.1f} ms, 128^3 block median {np.median(lat_block) * 1e3:.1f} ms"
        )

    # downsampling kernels vs plain numpy (ours: best of 3, warm; numpy: one run)
    vol = load_pinky40("crop" if quick else "mip2")
    for fz, name in ((1, "2x2x1"), (2, "2x2x2")):
        downsample_labels(vol[:4], (2, 2, fz))
        t_o = best_of(lambda fz=fz: downsample_labels(vol, (2, 2, fz)))
        ours = downsample_labels(vol, (2, 2, fz))
        t0 = time.perf_counter()
        ref = numpy_mode(vol, fz)
        t_ref = time.perf_counter() - t0
        if fz == 2:
            assert ours.shape == ref.shape
        print(
            ratio_line(
                f"label {name} mode (pinky40, one core)",
                vol.size / t_o / 1e6,
                vol.size / t_ref / 1e6,
                "M voxels/s",
                higher_is_better=True,
            )
        )
    img = ds.image.read()
    for fz, name in ((1, "2x2x1"), (2, "2x2x2")):
        downsample_image(img[:4], (2, 2, fz))
        t_o = best_of(lambda fz=fz: downsample_image(img, (2, 2, fz)))
        t0 = time.perf_counter()
        ref = numpy_average(img, fz)
        t_ref = time.perf_counter() - t0
        ours = downsample_image(img, (2, 2, fz))
        assert np.array_equal(ours[: ref.shape[0], : ref.shape[1], : ref.shape[2]], ref)
        print(
            ratio_line(
                f"image {name} average (synthetic EM uint8, one core)",
                img.size / t_o / 1e6,
                img.size / t_ref / 1e6,
                "M voxels/s",
                higher_is_better=True,
            )
        )

    # peak RSS of a large label ingest, in a fresh process (generated by another one)
    big = (256, 256, 256) if smoke else (1024, 1024, 256) if quick else (1024, 1024, 1024)
    gen = (
        "import sys\n"
        "from pathlib import Path\n"
        "from connectoscope.sources.synthetic import generate\n"
        f"generate(Path(sys.argv[1]) / 's', shape_xyz={big}, cube=256, seed=2, progress=False)\n"
    )
    if big_source is None:
        subprocess.run([sys.executable, "-c", gen, str(tmp)], check=True)
    else:
        (tmp / "s").symlink_to(big_source.resolve())
    # VmHWM is the high-water mark of this process's own memory; ru_maxrss would carry the
    # parent's peak across fork + exec
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from connectoscope import config\n"
        "from connectoscope.volume import ingest\n"
        "config._values['progress'] = False\n"
        "t = time.perf_counter()\n"
        "ingest(Path(sys.argv[1]) / 's' / 'segmentation', Path(sys.argv[1]) / 'b.cscope', "
        "layer='segmentation', workers=2)\n"
        "hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')][0]\n"
        "print(int(hwm.split()[1]) / 1024, time.perf_counter() - t)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp)], capture_output=True, text=True, check=True
    )
    rss, secs = (float(v) for v in out.stdout.split())
    gb = big[0] * big[1] * big[2] * 4 / 2**30
    print(
        f"ingest of a {gb:.1f} GB label volume: peak RSS {rss:.0f} MB (the whole ingest process, "
        f"2 worker threads; target < 1536 MB), {secs:.1f} s cold ({gb * 1073.7 / secs:.0f} MB/s)"
    )
    print(f"peak RSS (this process): {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
