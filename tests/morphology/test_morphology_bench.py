import subprocess
import sys
from pathlib import Path


def test_benchmark_script_runs_quick():
    script = Path(__file__).parents[2] / "benchmarks" / "bench_morphology.py"
    r = subprocess.run(
        [sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-2000:]
    for name in (
        "path distance to root, 10000 vertices: ours",
        "map 10000 synapses to nearest vertex: ours",
        "distances from 200 sources (10000 vertices) vs navis geodesic_matrix(from_): ours",
        "distances from 200 sources vs full geodesic matrix (5000 vertices): ours",
        "peak memory",
    ):
        assert name in r.stdout, r.stdout
    assert "ratio" in r.stdout
