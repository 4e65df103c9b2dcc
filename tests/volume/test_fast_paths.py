"""Fast paths give exactly what the plain paths give: raw-chunk HDF5 reads, compiled
kernels, shards written without tensorstore, pyramid levels built from in-memory pieces."""

import h5py
import numpy as np
import pytest

import connectoscope as cs
from conftest import write_cubes
from connectoscope.dataset import Dataset
from connectoscope.parallel import run_graph, run_tasks
from connectoscope.sources._h5chunks import chunk_table, read_box
from connectoscope.volume import _downsample, downsample_image, downsample_labels, ingest


@pytest.mark.parametrize(
    "kwargs",
    [
        {"compression": "gzip", "compression_opts": 1},
        {"compression": "gzip", "shuffle": True},
        {},  # chunked, no filter
        {"compression": "lzf"},  # not handled: falls back to h5py
    ],
)
@pytest.mark.parametrize("dtype", ["<u4", ">u2", "<u8", "u1"])
def test_read_box_matches_h5py(tmp_path, rng, kwargs, dtype):
    a = rng.integers(0, 7, size=(20, 33, 47)).astype(dtype)
    p = tmp_path / "a.h5"
    with h5py.File(p, "w") as f:
        d = f.create_dataset("data", shape=a.shape, dtype=dtype, chunks=(8, 16, 16), **kwargs)
        d[:, :16] = a[:, :16]  # chunks beyond y=16 are never written: fill value
    expect = a.copy()
    expect[:, 16:] = 0
    with h5py.File(p, "r") as f:
        d = f["data"]
        handled = chunk_table(d) is not None
        assert handled == (kwargs.get("compression") != "lzf")
        for start, stop in [
            ((0, 0, 0), a.shape),
            ((3, 5, 7), (19, 30, 41)),
            ((8, 16, 16), (9, 17, 17)),
        ]:
            got = read_box(d, start, stop, path=p)
            want = expect[tuple(slice(s, e) for s, e in zip(start, stop))]
            assert got.dtype == want.dtype.newbyteorder("=")
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", [(3, 5, 7), (4, 6, 8), (5, 9, 2), (1, 1, 1), (7, 130, 257)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.uint32, np.uint64, np.float32])
def test_compiled_kernels_equal_numpy(monkeypatch, rng, shape, dtype):
    hi = 256 if dtype == np.uint8 else 5
    a = rng.integers(0, hi, size=shape).astype(dtype)
    for f in ((2, 2, 1), (2, 2, 2)):
        monkeypatch.setattr(_downsample, "_COMPILED_MIN", 1 << 60)
        ref_i = downsample_image(a, f) if dtype != np.uint64 else None
        ref_l = downsample_labels(a, f) if np.dtype(dtype).kind in "ui" else None
        monkeypatch.setattr(_downsample, "_COMPILED_MIN", 0)
        if ref_i is not None:
            got = downsample_image(a, f)
            assert got.dtype == a.dtype
            np.testing.assert_allclose(got, ref_i, rtol=1e-6)
        if ref_l is not None:
            got = downsample_labels(a, f)
            assert got.dtype == a.dtype
            np.testing.assert_array_equal(got, ref_l)


def test_image_average_rounds_half_up_compiled():
    a = np.zeros((2, 256, 256), np.uint8)
    a[:, 0, 0] = 1  # 1/4 -> 0
    a[:, 2, 2] = a[:, 2, 3] = 1  # 2/4 -> 1 (rounded, not truncated)
    a[:, 4, 4] = a[:, 4, 5] = a[:, 5, 4] = 255  # 765/4 = 191.25 -> 191
    out = downsample_image(a, (2, 2, 1))
    assert (out[0, 0, 0], out[0, 1, 1], out[0, 2, 2]) == (0, 1, 191)
    out = downsample_image(a, (2, 2, 2))
    assert (out[0, 0, 0], out[0, 1, 1], out[0, 2, 2]) == (0, 1, 191)


