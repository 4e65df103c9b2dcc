"""Surfaces, pyramids, object tables and planes: ours vs the references, side by side.

Real labels: ``../shared/data/pinky40`` mip2 (16 x 16 x 40 nm).

1. Dense meshing with simplification (every label, max error 40 nm): ours
   (``mesh_labels``: zmesh marching cubes per block, our bounded-error simplifier with the
   seams fixed, stitching, a second simplification across the seams) in 1 then 2 worker
   threads vs ONE direct ``zmesh.Mesher.mesh(close=True)`` call on the whole array with
   ``get(reduction_factor=100, max_error=40)`` (zmesh's own simplifier). Throughput is M
   voxels/s of covered volume per core (wall; CPU seconds too, the machine being
   shared); a profile splits our single-process time into its stages.
2. Triangles: ours block-wise (64^3 blocks) vs ours in one block, and vs zmesh's one call.
3. One object (label 16649205 in its box, other labels background): 1 -> 2 worker threads.
4. Multi-resolution sharded Draco meshes of every label: ``surfaces --format precomputed``
   from a dataset (blocks read from the store) vs Igneous's mesh + sharded multires tasks
   (``igneous-pipeline``, GPL, bench extra; run in ``$IGNEOUS_PYTHON`` when set, else in
   this Python when it has Igneous), on a local 2-process task queue, same error.
5. 2x2x2 label mode on the whole 512^3 array vs tinybrain (``arr.T`` with x, y, z factors:
   tinybrain 1.7 reads C-ordered input as Fortran in that mode).
6. Per-segment table and coloured planes (as before).

    python benchmarks/bench_surfaces.py          # 256 x 256 x 128 dense cutout
    python benchmarks/bench_surfaces.py --full   # every label of the 512^3 array
    python benchmarks/bench_surfaces.py --quick  # small cutouts (smoke test)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import measure, peak_rss_mb, ratio_line
from connectoscope.testing import load_pinky40

VS = (16.0, 16.0, 40.0)
MAX_ERROR_NM = 40.0
REDUCTION = 100


def reference_mesh(vol: np.ndarray) -> int:
    """One direct zmesh call: mesh every label, simplify each with zmesh's simplifier."""
    import zmesh

    mesher = zmesh.Mesher(VS)
    mesher.mesh(np.ascontiguousarray(vol).T, close=True)
    faces = 0
    for i in mesher.ids():
        m = mesher.get(i, normals=False, reduction_factor=REDUCTION, max_error=MAX_ERROR_NM)
        faces += len(m.faces)
    mesher.clear()
    return faces


def ours_mesh(vol: np.ndarray, block: int, workers: int) -> int:
    from connectoscope.surfaces import mesh_labels

    meshes = mesh_labels(vol, VS, simplify_nm=MAX_ERROR_NM, block_xyz=(block,) * 3, workers=workers)
    return sum(len(m.faces) for m in meshes.values())


def _cpu_all() -> float:
    """CPU seconds of this process and its (pool) worker processes so far."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for k in me.children(recursive=True):
        try:
            total += sum(k.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def _once(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of all processes, result)."""
    c0 = _cpu_all()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, _cpu_all() - c0, out


def warm_pool(vol: np.ndarray, block: int) -> None:
    """Warm up once outside the timed runs (imports, the simplifier's compile cache, the 2
    worker threads); the time is printed."""
    small = np.ascontiguousarray(vol[: 2 * block, :block, :block])
    ours_mesh(small, block, 1)  # compile in this process
    t, _, _ = _once(lambda: ours_mesh(small, block, 2))
    print(f"warm-up (2 worker threads, first tiny task): {t:.2f} s, not timed")


