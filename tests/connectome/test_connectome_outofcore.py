"""Out-of-core condensing of partitioned Parquet datasets: same pairs and per-cell sums as in
memory, exact 64-bit ids (also above 2**63), bounded batches / buckets / slices, resumable
after kill -9, local threads and a Dask cluster, bad inputs refused with the file named."""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import connectoscope as cs
from connectoscope.connectome import (
    ConnectivityMatrix,
    SynapseTable,
    _outofcore,
    condense_parquet,
    write_synthetic_dataset,
)
from connectoscope.connectome._outofcore import CondenseDiskFullError
from connectoscope.errors import DataFormatError, DatasetExistsError, InvalidParameterError

SMALL = dict(batch_rows=3_000, bucket_rows=7_000, slice_rows=5_000)
ALL_STATS = ("count", "size_sum", "size_mean", "size_min", "size_max")


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    d = tmp_path_factory.mktemp("ooc") / "parts"
    return write_synthetic_dataset(
        d, 40_000, n_partitions=4, n_pre=60, n_post=500, n_pairs=9_000, workers=1
    )


def _in_memory(src):
    df = pd.read_parquet(src)
    m = ConnectivityMatrix.from_synapses(SynapseTable.from_frame(df))
    return m.aggregate(("count", "size_sum", "size_min", "size_max")).drop(
        columns=["pre_idx", "post_idx"]
    )


def _sorted(c, keys=("pre", "post")):
    return c.sort_values(list(keys)).reset_index(drop=True)


def _pairs(out):
    return _sorted(pd.read_parquet(Path(out) / "pairs"))


def _check_pairs(got, ref):
    assert len(got) == len(ref)
    assert got["pre"].tolist() == ref["pre"].tolist()
    assert got["post"].tolist() == ref["post"].tolist()
    np.testing.assert_array_equal(got["count"], ref["count"])
    np.testing.assert_array_equal(got["size_sum"], ref["size_sum"])


def test_condense_matches_in_memory_pairs_and_cells(parts, tmp_path):
    r = condense_parquet(parts, tmp_path / "out", workers=2, stats=ALL_STATS, **SMALL)
    assert r["synapses"] == 40_000 and r["files"] == 4 and r["buckets"] == 6
    assert r["resumed"] == 0 and r["id_dtype"] == "int64"
    got = _pairs(tmp_path / "out")
    ref = _sorted(_in_memory(parts))
    assert got["pre"].dtype == np.int64  # every id fits int64
    assert r["pairs"] == len(ref)
    _check_pairs(got, ref)
    np.testing.assert_array_equal(got["size_min"], ref["size_min"])
    np.testing.assert_array_equal(got["size_max"], ref["size_max"])
    np.testing.assert_allclose(got["size_mean"], ref["size_sum"] / ref["count"])
    assert json.loads((tmp_path / "out" / "_condense.json").read_text())["pairs"] == len(ref)
    # per-cell sums against pandas
    df = pd.read_parquet(parts)
    cells = pd.read_parquet(tmp_path / "out" / "cells").set_index("id")
    assert cells.index.is_unique and len(cells) == r["cells"]
    ids = np.union1d(df["pre_pt_root_id"], df["post_pt_root_id"]).astype(np.int64)
    assert sorted(cells.index) == ids.tolist()
    pairs = df.drop_duplicates(["pre_pt_root_id", "post_pt_root_id"])
    for side, col in (("out", "pre_pt_root_id"), ("in", "post_pt_root_id")):
        g = df.groupby(col)["size"].agg(["size", "sum"])
        deg = pairs.groupby(col).size()
        c = cells.reindex(g.index.astype(np.int64))
        np.testing.assert_array_equal(c[f"{side}_synapses"], g["size"])
        np.testing.assert_array_equal(c[f"{side}_size_sum"], g["sum"])
        np.testing.assert_array_equal(c[f"{side}_degree"], deg.reindex(g.index))
    assert cells["out_synapses"].sum() == cells["in_synapses"].sum() == 40_000 and cells[
        "out_degree"
    ].sum() == len(ref)
    # no leftovers beside the output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with pytest.raises(DatasetExistsError):
        condense_parquet(parts, tmp_path / "out", workers=1)
    r2 = condense_parquet(parts, tmp_path / "out", workers=1, overwrite=True)
    got2 = _pairs(tmp_path / "out")
    assert list(got2.columns) == ["pre", "post", "count", "size_sum", "size_mean"]
    _check_pairs(got2, ref)
    assert r2["pairs"] == r["pairs"]


