import subprocess
import sys
from pathlib import Path


def test_benchmark_script_runs_quick():
    script = Path(__file__).parents[2] / "benchmarks" / "bench_viewer.py"
    r = subprocess.run(
        [sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-2000:]
    for name in (
        "annotations write 20000 synapses: ours",
        "annotations files: ours",
        "download 32 MB over 127.0.0.1 (ours verifies sha256): ours",
        "dropped at 1/3 then resumed (ours)",
    ):
        assert name in r.stdout, r.stdout
    assert "complete True" in r.stdout and "ratio" in r.stdout