def profile_stages(vol: np.ndarray) -> str:
    """Our single-process stages on ``vol`` (one block): CPU seconds each."""
    import zmesh

    from connectoscope.surfaces._simplify import simplify_mesh

    t0 = time.process_time()
    m = zmesh.Mesher((1.0, 1.0, 1.0))
    m.mesh(np.ascontiguousarray(vol).T)
    t_mc = time.process_time() - t0
    t0 = time.process_time()
    raw = {i: m.get(i, normals=False, reduction_factor=0) for i in m.ids() if i}
    t_get = time.process_time() - t0
    n_tri = sum(len(r.faces) for r in raw.values())
    t0 = time.process_time()
    n_out = 0
    for r in raw.values():
        n_out += len(simplify_mesh(r.vertices * np.asarray(VS), r.faces, MAX_ERROR_NM)[1])
    t_s = time.process_time() - t0
    n = vol.size / 1e6
    return (
        f"  profile, 1 process, CPU s: marching cubes {t_mc:.2f} ({n / t_mc:.3g} M voxels/s), "
        f"mesh extraction {t_get:.2f} ({n / t_get:.3g} M voxels/s), simplification {t_s:.2f} "
        f"({n_tri / 1e6:.3g} M -> {n_out / 1e6:.3g} M triangles, {n_tri / 1e6 / t_s:.3g} M "
        f"triangles/s, {n / t_s:.3g} M voxels/s)"
    )


def bench_dense(vol: np.ndarray, block: int) -> None:
    z, y, x = vol.shape
    n = vol.size / 1e6
    print(
        f"dense meshing {x} x {y} x {z} voxels (x, y, z), {len(np.unique(vol)) - 1} labels, "
        f"max error {MAX_ERROR_NM:g} nm, blocks of {block}^3"
    )
    t_ref, c_ref, f_ref = _once(lambda: reference_mesh(vol))
    t1, c1, f1 = _once(lambda: ours_mesh(vol, block, 1))
    t2, c2, f2 = _once(lambda: ours_mesh(vol, block, 2))
    f_one = ours_mesh(vol, max(vol.shape), 1)
    print(
        ratio_line(
            "dense meshing 1 worker vs zmesh once, same error (wall)",
            n / t1,
            n / t_ref,
            "M voxels/s",
            higher_is_better=True,
        )
    )
    print(
        ratio_line(
            "dense meshing 1 worker vs zmesh once, same error (CPU)",
            n / c1,
            n / c_ref,
            "M voxels/s",
            higher_is_better=True,
        )
    )
    print(
        ratio_line(
            "dense meshing per core vs the 10 M voxels/s goal (CPU, 2 worker threads)",
            n / c2,
            10.0,
            "M voxels/s",
            higher_is_better=True,
        )
    )
    print(ratio_line("dense meshing scaling 1 -> 2 workers (threads; wall time)", t2, t1, "s"))
    print(
        f"triangles block-wise vs one call (ours, same error): ours {f1}, reference {f_one}, ratio {f1 / f_one:.2f}"
    )
    print(
        f"triangles ours block-wise vs zmesh one call (same max_error): ours {f1}, reference {f_ref}, ratio {f1 / f_ref:.2f}"
    )
    print(
        f"  faces: 2 workers {f2}; wall: zmesh {t_ref:.1f} s, ours 1 worker {t1:.1f} s, 2 workers {t2:.1f} s; CPU: zmesh {c_ref:.1f} s, ours 1 worker {c1:.1f} s, 2 workers {c2:.1f} s"
    )
    print(profile_stages(vol))


