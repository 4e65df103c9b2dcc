from connectoscope.testing import run_benchmark


def test_benchmark_script_runs_quick():
    run_benchmark(
        "benchmarks/bench_morphology.py",
        "--quick",
        timeout=300,
        expect=(
            "path distance to root, 10000 vertices: ours",
            "map 10000 synapses to nearest vertex: ours",
            "distances from 200 sources (10000 vertices) vs navis geodesic_matrix(from_): ours",
            "distances from 200 sources vs full geodesic matrix (5000 vertices): ours",
            "peak memory",
        ),
    )
