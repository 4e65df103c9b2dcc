"""Case 12 of issue 16 and Build 11: resume is keyed on what the source is (real path, sizes,
modification times), not on how its path was spelled; a failed ingest leaves no empty dataset
folder; ``view`` warns about an incomplete layer; what killed runs leave is cleaned by the
next run or ``verify``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from connectoscope import Dataset
from connectoscope.cli import main

ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), CONNECTOSCOPE_PROGRESS="0")


def _store_bytes(p):
    root = p / "volume.ome.zarr"
    return {
        str(f.relative_to(root)): f.read_bytes()
        for f in sorted(root.rglob("*"))
        if f.is_file() and ".progress" not in f.parts
    }


def _argv(src, ds):
    return [
        sys.executable,
        "-m",
        "connectoscope",
        "ingest",
        str(src),
        str(ds),
        "--layer",
        "segmentation",
        "--voxel-size",
        "4,4,40",
        "--chunk",
        "16,16,16",
        "--shard",
        "16,32,32",
        "--workers",
        "1",
    ]


def _killed_run(tmp_path, src_spelling, ds_name="v.cscope"):
    """Start an ingest (from tmp_path, the source spelled as given), kill -9 it midway."""
    slow = dict(ENV, CONNECTOSCOPE_SLOW_SHARD_S="0.25")
    ds = tmp_path / ds_name
    p = subprocess.Popen(
        _argv(src_spelling, ds_name),
        cwd=tmp_path,
        env=slow,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    prog = ds / "volume.ome.zarr" / ".progress" / "segmentation" / "0"
    deadline = time.time() + 60
    while time.time() < deadline and not (prog.exists() and len(list(prog.iterdir())) >= 2):
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    done = len(list(prog.iterdir()))
    assert 2 <= done < 8, done
    return ds


@pytest.fixture
def source(tmp_path, rng):
    vol = rng.integers(1, 40, (32, 64, 64)).astype(np.uint32)
    np.save(tmp_path / "seg.npy", vol)
    ref = tmp_path / "ref.cscope"
    subprocess.run(_argv(tmp_path / "seg.npy", ref), check=True, env=ENV, capture_output=True)
    return vol, ref


@pytest.mark.parametrize("second", ["absolute", "symlink", "dotted"])
def test_issue_case_12_resume_with_another_spelling_of_the_same_source(tmp_path, source, second):
    vol, ref = source
    ds = _killed_run(tmp_path, "seg.npy")  # relative path
    assert Dataset(ds).layer("segmentation")["complete"] is False
    if second == "absolute":
        spelled = tmp_path / "seg.npy"
    elif second == "symlink":
        os.symlink(tmp_path / "seg.npy", tmp_path / "link.npy")
        spelled = tmp_path / "link.npy"
    else:
        (tmp_path / "sub").mkdir()
        spelled = tmp_path / "sub" / ".." / "." / "seg.npy"
    r = subprocess.run(_argv(spelled, ds), env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert _store_bytes(ds) == _store_bytes(ref)  # byte-identical to an uninterrupted run
    np.testing.assert_array_equal(Dataset(ds).segmentation.read(), vol)


def test_a_changed_source_is_not_resumed_into_the_old_layer(tmp_path, source):
    vol, _ = source
    ds = _killed_run(tmp_path, "seg.npy")
    np.save(tmp_path / "seg.npy", vol + np.uint32(1))  # same name, other content
    r = subprocess.run(_argv(tmp_path / "seg.npy", ds), env=ENV, capture_output=True, text=True)
    assert r.returncode == 2 and "another source" in r.stderr and "Traceback" not in r.stderr


def test_killed_run_leftovers_are_cleaned_by_verify(tmp_path, source):
    ds = _killed_run(tmp_path, "seg.npy")
    leftover = (
        ds / "volume.ome.zarr" / "labels" / "segmentation" / "0" / "c" / ".0.t1.99999999.part"
    )
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_bytes(b"half a shard")
    r = subprocess.run(
        [sys.executable, "-m", "connectoscope", "verify", str(ds)],
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert "removed 1 temporary file" in r.stdout and not leftover.exists()
    assert r.returncode == 1 and "INCOMPLETE" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "connectoscope", "verify", str(ds), "--repair"],
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert Dataset(ds).layer("segmentation")["complete"] is True


def test_failed_ingest_leaves_no_empty_dataset_folder(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "s.npy", np.ones((16, 32, 32), np.uint32))
    from connectoscope.sources import _numpy

    def broken(self, *a, **k):
        raise OSError(5, "Input/output error", str(self.path))

    monkeypatch.setattr(_numpy.NumpySource, "read", broken)
    rc = main(
        [
            "ingest",
            str(tmp_path / "s.npy"),
            str(tmp_path / "new.cscope"),
            "--voxel-size",
            "4,4,40",
            "--workers",
            "1",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "s.npy" in err and "Traceback" not in err, err
    assert not (tmp_path / "new.cscope").exists()


def test_view_warns_about_an_incomplete_layer(tmp_path, source):
    from connectoscope.viewer import view

    ds = _killed_run(tmp_path, "seg.npy")
    with pytest.warns(Warning, match="incomplete .* verify .* --repair"):
        handle, _ = view(Dataset(ds), annotations=False)
    handle.stop()


KILL_EXPORT = textwrap.dedent(
    """
    import sys, time
    from connectoscope.export import _cmap
    real = _cmap._IdPlan.voxels
    def slow(self, block, name):
        print("writing", flush=True)
        time.sleep(600)
    _cmap._IdPlan.voxels = slow
    from connectoscope.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def test_killed_export_part_is_cleaned_by_the_next_run(tmp_path, source):
    _, ref = source
    (tmp_path / "k.py").write_text(KILL_EXPORT)
    out = tmp_path / "seg.cmap"
    p = subprocess.Popen(
        [sys.executable, str(tmp_path / "k.py"), "export", "chimerax", str(ref), str(out)],
        env=ENV,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout.readline().strip() == "writing"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    parts = [f for f in os.listdir(tmp_path) if f.endswith(".part")]
    assert len(parts) == 1 and not out.exists()
    r = subprocess.run(
        [sys.executable, "-m", "connectoscope", "export", "chimerax", str(ref), str(out)],
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert out.exists() and [f for f in os.listdir(tmp_path) if f.endswith(".part")] == []


def test_ingest_refused_before_any_layer_leaves_no_dataset(tmp_path, capsys):
    """A refusal before anything is written (a float array given as a segmentation) used to
    leave a dataset folder with nothing in it, in the way of the next try."""
    np.save(tmp_path / "f.npy", np.ones((16, 32, 32), np.float32))
    argv = ["--layer", "segmentation", "--voxel-size", "4,4,40", "--workers", "1"]
    rc = main(["ingest", str(tmp_path / "f.npy"), str(tmp_path / "new.cscope"), *argv])
    err = capsys.readouterr().err
    assert rc == 2 and "integer ids" in err and "Traceback" not in err, err
    assert not (tmp_path / "new.cscope").exists()
    np.save(tmp_path / "i.npy", np.ones((16, 32, 32), np.uint32))
    rc = main(["ingest", str(tmp_path / "i.npy"), str(tmp_path / "new.cscope"), *argv])
    assert rc == 0, capsys.readouterr().err  # nothing in the way