def bench_one_object(vol: np.ndarray, label: int, block: int) -> None:
    z, y, x = vol.shape
    n = vol.size / 1e6
    print(f"one object: label {label} in its box {x} x {y} x {z} voxels, blocks of {block}^3")
    t_ref, _, f_ref = _once(lambda: reference_mesh(vol))
    # a short job (well under a second): best of 3 for both worker counts
    t1, _, f1 = min((_once(lambda: ours_mesh(vol, block, 1)) for _ in range(3)), key=lambda r: r[0])
    t2, _, f2 = min((_once(lambda: ours_mesh(vol, block, 2)) for _ in range(3)), key=lambda r: r[0])
    f_one = ours_mesh(vol, max(vol.shape), 1)
    print(
        ratio_line(
            "one object 1 worker vs zmesh once (wall)",
            n / t1,
            n / t_ref,
            "M voxels/s",
            higher_is_better=True,
        )
    )
    print(
        ratio_line("one object scaling 1 -> 2 workers (threads; wall time, best of 3)", t2, t1, "s")
    )
    print(
        f"one object triangles block-wise vs one call (ours): ours {f1}, reference {f_one}, ratio {f1 / f_one:.2f}"
    )
    print(
        f"  faces: zmesh {f_ref}, 2 workers {f2}; wall: zmesh {t_ref:.2f} s, ours 1 worker {t1:.2f} s, 2 workers {t2:.2f} s"
    )


def bench_multires(vol: np.ndarray, tmp: Path) -> None:
    """Every label of ``vol`` as multi-resolution sharded meshes, from a dataset."""
    import pandas as pd

    import connectoscope as cs
    from connectoscope.segmentation import ObjectMaps, Selection
    from connectoscope.surfaces import make_surfaces
    from connectoscope.volume import write_layer

    ds = cs.Dataset.create(tmp / "m.cscope", voxel_size=VS)
    write_layer(ds, "segmentation", vol, kind="segmentation", pyramid=False)
    ids = np.unique(vol)[1:]
    ObjectMaps.from_table(
        pd.DataFrame({"segment_id": ids, "kind": "segment", "object_id": ids.astype(np.int64)})
    ).save(ds)
    sel = Selection.parse(each="segment", max_groups=None)
    t, c, r = _once(
        lambda: make_surfaces(
            ds, sel, None, level=0, simplify_nm=MAX_ERROR_NM, fmt="precomputed", workers=2
        )
    )
    files = list((ds.path / "meshes").iterdir())
    size = sum(p.stat().st_size for p in files if p.is_file())
    n = vol.size / 1e6
    line = f"multires sharded meshes, {len(ids)} labels: {t:.1f} s wall, {c:.1f} s CPU, {n / t:.3g} M voxels/s, {r.manifests} segment ids in {len(files)} files, {size / 1e6:.1f} MB"
    print(line)
    ig = os.environ.get("IGNEOUS_PYTHON")
    if not ig:
        print(
            "multires vs Igneous: not run (set IGNEOUS_PYTHON to a Python with igneous-pipeline; it pins DracoPy < 2, so it cannot share this environment)"
        )
        return
    script = Path(__file__).with_name("_igneous_multires.py")
    np.save(tmp / "labels.npy", vol)
    res = subprocess.run(
        [ig, str(script), str(tmp / "labels.npy"), str(tmp / "ig")], capture_output=True, text=True
    )
    if res.returncode != 0:
        print(f"multires vs Igneous: Igneous failed: {res.stderr.strip().splitlines()[-1:]}")
        return
    t_ig = float(res.stdout.strip().splitlines()[-1])
    print(
        ratio_line(
            "multires sharded meshes vs Igneous mesh + sharded multires tasks (wall)", t, t_ig, "s"
        )
    )


