import json

import h5py
import numpy as np
import pytest

import connectoscope as cs
from conftest import write_cubes
from connectoscope.dataset import Dataset
from connectoscope.errors import (
    DataFormatError,
    DatasetExistsError,
    IncompleteStoreError,
    InvalidParameterError,
    LayerNotFoundError,
)
from connectoscope.volume import downsample_labels, ingest, write_layer


def test_cube_ingest_roundtrip_all_levels(tmp_path, small_labels):
    src = write_cubes(tmp_path / "seg", small_labels, 32, skip={(1, 1, 1)})
    ds = Dataset(
        ingest(
            src,
            tmp_path / "d.cscope",
            layer="segmentation",
            voxel_size=(16, 16, 40),
            workers=2,
            storage=cs.StorageSpec(chunk_xyz=(16, 16, 8), shard_xyz=(32, 32, 16)),
        ).path
    )
    seg = ds.segmentation
    assert seg.num_levels >= 4  # several levels, several shards each: pieces cross tasks
    assert seg.complete and seg.dtype == np.uint32
    expect = small_labels.copy()
    expect[32:64, 32:64, 32:64] = 0  # missing cube reads as background
    np.testing.assert_array_equal(seg.read(), expect)
    # every level equals the kernel applied to the previous level
    prev = expect
    for lev in seg.levels[1:]:
        i = lev.index if hasattr(lev, "index") else seg.levels.index(lev)
        step = tuple(a // b for a, b in zip(lev.factor_xyz, seg.levels[i - 1].factor_xyz))
        prev = downsample_labels(prev, step)
        np.testing.assert_array_equal(seg.read(level=i), prev)
    assert ds.provenance[-1]["missing"] == ["x1y1z1"]
    # region reads in voxels and nm
    b = cs.Bbox((10, 20, 5), (50, 60, 30))
    np.testing.assert_array_equal(seg.read(b), expect[b.slices_zyx])
    # voxel centres sit at index * voxel size: voxel 10 covers x 152-168 nm
    assert seg.frame(0).bbox_to_nm(b) == ((152, 312, 180), (792, 952, 1180))
    nm = seg.read(bbox_nm=((152, 312, 180), (792, 952, 1180)))
    np.testing.assert_array_equal(nm, expect[5:30, 20:60, 10:50])
    np.testing.assert_array_equal(seg.read_plane("y", 7), expect[:, 7, :])
    with pytest.raises(InvalidParameterError, match="valid 0-95"):
        seg.read_plane("y", 96)
    with pytest.raises(InvalidParameterError, match="outside the volume"):
        seg.read(cs.Bbox((0, 0, 0), (129, 1, 1)))


def test_ome_metadata_and_zarr_python_reads_identical(tmp_path, small_labels, small_image):
    import zarr

    ds = cs.Dataset.create(tmp_path / "z.cscope", voxel_size=(11.24, 11.24, 28))
    write_layer(ds, "segmentation", small_labels, kind="segmentation")
    write_layer(ds, "image", small_image, kind="image")
    root = ds.path / "volume.ome.zarr"
    meta = json.loads((root / "labels" / "segmentation" / "zarr.json").read_text())
    ome = meta["attributes"]["ome"]
    assert ome["version"] == "0.5"
    ms = ome["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["z", "y", "x"]
    assert {a["unit"] for a in ms["axes"]} == {"nanometer"}
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"] == [28, 11.24, 11.24]
    assert "image-label" in ome
    assert json.loads((root / "labels" / "zarr.json").read_text())["attributes"]["ome"][
        "labels"
    ] == ["segmentation"]
    arr_meta = json.loads((root / "labels" / "segmentation" / "0" / "zarr.json").read_text())
    codec = arr_meta["codecs"][0]
    assert codec["name"] == "sharding_indexed"
    inner = [c["name"] for c in codec["configuration"]["codecs"]]
    assert inner == ["bytes", "zstd"]  # zstd, no shuffle
    g = zarr.open_group(str(root), mode="r")
    for i in range(ds.segmentation.num_levels):
        np.testing.assert_array_equal(
            g["labels/segmentation"][str(i)][:], ds.segmentation.read(level=i)
        )
    for i in range(ds.image.num_levels):
        np.testing.assert_array_equal(g[str(i)][:], ds.image.read(level=i))


def test_image_pyramid_rounds(tmp_path):
    ds = cs.Dataset.create(tmp_path / "i.cscope", voxel_size=(4, 4, 40))
    img = np.zeros((2, 400, 400), np.uint8)
    img[:, 0, 1] = 1  # block (0,0) mean 0.25 -> 0 ; add a 0.5 case
    img[:, 2, 2] = 1
    img[:, 2, 3] = 1  # block (1,1) mean 0.5 -> rounds up to 1
    lay = write_layer(ds, "image", img, kind="image")
    lvl1 = lay.read(level=1)
    assert lvl1.shape == (2, 200, 200)
    assert lvl1[0, 0, 0] == 0 and lvl1[0, 1, 1] == 1


def test_bad_inputs(tmp_path, small_labels):
    src = write_cubes(tmp_path / "seg", small_labels, 32)
    with pytest.raises(InvalidParameterError, match="voxel size"):
        ingest(src, tmp_path / "new.cscope", layer="segmentation")
    ds = Dataset(
        ingest(
            src, tmp_path / "d.cscope", layer="segmentation", voxel_size=(1, 1, 1), workers=1
        ).path
    )
    with pytest.raises(DatasetExistsError, match="--overwrite"):
        ingest(src, ds, layer="segmentation")
    # inconsistent image extent
    img = write_cubes(tmp_path / "img", np.zeros((32, 32, 32), np.uint8), 32)
    with pytest.raises(InvalidParameterError, match="must cover the same voxels"):
        ingest(img, ds, layer="image")
    # a truncated cube names the file; nothing already written is damaged
    bad = write_cubes(tmp_path / "bad", small_labels, 32)
    raw = (bad / "x1y0z0.hdf5").read_bytes()
    (bad / "x1y0z0.hdf5").write_bytes(raw[: len(raw) // 4])
    with pytest.raises(DataFormatError, match="x1y0z0.hdf5"):
        ingest(bad, tmp_path / "b.cscope", layer="segmentation", voxel_size=(1, 1, 1), workers=1)
    # found while checking the cube headers, before the dataset is even created
    assert not (tmp_path / "b.cscope").exists()
    # damage found while reading (past the headers) leaves an incomplete layer that says so
    bad2 = write_cubes(tmp_path / "bad2", small_labels, 32)
    with h5py.File(bad2 / "x1y0z0.hdf5", "w") as f:
        f.create_dataset("data", data=small_labels[:32, :32, 32:64], compression="gzip")
    raw = bytearray((bad2 / "x1y0z0.hdf5").read_bytes())
    raw[-2000:] = bytes(2000)
    (bad2 / "x1y0z0.hdf5").write_bytes(bytes(raw))
    with pytest.raises(DataFormatError, match="x1y0z0.hdf5"):
        ingest(bad2, tmp_path / "b2.cscope", layer="segmentation", voxel_size=(1, 1, 1), workers=1)
    if (tmp_path / "b2.cscope").exists():  # kept only when some shard was finished
        b = cs.Dataset(tmp_path / "b2.cscope")
        with pytest.raises(IncompleteStoreError, match="resume"):
            b.segmentation.read()
    np.testing.assert_array_equal(ds.segmentation.read(), small_labels)
    # wrong dtype cube
    wrong = write_cubes(tmp_path / "wrong", small_labels, 32)

    with h5py.File(wrong / "x0y1z0.hdf5", "w") as f:
        f["data"] = np.zeros((32, 32, 32), np.uint16)
    with pytest.raises(DataFormatError, match="x0y1z0.hdf5: /data is uint16"):
        ingest(wrong, tmp_path / "w.cscope", layer="segmentation", voxel_size=(1, 1, 1), workers=1)
    with pytest.raises(LayerNotFoundError, match="connectoscope ingest"):
        ds.image.read()
    with pytest.raises(LayerNotFoundError, match="connectoscope objects map .* --kind neuron"):
        ds.volume("mapped_neuron").read()


def test_other_sources(tmp_path, small_labels):
    import h5py
    import tifffile

    np.save(tmp_path / "a.npy", small_labels)
    ds = Dataset(
        ingest(
            tmp_path / "a.npy",
            tmp_path / "n.cscope",
            layer="segmentation",
            voxel_size=(1, 1, 1),
            workers=1,
        ).path
    )
    np.testing.assert_array_equal(ds.segmentation.read(), small_labels)
    with h5py.File(tmp_path / "b.h5", "w") as f:
        f["/deep/labels"] = small_labels
        f["/other"] = small_labels[:2]
    ds = Dataset(
        ingest(
            f"{tmp_path / 'b.h5'}:/deep/labels",
            tmp_path / "h.cscope",
            layer="segmentation",
            voxel_size=(1, 1, 1),
            workers=1,
        ).path
    )
    np.testing.assert_array_equal(ds.segmentation.read(), small_labels)
    stack = tmp_path / "planes"
    stack.mkdir()
    img = (small_labels % 251).astype(np.uint8)
    for z in range(img.shape[0]):
        tifffile.imwrite(stack / f"p{z:04d}.tif", img[z])
    ds = Dataset(
        ingest(stack, tmp_path / "t.cscope", layer="image", voxel_size=(1, 1, 1), workers=1).path
    )
    np.testing.assert_array_equal(ds.image.read(), img)


def test_distributed_scheduler(tmp_path, small_labels):
    from distributed import LocalCluster

    src = write_cubes(tmp_path / "seg", small_labels, 32)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        cs.executor(cluster.scheduler_address) as ex,
    ):
        assert ex.describe() == f"Dask cluster {cluster.scheduler_address}"
        ds = Dataset(
            ingest(src, tmp_path / "c.cscope", layer="segmentation", voxel_size=(1, 1, 1)).path
        )
    np.testing.assert_array_equal(ds.segmentation.read(), small_labels)
