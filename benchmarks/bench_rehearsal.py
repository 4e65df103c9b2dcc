"""Whole-volume rehearsal of the seed workflow, stage by stage (issue 15, item 6).

Synthesise an L4dense-like volume (``connectoscope synth``: cortex with somata, spiny
dendrites, axons, glia, an over-segmentation, object maps), ingest EM and segmentation,
import the object maps, mesh ``--each neuron`` at the level of ChimeraX's step-8,8,4 copy
(``seg surf #1 each neuron`` on ``seg_step884.cmap``), mesh one neuron at full resolution,
write multi-resolution sharded meshes, and take a viewer screenshot. Each stage runs as the
user runs it (the CLI in a fresh process); printed: wall time, throughput and peak RSS of
all its processes (the process tree, sampled every 0.2 s).

    python benchmarks/bench_rehearsal.py                          # 1024 x 1024 x 512 voxels
    python benchmarks/bench_rehearsal.py --shape 2048,2048,1024   # the issue's full size
    python benchmarks/bench_rehearsal.py --quick                  # 256 x 256 x 128 (smoke)

Goal (issue 15): the whole rehearsal at 2048 x 2048 x 1024 in under 20 minutes with peak
RSS under 2 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

#: L4dense's voxel size, nm (x, y, z): synthesised and ingested at it.
VOXEL_NM = "11.24,11.24,28"
#: (stage, peak RSS summed over its processes, peak PSS summed), bytes, in run order.
PEAKS: list[tuple[str, int, int]] = []


def _tree_mem(pid: int) -> tuple[int, int]:
    """``(RSS summed over the process tree, PSS summed)``, bytes. The RSS sum counts a page
    shared by several processes (Chromium's libraries, fork-shared arrays) once per process;
    the PSS sum (Linux) splits it among them, so it is the tree's real footprint."""
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    rss = pss = 0
    for q in procs:
        try:
            full = q.memory_full_info()
            rss += full.rss
            pss += getattr(full, "pss", full.rss)
        except psutil.Error:
            pass
    return rss, pss


def stage(name: str, argv: list[str], voxels: float, unit: str = "M voxels/s") -> float:
    """Run one CLI stage; print its wall time, throughput and peak RSS of its processes."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "connectoscope", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = [0, 0]

    def watch() -> None:
        while proc.poll() is None:
            rss, pss = _tree_mem(proc.pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            time.sleep(0.2)

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    out, err = proc.communicate()
    th.join()
    t = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"stage {name} failed ({proc.returncode}): {err[-2000:]}")
    rate = f", {voxels / 1e6 / t:.3g} {unit}" if voxels else ""
    print(
        f"{name}: {t:.1f} s{rate}, peak RSS {peak[0] / 2**20:.0f} MB (summed over its "
        f"processes), peak PSS {peak[1] / 2**20:.0f} MB (shared pages once)"
    )
    PEAKS.append((name, peak[0], peak[1]))
    last = out.strip().splitlines()[-1:] if out.strip() else []
    if last:
        print(f"  {last[0][:200]}")
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="1024,1024,512", help="x,y,z voxels")
    ap.add_argument("--quick", action="store_true", help="256 x 256 x 128 (smoke test)")
    ap.add_argument("--keep", default=None, help="keep the data in this folder")
    args = ap.parse_args()
    shape = "256,256,128" if args.quick else args.shape
    x, y, z = (int(v) for v in shape.split(","))
    cube = min(512, x, y, z)
    n = float(x * y * z)
    print(
        f"rehearsal {x} x {y} x {z} voxels ({n / 1e9:.2f} G voxels), load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="rehearsal-"))
    src, ds = root / "source", root / "r.cscope"
    # the tissue is generated at L4dense's own voxel size (11.24 x 11.24 x 28 nm), so a
    # 2048 x 2048 x 1024 volume is 23 x 23 x 29 um of cortex with neurons of real size
    t_synth = stage(
        "synth (setup: the user's data exists already)",
        [
            "synth",
            str(src),
            "--shape",
            shape,
            "--cube",
            str(cube),
            "--voxel-size",
            VOXEL_NM,
            "--overwrite",
            "--no-progress",
        ],
        n,
    )
    total = 0.0
    total += stage(
        "ingest EM",
        [
            "ingest",
            str(src / "color"),
            str(ds),
            "--layer",
            "image",
            "--voxel-size",
            VOXEL_NM,
        ],
        n,
    )
    total += stage(
        "ingest segmentation",
        ["ingest", str(src / "segmentation"), str(ds), "--layer", "segmentation"],
        n,
    )
    total += stage("objects import", ["objects", "import", str(ds), str(src / "objects.hdf5")], 0)
    total += stage("objects stats", ["objects", "stats", str(ds)], n)
    import connectoscope as cs

    d = cs.Dataset.open(ds)
    seg = d.segmentation
    step = next(
        (i for i, lev in enumerate(seg.levels) if tuple(lev.factor_xyz) == (8, 8, 4)),
        seg.num_levels - 1,
    )
    f = seg.levels[step].factor_xyz
    n_step = n / (f[0] * f[1] * f[2])
    total += stage(
        f"surfaces --each neuron at level {step} (step {f[0]},{f[1]},{f[2]})",
        [
            "surfaces",
            str(ds),
            "--each",
            "neuron",
            "--level",
            str(step),
            "--simplify",
            str(3 * max(seg.voxel_size(step).xyz)),
            "-o",
            str(root / "step884"),
        ],
        n_step,
    )
    import numpy as np

    obj = np.asarray(d.objects.array("neuron"))  # neuron id per segment id
    vals, counts = np.unique(obj[obj != 0], return_counts=True)
    neuron = int(vals[np.argmax(counts)])  # the neuron of most segments
    total += stage(
        f"surfaces --where neuron={neuron} at level 0",
        [
            "surfaces",
            str(ds),
            "--where",
            f"neuron={neuron}",
            "--level",
            "0",
            "--simplify",
            "40",
            "-o",
            str(root / "one"),
        ],
        0,
    )
    total += stage(
        f"multi-resolution meshes --each neuron at level {step}",
        [
            "surfaces",
            str(ds),
            "--each",
            "neuron",
            "--level",
            str(step),
            "--simplify",
            str(3 * max(seg.voxel_size(step).xyz)),
            "--format",
            "precomputed",
        ],
        n_step,
    )
    total += stage(
        "viewer screenshot",
        ["view", str(ds), "--each", "neuron", "--screenshot", str(root / "view.png")],
        0,
    )
    goal = 1200.0 * n / (2048 * 2048 * 1024)  # 20 min for 4.3 G voxels, scaled by voxels
    print(
        f"time goal (issue 15: 20 min for 2048 x 2048 x 1024, scaled by voxels; a budget, not "
        f"a measured reference): user stages {total:.1f} s, budget {goal:.1f} s, ratio "
        f"{goal / total:.2f} (budget / ours: {'met' if total <= goal else 'missed'})"
    )
    for label, col in (("RSS summed", 1), ("PSS summed", 2)):
        over = [f"{r[0].split(' (')[0]} {r[col] / 2**30:.2f} GB" for r in PEAKS if r[col] > 2**31]
        print(
            f"peak {label}: largest stage {max(r[col] for r in PEAKS) / 2**20:.0f} MB; over "
            f"the 2 GB goal: {', '.join(over) or 'none'}"
        )
    print(
        f"rehearsal total: user stages {total:.1f} s ({total / 60:.1f} min), with synthesis "
        f"{total + t_synth:.1f} s ({(total + t_synth) / 60:.1f} min) for {n / 1e9:.2f} G voxels; "
        f"data in {root}"
    )


if __name__ == "__main__":
    main()
