"""The benchmark script still runs (``--quick``) and the demo step works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from connectoscope.demo import DemoContext
from connectoscope.demo.step_synthetic import demo_step

ROOT = Path(__file__).resolve().parents[2]


def test_bench_quick():
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_synth.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "ours" in r.stdout and "reference" in r.stdout and "ratio" in r.stdout
    assert "peak RSS" in r.stdout


def test_demo_step(tmp_path):
    ctx = DemoContext(out=tmp_path, shape_xyz=(128, 128, 64), cube=64, seed=1)
    ctx.current_step = "synthetic data"
    demo_step(ctx)
    assert (ctx.synth_dir / "synth.json").exists()
    assert any("synapses" in n for n in ctx.notes)
    assert {o.path for o in ctx.outputs} >= {ctx.synth_dir / "synapses.parquet"}
    assert ctx.synth_manifest.n_synapses >= 0