def bench_mode(vol: np.ndarray) -> None:
    from connectoscope.volume._kernels import mode_2x2x2

    try:
        import tinybrain
    except ImportError:
        print(
            "2x2x2 label mode 512^3 vs tinybrain: not run (tinybrain is not installed: pip "
            "install 'connectoscope[bench]')"
        )
        return

    a = np.ascontiguousarray(vol)
    ours = mode_2x2x2(a)
    ref = np.asarray(tinybrain.downsample_segmentation(a.T, (2, 2, 2), num_mips=1)[0]).T
    differ = float((ours != ref).mean()) if ours.shape == ref.shape else float("nan")
    n = a.size / 1e6

    def best(fn: Callable[[], Any]) -> float:
        ts = []
        for _ in range(5):
            t0 = time.process_time()
            fn()
            ts.append(time.process_time() - t0)
        return min(ts)

    t_o = best(lambda: mode_2x2x2(a))
    t_t = best(lambda: tinybrain.downsample_segmentation(a.T, (2, 2, 2), num_mips=1))
    print(
        ratio_line(
            "2x2x2 label mode 512^3 vs tinybrain (CPU, best of 5)",
            n / t_o,
            n / t_t,
            "M voxels/s",
            higher_is_better=True,
        )
        + f" (outputs differing: {differ:.2%}, tie rules: ours first in block order)"
    )


def reference_table(vol: np.ndarray) -> int:
    import cc3d
    import fastremap

    renum, _ = fastremap.renumber(vol, preserve_zero=True, in_place=False)
    stats = cc3d.statistics(renum.T)
    return int((np.asarray(stats["voxel_counts"])[1:] > 0).sum())


def bench_tables(vol: np.ndarray, tmp: Path) -> None:
    import connectoscope as cs
    from connectoscope.segmentation import block_statistics, segment_table
    from connectoscope.volume import write_layer

    ds = cs.Dataset.create(tmp / "t.cscope", voxel_size=VS)
    write_layer(ds, "segmentation", vol, kind="segmentation", pyramid=False)
    n = vol.size / 1e6
    t_ref, m_ref, k_ref = measure(lambda: reference_table(vol))
    t_mem, m_mem, df_mem = measure(lambda: block_statistics(vol))
    t_ds, m_ds, df_ds = measure(lambda: segment_table(ds, workers=1))
    assert len(df_mem) == len(df_ds) == k_ref, (len(df_mem), len(df_ds), k_ref)
    z, y, x = vol.shape
    shards = len(ds.segmentation.levels[0].shard_boxes())
    print(f"segment table {x} x {y} x {z} voxels, {k_ref} segments, {shards} shards")
    print(
        ratio_line(
            "segment table in memory vs cc3d.statistics",
            n / t_mem,
            n / t_ref,
            "M voxels/s",
            higher_is_better=True,
        )
        + f" (peak MB: ours {m_mem:.0f}, reference {m_ref:.0f})"
    )
    print(
        ratio_line(
            "segment table from store (shards, exact merge) vs cc3d.statistics",
            n / t_ds,
            n / t_ref,
            "M voxels/s",
            higher_is_better=True,
        )
        + f" (peak MB: ours {m_ds:.0f})"
    )


