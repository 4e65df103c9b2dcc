import subprocess
import sys
from pathlib import Path


def test_benchmark_script_runs_quick():
    script = Path(__file__).parents[2] / "benchmarks" / "bench_connectome.py"
    r = subprocess.run(
        [sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-2000:]
    for name in (
        "matrices binary+count+sum+mean: ours",
        "condensed table vs groupby.agg: ours",
        "out-of-core condense 1000000 synapses",
    ):
        assert name in r.stdout, r.stdout
    assert "ratio" in r.stdout
