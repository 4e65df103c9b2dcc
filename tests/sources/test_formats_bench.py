import pytest

from connectoscope.testing import run_benchmark


@pytest.mark.realdata
def test_formats_benchmark_runs_smoke():
    pytest.importorskip("cloudvolume")
    run_benchmark(
        "benchmarks/bench_formats.py",
        "--smoke",
        timeout=500,
        expect=(
            "over 127.0.0.1 HTTP, sharded compresso, cold caches: ours",
            "over 127.0.0.1 HTTP, sharded compressed_segmentation, cold caches: ours",
            ".npz vs .npy ingest",
            "read sharded annotation layer of 20000 points: ours",
            "precomputed crackle (sharded) vs our OME-Zarr zstd-1: ours",
            "peak RSS",
        ),
    )