def bench_plane(tmp: Path) -> None:
    from skimage.color import label2rgb

    import connectoscope as cs
    from connectoscope.render import render_dataset_plane, render_plane
    from connectoscope.segmentation import ObjectMaps
    from connectoscope.volume import write_layer

    plane = load_pinky40("mip2")[200]  # 512 x 512 real labels, tiled 4 x 4 with new ids
    tiles = [
        plane.astype(np.uint64) + np.uint64(i * 2**27) * (plane > 0).astype(np.uint64)
        for i in range(16)
    ]
    labels = np.block([[tiles[4 * r + c] for c in range(4)] for r in range(4)])
    rng = np.random.default_rng(0)
    grey = rng.integers(60, 240, labels.shape).astype(np.uint8)
    levels = [(95.0, 0.0), (120.0, 0.9), (234.0, 1.0)]
    t_ours, m_ours, _ = measure(lambda: render_plane(grey, labels, levels=levels), repeat=3)
    t_ref, m_ref, _ = measure(
        lambda: label2rgb(labels, image=grey, bg_label=0, kind="overlay"), repeat=3
    )
    print(
        ratio_line("plane 2048 x 2048, colour per segment vs skimage label2rgb", t_ours, t_ref, "s")
        + f" (peak MB: ours {m_ours:.0f}, reference {m_ref:.0f})"
    )
    ds = cs.Dataset.create(tmp / "p.cscope", voxel_size=VS)
    write_layer(ds, "segmentation", labels[None], kind="segmentation", pyramid=False)
    write_layer(ds, "image", grey[None], kind="image", pyramid=False)
    ids = np.unique(labels)
    ObjectMaps.from_table(
        __import__("pandas").DataFrame(
            {
                "segment_id": np.concatenate([ids[1::3], ids[2::3], ids[3::3]]),
                "kind": ["axon"] * len(ids[1::3])
                + ["dendrite"] * len(ids[2::3])
                + ["spinehead"] * len(ids[3::3]),
                "object_id": np.concatenate([ids[1::3], ids[2::3], ids[3::3]]).astype(np.int64)
                % 1000
                + 1,
            }
        )
    ).save(ds)
    by = [("axon", "lime"), ("dendrite", "red"), ("spinehead", "blue")]
    t_ds, m_ds, img = measure(
        lambda: render_dataset_plane(ds, "z", 0, by=by, levels=levels), repeat=3
    )
    assert img.shape == (2048, 2048, 3)
    print(
        ratio_line(
            "plane 2048 x 2048 from store, by axon/dendrite/spinehead vs label2rgb",
            t_ds,
            t_ref,
            "s",
        )
        + f" (peak MB: ours {m_ds:.0f})"
    )


def _worker_rss_mb() -> str:
    """Resident memory of the (warm) worker processes still alive, MB."""
    import psutil

    kids = psutil.Process().children(recursive=True)
    return ", ".join(f"{k.memory_info().rss / 2**20:.0f} MB" for k in kids) or "none alive"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small cutouts (smoke test)")
    ap.add_argument("--full", action="store_true", help="dense meshing of the whole 512^3 array")
    args = ap.parse_args()
    vol = load_pinky40("mip2")
    if args.quick:
        mesh_vol, block, table_vol = vol[256:288, 192:256, 192:256], 32, vol[:128, :256, :256]
    elif args.full:
        mesh_vol, block, table_vol = vol, 64, vol
    else:
        mesh_vol, block, table_vol = vol[256:384, 128:384, 128:384], 64, vol
    mesh_vol = np.ascontiguousarray(mesh_vol)
    table_vol = np.ascontiguousarray(table_vol)
    label = 16649205
    zz, yy, xx = np.nonzero(vol == label)
    box = vol[zz.min() : zz.max() + 1, yy.min() : yy.max() + 1, xx.min() : xx.max() + 1]
    if args.quick:  # a 64 x 128 x 128 window around the object's centroid
        c = [int(v.mean()) - int(v.min()) for v in (zz, yy, xx)]
        lo = [max(0, min(ci - h, n - 2 * h)) for ci, h, n in zip(c, (32, 64, 64), box.shape)]
        box = box[lo[0] : lo[0] + 64, lo[1] : lo[1] + 128, lo[2] : lo[2] + 128]
    one = np.ascontiguousarray(np.where(box == label, box, 0))
    t0 = time.perf_counter()
    print(f"load: {os.getloadavg()[0]:.1f} (1-minute average) on {os.cpu_count()} cores")
    warm_pool(mesh_vol, block)
    bench_dense(mesh_vol, block)
    bench_one_object(one, label, 64 if args.quick else 128)
    with tempfile.TemporaryDirectory() as d:
        bench_multires(mesh_vol, Path(d))
    bench_mode(vol[:128, :128, :128] if args.quick else vol)
    with tempfile.TemporaryDirectory() as d:
        bench_tables(table_vol, Path(d))
        bench_plane(Path(d))
    print(
        f"peak RSS: this process {peak_rss_mb():.0f} MB; worker processes now: "
        f"{_worker_rss_mb()}; total {time.perf_counter() - t0:.0f} s; load now "
        f"{os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
