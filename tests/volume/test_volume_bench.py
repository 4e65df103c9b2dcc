from connectoscope.testing import run_benchmark


def test_benchmark_script_runs_smoke():
    run_benchmark(
        "benchmarks/bench_volume.py",
        "--smoke",
        timeout=500,
        expect=(
            "ingest (full pyramid, 2 workers) vs read+decompress sources with h5py: ours",
            "source read+decompress: our reader",
            "label compression pinky40 crop: ours",
            "label write:",
            "read latency level 1",
            "label 2x2x1 mode (pinky40, one core): ours",
            "label 2x2x2 mode (pinky40, one core): ours",
            "image 2x2x1 average (synthetic EM uint8, one core): ours",
            "image 2x2x2 average (synthetic EM uint8, one core): ours",
            "peak RSS",
        ),
    )