def test_condense_one_worker_no_size_column_one_bucket(tmp_path):
    d = tmp_path / "p"
    d.mkdir()
    pd.DataFrame({"a": [5, 5, 6, 5], "b": [6, 6, 5, 7]}).to_parquet(d / "x.parquet")
    condense_parquet(d, tmp_path / "o", columns={"pre": "a", "post": "b"}, workers=1)
    got = _pairs(tmp_path / "o")
    assert list(got.columns) == ["pre", "post", "count"]
    assert got.values.tolist() == [[5, 6, 2], [5, 7, 1], [6, 5, 1]]
    cells = pd.read_parquet(tmp_path / "o" / "cells").set_index("id").sort_index()
    assert cells["out_degree"].tolist() == [2, 1, 0]
    assert cells["in_degree"].tolist() == [1, 1, 1]
    assert cells["in_synapses"].tolist() == [1, 2, 1]


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
    r = condense_parquet(d, tmp_path / "out", workers=1)
    assert r["id_dtype"] == "uint64"
    got = _pairs(tmp_path / "out")
    assert got["pre"].dtype == np.uint64
    assert [int(x) - 2**63 for x in got["post"]] == [14, 15, 5, 6]
    assert got["count"].tolist() == [2, 2, 1, 1]
    cells = pd.read_parquet(tmp_path / "out" / "cells")
    assert cells["id"].dtype == np.uint64
    assert sorted(int(x) - 2**63 for x in cells["id"]) == [5, 6, 14, 15]


def test_condense_ids_above_2_53_stay_exact_in_int64(tmp_path):
    base = 2**53 + 1  # float64 would round these
    d = tmp_path / "p"
    d.mkdir()
    pd.DataFrame(
        {"pre_pt_root_id": np.array([base, base + 2], np.int64), "post_pt_root_id": [base + 4] * 2}
    ).to_parquet(d / "x.parquet")
    condense_parquet(d, tmp_path / "o", workers=1)
    assert _pairs(tmp_path / "o")["pre"].tolist() == [base, base + 2]


def test_condense_refuses_bad_inputs_naming_file_and_column(tmp_path):
    d = tmp_path / "float"
    d.mkdir()
    pd.DataFrame({"pre_pt_root_id": [float(2**60)], "post_pt_root_id": [1.0]}).to_parquet(
        d / "p.parquet"
    )
    with pytest.raises(DataFormatError, match="lost precision"):
        condense_parquet(d, tmp_path / "o", workers=1)
    with pytest.raises(DataFormatError, match="no column 'a'"):
        condense_parquet(d, tmp_path / "o2", workers=1, columns={"pre": "a", "post": "b"})
    # files that disagree on a column's type
    m = tmp_path / "mixed"
    m.mkdir()
    pd.DataFrame({"pre_pt_root_id": [1], "post_pt_root_id": [2]}).to_parquet(m / "a.parquet")
    pd.DataFrame({"pre_pt_root_id": [1], "post_pt_root_id": ["2"]}).to_parquet(m / "b.parquet")
    with pytest.raises(DataFormatError, match=r"b\.parquet: column 'post_pt_root_id'.*a\.parquet"):
        condense_parquet(m, tmp_path / "o3", workers=1)
    # a column missing from a later file
    pd.DataFrame({"pre_pt_root_id": [1]}).to_parquet(m / "b.parquet")
    with pytest.raises(DataFormatError, match=r"b\.parquet: no column 'post_pt_root_id'"):
        condense_parquet(m, tmp_path / "o4", workers=1)
    # missing and negative ids, with the row
    n = tmp_path / "nulls"
    n.mkdir()
    pd.DataFrame(
        {"pre_pt_root_id": pd.array([1, None, 3], "Int64"), "post_pt_root_id": [1, 2, 3]}
    ).to_parquet(n / "a.parquet")
    with pytest.raises(DataFormatError, match="1 missing ids, first at row 1"):
        condense_parquet(n, tmp_path / "o5", workers=1)
    pd.DataFrame({"pre_pt_root_id": [1, 2, -3], "post_pt_root_id": [1, 2, 3]}).to_parquet(
        n / "a.parquet"
    )
    with pytest.raises(DataFormatError, match="1 negative ids, first at row 2"):
        condense_parquet(n, tmp_path / "o6", workers=1)
    with pytest.raises(InvalidParameterError, match="stats"):
        condense_parquet(n, tmp_path / "o7", stats=("count", "median"))
    # nothing half-written under the output names
    assert not any(p.name.startswith("o") for p in tmp_path.iterdir())


