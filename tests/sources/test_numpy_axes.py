""".npy/.npz sources: the axis order is stated, never guessed; .npz members are decompressed
once per ingest (not once per shard)."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from connectoscope import Dataset
from connectoscope.cli import main
from connectoscope.errors import DataFormatError, InvalidParameterError
from connectoscope.sources import _numpy
from connectoscope.sources._readers import open_source
from connectoscope.testing import load_pinky40, require_shared
from connectoscope.volume import ingest


@pytest.fixture
def zyx(rng):
    return rng.integers(0, 50, (20, 30, 40)).astype(np.uint32)


def test_c_order_is_zyx_and_xyz_on_request(tmp_path, zyx):
    f = tmp_path / "a.npy"
    np.save(f, zyx)
    src = open_source(f)
    assert src.shape_zyx == (20, 30, 40)
    assert (src.read((0, 0, 0), (20, 30, 40)) == zyx).all()
    g = tmp_path / "b.npy"
    np.save(g, np.ascontiguousarray(zyx.T))  # C-ordered [x, y, z]
    src = open_source(g, axes="xyz")
    assert src.shape_zyx == (20, 30, 40)
    assert (src.read((2, 3, 4), (10, 20, 30)) == zyx[2:10, 3:20, 4:30]).all()


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".npz-stored"])
def test_fortran_order_refused_without_axes(tmp_path, zyx, suffix, capsys):
    xyz = np.asfortranarray(zyx.T)  # the seung-lab convention
    if suffix == ".npy":
        f = tmp_path / "v.npy"
        np.save(f, xyz)
    elif suffix == ".npz":
        f = tmp_path / "v.npz"
        np.savez_compressed(f, labels=xyz)
    else:
        f = tmp_path / "v.npz"
        np.savez(f, labels=xyz)
    with pytest.raises(InvalidParameterError, match=r"Fortran-ordered.*--axes xyz"):
        open_source(f)
    rc = main(["ingest", str(f), str(tmp_path / "d"), "--layer", "segmentation",
               "--voxel-size", "4,4,40"])  # fmt: skip
    assert rc == 2 and "--axes xyz" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
    rc = main(["ingest", str(f), str(tmp_path / "d"), "--layer", "segmentation",
               "--voxel-size", "4,4,40", "--axes", "xyz"])  # fmt: skip
    assert rc == 0
    got = Dataset(tmp_path / "d").volume("segmentation").read()
    assert got.shape == zyx.shape and int((got != zyx).sum()) == 0


def test_npz_member_decompressed_once(tmp_path, zyx, monkeypatch):
    f = tmp_path / "v.npz"
    np.savez_compressed(f, labels=zyx)
    monkeypatch.setenv("CONNECTOSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    opened = []
    real = zipfile.ZipFile.open

    def counting(self, name, *a, **k):
        opened.append(name)
        return real(self, name, *a, **k)

    monkeypatch.setattr(zipfile.ZipFile, "open", counting)
    src = open_source(f)
    for z in range(0, 20, 5):
        assert (src.read((z, 0, 0), (z + 5, 30, 40)) == zyx[z : z + 5]).all()
    # one header read at open, one streamed decompression, then memory-mapped reads
    assert opened == ["labels.npy", "labels.npy"]
    assert len(list((tmp_path / "cache").glob("connectoscope-npz-*.npy"))) == 1
    assert not list((tmp_path / "cache").glob("*.part"))


def test_npz_stored_member_is_mapped_in_place(tmp_path, zyx):
    f = tmp_path / "v.npz"
    np.savez(f, a=zyx, b=zyx[:2])
    with pytest.raises(InvalidParameterError, match=r"holds arrays a, b; name one"):
        open_source(f)
    src = open_source(f"{f}:a")
    arr = _numpy._npz_member(f, "a")
    assert isinstance(arr, np.memmap) and str(arr.filename) == str(f)
    assert (src.read((0, 0, 0), src.shape_zyx) == zyx).all()


def test_bad_numpy_sources(tmp_path):
    f = tmp_path / "x.npy"
    np.save(f, np.zeros((3, 3)))
    with pytest.raises(DataFormatError, match=r"expected a 3-D array, got shape \(3, 3\)"):
        open_source(f)
    with pytest.raises(InvalidParameterError, match="axes must be 'xyz' or 'zyx'"):
        open_source(f, axes="yxz")
    g = tmp_path / "broken.npz"
    g.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(DataFormatError, match="unreadable .npz"):
        open_source(g)


@pytest.mark.realdata
def test_pinky40_crop_npz_with_axes(tmp_path):
    f = require_shared("pinky40/crop_256x256x64_xyz_uint32.npz")
    with pytest.raises(InvalidParameterError, match="--axes"):
        ingest(f, tmp_path / "d", layer="segmentation", voxel_size=(16, 16, 40))
    rep = ingest(f, tmp_path / "d", layer="segmentation", voxel_size=(16, 16, 40), axes="xyz")
    got = Dataset(rep.path).volume("segmentation").read()
    assert int((got != load_pinky40("crop")).sum()) == 0
