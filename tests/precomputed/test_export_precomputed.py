"""`export precomputed`: every encoding, sharded or not, read back exactly by our reader, by
tensorstore and by cloud-volume (a reference reader)."""

from __future__ import annotations

import numpy as np
import pytest

from connectoscope import Dataset
from connectoscope.cli import main
from connectoscope.errors import DatasetExistsError, InvalidParameterError
from connectoscope.export import export_precomputed
from connectoscope.sources._precomputed import open_precomputed
from connectoscope.testing import load_pinky40
from connectoscope.volume import write_layer

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    d = Dataset.create(root / "d.cscope", voxel_size=(16, 16, 40), offset_vx=(32, 64, 8))
    seg = np.ascontiguousarray(load_pinky40("crop")[:40, :200, :232])
    write_layer(d, "segmentation", seg, kind="segmentation")
    write_layer(d, "image", (seg % 251).astype(np.uint8), kind="image")
    return d


@pytest.mark.parametrize(
    "layer,encoding,sharded",
    [
        ("segmentation", "crackle", True),
        ("segmentation", "compresso", True),
        ("segmentation", "compresso", False),
        ("segmentation", "compressed_segmentation", True),
        ("segmentation", "raw", False),
        ("image", "raw", True),
        ("image", "jpeg", False),
    ],
)
def test_export_reads_back(ds, tmp_path, layer, encoding, sharded):
    out = tmp_path / "out"
    rep = export_precomputed(ds, out, layer=layer, encoding=encoding, sharded=sharded,
                             chunk_xyz=(64, 64, 32))  # fmt: skip
    vol = ds.volume(layer)
    assert len(rep.scales) == vol.num_levels
    assert rep.ratio > 1 or (encoding == "raw" and not sharded)
    for li in range(vol.num_levels):
        want = vol.read(level=li)
        src = open_precomputed(out, scale=li)
        f = vol.levels[li].factor_xyz
        assert src.offset_vx == (32 // f[0], 64 // f[1], 8 // f[2])
        got = src.read((0, 0, 0), src.shape_zyx)
        if encoding == "jpeg":
            assert np.abs(got.astype(float) - want).mean() < 20
        else:
            assert int((got != want).sum()) == 0
    assert not list(tmp_path.glob(".*part*"))


@pytest.mark.parametrize("encoding", ["crackle", "compresso", "compressed_segmentation"])
def test_cloudvolume_reads_our_export(ds, tmp_path, encoding):
    cloudvolume = pytest.importorskip("cloudvolume")
    out = tmp_path / "out"
    export_precomputed(ds, out, encoding=encoding, chunk_xyz=(64, 64, 32))
    cv = cloudvolume.CloudVolume(f"file://{out}", mip=0, progress=False, fill_missing=False)
    arr = np.asarray(cv[:, :, :])[..., 0]  # x, y, z in the layer's frame
    want = ds.volume("segmentation").read()
    assert int((arr.T != want).sum()) == 0
    cv1 = cloudvolume.CloudVolume(f"file://{out}", mip=1, progress=False)
    assert (
        int((np.asarray(cv1[:, :, :])[..., 0].T != ds.volume("segmentation").read(level=1)).sum())
        == 0
    )


def test_cli_and_bad_input(ds, tmp_path, capsys):
    out = tmp_path / "seg"
    assert main(["export", "precomputed", str(ds.path), str(out), "--chunk", "64,64,32"]) == 0
    text = capsys.readouterr().out
    assert "crackle, sharded" in text and "x)" in text
    assert main(["info", str(out)]) == 0
    assert "crackle, sharded" in capsys.readouterr().out
    with pytest.raises(DatasetExistsError, match="--overwrite"):
        export_precomputed(ds, out)
    with pytest.raises(InvalidParameterError, match=r"jpeg.*not available for a label layer"):
        export_precomputed(ds, tmp_path / "x", encoding="jpeg")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(DatasetExistsError, match="not a precomputed layer"):
        export_precomputed(ds, tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").exists()
