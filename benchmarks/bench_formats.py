"""Foreign-format benchmarks, ours vs the reference tools, side by side in one process.

* a cutout from a precomputed layer served over 127.0.0.1 HTTP: ours vs cloud-volume reading the
  same box (time, requests and bytes moved), for a compresso layer (our chunk decoder) and a
  compressed_segmentation layer (tensorstore's driver), both sharded
* .npz vs .npy ingest of the same array (the .npz member decompressed once)
* reading a sharded annotation layer of 10^6 points: ours vs Neuroglancer's Python
  AnnotationReader (every annotation, through the spatial index)
* pinky40 export sizes: crackle / compresso / compressed_segmentation precomputed vs our
  OME-Zarr store (zstd-1)

    python benchmarks/bench_formats.py [--quick | --smoke]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("CONNECTOSCOPE_PROGRESS", "0")
sys.path.insert(0, str(Path(__file__).parent))
from _common import peak_rss_mb, ratio_line
from connectoscope import Dataset
from connectoscope.testing import load_pinky40
from connectoscope.testing.servers import StaticHTTPServer


def _cold() -> None:
    """Forget every cached tensorstore handle, kvstore and context (cold caches)."""
    from connectoscope import _kvstore
    from connectoscope.sources import _precomputed

    _kvstore._CTX.clear()
    _kvstore._KV.clear()
    _precomputed._TS_CACHE.clear()


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_cutout(work: Path, seg_zyx: np.ndarray, box: tuple[int, int, int], repeat: int) -> None:
    from cloudvolume import CloudVolume

    from connectoscope.export import export_precomputed
    from connectoscope.sources._precomputed import open_precomputed
    from connectoscope.volume import write_layer

    ds = Dataset.create(work / "cut.cscope", voxel_size=(16, 16, 40))
    write_layer(ds, "segmentation", seg_zyx, kind="segmentation", pyramid=False)
    bx, by, bz = box
    z0, y0, x0 = (s // 4 for s in seg_zyx.shape)
    bbox = f"{x0},{y0},{z0}:{x0 + bx},{y0 + by},{z0 + bz}"
    want = seg_zyx[z0 : z0 + bz, y0 : y0 + by, x0 : x0 + bx]
    for enc in ("compresso", "compressed_segmentation"):
        export_precomputed(ds, work / enc, encoding=enc, chunk_xyz=(64, 64, 64))
        with StaticHTTPServer(work) as srv:
            url = f"{srv.url}/{enc}"

            def ours(url: str = url) -> np.ndarray:
                _cold()  # no chunk, index or handle cached from the previous run
                src = open_precomputed(url, bbox=bbox)
                return src.read((0, 0, 0), src.shape_zyx)

            ours()  # imports, JIT
            srv.reset_counts()
            t_ours, got = _best(ours, repeat)
            req_o, by_o = srv.requests // repeat, srv.bytes_sent // repeat
            assert int((got != want).sum()) == 0

            def ref(url: str = url) -> np.ndarray:
                cv = CloudVolume(f"precomputed://{url}", mip=0, progress=False, cache=False)
                return np.asarray(cv[x0 : x0 + bx, y0 : y0 + by, z0 : z0 + bz])[..., 0].T

            ref()  # imports
            srv.reset_counts()
            t_ref, got_r = _best(ref, repeat)
            req_r, by_r = srv.requests // repeat, srv.bytes_sent // repeat
            assert int((got_r != want).sum()) == 0
        print(
            ratio_line(
                f"cutout {bx}x{by}x{bz} over 127.0.0.1 HTTP, sharded {enc}, cold caches",
                t_ours,
                t_ref,
                "s",
            )
            + f" (cloud-volume); requests ours {req_o} vs {req_r}, bytes ours {by_o} vs {by_r}"
        )


def bench_npz(work: Path, seg_zyx: np.ndarray, workers: int) -> None:
    from connectoscope.volume import ingest

    npy = work / "a.npy"
    npz = work / "a.npz"
    np.save(npy, seg_zyx)
    np.savez_compressed(npz, labels=seg_zyx)
    warm = np.ascontiguousarray(seg_zyx[:64, :256, :256])
    np.save(work / "w.npy", warm)  # warm-up: kernels compiled, pools started
    ingest(work / "w.npy", work / "w.cscope", layer="segmentation", voxel_size=(16, 16, 40))
    times = {}
    for name, src in (("npy", npy), ("npz", npz)):
        out = work / f"{name}.cscope"
        t0 = time.perf_counter()
        ingest(src, out, layer="segmentation", voxel_size=(16, 16, 40), workers=workers)
        times[name] = time.perf_counter() - t0
        shutil.rmtree(out)
    mb = seg_zyx.nbytes / 1e6
    print(
        ratio_line(
            f".npz vs .npy ingest ({mb:.0f} MB, {workers} workers), .npz",
            times["npz"],
            times["npy"],
            "s",
        )
        + " (.npy of the same array; ratio = npy/npz time)"
    )


def bench_annotations(work: Path, n: int) -> None:
    import pandas as pd
    from neuroglancer.read_precomputed_annotations import AnnotationReader

    from connectoscope.precomputed import read_annotations, write_synapse_annotations

    rng = np.random.default_rng(0)
    syn = pd.DataFrame(
        {
            "x_nm": rng.uniform(0, 2e5, n),
            "y_nm": rng.uniform(0, 2e5, n),
            "z_nm": rng.uniform(0, 5e4, n),
            "pre": rng.integers(1, 20000, n),
            "post": rng.integers(1, 20000, n),
            "size": rng.uniform(1, 500, n),
        }
    )
    t0 = time.perf_counter()
    write_synapse_annotations(syn, work / "ann")
    t_write = time.perf_counter() - t0
    t_ours, df = _best(lambda: read_annotations(work / "ann"), 1)
    assert len(df) == n

    def ref() -> int:
        r = AnnotationReader(f"file://{work}/ann/")
        got = r.get_within_spatial_bounds()
        return len(list(got))

    t_ref, count = _best(ref, 1)
    print(
        ratio_line(f"read sharded annotation layer of {n} points", t_ours, t_ref, "s")
        + f" (Neuroglancer AnnotationReader, spatial index, {count} annotations; ours also "
        f"inverts both relationship indices); write {t_write:.1f} s"
    )


def bench_export_sizes(work: Path, seg_zyx: np.ndarray, label: str) -> None:
    from connectoscope.export import export_precomputed
    from connectoscope.volume import write_layer

    ds = Dataset.create(work / "sz.cscope", voxel_size=(16, 16, 40))
    write_layer(ds, "segmentation", seg_zyx, kind="segmentation", pyramid=False)
    zarr_bytes = sum(
        f.stat().st_size
        for f in (ds.path / "volume.ome.zarr" / "labels" / "segmentation" / "0").rglob("*")
        if f.is_file()
    )
    raw = seg_zyx.nbytes
    for enc in ("crackle", "compresso", "compressed_segmentation"):
        rep = export_precomputed(ds, work / f"sz_{enc}", encoding=enc, levels=1)
        print(
            ratio_line(
                f"{label} label size, precomputed {enc} (sharded) vs our OME-Zarr zstd-1",
                rep.stored_bytes[0],
                zarr_bytes,
                "bytes",
            )
            + f"; {raw / rep.stored_bytes[0]:.1f}x vs {raw / zarr_bytes:.1f}x of {raw / 1e6:.0f} MB raw"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    mip2 = load_pinky40("mip2")
    if args.smoke:
        seg, box, n_ann, repeat = (
            np.ascontiguousarray(mip2[:64, :256, :256]),
            (64, 64, 32),
            20_000,
            1,
        )
    elif args.quick:
        seg, box, n_ann, repeat = np.ascontiguousarray(mip2[:128]), (128, 128, 64), 200_000, 2
    else:
        seg, box, n_ann, repeat = mip2, (256, 256, 64), 1_000_000, 3
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bench_cutout(work, seg, box, repeat)
        bench_npz(work, seg, workers=2)
        bench_annotations(work, n_ann)
        bench_export_sizes(work, seg, "pinky40 mip2" if seg is mip2 else f"pinky40 {seg.shape}")
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
