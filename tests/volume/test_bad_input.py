"""Bad input to ingest: each error names the file and the fix; nothing written is damaged."""

import subprocess
import sys

import h5py
import numpy as np
import pytest

from conftest import write_cubes
from connectoscope import Dataset
from connectoscope.errors import DataFormatError, DatasetExistsError
from connectoscope.sources._h5chunks import chunk_table
from connectoscope.volume import ingest


def _layer_files(ds_path):
    root = ds_path / "volume.ome.zarr"
    return {
        str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()
    }


def test_duplicate_grid_position_names_both_files(tmp_path, small_labels):
    src = write_cubes(tmp_path / "seg", small_labels, 32)
    (src / "x1y0z0.h5").write_bytes((src / "x1y0z0.hdf5").read_bytes())
    with pytest.raises(
        DataFormatError, match=r"x1y0z0\.h5 and x1y0z0\.hdf5|x1y0z0\.hdf5 and x1y0z0\.h5"
    ):
        ingest(src, tmp_path / "d.cscope", layer="segmentation", voxel_size=(1, 1, 1))
    assert not (tmp_path / "d.cscope").exists()


def test_unmatched_names_are_skipped_and_listed(tmp_path, small_labels):
    src = write_cubes(tmp_path / "seg", small_labels, 32)
    (src / "notes.txt").write_text("not a cube")
    (src / "x1y0.hdf5").write_bytes(b"")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "connectoscope",
            "ingest",
            str(src),
            str(tmp_path / "d.cscope"),
            "--layer",
            "segmentation",
            "--voxel-size",
            "1,1,1",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "skipped 2 files" in r.stdout and "notes.txt" in r.stdout and "x1y0.hdf5" in r.stdout
    ds = Dataset(tmp_path / "d.cscope")
    assert sorted(ds.provenance[-1]["skipped"]) == ["notes.txt", "x1y0.hdf5"]
    np.testing.assert_array_equal(ds.segmentation.read(), small_labels)


def test_wrong_shape_cube_stops_before_writing(tmp_path, small_labels):
    good = Dataset(
        ingest(
            write_cubes(tmp_path / "ok", small_labels, 32),
            tmp_path / "d.cscope",
            layer="segmentation",
            voxel_size=(1, 1, 1),
            workers=1,
        ).path
    )
    before = _layer_files(good.path)
    img = write_cubes(tmp_path / "img", (small_labels % 200).astype(np.uint8), 32)
    with h5py.File(img / "x2y1z0.hdf5", "w") as f:
        f["data"] = np.zeros((32, 32, 16), np.uint8)
    with pytest.raises(DataFormatError, match=r"x2y1z0\.hdf5: /data has shape \(32, 32, 16\)"):
        ingest(img, good, layer="image")
    # the dataset's segmentation is untouched and no image layer was started
    assert _layer_files(good.path) == before
    assert not Dataset(good.path).has_layer("image")


def test_corrupt_chunk_names_the_file(tmp_path, small_labels):
    src = write_cubes(tmp_path / "seg", small_labels, 32)
    with h5py.File(src / "x0y0z0.hdf5", "w") as f:
        f.create_dataset(
            "data", data=small_labels[:32, :32, :32], chunks=(16, 16, 16), compression="gzip"
        )
    with h5py.File(src / "x0y0z0.hdf5", "r") as f:
        table = chunk_table(f["data"])
    assert table is not None
    _, offset, size = table.chunks[(16, 0, 16)]
    raw = bytearray((src / "x0y0z0.hdf5").read_bytes())
    raw[offset : offset + size] = bytes(size)  # zeros are not a deflate stream
    (src / "x0y0z0.hdf5").write_bytes(bytes(raw))
    with pytest.raises(
        DataFormatError, match=r"x0y0z0\.hdf5: chunk at voxel \(z, y, x\) \(16, 0, 16\)"
    ):
        ingest(src, tmp_path / "d.cscope", layer="segmentation", voxel_size=(1, 1, 1), workers=1)
    # never reported complete: the dataset this ingest created is kept (incomplete, to resume)
    # only when some shard was finished; otherwise no empty dataset is left (issue 16)
    d = tmp_path / "d.cscope"
    assert not d.exists() or Dataset(d).layer("segmentation")["complete"] is False
    prog = d / "volume.ome.zarr" / ".progress"
    assert d.exists() == (prog.exists() and any(prog.rglob("*.done")))


def test_existing_folder_is_refused_unless_overwrite(tmp_path, small_labels):
    src = write_cubes(tmp_path / "seg", small_labels, 32)
    target = tmp_path / "taken"
    target.mkdir()
    (target / "precious.txt").write_text("keep me")
    with pytest.raises(DatasetExistsError, match="overwrite"):
        ingest(src, target, layer="segmentation", voxel_size=(1, 1, 1), workers=1)
    assert (target / "precious.txt").read_text() == "keep me"
    # --overwrite never deletes a folder that is not a dataset: it names the folder and --force
    with pytest.raises(
        DatasetExistsError, match=r"taken: this folder is not a connectoscope .*--force"
    ):
        ingest(src, target, layer="segmentation", voxel_size=(1, 1, 1), workers=1, overwrite=True)
    assert (target / "precious.txt").read_text() == "keep me"
    ds = Dataset(
        ingest(
            src,
            target,
            layer="segmentation",
            voxel_size=(1, 1, 1),
            workers=1,
            overwrite=True,
            force=True,
        ).path
    )
    np.testing.assert_array_equal(ds.segmentation.read(), small_labels)
    # a complete layer is refused too, and replaced with overwrite
    with pytest.raises(DatasetExistsError, match="--overwrite"):
        ingest(src, ds, layer="segmentation")
    ingest(src, ds, layer="segmentation", overwrite=True, workers=1)
    np.testing.assert_array_equal(Dataset(target).segmentation.read(), small_labels)
