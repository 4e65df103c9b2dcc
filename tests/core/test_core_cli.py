import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from connectoscope import Dataset
from connectoscope.cli import main


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "connectoscope", *args], capture_output=True, text=True, env=env
    )


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("info", "demo"):
        assert cmd in out


def test_missing_path_is_exit_2_without_traceback():
    r = run_cli("info", "/definitely/not/here")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "/definitely/not/here: no such file or folder" in r.stderr


def test_debug_shows_traceback():
    r = run_cli("--debug", "info", "/definitely/not/here")
    assert r.returncode != 0
    assert "Traceback" in r.stderr


def test_unrecognised_folder(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["info", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no recognisable data" in err and "x{i}y{j}z{k}.hdf5" in err


def test_truncated_hdf5(tmp_path, capsys):
    p = tmp_path / "cube.hdf5"
    with h5py.File(p, "w") as f:
        f["data"] = np.zeros((8, 8, 8), np.uint8)
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 3])
    assert main(["info", str(p)]) == 2
    err = capsys.readouterr().err
    assert str(p) in err and "truncated or corrupt" in err


def test_info_on_files(tmp_path, capsys):
    np.save(tmp_path / "a.npy", np.zeros((3, 4, 5), np.uint16))
    assert main(["info", str(tmp_path / "a.npy")]) == 0
    assert "shape (3, 4, 5) uint16" in capsys.readouterr().out
    with h5py.File(tmp_path / "b.h5", "w") as f:
        f["/grp/labels"] = np.zeros((2, 2, 2), np.uint32)
    assert main(["info", str(tmp_path / "b.h5"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["datasets"]["/grp/labels"] == {"shape": [2, 2, 2], "dtype": "uint32"}


def test_info_on_cube_folder(tmp_path, capsys):
    seg = tmp_path / "segmentation"
    seg.mkdir()
    for name in ("x0y0z0", "x1y0z0", "x1y1z0"):
        with h5py.File(seg / f"{name}.hdf5", "w") as f:
            f["data"] = np.ones((16, 16, 16), np.uint32)
    (seg / "readme.txt").write_text("x")
    assert main(["info", str(seg), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["cubes"] == 3
    assert d["cube_edge"] == 16
    assert d["shape_xyz"] == [32, 32, 16]
    assert d["missing"] == ["x0y1z0"]
    assert d["skipped"] == ["readme.txt"]
    assert main(["info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "segmentation: 3 cube files of 16^3 uint32" in out
    assert "missing grid positions (read as background): x0y1z0" in out


def test_cube_folder_conflicts(tmp_path, capsys):
    seg = tmp_path / "seg"
    seg.mkdir()
    for name in ("x0y0z0.hdf5", "x0y0z0.h5"):
        with h5py.File(seg / name, "w") as f:
            f["data"] = np.ones((4, 4, 4), np.uint32)
    assert main(["info", str(seg)]) == 2
    assert "two files claim grid position x0y0z0" in capsys.readouterr().err


def test_cube_wrong_shape(tmp_path, capsys):
    seg = tmp_path / "seg"
    seg.mkdir()
    with h5py.File(seg / "x0y0z0.hdf5", "w") as f:
        f["data"] = np.ones((4, 4, 8), np.uint32)
    assert main(["info", str(seg)]) == 2
    err = capsys.readouterr().err
    assert "x0y0z0.hdf5" in err and "expected a cube" in err


def test_info_on_dataset(tmp_path, capsys):
    ds = Dataset.create(tmp_path / "x.cscope", voxel_size=(16, 16, 40))
    ds.set_layer(
        "segmentation",
        {
            "kind": "segmentation",
            "dtype": "uint32",
            "complete": True,
            "levels": [
                {"shape_zyx": [64, 256, 256], "voxel_size_nm": [16, 16, 40]},
                {"shape_zyx": [64, 128, 128], "voxel_size_nm": [32, 32, 40]},
            ],
        },
    )
    ds.set_layer("objects", {"kind": "objects", "kinds": {"neuron": 3, "axon": 7}})
    assert main(["info", str(ds.path)]) == 0
    out = capsys.readouterr().out
    assert "voxel size: 16 x 16 x 40 nm" in out
    assert "level 1: 128 x 128 x 64 voxels" in out
    assert "neuron: 3, axon: 7" in out
    assert "on disk:" in out


def test_no_progress_before_or_after_the_command(tmp_path, capsys):
    """Every command takes --no-progress where users write it; it hides the bars."""
    import os

    bars = {**os.environ, "CONNECTOSCOPE_PROGRESS": "1"}  # the suite hides them by default

    lab = np.zeros((16, 32, 32), np.uint32)
    lab[4:12, 8:24, 8:24] = 1
    src = tmp_path / "lab.npy"
    np.save(src, lab)
    ds = tmp_path / "p.cscope"
    r = run_cli("ingest", str(src), str(ds), "--layer", "segmentation", "--voxel-size", "8,8,16")
    assert r.returncode == 0, r.stderr
    base = ["surfaces", str(ds), "--where", "1", "--level", "0", "-o"]
    shown = run_cli(*base, str(tmp_path / "a"), env=bars)
    assert shown.returncode == 0 and "surfaces:" in shown.stderr  # the bar, by default
    for argv in (
        [*base, str(tmp_path / "b"), "--no-progress"],
        ["--no-progress", *base, str(tmp_path / "c")],
    ):
        r = run_cli(*argv, env=bars)
        assert r.returncode == 0, r.stderr
        assert "surfaces:" not in r.stderr and "block/s" not in r.stderr
    # and every sub-command has it
    for cmd in (["connectome", "build"], ["cave", "cell"], ["objects", "stats"], ["view"]):
        with pytest.raises(SystemExit):
            main([*cmd, "--help"])
        assert "--no-progress" in capsys.readouterr().out, cmd
