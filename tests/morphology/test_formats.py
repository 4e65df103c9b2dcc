"""SWC, Parquet and precomputed round trips; conversion between every format (API and CLI)."""

import numpy as np
import pytest
from hypothesis import given, settings

from connectoscope.cli import main
from connectoscope.errors import DataFormatError, DatasetExistsError, InvalidParameterError
from connectoscope.morphology import (
    read_skeleton,
    read_skeleton_parquet,
    read_swc,
    write_skeleton,
    write_skeleton_parquet,
    write_swc,
)
from connectoscope.testing import require_shared
from connectoscope.testing.strategies import skeleton_trees


def _rows(path):
    """The numeric node rows of an SWC file (as the file says them)."""
    return sorted(
        tuple(float(v) for v in line.split())
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )


def _same(a, b, *, exact=True):
    np.testing.assert_array_equal(a.node_ids, b.node_ids)
    np.testing.assert_array_equal(a.parent, b.parent)
    if exact:
        np.testing.assert_array_equal(a.vertices, b.vertices)
    else:
        np.testing.assert_allclose(a.vertices, b.vertices, rtol=3e-16, atol=1e-12)
    np.testing.assert_array_equal(a.features["compartment"], b.features["compartment"])


def test_swc_to_swc_lossless_on_real_file(tmp_path):
    src = require_shared("hemibrain-da1/swc/754538881.swc")
    s = read_swc(src, units=8)
    out = write_swc(s, tmp_path / "a.swc", units=8)
    assert _rows(out) == _rows(src)  # every id, type, coordinate, radius and parent
    header = [h for h in out.read_text().splitlines() if h.startswith("#")]
    assert header[:3] == src.read_text().splitlines()[:3]  # the original header is kept
    assert "units: 8 nm" in header[-1]
    _same(read_swc(out, units=8), s)


@settings(max_examples=40)
@given(skeleton_trees())
def test_property_swc_and_parquet_roundtrip(tmp_path_factory, sk):
    d = tmp_path_factory.mktemp("rt")
    for units in (1.0, 1000.0):
        back = read_swc(write_swc(sk, d / "s.swc", units=units), units=units)
        # nm values on a 0.5 grid survive exactly through nm; through µm within one ulp
        _same(back, sk, exact=units == 1.0)
        np.testing.assert_allclose(back.features["radius"], sk.features["radius"], rtol=1e-12)
    p = read_skeleton_parquet(write_skeleton_parquet(sk, d / "s.parquet"))
    _same(p, sk)
    np.testing.assert_array_equal(p.features["radius"], sk.features["radius"])
    assert p.name == sk.name


def test_parquet_metadata_and_errors(tmp_path):
    import pyarrow.parquet as pq

    s = read_swc(require_shared("hemibrain-da1/swc/1734350788.swc"), units=8)
    p = write_skeleton_parquet(s, tmp_path / "n.parquet")
    t = pq.read_table(p)
    assert t.column_names[:5] == ["node_id", "parent_id", "x", "y", "z"]
    import json

    meta = json.loads(t.schema.metadata[b"connectoscope"])
    assert meta["format"] == "connectoscope-skeleton" and meta["units"]["x"] == "nm"
    assert meta["meta"]["swc_units_nm"] == 8
    back = read_skeleton_parquet(p)
    _same(back, s)
    assert back.cable_length == s.cable_length
    import pandas as pd

    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "other.parquet")
    with pytest.raises(DataFormatError, match="not a connectoscope skeleton table"):
        read_skeleton_parquet(tmp_path / "other.parquet")


def test_precomputed_roundtrip(tmp_path):
    s = read_swc(require_shared("hemibrain-da1/swc/754538881.swc"), units=8)
    f = write_skeleton(s, tmp_path / "skel", format="precomputed", segment_id=5)
    assert f.name == "5" and (tmp_path / "skel" / "info").exists()
    back = read_skeleton(tmp_path / "skel", segment_id=5)
    assert len(back) == len(s) and back.roots.size == 2
    np.testing.assert_array_equal(back.parent, s.parent)  # parents first: same order, same tree
    np.testing.assert_allclose(back.vertices, s.vertices.astype(np.float32), rtol=0)
    np.testing.assert_array_equal(back.features["compartment"], s.features["compartment"])
    with pytest.raises(InvalidParameterError, match="pass segment_id"):
        read_skeleton(tmp_path / "skel")
    (tmp_path / "skel" / "6").write_bytes(f.read_bytes()[:-4])
    with pytest.raises(DataFormatError, match="expected"):
        read_skeleton(tmp_path / "skel" / "6")


def test_cli_convert_between_all_formats(tmp_path, capsys):
    src = require_shared("hemibrain-da1/swc/1734350788.swc")
    s = read_swc(src, units=8)
    nml = tmp_path / "n.nml"
    assert (
        main(
            [
                "skeleton",
                "convert",
                str(src),
                str(nml),
                "--units",
                "8",
                "--out-scale",
                "8,8,8",
                "--root",
                "soma",
            ]
        )
        == 0
    )
    pq_ = tmp_path / "n.parquet"
    assert main(["skeleton", "convert", str(nml), str(pq_)]) == 0
    swc = tmp_path / "n.swc"
    assert main(["skeleton", "convert", str(pq_), str(swc), "--out-units", "8"]) == 0
    assert (
        main(
            [
                "skeleton",
                "convert",
                str(swc),
                str(tmp_path / "pc"),
                "--units",
                "8",
                "--out-format",
                "precomputed",
                "--out-id",
                "3",
            ]
        )
        == 0
    )
    capsys.readouterr()
    back = read_swc(swc, units=8)
    assert back.cable_length == pytest.approx(s.cable_length, rel=1e-12)
    assert back.node_ids[back.roots].tolist() == [4177]  # rerooted at the soma node
    assert (back.features["compartment"] == 1).sum() == 1
    with pytest.raises(DatasetExistsError, match="pass --overwrite"):
        main(["--debug", "skeleton", "convert", str(pq_), str(swc)])
    assert main(["skeleton", "convert", str(pq_), str(swc)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert main(["skeleton", "info", str(tmp_path / "pc"), "--id", "3"]) == 0
    assert "4465 nodes" in capsys.readouterr().out
    assert main(["skeleton", "info", str(nml)]) == 0
    out = capsys.readouterr().out
    assert "NML: 1 tree(s), scale (8.0, 8.0, 8.0)" in out and "4465 nodes" in out


def test_bad_swc_extra(tmp_path):
    (tmp_path / "n.swc").write_text("1 1 0 0 0 1 -1\n2 3 a 0 0 1 1\n")
    with pytest.raises(DataFormatError, match=r"n.swc:2: non-numeric value"):
        read_swc(tmp_path / "n.swc")
    (tmp_path / "s.swc").write_text("1 1 0 0 0\n")
    with pytest.raises(DataFormatError, match="expected 7 columns"):
        read_swc(tmp_path / "s.swc")
    (tmp_path / "s.swc.bak").write_text("1 1 0 0 0 1 -1\n")
    with pytest.raises(InvalidParameterError, match="cannot tell the skeleton format"):
        read_skeleton(tmp_path / "s.swc.bak")
