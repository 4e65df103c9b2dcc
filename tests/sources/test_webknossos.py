"""webKnossos datasets (Zarr v3 and WKW layers, every mag, largest segment id) and annotation
zips (NML + volume annotation) as sources, from the API and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from webknossos_writer import SCALE, write_annotation, write_dataset

from connectoscope import Dataset
from connectoscope.cli import main
from connectoscope.errors import InvalidParameterError, SourceNotFoundError
from connectoscope.sources._readers import open_source
from connectoscope.testing import load_pinky40
from connectoscope.volume import ingest

pytest.importorskip("wkw")
pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def seg():
    return np.ascontiguousarray(load_pinky40("crop")[:32, :80, :96])


@pytest.fixture(scope="module")
def wkds(tmp_path_factory, seg):
    root = tmp_path_factory.mktemp("wk") / "ds"
    color = (seg % 251).astype(np.uint8)
    return write_dataset(root, color, seg)


@pytest.fixture(scope="module")
def wkds_swapped(tmp_path_factory, seg):
    root = tmp_path_factory.mktemp("wk2") / "ds"
    return write_dataset(
        root, (seg % 7).astype(np.uint8), seg, seg_format="zarr3", color_format="wkw"
    )


@pytest.mark.parametrize("which", ["wkds", "wkds_swapped"])
def test_layers_and_mags(request, seg, which):
    root = request.getfixturevalue(which)
    for layer, want in (("segmentation", seg), ("color", None)):
        src = open_source(root / layer)
        assert src.offset_vx == (64, 32, 0) and src.shape_zyx == seg.shape
        assert src.voxel_size_nm == SCALE
        got = src.read((0, 0, 0), src.shape_zyx)
        if want is not None:
            assert int((got != want).sum()) == 0
            assert src.largest_segment_id == int(seg.max())
        m2 = open_source(root / layer, scale="2-2-1")
        assert m2.offset_vx == (32, 16, 0) and m2.shape_zyx == (32, 40, 48)
        assert m2.voxel_size_nm == (2 * SCALE[0], 2 * SCALE[1], SCALE[2])
        if want is not None:
            assert int((m2.read((0, 0, 0), m2.shape_zyx) != want[:, ::2, ::2]).sum()) == 0
    box = open_source(root / "segmentation", bbox="70,40,3:100,90,20")
    assert int((box.read((0, 0, 0), box.shape_zyx) != seg[3:20, 8:58, 6:36]).sum()) == 0


def test_ingest_cli_and_info(wkds, seg, tmp_path, capsys):
    rc = main(["info", str(wkds)])
    out = capsys.readouterr().out
    assert rc == 0 and "layer segmentation (segmentation): uint32, wkw" in out
    assert f"largest segment id {int(seg.max())}" in out and "mags 1, 2-2-1" in out
    ds = tmp_path / "d.cscope"
    assert main(["ingest", str(wkds / "segmentation"), str(ds), "--layer", "segmentation"]) == 0
    assert main(["ingest", str(wkds / "color"), str(ds), "--layer", "image"]) == 0
    d = Dataset(ds)
    assert d.voxel_size.xyz == SCALE
    assert int((d.volume("segmentation").read() != seg).sum()) == 0
    rep = ingest(wkds / "segmentation", tmp_path / "m2.cscope", layer="segmentation", scale="2-2-1")
    assert int((Dataset(rep.path).volume("segmentation").read() != seg[:, ::2, ::2]).sum()) == 0


def test_bad_webknossos_input(wkds, tmp_path):
    with pytest.raises(InvalidParameterError, match=r"holds layers color, segmentation; name one"):
        open_source(wkds)
    with pytest.raises(InvalidParameterError, match=r"no mag 4; mags: 1, 2-2-1"):
        open_source(wkds / "segmentation", scale="4")
    with pytest.raises(InvalidParameterError, match=r"outside the layer"):
        open_source(wkds / "segmentation", bbox="0,0,0:10,10,10")


@pytest.mark.parametrize("fmt", ["wkw", "zarr3"])
def test_annotation_zip(tmp_path, seg, fmt, capsys, monkeypatch):
    monkeypatch.setenv("CONNECTOSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    z = write_annotation(tmp_path / "ann.zip", seg, offset=(32, 0, 0), fmt=fmt)
    src = open_source(z)
    assert src.voxel_size_nm == SCALE
    got = src.read((0, 0, 0), src.shape_zyx)
    # the box is the union of the stored cubes (WKW: 32-voxel files; Zarr: the array)
    x0 = 32 - src.offset_vx[0]
    assert int((got[: seg.shape[0], : seg.shape[1], x0 : x0 + seg.shape[2]] != seg).sum()) == 0
    assert main(["info", str(z)]) == 0
    out = capsys.readouterr().out
    assert "1 trees, 3 nodes, 2 edges" in out and "volume annotation:" in out
    rc = main(["ingest", str(z), str(tmp_path / "a.cscope"), "--layer", "segmentation"])
    assert rc == 0
    assert not list((tmp_path / "cache").glob("*.part"))


def test_annotation_zip_without_volume(tmp_path):
    import zipfile

    z = tmp_path / "skel.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("a.nml", "<things><parameters><scale x='1' y='1' z='1'/></parameters></things>")
    from connectoscope.errors import DataFormatError

    with pytest.raises(DataFormatError, match=r"no volume annotation.*skeleton info"):
        open_source(z)
    with pytest.raises(SourceNotFoundError, match="not a webKnossos dataset"):
        from connectoscope.sources._webknossos import open_webknossos

        open_webknossos(tmp_path)
