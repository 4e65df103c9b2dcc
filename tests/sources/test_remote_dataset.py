"""Datasets we wrote, read from http:// and s3:// servers on 127.0.0.1 (slow, dropping,
403/404 ones too): same voxels as locally, clear errors naming the URL, nothing half-written."""

from __future__ import annotations

import numpy as np
import pytest

from connectoscope import Dataset
from connectoscope._kvstore import RemoteAccessError
from connectoscope.cli import main
from connectoscope.errors import InvalidParameterError, LayerNotFoundError, SourceNotFoundError
from connectoscope.sources._readers import open_source
from connectoscope.sources._remote_dataset import open_remote_dataset
from connectoscope.testing import load_pinky40
from connectoscope.testing.servers import S3Emulator, StaticHTTPServer
from connectoscope.volume import StorageSpec, ingest

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    root = tmp_path_factory.mktemp("remote")
    seg = np.ascontiguousarray(load_pinky40("crop")[:32])
    f = root / "seg.npy"
    np.save(f, seg)
    np.save(root / "img.npy", (seg % 253).astype(np.uint8))
    ds = root / "ds.cscope"
    ingest(
        f,
        ds,
        layer="segmentation",
        voxel_size=(16, 16, 40),
        storage=StorageSpec(shard_xyz=(128, 128, 32)),
    )
    ingest(root / "img.npy", ds, layer="image", storage=StorageSpec(shard_xyz=(128, 128, 32)))
    return ds


def test_http_reads_every_level(local, capsys):
    d = Dataset(local)
    with StaticHTTPServer(local.parent, delay_s=0.01) as srv:  # a slow server
        url = f"{srv.url}/ds.cscope"
        rd = open_remote_dataset(url)
        assert rd.voxel_size_nm == (16.0, 16.0, 40.0)
        for layer in ("segmentation", "image"):
            for level in range(d.volume(layer).num_levels):
                want = d.volume(layer).read(level=level)
                assert int((rd.read(layer, level=level) != want).sum()) == 0
        assert main(["info", url]) == 0
        out = capsys.readouterr().out
        assert "connectoscope dataset (remote, read-only)" in out and "layer segmentation" in out
        out_f = local.parent / "cut.npy"
        rc = main(["cutout", url, "--layer", "segmentation", "--level", "1",
                   "--bbox", "10,20,0:100,90,16", "-o", str(out_f), "--overwrite"])  # fmt: skip
        assert rc == 0
        want = d.volume("segmentation").read(level=1)[0:16, 20:90, 10:100]
        assert int((np.load(out_f) != want).sum()) == 0


def test_s3_read_and_ingest_copy(local, tmp_path):
    d = Dataset(local)
    with S3Emulator() as s3:
        s3.upload_folder(local, "data/ds.cscope")
        url = f"s3://{s3.bucket}/data/ds.cscope"
        rd = open_remote_dataset(url)
        assert int((rd.read("segmentation") != d.volume("segmentation").read()).sum()) == 0
        rep = ingest(f"{url}#segmentation", tmp_path / "copy.cscope", layer="segmentation")
        got = Dataset(rep.path).volume("segmentation").read()
        assert int((got != d.volume("segmentation").read()).sum()) == 0
        with pytest.raises(InvalidParameterError, match=r"name the layer as .*#LAYER"):
            open_source(url)


def test_errors_name_the_url(local, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONNECTOSCOPE_REMOTE_RETRIES", "1")
    with StaticHTTPServer(local.parent) as srv:
        with pytest.raises(SourceNotFoundError, match=r"127.0.0.1.*/nope.*not a connectoscope"):
            open_remote_dataset(f"{srv.url}/nope")
        with pytest.raises(LayerNotFoundError, match=r"no layer 'axons'; layers: segmentation"):
            open_remote_dataset(f"{srv.url}/ds.cscope").read("axons")
    with StaticHTTPServer(local.parent, status={"/ds.cscope/": 403}) as srv:
        rc = main(["info", f"{srv.url}/ds.cscope"])
        assert rc == 2 and "access denied" in capsys.readouterr().err
    shard = "/ds.cscope/volume.ome.zarr/labels/segmentation/0/c/0/1/1"
    assert (local.parent / shard.lstrip("/")).is_file()
    with StaticHTTPServer(local.parent, status={shard: 500}) as srv:
        out_f = tmp_path / "cut.npy"
        rc = main(["cutout", f"{srv.url}/ds.cscope", "--layer", "segmentation", "-o", str(out_f)])
        err = capsys.readouterr().err
        assert rc == 2 and "127.0.0.1" in err and "segmentation" in err
        assert not out_f.exists() and not list(tmp_path.glob("*.part*"))
        # an ingest that fails part-way leaves an incomplete layer that resumes (or, when no
        # shard was finished before the failure, no dataset folder at all)
        dst = tmp_path / "copy.cscope"
        Dataset.create(dst, voxel_size=(16, 16, 40))  # an existing dataset keeps what was done
        with pytest.raises(RemoteAccessError):
            ingest(f"{srv.url}/ds.cscope#segmentation", dst, layer="segmentation", workers=1)
        kept = dst.exists()
        if kept:
            assert not Dataset(dst).layer("segmentation").get("complete")
        srv.status.clear()
        rep = ingest(f"{srv.url}/ds.cscope#segmentation", dst, layer="segmentation", workers=1)
        assert rep.resumed == kept
    got = Dataset(dst).volume("segmentation").read()
    assert int((got != Dataset(local).volume("segmentation").read()).sum()) == 0
    assert not [p for p in dst.rglob("*") if ".part" in p.name]


def test_dropping_server_retries(local):
    d = Dataset(local)
    with StaticHTTPServer(local.parent, drop_first=3) as srv:
        rd = open_remote_dataset(f"{srv.url}/ds.cscope")
        assert int((rd.read("image") != d.volume("image").read()).sum()) == 0
        assert srv.dropped == 3
