"""Precomputed volumes as a source: every encoding, sharded or not, through every location
form and kvstore (local path, file://, precomputed://, HTTP on 127.0.0.1, a local S3)."""

from __future__ import annotations

import numpy as np
import pytest
from precomputed_writers import write_layer

from connectoscope import Dataset
from connectoscope._kvstore import RemoteAccessError
from connectoscope.cli import main
from connectoscope.errors import (
    DataFormatError,
    InvalidParameterError,
    SourceNotFoundError,
)
from connectoscope.sources._precomputed import open_precomputed
from connectoscope.sources._readers import open_source
from connectoscope.testing import load_pinky40
from connectoscope.testing.servers import S3Emulator, StaticHTTPServer
from connectoscope.volume import ingest

pytestmark = pytest.mark.realdata

OFFSET = (100, 200, 10)


@pytest.fixture(scope="module")
def crop() -> np.ndarray:
    """pinky40 labels, 64 x 128 x 128 [z, y, x] (part of the 256 x 256 x 64 crop)."""
    return np.ascontiguousarray(load_pinky40("crop")[:, :128, :128])


@pytest.fixture(scope="module")
def layers(tmp_path_factory, crop):
    root = tmp_path_factory.mktemp("pre")
    out = {}
    for enc in ("raw", "compressed_segmentation", "compresso", "crackle"):
        for sharded in (False, True):
            name = f"{enc}{'_sharded' if sharded else ''}"
            out[name] = write_layer(
                root / name, crop, encoding=enc, sharded=sharded, chunk=(64, 64, 32), offset=OFFSET
            )
    img = (crop % 251).astype(np.uint8)
    out["png"] = write_layer(root / "png", img, encoding="png", layer_type="image", offset=OFFSET)
    out["jpeg"] = write_layer(
        root / "jpeg", img, encoding="jpeg", layer_type="image", offset=OFFSET
    )
    return out


def _whole(src) -> np.ndarray:
    return src.read((0, 0, 0), src.shape_zyx)


@pytest.mark.parametrize(
    "name",
    [
        "raw",
        "raw_sharded",
        "compressed_segmentation",
        "compressed_segmentation_sharded",
        "compresso",
        "compresso_sharded",
        "crackle",
        "crackle_sharded",
    ],
)
def test_every_label_encoding_reads_exactly(layers, crop, name):
    src = open_source(layers[name])
    assert src.shape_zyx == crop.shape and src.dtype == np.uint32
    assert src.offset_vx == OFFSET and src.voxel_size_nm == (16.0, 16.0, 40.0)
    assert int((_whole(src) != crop).sum()) == 0
    # an unaligned box crossing chunk borders, relative reads inside it
    box = open_precomputed(layers[name], bbox="130,230,25:220,310,70")
    assert box.shape_zyx == (45, 80, 90)
    expect = crop[15:60, 30:110, 30:120]
    assert int((_whole(box) != expect).sum()) == 0
    assert int((box.read((5, 7, 9), (20, 30, 40)) != expect[5:20, 7:30, 9:40]).sum()) == 0


def test_image_encodings(layers, crop):
    img = (crop % 251).astype(np.uint8)
    png = open_source(layers["png"])
    assert png.dtype == np.uint8 and int((_whole(png) != img).sum()) == 0
    jpeg = _whole(open_source(layers["jpeg"]))
    assert jpeg.shape == img.shape
    # lossy: close to the original on average, not equal
    assert np.abs(jpeg.astype(float) - img).mean() < 20


def test_location_forms(layers, crop):
    p = layers["compresso_sharded"]
    for form in (str(p), f"file://{p}", f"precomputed://file://{p}", f"precomputed://{p}"):
        src = open_source(form)
        assert int((_whole(src) != crop).sum()) == 0, form


@pytest.mark.parametrize("name", ["raw_sharded", "compresso", "crackle_sharded", "png"])
def test_http(layers, crop, name):
    root = layers[name].parent
    with StaticHTTPServer(root) as srv:
        src = open_source(f"precomputed://{srv.url}/{name}")
        got = _whole(src)
    want = crop if name != "png" else (crop % 251).astype(np.uint8)
    assert int((got != want).sum()) == 0


def test_s3(layers, crop):
    with S3Emulator() as s3:
        for name in ("compressed_segmentation_sharded", "crackle"):
            s3.upload_folder(layers[name], f"layers/{name}")
            src = open_source(f"s3://{s3.bucket}/layers/{name}")
            assert int((_whole(src) != crop).sum()) == 0, name


def test_bbox_moves_only_needed_chunks(layers, crop):
    """A one-chunk box of an unsharded layer over HTTP fetches info + that chunk only."""
    root = layers["compresso"].parent
    with StaticHTTPServer(root) as srv:
        url = f"{srv.url}/compresso"
        srv.reset_counts()
        src = open_precomputed(url, bbox="110,210,15:150,250,40")  # inside chunk (0, 0, 0)
        got = _whole(src)
        assert int((got != crop[5:30, 10:50, 10:50]).sum()) == 0
        chunk_paths = [p for p in srv.paths if not p.endswith("/info")]
        assert chunk_paths == ["/compresso/16_16_40/100-164_200-264_10-42"]
        full = sum(f.stat().st_size for f in (root / "compresso" / "16_16_40").iterdir())
        one = (root / "compresso" / "16_16_40" / "100-164_200-264_10-42").stat().st_size
        info = (root / "compresso" / "info").stat().st_size
        assert srv.bytes_sent == one + info < full


