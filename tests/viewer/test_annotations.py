"""Synapse annotations: decoded by an independent reader written here from the Neuroglancer
specification (shard index, minishard index, the three annotation encodings, the spatial
index), and cross-checked with neuroglancer's own reader (tensorstore's sharded kvstore)."""

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from neuroglancer.read_precomputed_annotations import AnnotationReader

from connectoscope.connectome import SynapseTable
from connectoscope.errors import DataFormatError, DatasetExistsError
from connectoscope.precomputed import (
    compressed_morton_code,
    murmurhash3_x86_128_uint64,
    write_synapse_annotations,
)

BIG = 2**60  # root ids above 2**53: exact end to end


# ----------------------------------------------------------------- an independent reader
def _mmh3_x86_128_low64(data: bytes) -> int:
    """Scalar MurmurHash3_x86_128 (seed 0), straight from the reference algorithm."""
    m = 0xFFFFFFFF

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & m

    def fmix(h):
        h ^= h >> 16
        h = (h * 0x85EBCA6B) & m
        h ^= h >> 13
        h = (h * 0xC2B2AE35) & m
        return h ^ (h >> 16)

    c1, c2, c3, c4 = 0x239B961B, 0xAB0E9789, 0x38B34AE5, 0xA1E38B93
    h = [0, 0, 0, 0]
    n = len(data)
    nblocks = n // 16
    for b in range(nblocks):
        k = list(struct.unpack_from("<4I", data, 16 * b))
        k[0] = (rotl((k[0] * c1) & m, 15) * c2) & m
        h[0] ^= k[0]
        h[0] = (rotl(h[0], 19) + h[1]) & m
        h[0] = (h[0] * 5 + 0x561CCD1B) & m
        k[1] = (rotl((k[1] * c2) & m, 16) * c3) & m
        h[1] ^= k[1]
        h[1] = (rotl(h[1], 17) + h[2]) & m
        h[1] = (h[1] * 5 + 0x0BCAA747) & m
        k[2] = (rotl((k[2] * c3) & m, 17) * c4) & m
        h[2] ^= k[2]
        h[2] = (rotl(h[2], 15) + h[3]) & m
        h[2] = (h[2] * 5 + 0x96CD1C35) & m
        k[3] = (rotl((k[3] * c4) & m, 18) * c1) & m
        h[3] ^= k[3]
        h[3] = (rotl(h[3], 13) + h[0]) & m
        h[3] = (h[3] * 5 + 0x32AC3B17) & m
    tail = data[16 * nblocks :] + bytes(16)
    k = list(struct.unpack_from("<4I", tail, 0))
    consts = [(c1, 15, c2), (c2, 16, c3), (c3, 17, c4), (c4, 18, c1)]
    for i in range(4):
        if n % 16 > 4 * i:
            a, r, b = consts[i]
            h[i] ^= (rotl((k[i] * a) & m, r) * b) & m
    h = [x ^ n for x in h]
    h[0] = (h[0] + h[1] + h[2] + h[3]) & m
    h[1] = (h[1] + h[0]) & m
    h[2] = (h[2] + h[0]) & m
    h[3] = (h[3] + h[0]) & m
    h = [fmix(x) for x in h]
    h[0] = (h[0] + h[1] + h[2] + h[3]) & m
    h[1] = (h[1] + h[0]) & m
    return h[0] | (h[1] << 32)


