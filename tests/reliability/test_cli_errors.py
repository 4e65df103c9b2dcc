"""Case 8 of issue 16: no traceback for anything a user can cause. Each environmental case the
issue lists runs through the command line and must end with exit code 2 and one line naming
the path or value (``--debug`` shows the traceback instead); a closed pipe ends quietly."""

# ruff: noqa: F811  (pytest fixtures imported from reliability_helpers)

from __future__ import annotations

import errno
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
from reliability_helpers import full_disk, readonly_dir, small_dataset  # noqa: F401 - pytest fixtures

from connectoscope.cli import main


def cli(capsys, *argv):
    """Run the CLI in this process; an unhandled exception (a traceback) fails the test.
    argparse refusals (usage, then ``error: argument --x: ...``) exit 2 too."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def _copy(ds, tmp_path, name):
    dst = tmp_path / name
    shutil.copytree(ds, dst)
    return dst


def _level0_chunks(ds, layer="labels/segmentation"):
    root = ds / "volume.ome.zarr" / layer / "0" / "c"
    return sorted(p for p in root.rglob("*") if p.is_file())


# Each case: (id, setup(tmp_path, ds) -> argv, words the one-line message must contain)
def c_missing_out_folder(tmp, ds):
    return ["cutout", ds, "--layer", "segmentation", "-o", tmp / "no" / "such" / "c.npy"]


def c_corrupt_shards(tmp, ds):
    d = _copy(ds, tmp, "corrupt.cscope")
    for p in _level0_chunks(d):
        p.write_bytes(b"garbage" * 5)
    return ["cutout", d, "--layer", "segmentation", "-o", tmp / "c.npy"]


def c_truncated_shard(tmp, ds):
    d = _copy(ds, tmp, "trunc.cscope")
    for p in _level0_chunks(d):
        p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    return ["cutout", d, "--layer", "segmentation", "-o", tmp / "c.npy"]


def c_missing_level_metadata(tmp, ds):  # tensorstore NOT_FOUND
    d = _copy(ds, tmp, "nf.cscope")
    (d / "volume.ome.zarr/labels/segmentation/0/zarr.json").unlink()
    return ["cutout", d, "--layer", "segmentation", "-o", tmp / "c.npy"]


def c_bad_level_metadata(tmp, ds):
    d = _copy(ds, tmp, "bl.cscope")
    (d / "volume.ome.zarr/labels/segmentation/0/zarr.json").write_text("{broken")
    return ["cutout", d, "--layer", "segmentation", "-o", tmp / "c.npy"]


def c_bad_metadata_json(tmp, ds):
    d = _copy(ds, tmp, "bj.cscope")
    (d / "connectoscope.json").write_text("{not json")
    return ["info", d]


def c_metadata_not_an_object(tmp, ds):
    d = _copy(ds, tmp, "bo.cscope")
    (d / "connectoscope.json").write_text("[1, 2]")
    return ["info", d]


def c_empty_parquet(tmp, ds):
    d = _copy(ds, tmp, "ep.cscope")
    (tmp / "empty.parquet").write_bytes(b"")
    return ["objects", "import", d, tmp / "empty.parquet"]


def c_empty_npy_info(tmp, ds):
    (tmp / "empty.npy").write_bytes(b"")
    return ["info", tmp / "empty.npy"]


def c_empty_npy_ingest(tmp, ds):
    (tmp / "empty.npy").write_bytes(b"")
    return ["ingest", tmp / "empty.npy", tmp / "e.cscope", "--voxel-size", "4,4,40"]


def c_truncated_npy(tmp, ds):
    np.save(tmp / "t.npy", np.zeros((8, 8, 8), np.uint8))
    data = (tmp / "t.npy").read_bytes()
    (tmp / "t.npy").write_bytes(data[:200])
    return ["ingest", tmp / "t.npy", tmp / "t.cscope", "--voxel-size", "4,4,40"]


def c_nan_swc(tmp, ds):
    (tmp / "nan.swc").write_text("1 1 nan 0 0 1 -1\n2 3 1 1 1 1 1\n")
    return ["skeleton", "info", tmp / "nan.swc"]


def c_binary_swc(tmp, ds):
    (tmp / "bin.swc").write_bytes(bytes(range(256)) * 4)
    return ["skeleton", "info", tmp / "bin.swc"]


def c_chunk_zero(tmp, ds):
    return [
        "ingest",
        ds.parent / "lab.npy",
        tmp / "z.cscope",
        "--voxel-size",
        "4,4,40",
        "--chunk",
        "0,0,0",
    ]


def c_bad_h5(tmp, ds):
    (tmp / "bad.h5").write_bytes(b"not hdf5 at all")
    return ["info", tmp / "bad.h5"]


def c_empty_h5_matrix(tmp, ds):
    (tmp / "m.h5").write_bytes(b"")
    return ["connectome", "stats", tmp / "m.h5"]


def c_empty_edges_parquet(tmp, ds):
    m = tmp / "m"
    m.mkdir()
    (m / "edges.parquet").write_bytes(b"")
    (m / "pre_vertices.parquet").write_bytes(b"")
    (m / "post_vertices.parquet").write_bytes(b"")
    return ["connectome", "stats", m]


def c_binary_csv(tmp, ds):
    (tmp / "syn.csv").write_bytes(b"pre,post\n" + bytes(range(128, 256)) * 8)
    return ["connectome", "build", tmp / "syn.csv", "-o", tmp / "m"]


def c_port_out_of_range(tmp, ds):
    return ["view", ds, "--port", "70000", "--seconds", "0.1", "--no-annotations"]


def c_port_negative(tmp, ds):
    return ["view", ds, "--port", "-1", "--seconds", "0.1", "--no-annotations"]


def c_output_is_a_folder(tmp, ds):
    (tmp / "dir.npy").mkdir()
    return ["cutout", ds, "--layer", "segmentation", "-o", tmp / "dir.npy", "--overwrite"]


def c_dataset_is_a_file(tmp, ds):
    (tmp / "file.cscope").write_text("x")
    return ["info", tmp / "file.cscope"]


def c_output_parent_is_a_file(tmp, ds):
    (tmp / "afile").write_text("x")
    return ["connectome", "build", _syn(tmp), "-o", tmp / "afile" / "m.h5"]


def _syn(tmp):
    (tmp / "s.csv").write_text("pre,post\n1,2\n2,3\n")
    return tmp / "s.csv"


CASES = [
    (c_corrupt_shards, ["corrupt.cscope"]),
    (c_truncated_shard, ["trunc.cscope"]),
    (c_missing_level_metadata, ["nf.cscope"]),
    (c_bad_level_metadata, ["bl.cscope"]),
    (c_bad_metadata_json, ["bj.cscope"]),
    (c_metadata_not_an_object, ["bo.cscope"]),
    (c_empty_parquet, ["empty.parquet"]),
    (c_empty_npy_info, ["empty.npy"]),
    (c_empty_npy_ingest, ["empty.npy"]),
    (c_truncated_npy, ["t.npy"]),
    (c_nan_swc, ["nan.swc"]),
    (c_binary_swc, ["bin.swc"]),
    (c_chunk_zero, ["--chunk"]),
    (c_bad_h5, ["bad.h5"]),
    (c_empty_h5_matrix, ["m.h5"]),
    (c_empty_edges_parquet, ["/m", "Parquet"]),
    (c_binary_csv, ["syn.csv"]),
    (c_port_out_of_range, ["--port", "70000"]),
    (c_port_negative, ["--port", "-1"]),
    (c_output_is_a_folder, ["dir.npy"]),
    (c_dataset_is_a_file, ["file.cscope"]),
    (c_output_parent_is_a_file, ["afile"]),
]


@pytest.mark.parametrize("case,words", CASES, ids=[c.__name__[2:] for c, _ in CASES])
def test_environmental_errors_give_one_line_and_exit_2(
    tmp_path, small_dataset, capsys, case, words
):
    argv = case(tmp_path, small_dataset)
    rc, _, err = cli(capsys, *argv)
    assert rc == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("usage:", " "))]
    assert len(lines) == 1 and lines[0].startswith("connectoscope "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_missing_output_folder_is_created(tmp_path, small_dataset, capsys):
    rc, _, err = cli(capsys, *c_missing_out_folder(tmp_path, small_dataset))
    assert rc == 0, err
    assert np.load(tmp_path / "no/such/c.npy").shape == (16, 32, 32)


def test_debug_shows_the_traceback(tmp_path, small_dataset):
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(EOFError):
        main(["--debug", "info", str(tmp_path / "empty.npy")])


def test_port_in_use(small_dataset, capsys):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        rc, _, err = cli(
            capsys, "view", small_dataset, "--port", port, "--seconds", "0.1", "--no-annotations"
        )
    finally:
        s.close()
    assert rc == 2 and f"--port {port}" in err and "in use" in err


def test_read_only_output_folder(readonly_dir, small_dataset, capsys, tmp_path):
    for argv, word in (
        (
            ["cutout", small_dataset, "--layer", "segmentation", "-o", readonly_dir / "c.npy"],
            "c.npy",
        ),
        (["cutout", small_dataset, "--layer", "segmentation", "-o", readonly_dir / "c.h5"], "c.h5"),
        (
            [
                "ingest",
                small_dataset.parent / "lab.npy",
                readonly_dir / "d.cscope",
                "--voxel-size",
                "4,4,40",
            ],
            "d.cscope",
        ),
        (["connectome", "build", _syn(tmp_path), "-o", readonly_dir / "m.h5"], "m.h5"),
    ):
        rc, _, err = cli(capsys, *argv)
        assert rc == 2 and "Traceback" not in err, err
        assert word in err and ("read-only" in err or "permission" in err), err
    assert list(readonly_dir.iterdir()) == []


def test_full_disk_simulated_enospc_keeps_the_old_file(
    tmp_path, small_dataset, capsys, monkeypatch
):
    out = tmp_path / "c.npy"
    out.write_bytes(b"old cutout")
    import numpy.lib.format as fmt

    def full(fp, array, *a, **k):
        fp.write(b"\x93NUMPY partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fmt, "write_array", full)
    rc, _, err = cli(
        capsys, "cutout", small_dataset, "--layer", "segmentation", "-o", out, "--overwrite"
    )
    assert rc == 2 and "no space left" in err and "c.npy" in err, err
    assert out.read_bytes() == b"old cutout"  # --overwrite replaced nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npy"]  # no .part left


def test_full_disk_real_tmpfs(full_disk, small_dataset, capsys):
    for argv in (
        [
            "ingest",
            small_dataset.parent / "lab.npy",
            full_disk / "d.cscope",
            "--voxel-size",
            "4,4,40",
            "--chunk",
            "8,8,8",
            "--shard",
            "8,8,8",
        ],
        ["cutout", small_dataset, "--layer", "image", "--level", "0", "-o", full_disk / "big.tif"],
    ):
        big = full_disk / "filler"
        try:
            with open(big, "wb") as f:
                while True:
                    f.write(b"\0" * 65536)
        except OSError:
            pass
        rc, _, err = cli(capsys, *argv)
        big.unlink()
        assert rc == 2 and "Traceback" not in err, err
        assert "space" in err.lower() or "RESOURCE_EXHAUSTED" in err, err


def test_info_into_a_closed_pipe_ends_quietly(small_dataset):
    """`connectoscope info X | head`: the reader goes away before we write."""
    p = subprocess.Popen(
        [sys.executable, "-m", "connectoscope", "info", str(small_dataset)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    p.stdout.close()  # the reader is gone before the command prints anything
    _, err = p.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipe" not in err and err == b"", err
    assert p.returncode == 141