def _store_files(ds_path):
    root = ds_path / "volume.ome.zarr"
    return {
        str(f.relative_to(root)): f.read_bytes()
        for f in sorted(root.rglob("*"))
        if f.is_file() and ".progress" not in f.parts
    }


def test_resume_rebuilds_coarse_levels_from_finished_fine_shards(tmp_path, small_labels):
    """Level 0 done, coarser levels lost: the re-run reads the finished shards back and
    gives the same bytes as the uninterrupted run."""
    src = write_cubes(tmp_path / "seg", small_labels, 32)
    opts = dict(
        layer="segmentation",
        voxel_size=(8, 8, 8),
        workers=2,
        storage=cs.StorageSpec(chunk_xyz=(16, 16, 16), shard_xyz=(32, 32, 32)),
    )
    ref = Dataset(ingest(src, tmp_path / "ref.cscope", **opts).path)
    ds = Dataset(ingest(src, tmp_path / "v.cscope", **opts).path)
    assert ds.segmentation.num_levels >= 3
    root = ds.path / "volume.ome.zarr"
    desc = dict(ds.layer("segmentation"))
    desc["complete"] = False
    ds.set_layer("segmentation", desc)
    for li in range(1, ds.segmentation.num_levels):
        for f in (root / "labels" / "segmentation" / str(li) / "c").rglob("*"):
            if f.is_file():
                f.unlink()
        for f in (root / ".progress" / "segmentation" / str(li)).iterdir():
            f.unlink()
    ingest(src, ds, **opts)
    assert cs.Dataset(ds.path).layer("segmentation")["complete"] is True
    assert _store_files(ds.path) == _store_files(ref.path)


def test_local_modes_and_graph_dependencies():
    graph = {"a": (abs, -2), "b": (abs, -3), "c": (max, "a", "b")}
    for mode in ("threads", "processes", "sync"):
        assert run_graph(graph, ["c"], workers=2, mode=mode) == [3]
    seen = []
    assert run_tasks(abs, [-1, -2, 3], workers=2, on_result=lambda i, r: seen.append((i, r))) == [
        1,
        2,
        3,
    ]
    assert sorted(seen) == [(-2, 2), (-1, 1), (3, 3)]
    with pytest.raises(ValueError, match="mode"):
        run_graph(graph, ["c"], workers=2, mode="nope")  # type: ignore[arg-type]


def test_processes_mode_gives_the_same_bytes_and_cleans_cut_shards(tmp_path, small_labels):
    from connectoscope.cli import main

    src = write_cubes(tmp_path / "seg", small_labels, 32)
    opts = dict(
        layer="segmentation",
        voxel_size=(8, 8, 8),
        storage=cs.StorageSpec(chunk_xyz=(16, 16, 16), shard_xyz=(32, 32, 32)),
    )
    ref = Dataset(ingest(src, tmp_path / "ref.cscope", workers=2, **opts).path)
    argv = ["ingest", str(src), str(tmp_path / "p.cscope"), "--layer", "segmentation"]
    argv += ["--voxel-size", "8,8,8", "--chunk", "16,16,16", "--shard", "32,32,32"]
    assert main([*argv, "--workers", "2", "--local", "processes"]) == 0
    assert _store_files(tmp_path / "p.cscope") == _store_files(ref.path)
    # a shard file cut short by a kill is a hidden .part file: removed when resuming
    ds = cs.Dataset(tmp_path / "p.cscope")
    desc = dict(ds.layer("segmentation"))
    desc["complete"] = False
    ds.set_layer("segmentation", desc)
    shard = next((ds.path / "volume.ome.zarr" / "labels" / "segmentation" / "0" / "c").rglob("0"))
    leftover = shard.with_name(".0.1234.5678.part")
    leftover.write_bytes(b"half a shard")
    assert main(argv) == 0
    assert not leftover.exists()
    assert _store_files(ds.path) == _store_files(ref.path)
    with pytest.raises(cs.errors.InvalidParameterError, match="local must be"):
        cs.executor(local="fork").__enter__()