def _read_sharded(folder: Path, spec: dict) -> dict[int, bytes]:
    """Every key -> value of a ``neuroglancer_uint64_sharded_v1`` folder, checking placement."""
    mbits, sbits = spec["minishard_bits"], spec["shard_bits"]
    out: dict[int, bytes] = {}
    files = sorted(folder.glob("*.shard"))
    assert files, folder
    assert not list(folder.glob("*.part")), "no temporary file is left behind"
    digits = -(-sbits // 4)
    for f in files:
        shard_no = int(f.stem, 16)
        assert f.stem == f"{shard_no:0{digits}x}"
        raw = f.read_bytes()
        index_end = 16 * 2**mbits
        index = np.frombuffer(raw[:index_end], "<u8").reshape(-1, 2)
        for mini, (a, b) in enumerate(index):
            if a == b:
                continue
            enc = raw[index_end + int(a) : index_end + int(b)]
            if spec["minishard_index_encoding"] == "gzip":
                enc = gzip.decompress(enc)
            arr = np.frombuffer(enc, "<u8").reshape(3, -1)
            keys = np.cumsum(arr[0].astype(np.uint64))
            pos = index_end
            for key, delta, size in zip(keys.tolist(), arr[1].tolist(), arr[2].tolist()):
                pos += delta
                value = raw[pos : pos + size]
                pos += size
                if spec["data_encoding"] == "gzip":
                    value = gzip.decompress(value)
                h = key >> spec["preshift_bits"]
                if spec["hash"] == "murmurhash3_x86_128":
                    h = _mmh3_x86_128_low64(struct.pack("<Q", h))
                assert h & (2**mbits - 1) == mini, "key in the wrong minishard"
                assert (h >> mbits) & (2**sbits - 1) == shard_no, "key in the wrong shard"
                assert key not in out
                out[key] = value
    return out


def _decode_multiple(value: bytes, n_props: int):
    (count,) = struct.unpack_from("<Q", value, 0)
    w = 12 + 4 * n_props
    rec = np.frombuffer(value, "<f4", count=count * (w // 4), offset=8).reshape(count, -1)
    ids = np.frombuffer(value, "<u8", count=count, offset=8 + count * w)
    assert len(value) == 8 + count * (w + 8)
    return rec, ids


def _demorton(code: int, grid: list[int]) -> list[int]:
    cell = [0] * len(grid)
    out_bit = 0
    for bit in range(64):
        for d, g in enumerate(grid):
            if (g - 1) >> bit:
                cell[d] |= ((code >> out_bit) & 1) << bit
                out_bit += 1
    return cell


# ----------------------------------------------------------------- fixtures
def _table(n, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "pre": BIG + rng.integers(0, 40, n),
            "post": BIG + 10**6 + rng.integers(0, 150, n),
            "size": rng.integers(20, 2000, n),
            "x_nm": rng.uniform(1000, 81000, n),
            "y_nm": rng.uniform(-500, 40000, n),
            "z_nm": rng.uniform(0, 6000, n),
        }
    )
    return SynapseTable(df), df


def test_annotations_decode_exactly(tmp_path):
    t, df = _table(6000)
    out = write_synapse_annotations(t, tmp_path / "ann", limit=300)
    info = json.loads((out / "info").read_text())
    assert info["@type"] == "neuroglancer_annotations_v1"
    assert info["annotation_type"] == "point"
    assert [r["id"] for r in info["relationships"]] == ["pre_segment", "post_segment"]
    assert [p["id"] for p in info["properties"]] == ["size"]
    lower, upper = np.array(info["lower_bound"]), np.array(info["upper_bound"])
    xyz = df[["x_nm", "y_nm", "z_nm"]].to_numpy()
    assert np.allclose(lower, xyz.min(0)) and np.allclose(upper, xyz.max(0))

    # by_id: position, size, the one pre and the one post id of every synapse
    by_id = _read_sharded(out / "by_id", info["by_id"]["sharding"])
    assert sorted(by_id) == list(range(len(df)))
    for i in (0, 17, 5999):
        v = by_id[i]
        x, y, z, size = struct.unpack_from("<4f", v, 0)
        n_pre, pre, n_post, post = struct.unpack_from("<IQIQ", v, 16)
        assert len(v) == 16 + 24
        assert (n_pre, n_post) == (1, 1)
        assert pre == int(df.pre[i]) and post == int(df.post[i])  # exact above 2**53
        assert np.allclose([x, y, z], xyz[i], rtol=1e-6) and size == df["size"][i]

    # relationship indices: each segment maps to exactly its synapses
    for rel, col in zip(info["relationships"], ("pre", "post")):
        kv = _read_sharded(out / rel["key"], rel["sharding"])
        expect = df.groupby(col).groups
        assert sorted(kv) == sorted(int(k) for k in expect)
        for seg, value in kv.items():
            rec, ids = _decode_multiple(value, 1)
            assert sorted(ids.tolist()) == sorted(expect[seg].tolist())
            assert np.allclose(rec[:, :3], xyz[ids.astype(np.int64)], rtol=1e-6)

    # spatial index: several levels; cells tile the bounds; every synapse exactly once
    levels = info["spatial"]
    assert len(levels) >= 3 and levels[0]["grid_shape"] == [1, 1, 1]
    seen = np.zeros(len(df), np.int64)
    for li, lvl in enumerate(levels):
        grid, chunk = lvl["grid_shape"], np.array(lvl["chunk_size"])
        assert np.allclose(np.array(grid) * chunk, upper - lower)
        if li:
            ratio = np.array(levels[li - 1]["chunk_size"]) / chunk
            assert set(np.round(ratio, 9).tolist()) <= {1.0, 2.0}
        kv = _read_sharded(out / lvl["key"], lvl["sharding"])
        for code, value in kv.items():
            cell = np.array(_demorton(code, grid))
            assert (cell < grid).all()
            rec, ids = _decode_multiple(value, 1)
            assert 0 < len(ids) <= lvl["limit"]
            lo = lower + cell * chunk
            assert (rec[:, :3] >= lo - 1e-2).all() and (rec[:, :3] <= lo + chunk + 1e-2).all()
            seen[ids.astype(np.int64)] += 1
    assert (seen == 1).all(), "every synapse appears exactly once in the spatial index"
    # the coarse level is a uniform sample: not just one corner of the volume
    kv0 = _read_sharded(out / levels[0]["key"], levels[0]["sharding"])
    rec0, _ = _decode_multiple(next(iter(kv0.values())), 1)
    assert len(rec0) == 300
    assert rec0[:, 0].min() < 20000 and rec0[:, 0].max() > 60000


def test_annotations_read_by_neuroglancer(tmp_path):
    t, df = _table(3000, seed=2)
    out = write_synapse_annotations(t, tmp_path / "ann", limit=200)
    r = AnnotationReader(out.resolve().as_uri() + "/")
    a = r.by_id[42]
    assert [int(s[0]) for s in a.segments] == [int(df.pre[42]), int(df.post[42])]
    assert float(a.props[0]) == df["size"][42]
    seg = int(df.pre[0])
    got = sorted(int(x.id) for x in r.relationships["pre_segment"][seg])
    assert got == sorted(np.flatnonzero(df.pre.to_numpy() == seg).tolist())
    everything = sorted(int(x.id) for x in r.get_within_spatial_bounds())
    assert everything == list(range(len(df)))


def test_hash_and_morton_match_references():
    rng = np.random.default_rng(0)
    fixed = np.array([0, 1, 2**53 + 1, 2**64 - 1], np.uint64)
    keys = np.concatenate([fixed, rng.integers(0, 2**63, 200).astype(np.uint64)])
    assert keys.dtype == np.uint64 and int(keys[3]) == 2**64 - 1
    got = murmurhash3_x86_128_uint64(keys)
    want = [_mmh3_x86_128_low64(struct.pack("<Q", int(k))) for k in keys]
    assert got.tolist() == want
    grid = [5, 3, 9]
    cells = np.array([[x, y, z] for x in range(5) for y in range(3) for z in range(9)])
    codes = compressed_morton_code(cells, grid)
    assert len(set(codes.tolist())) == len(cells)
    assert all(_demorton(int(c), grid) == cell.tolist() for c, cell in zip(codes, cells))


def test_identical_points_end_at_the_last_level(tmp_path):
    df = pd.DataFrame(
        {"pre": np.arange(50), "post": np.arange(50) + 100, "x_nm": 5.0, "y_nm": 5.0, "z_nm": 5.0}
    )
    out = write_synapse_annotations(SynapseTable(df), tmp_path / "a", limit=4, max_levels=5)
    info = json.loads((out / "info").read_text())
    assert info["properties"] == []  # no size column: no property
    total = 0
    for lvl in info["spatial"]:
        for v in _read_sharded(out / lvl["key"], lvl["sharding"]).values():
            _, ids = _decode_multiple(v, 0)
            total += len(ids)
            assert len(ids) <= lvl["limit"]
    assert total == 50 and len(info["spatial"]) == 5


def test_annotation_errors_name_the_fix(tmp_path):
    df = pd.DataFrame({"pre": [1], "post": [2], "size": [3.0]})
    with pytest.raises(DataFormatError, match=r"x_nm, y_nm, z_nm.*voxel_size"):
        write_synapse_annotations(SynapseTable(df), tmp_path / "a")
    t, _ = _table(10)
    write_synapse_annotations(t, tmp_path / "b")
    with pytest.raises(DatasetExistsError, match="overwrite"):
        write_synapse_annotations(t, tmp_path / "b")
    with pytest.raises(DataFormatError, match="'kind'"):
        bad = SynapseTable(t.df.assign(kind="x"))
        write_synapse_annotations(bad, tmp_path / "c", properties=["size", "kind"])


def test_an_empty_table_is_refused(tmp_path):
    df = pd.DataFrame({"pre": [], "post": [], "x_nm": [], "y_nm": [], "z_nm": []}, dtype="int64")
    with pytest.raises(DataFormatError, match="empty"):
        write_synapse_annotations(SynapseTable(df), tmp_path / "e")


@settings(max_examples=25)
@given(
    n=st.integers(1, 400),
    limit=st.integers(1, 60),
    spread=st.sampled_from([0.0, 1.0, 1e3, 1e6]),
    seed=st.integers(0, 2**16),
)
def test_every_synapse_once_in_the_spatial_index_property(tmp_path_factory, n, limit, spread, seed):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "pre": BIG + rng.integers(0, 5, n),
            "post": rng.integers(0, 2**63 - 1, n, dtype=np.int64),
            "size": rng.uniform(0, 10, n),
            "x_nm": rng.uniform(0, 1, n) * spread,
            "y_nm": rng.uniform(0, 1, n) * spread / 3,
            "z_nm": rng.uniform(0, 1, n) * spread / 7,
        }
    )
    out = write_synapse_annotations(
        SynapseTable(df), tmp_path_factory.mktemp("p") / "a", limit=limit, max_levels=8, seed=seed
    )
    info = json.loads((out / "info").read_text())
    lower = np.array(info["lower_bound"])
    seen = np.zeros(n, np.int64)
    for lvl in info["spatial"]:
        chunk = np.array(lvl["chunk_size"])
        for code, value in _read_sharded(out / lvl["key"], lvl["sharding"]).items():
            rec, ids = _decode_multiple(value, 1)
            assert len(ids) <= lvl["limit"]
            lo = lower + np.array(_demorton(code, lvl["grid_shape"])) * chunk
            tol = 1e-3 * max(1.0, spread)
            assert (rec[:, :3] >= lo - tol).all() and (rec[:, :3] <= lo + chunk + tol).all()
            seen[ids.astype(np.int64)] += 1
    assert (seen == 1).all()
    post = _read_sharded(out / "post_segment", info["relationships"][1]["sharding"])
    assert sum(len(_decode_multiple(v, 1)[1]) for v in post.values()) == n
    assert set(post) == {int(x) for x in df.post}