def test_condense_refuses_to_replace_a_foreign_folder(parts, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("x")
    with pytest.raises(DatasetExistsError, match="not a condense output"):
        condense_parquet(parts, tmp_path / "mine", overwrite=True, workers=1)
    assert (tmp_path / "mine" / "keep.txt").exists()


def test_condense_cell_types(parts, tmp_path):
    df = pd.read_parquet(parts)
    ids = np.union1d(df["pre_pt_root_id"], df["post_pt_root_id"])
    cells = pd.DataFrame(
        {
            "pt_root_id": ids[::2],
            "cell_type": np.array(["E", "I", "X"])[np.arange(ids[::2].size) % 3],
        }
    )
    r = condense_parquet(parts, tmp_path / "out", cells=cells, workers=2, **SMALL)
    got = pd.read_parquet(tmp_path / "out" / "cell_types.parquet")
    lut = dict(zip(cells["pt_root_id"].tolist(), cells["cell_type"]))
    df["pt"] = df["pre_pt_root_id"].map(lambda v: lut.get(v))
    df["qt"] = df["post_pt_root_id"].map(lambda v: lut.get(v))
    ref = df.groupby(["pt", "qt"], dropna=False)["size"].agg(["size", "sum"]).reset_index()
    ref_pairs = (
        df.drop_duplicates(["pre_pt_root_id", "post_pt_root_id"])
        .groupby(["pt", "qt"], dropna=False)
        .size()
    )
    assert len(got) == len(ref) == 16
    for row in got.itertuples():
        key = (
            row.pre_type if pd.notna(row.pre_type) else np.nan,
            row.post_type if pd.notna(row.post_type) else np.nan,
        )
        sel = ref[
            (ref["pt"].fillna("-") == (key[0] if isinstance(key[0], str) else "-"))
            & (ref["qt"].fillna("-") == (key[1] if isinstance(key[1], str) else "-"))
        ]
        assert row.synapses == int(sel["size"].iloc[0])
        assert row.size_sum == float(sel["sum"].iloc[0])
    assert got["pairs"].sum() == r["pairs"] == ref_pairs.sum()
    c = pd.read_parquet(tmp_path / "out" / "cells").set_index("id")
    assert c.loc[int(ids[0]), "cell_type"] == "E" and pd.isna(c.loc[int(ids[1]), "cell_type"])
    with pytest.raises(InvalidParameterError, match="no column 'kind'"):
        condense_parquet(parts, tmp_path / "o2", cells=cells, cell_type="kind")


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
        r = condense_parquet(src, tmp_path / "out", bucket_rows=6_000)
    assert r["synapses"] == 20_000 and r["buckets"] == 4
    _check_pairs(_pairs(tmp_path / "out"), _sorted(_in_memory(src)))


_KILLABLE = textwrap.dedent(
    """
    import sys, time
    from connectoscope.connectome import _outofcore as o
    slow = {}
    for name in ("_map_task", "_reduce_task", "_cells_task"):
        f = getattr(o, name)
        def wrapped(item, tick=None, _f=f):
            r = _f(item, tick)
            time.sleep(0.15)
            return r
        setattr(o, name, wrapped)
    o.condense_parquet(sys.argv[1], sys.argv[2], workers=2, batch_rows=2_000,
                       bucket_rows=5_000, slice_rows=3_000)
    """
)


@pytest.mark.parametrize("phase", ["map", "reduce"])
def test_condense_resumes_after_kill_9_without_lost_or_doubled_pairs(parts, tmp_path, phase):
    out = tmp_path / "out"
    work = tmp_path / ".out.condense"
    env = {**os.environ, "CONNECTOSCOPE_PROGRESS": "0"}
    p = subprocess.Popen([sys.executable, "-c", _KILLABLE, str(parts), str(out)], env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if len(list((work / phase).glob("*.json"))) >= 2:
                break
            assert p.poll() is None, "the condense finished before it could be killed"
            time.sleep(0.02)
        else:
            pytest.fail(f"no {phase} task finished in time")
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert not out.exists() and (work / "plan.json").exists()
    # other options than the interrupted run: refused, the work kept
    with pytest.raises(DatasetExistsError, match="interrupted condense"):
        condense_parquet(parts, out, workers=2, batch_rows=2_000, bucket_rows=9_000)
    r = condense_parquet(
        parts, out, workers=2, batch_rows=2_000, bucket_rows=5_000, slice_rows=3_000
    )
    assert r["resumed"] >= 2 and r["synapses"] == 40_000
    got = _pairs(out)
    assert not got.duplicated(["pre", "post"]).any()
    _check_pairs(got, _sorted(_in_memory(parts)))
    assert not work.exists()


def test_condense_disk_full_removes_partial_output(parts, tmp_path, monkeypatch):
    real = _outofcore._reduce_task

    def full(item, tick=None):
        if item[0] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(item, tick)

    monkeypatch.setattr(_outofcore, "_reduce_task", full)
    with pytest.raises(CondenseDiskFullError, match="disk filled up"):
        condense_parquet(parts, tmp_path / "out", workers=1, **SMALL)
    assert list(tmp_path.iterdir()) == []


def test_condense_cli(parts, tmp_path):
    from connectoscope.cli import main

    out = tmp_path / "cond"
    assert (
        main(
            [
                "connectome",
                "condense",
                str(parts),
                "-o",
                str(out),
                "--workers",
                "2",
                "--stats",
                "count,size_sum,size_max",
            ]
        )
        == 0
    )
    got = _pairs(out)
    assert list(got.columns) == ["pre", "post", "count", "size_sum", "size_max"]
    _check_pairs(got, _sorted(_in_memory(parts)))
    assert main(["connectome", "condense", str(parts), "-o", str(out)]) == 2  # exists
    assert main(["connectome", "condense", str(tmp_path / "nope"), "-o", str(tmp_path / "x")]) == 2
