import subprocess
import sys
from pathlib import Path


def test_benchmark_script_runs_smoke():
    script = Path(__file__).parents[2] / "benchmarks" / "bench_volume.py"
    r = subprocess.run(
        [sys.executable, str(script), "--smoke"], capture_output=True, text=True, timeout=500
    )
    assert r.returncode == 0, r.stderr[-2000:]
    for name in (
        "ingest (full pyramid, 2 workers) vs read+decompress sources with h5py: ours",
        "source read+decompress: our reader",
        "label compression pinky40 crop: ours",
        "label write:",
        "read latency level 1",
        "label 2x2x1 mode (pinky40, one core): ours",
        "label 2x2x2 mode (pinky40, one core): ours",
        "image 2x2x1 average (synthetic EM uint8, one core): ours",
        "image 2x2x2 average (synthetic EM uint8, one core): ours",
        "peak RSS",
    ):
        assert name in r.stdout, r.stdout
