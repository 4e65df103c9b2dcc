from connectoscope.testing import run_benchmark


def test_benchmark_script_runs_quick():
    out = run_benchmark(
        "benchmarks/bench_surfaces.py",
        "--quick",
        timeout=600,
        expect=(
            "meshing 1 process vs direct zmesh (overhead): ours",
            "meshing scaling 1 -> 2 processes (wall time): ours",
            "one object 1 process vs direct zmesh: ours",
            "one object scaling 1 -> 2 processes (wall time): ours",
            "segment table in memory vs cc3d.statistics: ours",
            "segment table from store (shards, exact merge) vs cc3d.statistics: ours",
            "plane 2048 x 2048, colour per segment vs skimage label2rgb: ours",
            "plane 2048 x 2048 from store, by axon/dendrite/spinehead vs label2rgb: ours",
        ),
    )
    assert "peak RSS" in out
