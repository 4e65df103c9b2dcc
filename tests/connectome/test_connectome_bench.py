from connectoscope.testing import run_benchmark


def test_benchmark_script_runs_quick():
    run_benchmark(
        "benchmarks/bench_connectome.py",
        "--quick",
        timeout=300,
        expect=(
            "matrices binary+count+sum+mean: ours",
            "condensed table vs groupby.agg: ours",
            "out-of-core condense 1000000 synapses",
        ),
    )
