import subprocess
import sys
from pathlib import Path


def test_benchmark_script_runs_quick():
    script = Path(__file__).parents[2] / "benchmarks" / "bench_surfaces.py"
    r = subprocess.run(
        [sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr[-2000:]
    for name in (
        "meshing 1 process vs direct zmesh (overhead): ours",
        "meshing scaling 1 -> 2 processes (wall time): ours",
        "one object 1 process vs direct zmesh: ours",
        "one object scaling 1 -> 2 processes (wall time): ours",
        "segment table in memory vs cc3d.statistics: ours",
        "segment table from store (shards, exact merge) vs cc3d.statistics: ours",
        "plane 2048 x 2048, colour per segment vs skimage label2rgb: ours",
        "plane 2048 x 2048 from store, by axon/dendrite/spinehead vs label2rgb: ours",
    ):
        assert name in r.stdout, r.stdout
    assert "ratio" in r.stdout and "peak RSS" in r.stdout
