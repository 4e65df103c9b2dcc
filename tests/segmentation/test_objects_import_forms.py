"""Object maps in the forms real data comes in: two-column CSV/Parquet (FlyEM
``supervoxel,body``), N x 2 HDF5 arrays (NeuroProof ``/transforms``), ``--columns``."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.errors import DataFormatError, InvalidParameterError
from connectoscope.segmentation import ObjectMaps, import_objects
from connectoscope.testing import load_pinky40
from connectoscope.volume import write_layer


@pytest.fixture(scope="module")
def seg():
    return np.ascontiguousarray(load_pinky40("crop")[:16, :64, :64])


@pytest.fixture
def ds(tmp_path, seg):
    store = cs.Dataset.create(tmp_path / "d.cscope", voxel_size=(16, 16, 40))
    write_layer(store, "segmentation", seg, kind="segmentation")
    return store


def _bodies(seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A body per supervoxel: every 3 consecutive labels form one body (made up)."""
    sv = np.unique(seg)
    sv = sv[sv != 0].astype(np.uint64)
    body = np.arange(sv.size) // 3 + 100
    return sv, body.astype(np.int64)


@pytest.mark.realdata
@pytest.mark.parametrize("form", ["csv", "csv_noheader", "parquet", "h5", "h5_2xN", "wide"])
def test_two_column_forms_same_as_api(ds, seg, tmp_path, form, capsys):
    sv, body = _bodies(seg)
    df = pd.DataFrame({"supervoxel": sv, "body": body})
    extra: list[str] = []
    if form == "csv":
        f = tmp_path / "sv_body.csv"
        df.to_csv(f, index=False)
    elif form == "csv_noheader":
        f = tmp_path / "sv_body.csv"
        df.to_csv(f, index=False, header=False)
    elif form == "parquet":
        f = tmp_path / "m.parquet"
        df.to_parquet(f)
    elif form == "h5":
        f = tmp_path / "np.h5"
        with h5py.File(f, "w") as h:
            h["transforms"] = np.stack([sv, body.astype(np.uint64)], axis=1)
    elif form == "h5_2xN":
        f = tmp_path / "np.h5"
        with h5py.File(f, "w") as h:
            h["transforms"] = np.stack([sv, body.astype(np.uint64)], axis=0)
            h["other/nothing"] = np.zeros((3, 3), np.int32)
        f = f"{f}:/transforms"
    else:
        f = tmp_path / "wide.csv"
        df.assign(size=1, name="x")[["name", "supervoxel", "size", "body"]].to_csv(f, index=False)
        extra = ["--columns", "supervoxel,body"]
    rc = main(["objects", "import", str(ds.path), str(f), "--kind", "body", *extra])
    assert rc == 0, capsys.readouterr().err
    assert f"body: {len(np.unique(body))} objects" in capsys.readouterr().out
    got = ObjectMaps.from_store(cs.Dataset(ds.path))
    api = ObjectMaps({"body": (sv, body)})
    np.testing.assert_array_equal(got.segments("body"), api.segments("body"))
    np.testing.assert_array_equal(got.object_ids("body"), api.object_ids("body"))
    mapped = got.lookup("body", seg)
    assert int((mapped != api.lookup("body", seg)).sum()) == 0
    zero = {0} if (seg == 0).any() else set()
    assert set(map(int, np.unique(mapped))) == zero | set(map(int, np.unique(body)))


def test_uint64_ids_above_int64(tmp_path, ds):
    f = tmp_path / "big.csv"
    pd.DataFrame({"sv": np.array([2**63 + 5, 7], np.uint64), "body": [3, 4]}).to_csv(f, index=False)
    maps = import_objects(ds, f, kind="body")
    assert list(maps.segments("body")) == [7, 2**63 + 5]


def test_bad_two_column_input(tmp_path, ds, capsys):
    f = tmp_path / "m.csv"
    pd.DataFrame({"supervoxel": [1, 2], "body": [5, 6]}).to_csv(f, index=False)
    with pytest.raises(InvalidParameterError, match=r"needs the kind.*--kind NAME"):
        import_objects(ds, f)
    wide = tmp_path / "w.csv"
    pd.DataFrame({"a": [1], "b": [2], "c": [3]}).to_csv(wide, index=False)
    with pytest.raises(InvalidParameterError, match=r"3 columns \(a, b, c\).*--columns"):
        import_objects(ds, wide, kind="body")
    rc = main(["objects", "import", str(ds.path), str(wide), "--kind", "body", "--columns", "a,z"])
    assert rc == 2 and "no column z (columns: a, b, c)" in capsys.readouterr().err
    fl = tmp_path / "f.csv"
    pd.DataFrame({"sv": [1.5, 2.0], "body": [1, 2]}).to_csv(fl, index=False)
    with pytest.raises(DataFormatError, match=r"'sv' holds float64"):
        import_objects(ds, fl, kind="body")
    dup = tmp_path / "dup.csv"
    pd.DataFrame({"sv": [1, 1], "body": [1, 2]}).to_csv(dup, index=False)
    with pytest.raises(DataFormatError, match="listed twice"):
        import_objects(ds, dup, kind="body")
    h = tmp_path / "two.h5"
    with h5py.File(h, "w") as hf:
        hf["a"] = np.zeros((4, 2), np.uint64)
        hf["b"] = np.zeros((5, 2), np.uint64)
    with pytest.raises(InvalidParameterError, match=r"2 N x 2 arrays \(/a, /b\); name one"):
        import_objects(ds, h, kind="body")
