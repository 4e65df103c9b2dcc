import pytest

from connectoscope.testing import run_benchmark


def test_benchmark_script_runs_quick():
    out = run_benchmark(
        "benchmarks/bench_surfaces.py",
        "--quick",
        timeout=900,
        expect=(
            "dense meshing 1 worker vs zmesh once, same error (wall): ours",
            "dense meshing 1 worker vs zmesh once, same error (CPU): ours",
            "dense meshing per core vs the 10 M voxels/s goal (CPU, 2 worker threads): ours",
            "dense meshing scaling 1 -> 2 workers (threads; wall time): ours",
            "triangles block-wise vs one call (ours, same error): ours",
            "triangles ours block-wise vs zmesh one call (same max_error): ours",
            "one object scaling 1 -> 2 workers (threads; wall time, best of 3): ours",
            "one object triangles block-wise vs one call (ours): ours",
            "2x2x2 label mode 512^3 vs tinybrain",
            "segment table in memory vs cc3d.statistics: ours",
            "segment table from store (shards, exact merge) vs cc3d.statistics: ours",
            "plane 2048 x 2048, colour per segment vs skimage label2rgb: ours",
            "plane 2048 x 2048 from store, by axon/dendrite/spinehead vs label2rgb: ours",
        ),
    )
    assert "peak RSS" in out and "profile, 1 process" in out and "multires sharded meshes" in out


@pytest.mark.slow
def test_rehearsal_script_runs_quick():
    out = run_benchmark(
        "benchmarks/bench_rehearsal.py", "--quick", timeout=900, expect=("synth (setup",)
    )
    for stage in (
        "ingest segmentation:",
        "surfaces --each neuron",
        "multi-resolution meshes",
        "viewer screenshot:",
    ):
        assert stage in out
    assert "rehearsal total: user stages" in out and "with synthesis" in out
    assert "peak RSS summed: largest stage" in out and "peak PSS summed" in out
