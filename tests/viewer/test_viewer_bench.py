from connectoscope.testing import run_benchmark


def test_benchmark_script_runs_quick():
    out = run_benchmark(
        "benchmarks/bench_viewer.py",
        "--quick",
        timeout=300,
        expect=(
            "annotations write 20000 synapses: ours",
            "annotations files: ours",
            "download 32 MB over 127.0.0.1 (ours verifies sha256): ours",
            "dropped at 1/3 then resumed (ours)",
        ),
    )
    assert "complete True" in out