def test_bbox_sharded_reads_ranges(layers, crop):
    root = layers["raw_sharded"].parent
    shard_bytes = sum(f.stat().st_size for f in (root / "raw_sharded" / "16_16_40").iterdir())
    with StaticHTTPServer(root) as srv:
        src = open_precomputed(f"{srv.url}/raw_sharded", bbox="110,210,15:150,250,40")
        srv.reset_counts()
        assert int((_whole(src) != crop[5:30, 10:50, 10:50]).sum()) == 0
        # shard index, minishard index, one chunk: byte ranges, a fraction of the shards
        assert 1 <= srv.requests <= 4
        # (about 1.1 KB of 5.8 KB when quiet; tensorstore's request sizes vary a little with
        # timing under load, so the bound is half the shard, not a quarter)
        assert srv.bytes_sent < shard_bytes / 2


def test_ingest_and_cutout_from_http(layers, crop, tmp_path, capsys):
    root = layers["compresso_sharded"].parent
    ds = tmp_path / "ds.cscope"
    with StaticHTTPServer(root) as srv:
        url = f"precomputed://{srv.url}/compresso_sharded"
        rc = main(
            ["ingest", url, str(ds), "--layer", "segmentation", "--bbox", "100,200,10:228,264,74"]
        )
        assert rc == 0, capsys.readouterr().err
        got = Dataset(ds).volume("segmentation").read()
        assert int((got != crop[:, :64, :]).sum()) == 0
        assert Dataset(ds).voxel_size.xyz == (16.0, 16.0, 40.0)
        out = tmp_path / "cut.npy"
        rc = main(["cutout", url, "--bbox", "120,220,20:140,240,30", "-o", str(out)])
        assert rc == 0
        assert int((np.load(out) != crop[10:20, 20:40, 20:40]).sum()) == 0
        rc = main(["info", url])
        text = capsys.readouterr().out
        assert "compresso" in text and "sharded" in text and "128 x 128 x 64" in text


def test_ingest_api_whole_layer(layers, crop, tmp_path):
    rep = ingest(layers["crackle"], tmp_path / "d.cscope", layer="segmentation")
    assert rep.levels >= 1 and rep.files == 8  # 8 chunks read
    got = Dataset(rep.path).volume("segmentation").read()
    assert int((got != crop).sum()) == 0


# ------------------------------------------------------------------------ bad input
def test_not_a_precomputed_layer(tmp_path):
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "zarr.json").write_text("{}")
    with StaticHTTPServer(tmp_path) as srv:
        with pytest.raises(SourceNotFoundError, match=r"not a Neuroglancer precomputed.*zarr.json"):
            open_precomputed(f"{srv.url}/z")
        with pytest.raises(SourceNotFoundError, match=r"127.0.0.1.*/nothing.*found nothing"):
            open_precomputed(f"{srv.url}/nothing")


def test_missing_scale_lists_scales(layers):
    with pytest.raises(InvalidParameterError, match=r"no scale '8_8_40'.*--scale.*16_16_40"):
        open_precomputed(layers["raw"], scale="8_8_40")
    assert open_precomputed(layers["raw"], scale="16,16,40").scale_key == "16_16_40"


def test_bbox_outside(layers):
    with pytest.raises(
        InvalidParameterError, match=r"outside scale 16_16_40.*100,200,10:228,328,74"
    ):
        open_precomputed(layers["raw"], bbox="0,0,0:50,50,50")


def test_missing_chunk(layers, crop, tmp_path):
    import shutil

    p = shutil.copytree(layers["compresso"], tmp_path / "c")
    (p / "16_16_40" / "164-228_200-264_10-42").unlink()
    src = open_precomputed(p)
    with pytest.raises(DataFormatError, match=r"164-228_200-264_10-42 is missing.*--fill-missing"):
        _whole(src)
    got = _whole(open_precomputed(p, fill_missing=True))
    assert (got[:32, :64, 64:] == 0).all() and (got[:32, :64, :64] == crop[:32, :64, :64]).all()


def test_forbidden_and_dropping_servers(layers, crop, monkeypatch):
    root = layers["raw"].parent
    with StaticHTTPServer(root, status={"/raw/": 403}) as srv:
        with pytest.raises(RemoteAccessError, match=r"/raw/info: access denied.*AWS_ACCESS_KEY_ID"):
            open_precomputed(f"{srv.url}/raw")
    # drops the first 2 connections: retried with backoff, then reads exactly
    with StaticHTTPServer(root, drop_first=2) as srv:
        src = open_precomputed(f"{srv.url}/crackle")
        assert int((_whole(src) != crop).sum()) == 0
        assert srv.dropped == 2
    monkeypatch.setenv("CONNECTOSCOPE_REMOTE_RETRIES", "1")
    with StaticHTTPServer(root, drop_first=1000) as srv:
        with pytest.raises(RemoteAccessError, match=r"did not answer after retries"):
            open_precomputed(f"{srv.url}/raw")


def test_cli_error_exit_code(tmp_path, capsys):
    rc = main(["info", f"precomputed://file://{tmp_path}/none"])
    assert rc == 2
    assert "not a Neuroglancer precomputed layer" in capsys.readouterr().err
