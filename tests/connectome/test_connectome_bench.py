"""Smoke runs of the connectome benchmarks (``--smoke``: seconds; the numbers are not
checked, only that every comparison ran, agreed on its result and printed its ratio)."""

from connectoscope.testing import run_benchmark


def test_bench_connectome_smoke():
    out = run_benchmark(
        "benchmarks/bench_connectome.py",
        "--smoke",
        timeout=300,
        expect=(
            "matrices binary+count+sum+mean vs numpy/scipy: ours",
            "matrices binary+count+sum+mean vs DuckDB in memory: ours",
            "matrices binary+count+sum+mean vs tutorial pivot_table: ours",
            "condensed table vs numpy/scipy: ours",
            "condensed table vs DuckDB in memory: ours",
            "in-memory peak RSS, each in its own process",
            "cold one-shot import + read + 4 matrices vs numpy/scipy script: ours",
            "cold import + first call: ours",
            "out-of-core condense 1000000 synapses vs DuckDB GROUP BY: ours",
            "out-of-core condense 1000000 synapses vs Polars streaming: ours",
            "peak RSS of all processes",
            "connectome build 1000000 synapses, out of core vs in memory: ours",
            "annotations write 10000 synapses vs neuroglancer AnnotationWriter: ours",
            "annotations write 100000 synapses, streamed from Parquet: ours",
        ),
    )
    assert "-> 48" in out  # the pair count of the out-of-core table was printed


def test_bench_scale_smoke():
    run_benchmark(
        "benchmarks/bench_scale.py",
        "--smoke",
        timeout=300,
        expect=(
            "input: 1000000 synthetic MICrONS-shaped synapses",
            "condense 1000000 synapses: ours",
            "condense 1000000 synapses vs DuckDB GROUP BY: ours",
        ),
    )
