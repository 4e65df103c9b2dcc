"""Out-of-core condensing of partitioned Parquet datasets: same result as in memory, exact
64-bit ids (also above 2**63), bounded batches and buckets, local and on a Dask cluster."""

import json

import numpy as np
import pandas as pd
import pytest

import connectoscope as cs
from connectoscope.connectome import (
    ConnectivityMatrix,
    SynapseTable,
    condense_parquet,
    write_synthetic_dataset,
)
from connectoscope.errors import DataFormatError, DatasetExistsError


def _in_memory(src):
    df = pd.read_parquet(src)
    m = ConnectivityMatrix.from_synapses(SynapseTable.from_frame(df))
    return m.aggregate(("count", "size_sum", "size_min", "size_max")).drop(
        columns=["pre_idx", "post_idx"]
    )


def _sorted(c):
    return c.sort_values(["pre", "post"]).reset_index(drop=True)


def test_condense_matches_in_memory_with_small_batches_and_many_buckets(tmp_path):
    src = write_synthetic_dataset(
        tmp_path / "parts", 40_000, n_partitions=4, n_pre=60, n_post=500, n_pairs=9_000, workers=1
    )
    r = condense_parquet(src, tmp_path / "out", workers=1, batch_rows=3_000, bucket_rows=7_000)
    assert r["synapses"] == 40_000 and r["files"] == 4 and r["buckets"] == 6
    got = _sorted(pd.read_parquet(tmp_path / "out"))
    ref = _sorted(_in_memory(src))
    assert got["pre"].dtype == np.int64  # every id fits int64
    assert len(got) == r["pairs"] == len(ref)
    assert (
        got["pre"].tolist() == ref["pre"].tolist() and got["post"].tolist() == ref["post"].tolist()
    )
    np.testing.assert_array_equal(got["count"], ref["count"])
    np.testing.assert_array_equal(got["size_sum"], ref["size_sum"])
    np.testing.assert_array_equal(got["size_min"], ref["size_min"])
    np.testing.assert_array_equal(got["size_max"], ref["size_max"])
    np.testing.assert_allclose(got["size_mean"], ref["size_sum"] / ref["count"])
    assert json.loads((tmp_path / "out" / "_condense.json").read_text())["pairs"] == len(ref)
    with pytest.raises(DatasetExistsError):
        condense_parquet(src, tmp_path / "out", workers=1)


def test_condense_keeps_ids_above_2_63_exact(tmp_path):
    huge = np.uint64(2**63 + 5)
    d = tmp_path / "parts"
    d.mkdir()
    for i in range(2):
        pd.DataFrame(
            {
                "pre_pt_root_id": huge + np.array([0, 0, 1], np.uint64),
                "post_pt_root_id": huge + np.array([9, 9, 0], np.uint64) + np.uint64(i),
                "size": [1, 2, 3],
            }
        ).to_parquet(d / f"p{i}.parquet")
    condense_parquet(d, tmp_path / "out", workers=1)
    got = _sorted(pd.read_parquet(tmp_path / "out"))
    assert got["pre"].dtype == np.uint64
    assert [int(x) - 2**63 for x in got["post"]] == [14, 15, 5, 6]
    assert got["count"].tolist() == [2, 2, 1, 1]


def test_condense_refuses_float_ids_and_names_missing_columns(tmp_path):
    d = tmp_path / "parts"
    d.mkdir()
    pd.DataFrame({"pre_pt_root_id": [float(2**60)], "post_pt_root_id": [1.0]}).to_parquet(
        d / "p.parquet"
    )
    with pytest.raises(DataFormatError, match="lost precision"):
        condense_parquet(d, tmp_path / "o", workers=1)
    with pytest.raises(DataFormatError, match="missing columns"):
        condense_parquet(d, tmp_path / "o2", workers=1, columns={"pre": "a", "post": "b"})


def test_condense_on_a_dask_cluster_address(tmp_path):
    import distributed

    src = write_synthetic_dataset(
        tmp_path / "parts", 20_000, n_partitions=2, n_pre=40, n_post=300, workers=1
    )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        cs.executor(cluster.scheduler_address),
    ):
        r = condense_parquet(src, tmp_path / "out")
    assert r["synapses"] == 20_000
    got = _sorted(pd.read_parquet(tmp_path / "out"))
    ref = _sorted(_in_memory(src))
    assert got["pre"].tolist() == ref["pre"].tolist()
    np.testing.assert_array_equal(got["count"], ref["count"])
