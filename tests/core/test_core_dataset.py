import json

import pytest

from connectoscope import Dataset
from connectoscope.dataset import METADATA_NAME
from connectoscope.errors import (
    DataFormatError,
    DatasetExistsError,
    DatasetNotFoundError,
    LayerNotFoundError,
)


def test_create_open_metadata(tmp_path):
    p = tmp_path / "a.cscope"
    ds = Dataset.create(p, voxel_size="11.24,11.24,28", offset_vx=(1024, 0, 2048))
    assert (p / METADATA_NAME).is_file()
    again = Dataset.open(p)
    assert again.voxel_size.xyz == (11.24, 11.24, 28.0)
    assert again.offset_vx == (1024, 0, 2048)
    assert again.name == "a"
    meta = json.loads((p / METADATA_NAME).read_text())
    assert meta["format_version"] == 1
    assert meta["axis_order"] == "zyx"
    assert meta["units"] == "nanometer"
    assert meta["provenance"][0]["step"] == "create"
    assert "Dataset(" in repr(ds)


def test_provenance_and_layers(tmp_path):
    ds = Dataset.create(tmp_path / "b.cscope", voxel_size=(4, 4, 40))
    ds.record_step("ingest", source=tmp_path / "src", workers=2, factors=[(2, 2, 1)])
    ds.set_layer("image", {"kind": "image", "dtype": "uint8", "levels": []})
    re = Dataset(ds.path)
    assert [p["step"] for p in re.provenance] == ["create", "ingest"]
    assert re.provenance[1]["source"] == str(tmp_path / "src")
    assert re.provenance[1]["factors"] == [[2, 2, 1]]
    assert re.layer("image")["dtype"] == "uint8"
    assert re.has_layer("image") and not re.has_layer("segmentation")
    with pytest.raises(LayerNotFoundError, match="layers present: image"):
        re.layer("segmentation")
    re.forget_layer("image")
    assert not Dataset(ds.path).has_layer("image")


def test_refuses_existing_without_overwrite(tmp_path):
    p = tmp_path / "c.cscope"
    Dataset.create(p, voxel_size=(1, 1, 1))
    with pytest.raises(DatasetExistsError, match="overwrite"):
        Dataset.create(p, voxel_size=(1, 1, 1))
    # a builtin FileExistsError too
    with pytest.raises(FileExistsError):
        Dataset.create(p, voxel_size=(1, 1, 1))
    ds = Dataset.create(p, voxel_size=(2, 2, 2), overwrite=True)
    assert ds.voxel_size.x == 2


def test_not_a_dataset_and_bad_metadata(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="not a connectoscope dataset"):
        Dataset(tmp_path / "nope")
    (tmp_path / "folder").mkdir()
    with pytest.raises(FileNotFoundError, match="connectoscope ingest"):
        Dataset(tmp_path / "folder")
    bad = tmp_path / "bad.cscope"
    bad.mkdir()
    (bad / METADATA_NAME).write_text("{truncated")
    with pytest.raises(DataFormatError, match="unreadable metadata"):
        Dataset(bad)
    (bad / METADATA_NAME).write_text(json.dumps({"format_version": 99}))
    with pytest.raises(DataFormatError, match="upgrade"):
        Dataset(bad)


def test_metadata_write_is_atomic(tmp_path, monkeypatch):
    ds = Dataset.create(tmp_path / "d.cscope", voxel_size=(1, 1, 1))
    before = (ds.path / METADATA_NAME).read_text()

    class Boom(Exception):
        pass

    def boom(*a, **k):
        raise Boom

    monkeypatch.setattr("connectoscope._atomic.os.fsync", boom)
    with pytest.raises(Boom):
        ds.record_step("x")
    assert (ds.path / METADATA_NAME).read_text() == before
    # no temporary file left behind (the lock file stays: it names no holder now)
    assert sorted(f.name for f in ds.path.iterdir()) == [".connectoscope.lock", METADATA_NAME]
    assert (ds.path / ".connectoscope.lock").read_text() == ""


def test_disk_usage(tmp_path):
    ds = Dataset.create(tmp_path / "e.cscope", voxel_size=(1, 1, 1))
    (ds.folder("figures", create=True) / "x.bin").write_bytes(b"0" * 1000)
    du = ds.disk_usage()
    assert du["figures"] == 1000
    assert du[METADATA_NAME] > 0
