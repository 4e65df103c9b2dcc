"""Case 3 of issue 16 and Build 3: a store knows its completeness. A shard deleted or
truncated after the write (an interrupted copy) is reported by ``verify`` (and ``info``), a
read of it is an error naming ``verify --repair`` instead of zeros with exit 0, and the
repair rewrites exactly the missing shards, byte-identical."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from connectoscope import Dataset
from connectoscope.cli import main
from connectoscope.errors import MissingDataError
from connectoscope.volume._verify import check_layer


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _shards(ds_path, level="0"):
    root = ds_path / "volume.ome.zarr" / "labels" / "segmentation" / level / "c"
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def _bytes(ds_path):
    root = ds_path / "volume.ome.zarr"
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".progress" not in p.parts
    }


@pytest.fixture
def store(tmp_path, rng):
    """A segmentation with background (all-zero) shards next to shards with data."""
    vol = np.zeros((32, 64, 64), np.uint32)
    vol[:, :32, :32] = rng.integers(1, 9, (32, 32, 32))
    vol[:16, 32:, 32:] = 7
    np.save(tmp_path / "seg.npy", vol)
    ds = tmp_path / "d.cscope"
    argv = [
        "ingest",
        tmp_path / "seg.npy",
        ds,
        "--layer",
        "segmentation",
        "--voxel-size",
        "4,4,40",
        "--chunk",
        "16,16,16",
        "--shard",
        "32,32,32",
    ]
    assert main([str(a) for a in argv]) == 0
    return ds, vol


def test_issue_case_3_deleted_shard_is_an_error_not_zeros(store, capsys):
    ds, vol = store
    ref = _bytes(ds)
    shards = _shards(ds)
    assert 1 < len(shards) < 8  # background shards have no file
    victim = shards[0]
    victim.unlink()  # an interrupted copy
    # the read that would have returned zeros with exit 0 is an error naming the fix
    rc, _, err = cli(capsys, "cutout", ds, "--layer", "segmentation", "-o", ds.parent / "c.npy")
    assert rc == 2 and "missing" in err and "verify" in err and "--repair" in err, err
    assert not (ds.parent / "c.npy").exists()
    with pytest.raises(MissingDataError, match="recorded with"):
        Dataset(ds).segmentation.read()
    # verify reports it; info too
    rc, out, _ = cli(capsys, "verify", ds)
    assert rc == 1 and "1 missing" in out and victim.name in out
    rc, out, _ = cli(capsys, "info", ds)
    assert "DAMAGED: missing 1" in out and "--repair" in out
    # repair rewrites the shard from the source, byte-identical, and reads work again
    rc, out, err = cli(capsys, "verify", ds, "--repair")
    assert rc == 0, out + err
    assert _bytes(ds) == ref
    np.testing.assert_array_equal(Dataset(ds).segmentation.read(), vol)
    assert check_layer(Dataset(ds), "segmentation").ok


def test_truncated_and_corrupted_shards(store, capsys):
    ds, vol = store
    ref = _bytes(ds)
    a, b = _shards(ds)[:2]
    a.write_bytes(a.read_bytes()[:50])  # truncated
    data = bytearray(b.read_bytes())
    data[10] ^= 0xFF  # same size, other bytes
    b.write_bytes(bytes(data))
    rc, _, err = cli(capsys, "cutout", ds, "--layer", "segmentation", "-o", ds.parent / "c.npy")
    assert rc == 2 and "truncated" in err, err
    check = check_layer(Dataset(ds), "segmentation")
    assert [p.problem for p in check.problems] == ["truncated"]  # size only, fast
    check = check_layer(Dataset(ds), "segmentation", checksums=True)
    assert sorted(p.problem for p in check.problems) == ["corrupt", "truncated"]
    rc, out, _ = cli(capsys, "verify", ds, "--checksums", "--repair")
    assert rc == 0, out
    assert _bytes(ds) == ref
    np.testing.assert_array_equal(Dataset(ds).segmentation.read(), vol)


def test_coarser_level_shard_missing_is_repaired(store, capsys):
    ds, vol = store
    ref = _bytes(ds)
    lay = Dataset(ds).segmentation
    assert lay.num_levels > 1
    coarse = _shards(ds, "1")[0]
    coarse.unlink()
    with pytest.raises(MissingDataError):
        Dataset(ds).segmentation.read(level=1)
    np.testing.assert_array_equal(Dataset(ds).segmentation.read(level=0), vol)  # level 0 fine
    rc, out, _ = cli(capsys, "verify", ds, "--repair")
    assert rc == 0, out
    assert _bytes(ds) == ref


def test_background_shards_read_as_zeros_without_a_file(store):
    ds, vol = store
    lay = Dataset(ds).segmentation
    np.testing.assert_array_equal(lay.read(), vol)  # omitted all-zero shards are not holes
    check = check_layer(Dataset(ds), "segmentation")
    assert check.ok and check.background > 0 and check.with_data > 0


def test_repair_without_the_source_says_so(store, capsys):
    ds, _ = store
    _shards(ds)[0].unlink()
    (ds.parent / "seg.npy").rename(ds.parent / "moved.npy")
    rc, out, _ = cli(capsys, "verify", ds, "--repair")
    assert rc == 1 and "cannot rewrite" in out
    # the layer is now marked incomplete: reads refuse rather than return zeros
    rc, _, err = cli(capsys, "cutout", ds, "--layer", "segmentation", "-o", ds.parent / "x.npy")
    assert rc == 2 and "incomplete" in err
    shutil.move(ds.parent / "moved.npy", ds.parent / "seg.npy")
