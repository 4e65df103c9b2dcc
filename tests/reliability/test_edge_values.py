"""Case 11 of issue 16: values checked at the edge, each refused with a message naming the
option (or the file): ids, units, voxel sizes, boxes, chunk shapes, empty tables."""

# ruff: noqa: F811  (pytest fixtures imported from reliability_helpers)

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reliability_helpers import small_dataset  # noqa: F401 - pytest fixtures

from connectoscope.cli import main


def cli(capsys, *argv):
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # argparse refusals exit 2 with "argument --opt: ..."
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def swc(tmp_path):
    p = tmp_path / "n.swc"
    p.write_text("1 1 0 0 0 1 -1\n2 3 1 1 1 0.5 1\n3 3 2 2 2 0.5 2\n")
    return p


@pytest.mark.parametrize("units", ["0", "-8", "nan", "inf", "1e-300"])
def test_skeleton_units_zero_or_negative_refused(capsys, swc, tmp_path, units):
    rc, _, err = cli(capsys, "skeleton", "convert", swc, tmp_path / "o.swc", f"--units={units}")
    assert rc == 2 and "--units" in err and "Traceback" not in err, err
    assert not (tmp_path / "o.swc").exists()
    rc, _, err = cli(capsys, "skeleton", "convert", swc, tmp_path / "o.swc", f"--out-units={units}")
    assert rc == 2 and "--out-units" in err
    assert not (tmp_path / "o.swc").exists()


@pytest.mark.parametrize("vs", ["1e-300", "0,4,40", "4,4,1e30", "-4,4,40", "nan,4,40"])
def test_voxel_size_out_of_range_refused(capsys, small_dataset, tmp_path, vs):
    rc, _, err = cli(
        capsys,
        "ingest",
        small_dataset.parent / "lab.npy",
        tmp_path / "v.cscope",
        f"--voxel-size={vs}",
    )
    assert rc == 2 and "--voxel-size" in err, err
    assert not (tmp_path / "v.cscope").exists()


@pytest.mark.parametrize("box", ["0,0,0:0,10,10", "5,5,5:5,5,5", "0,0,3:8,8,3"])
def test_zero_width_bbox_refused(capsys, small_dataset, tmp_path, box):
    rc, _, err = cli(
        capsys,
        "cutout",
        small_dataset,
        "--layer",
        "segmentation",
        f"--bbox={box}",
        "-o",
        tmp_path / "c.npy",
    )
    assert rc == 2 and "--bbox" in err and "empty" in err, err
    assert not (tmp_path / "c.npy").exists()


@pytest.mark.parametrize("chunk", ["0,0,0", "-1,8,8", "8,0,8"])
def test_chunk_zero_or_negative_refused(capsys, small_dataset, tmp_path, chunk):
    rc, _, err = cli(
        capsys,
        "ingest",
        small_dataset.parent / "lab.npy",
        tmp_path / "c.cscope",
        "--voxel-size",
        "4,4,40",
        f"--chunk={chunk}",
    )
    assert rc == 2 and "--chunk" in err
    assert not (tmp_path / "c.cscope").exists()


def test_chunk_api_zero_refused(small_dataset, tmp_path):
    from connectoscope.errors import InvalidParameterError
    from connectoscope.volume import StorageSpec

    with pytest.raises(InvalidParameterError, match="chunk_xyz: every value must be >= 1"):
        StorageSpec(chunk_xyz=(0, 0, 0))


def test_tiny_chunks_warn_with_the_file_count(capsys, tmp_path, monkeypatch, rng):
    """The warning names the option and the number of shard files; the count is exact. The
    threshold (10,000 files) is lowered here so that a small volume shows it."""
    import warnings

    from connectoscope.volume import _verify

    monkeypatch.setattr(_verify, "MANY_FILES", 20)
    np.save(tmp_path / "v.npy", rng.integers(1, 255, (40, 100, 100), dtype=np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # as on the command line
        rc, _, err = cli(
            capsys,
            "ingest",
            tmp_path / "v.npy",
            tmp_path / "t.cscope",
            "--voxel-size",
            "4,4,40",
            "--chunk",
            "7,7,7",
        )
    assert rc == 0, err
    line = next(ln for ln in err.splitlines() if "warning" in ln)
    assert line.startswith("connectoscope ingest: warning: --chunk 7,7,7: ")
    n = int(line.split("written as ")[1].split(" files")[0].replace(",", ""))
    shards = [p for p in (tmp_path / "t.cscope").rglob("*") if p.is_file() and "/c/" in str(p)]
    assert n == len(shards) > 20
    # default shapes: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        rc, _, err = cli(
            capsys, "ingest", tmp_path / "v.npy", tmp_path / "u.cscope", "--voxel-size", "4,4,40"
        )
    assert rc == 0 and "warning" not in err


def test_header_only_synapse_csv_refused(capsys, tmp_path):
    (tmp_path / "s.csv").write_text("pre,post\n")
    rc, _, err = cli(capsys, "connectome", "build", tmp_path / "s.csv", "-o", tmp_path / "m")
    assert rc == 2 and "s.csv" in err and "no synapses" in err, err
    assert not (tmp_path / "m").exists()


def test_negative_segment_ids_in_objects_import_refused(capsys, small_dataset, tmp_path):
    import shutil

    d = tmp_path / "o.cscope"
    shutil.copytree(small_dataset, d)
    pd.DataFrame({"segment_id": [3, -5], "kind": "neuron", "object_id": [1, 2]}).to_csv(
        tmp_path / "m.csv", index=False
    )
    rc, _, err = cli(capsys, "objects", "import", d, tmp_path / "m.csv")
    assert rc == 2 and "negative segment ids (-5)" in err, err
    assert not (d / "objects" / "segment_objects.parquet").exists()


@pytest.mark.parametrize(
    "kind", ["../../evil", "/abs/evil", "a/b", "", "x" * 300, "..", "a\0b", "a\\b", ".hidden"]
)
def test_object_kinds_that_would_name_files_outside_are_refused(kind):
    """A kind becomes part of file names (objects_<kind>.parquet): a table naming the kind
    ``../../../evil`` used to write ``evil.parquet`` outside the objects folder."""
    from connectoscope.errors import DataFormatError
    from connectoscope.segmentation import ObjectMaps

    with pytest.raises(DataFormatError, match="plain name"):
        ObjectMaps({kind: (np.array([3]), np.array([1]))})
    with pytest.raises(DataFormatError, match="plain name"):
        ObjectMaps.from_table(pd.DataFrame({"segment_id": [3], "kind": kind, "object_id": [1]}))
    ObjectMaps({"spine_head-2.v1": (np.array([3]), np.array([1]))})  # plain names still pass
