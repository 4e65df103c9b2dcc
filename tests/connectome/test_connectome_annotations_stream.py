"""Streaming synapse annotations: the same annotations as the in-memory writer (every
synapse once in the spatial index, by id, and under its pre/post segments), a spatial index
whose levels respect the limit, exact ids above 2**53, bad inputs refused, resume after an
interruption, the CLI into a folder or a dataset."""

import json

import numpy as np
import pandas as pd
import pytest

from connectoscope.cli import main
from connectoscope.connectome import write_annotations_out_of_core
from connectoscope.errors import DataFormatError, DatasetExistsError
from connectoscope.precomputed import _annotations as A
from connectoscope.precomputed import (
    read_annotations,
    write_synapse_annotations,
    write_synapse_annotations_streaming,
)
from connectoscope.precomputed._sharding import murmurhash3_x86_128_uint64


def _table(n, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "pre": 2**60 + rng.integers(0, max(1, n // 50), n),
            "post": 2**60 + 10**7 + rng.integers(0, max(1, n // 20), n),
            "size": rng.integers(20, 3000, n),
            "x_nm": rng.uniform(0, 400_000, n),
            "y_nm": rng.uniform(0, 300_000, n),
            "z_nm": rng.uniform(0, 80_000, n),
        }
    )


def _batches(df, step):
    def gen(_cols):
        for a in range(0, len(df), step):
            yield df.iloc[a : a + step]

    return gen


@pytest.mark.parametrize("compress", [False, True])
def test_streaming_equals_in_memory(tmp_path, compress):
    df = _table(60_000)
    out = write_synapse_annotations_streaming(
        _batches(df, 7_000), tmp_path / "s", limit=500, chunk_rows=20_000, compress=compress
    )
    ref = write_synapse_annotations(df, tmp_path / "m", limit=500)
    a, b = read_annotations(out), read_annotations(ref)
    assert len(a) == len(df) and a["id"].is_unique
    for c in ("id", "x", "y", "z", "size"):
        np.testing.assert_array_equal(a[c].to_numpy(), b[c].to_numpy())
    for c in ("pre_segment", "post_segment"):
        assert all(np.array_equal(x, y) for x, y in zip(a[c], b[c]))
    for seg in (int(df["pre"].iloc[3]), int(df["post"].iloc[9])):
        rel = "pre_segment" if seg == int(df["pre"].iloc[3]) else "post_segment"
        got = read_annotations(out, relationship=(rel, seg))
        want = np.flatnonzero(df[rel.split("_")[0]].to_numpy() == seg)
        assert sorted(got["id"].tolist()) == want.tolist()
    byid = read_annotations(out, ids=[0, 123, 59_999])
    assert byid["size"].tolist() == df["size"].iloc[[0, 123, 59_999]].tolist()
    info = json.loads((out / "info").read_text())
    assert len(info["spatial"]) >= 3 and info["spatial"][0]["grid_shape"] == [1, 1, 1]
    assert all(lv["limit"] <= 500 for lv in info["spatial"][:-1])
    enc = {info["relationships"][0]["sharding"]["data_encoding"]}
    assert enc == {"gzip" if compress else "raw"}


def test_spatial_levels_hold_every_synapse_once_with_a_uniform_sample(tmp_path):
    df = _table(40_000, seed=2)
    out = write_synapse_annotations_streaming(_batches(df, 5_000), tmp_path / "s", limit=300)
    info = json.loads((out / "info").read_text())
    from connectoscope.precomputed._read_annotations import (
        _decode_many,
        _index_items,
        _open,
        annotation_dtype,
    )

    layer = _open(out)
    dt = annotation_dtype(info)
    per_level = []
    for level in info["spatial"]:
        ids = []
        biggest = 0
        for _key, raw in _index_items(layer, level):
            _, aid = _decode_many(raw, dt, "x")
            ids.append(aid)
            biggest = max(biggest, aid.size)
        assert biggest == level["limit"]  # the recorded limit is the largest cell
        per_level.append(np.concatenate(ids) if ids else np.zeros(0, np.uint64))
    allids = np.concatenate(per_level)
    assert np.array_equal(np.sort(allids), np.arange(len(df)))  # each synapse exactly once
    # the coarsest level is a uniform sample: its x spread matches the table's
    x0 = df["x_nm"].to_numpy()[per_level[0].astype(np.int64)]
    assert 300 * 0.8 < x0.size <= 300 and abs(np.median(x0) - 200_000) < 40_000


def test_murmur_kernel_equals_the_reference_hash():
    k = np.r_[
        np.random.default_rng(0).integers(0, 2**63, 5000).astype(np.uint64), np.uint64(2**64 - 1)
    ]
    np.testing.assert_array_equal(A._murmur(k), murmurhash3_x86_128_uint64(k))


def test_streaming_refuses_bad_input_and_resumes(tmp_path, monkeypatch):
    df = _table(5_000)
    with pytest.raises(DataFormatError, match="x_nm"):
        write_synapse_annotations_streaming(_batches(df.drop(columns="x_nm"), 1000), tmp_path / "a")
    bad = df.copy()
    bad.loc[10, "y_nm"] = np.nan
    with pytest.raises(DataFormatError, match="missing or infinite"):
        write_synapse_annotations_streaming(_batches(bad, 1000), tmp_path / "b")
    dup = df.assign(id=np.r_[np.arange(4_999), 7])
    with pytest.raises(DataFormatError, match="id 7 is listed more than once"):
        write_synapse_annotations_streaming(_batches(dup, 1000), tmp_path / "c", source_key="k")
    # interrupted while writing shards: the re-run redoes only what is missing
    calls = []
    real = A._write_shard_file

    def boom(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(A, "_write_shard_file", boom)
    with pytest.raises(KeyboardInterrupt):
        write_synapse_annotations_streaming(
            _batches(df, 1000), tmp_path / "d", chunk_rows=2_000, source_key="k", workers=1
        )
    assert not (tmp_path / "d").exists() and (tmp_path / ".d.annotations" / "stats.json").exists()
    monkeypatch.setattr(A, "_write_shard_file", real)
    out = write_synapse_annotations_streaming(
        _batches(df, 1000), tmp_path / "d", chunk_rows=2_000, source_key="k", workers=1
    )
    assert len(read_annotations(out)) == 5_000 and not (tmp_path / ".d.annotations").exists()
    with pytest.raises(DatasetExistsError):
        write_synapse_annotations_streaming(_batches(df, 1000), tmp_path / "d")


def test_out_of_core_from_parquet_cli_and_dataset(tmp_path, capsys):
    rng = np.random.default_rng(1)
    n = 30_000
    syn = pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64) + 2**53 + 1,  # exact above 2**53
            "pre_pt_root_id": 864691135000000000 + rng.integers(0, 300, n),
            "post_pt_root_id": 864691135000000000 + rng.integers(0, 900, n),
            "size": rng.integers(1, 999, n),
            "ctr_pt_position_x": rng.integers(0, 50_000, n),
            "ctr_pt_position_y": rng.integers(0, 40_000, n),
            "ctr_pt_position_z": rng.integers(0, 500, n),
        }
    )
    (tmp_path / "syn").mkdir()
    for i in range(3):
        syn.iloc[i * 10_000 : (i + 1) * 10_000].to_parquet(tmp_path / "syn" / f"p{i}.parquet")
    out = write_annotations_out_of_core(tmp_path / "syn", tmp_path / "ann", voxel_size=(4, 4, 40))
    a = read_annotations(out)
    assert a["id"].tolist() == syn["id"].tolist()
    np.testing.assert_allclose(a["z"].to_numpy(), syn["ctr_pt_position_z"].to_numpy() * 40)
    assert [int(x[0]) for x in a["pre_segment"][:3]] == syn["pre_pt_root_id"][:3].tolist()
    assert (
        main(
            [
                "connectome",
                "annotate",
                str(tmp_path / "syn"),
                "--voxel-size",
                "4,4,40",
                "-o",
                str(tmp_path / "ann2"),
                "--limit",
                "100",
            ]
        )
        == 0
    )
    assert "spatial levels" in capsys.readouterr().out
    info = json.loads((tmp_path / "ann2" / "info").read_text())
    assert info["spatial"][0]["limit"] <= 100
    assert main(["connectome", "annotate", str(tmp_path / "syn"), "-o", str(tmp_path / "x")]) == 2
    from connectoscope.dataset import Dataset

    ds = Dataset.create(tmp_path / "ds.cscope", voxel_size=(4, 4, 40))
    rc = main(
        [
            "connectome",
            "annotate",
            str(tmp_path / "syn"),
            "--voxel-size",
            "4,4,40",
            "--dataset",
            str(ds.path),
        ]
    )
    assert rc == 0
    layer = Dataset(ds.path).layers["annotations"]
    assert layer["n_synapses"] == n
    assert len(read_annotations(ds.path / layer["path"])) == n
