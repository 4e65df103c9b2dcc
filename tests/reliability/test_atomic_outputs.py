"""Case 7 of issue 16 and Build 6: every output is written under a temporary name and renamed
when complete: a failure or a kill -9 leaves the old file (or nothing) under the final name,
``--overwrite`` replaces only after the new file is complete, and the next run cleans what a
killed run left."""

# ruff: noqa: F811  (pytest fixtures imported from reliability_helpers)

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pandas as pd
import pytest
from reliability_helpers import small_dataset  # noqa: F401 - pytest fixtures

from connectoscope.cli import main


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _enospc(*a, **k):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def synapses(tmp_path):
    p = tmp_path / "syn.csv"
    pd.DataFrame({"pre": [1, 1, 2, 3, 2**40], "post": [2, 3, 3, 1, 1], "size": 1.0}).to_csv(
        p, index=False
    )
    return p


def _entries(folder):
    return sorted(p.name for p in folder.iterdir())


def test_connectome_h5_overwrite_failure_keeps_the_old_file(
    tmp_path, synapses, capsys, monkeypatch
):
    out = tmp_path / "m.h5"
    rc, _, err = cli(capsys, "connectome", "build", synapses, "-o", out)
    assert rc == 0, err
    before = out.read_bytes()
    from connectoscope.connectome import _formats

    calls = {"n": 0}
    real = _formats.write_pandas_fixed

    def half(*a, **k):  # the second table write hits a full disk
        calls["n"] += 1
        if calls["n"] == 2:
            _enospc()
        return real(*a, **k)

    monkeypatch.setattr(_formats, "write_pandas_fixed", half)
    rc, _, err = cli(capsys, "connectome", "build", synapses, "-o", out, "--overwrite")
    assert rc == 2 and "no space left" in err, err
    assert out.read_bytes() == before  # the old file survives a failed --overwrite
    assert _entries(tmp_path) == ["m.h5", "syn.csv"]  # and no .part is left
    with h5py.File(out) as f:
        assert "connectivity" in f


KILLED = textwrap.dedent(
    """
    import sys, time
    from connectoscope.connectome import _formats
    real = _formats.write_pandas_fixed
    def slow(*a, **k):
        real(*a, **k)
        print("writing", flush=True)
        time.sleep(600)
    _formats.write_pandas_fixed = slow
    from connectoscope.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def test_kill_9_during_h5_write_leaves_no_corrupt_file_and_rerun_works(tmp_path, synapses):
    out = tmp_path / "k.h5"
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    p = subprocess.Popen(
        [sys.executable, str(script), "connectome", "build", str(synapses), "-o", str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert p.stdout.readline().strip() == "writing"
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    assert not out.exists()  # nothing under the final name: a re-run is not refused
    parts = [n for n in _entries(tmp_path) if n.endswith(".part")]
    assert len(parts) == 1 and parts[0].startswith(".k.h5.")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "connectoscope",
            "connectome",
            "build",
            str(synapses),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert _entries(tmp_path) == ["k.h5", "killed.py", "syn.csv"]  # the leftover was cleaned
    from connectoscope.connectome import read_conntility_h5

    assert read_conntility_h5(out).n_synapses == 5


@pytest.mark.parametrize("suffix", [".npy", ".h5", ".tif"])
def test_cutout_failure_keeps_old_file(tmp_path, small_dataset, capsys, monkeypatch, suffix):
    out = tmp_path / f"c{suffix}"
    out.write_bytes(b"old")
    import numpy.lib.format as fmt
    import tifffile

    if suffix == ".npy":
        monkeypatch.setattr(fmt, "write_array", lambda fp, *a, **k: (fp.write(b"x"), _enospc()))
    elif suffix == ".tif":
        monkeypatch.setattr(
            tifffile, "imwrite", lambda f, *a, **k: (open(f, "wb").write(b"x"), _enospc())
        )
    else:
        monkeypatch.setattr(h5py.Group, "create_dataset", lambda *a, **k: _enospc())
    rc, _, err = cli(
        capsys, "cutout", small_dataset, "--layer", "segmentation", "-o", out, "--overwrite"
    )
    assert rc == 2 and "space" in err, err
    assert out.read_bytes() == b"old" and _entries(tmp_path) == [out.name]


def test_cutout_overwrite_replaces_when_complete(tmp_path, small_dataset, capsys):
    out = tmp_path / "c.tif"
    out.write_bytes(b"old")
    rc, _, err = cli(
        capsys, "cutout", small_dataset, "--layer", "segmentation", "-o", out, "--overwrite"
    )
    assert rc == 0, err
    import tifffile

    assert tifffile.imread(out).shape == (16, 32, 32)
    assert _entries(tmp_path) == ["c.tif"]


def test_cmap_failure_keeps_old_file(tmp_path, small_dataset, capsys, monkeypatch):
    from connectoscope.export import _cmap

    out = tmp_path / "s.cmap"
    out.write_bytes(b"old")
    monkeypatch.setattr(_cmap._IdPlan, "voxels", lambda self, block, name: _enospc())
    rc, _, err = cli(capsys, "export", "chimerax", small_dataset, out, "--overwrite")
    assert rc == 2 and "space" in err, err
    assert out.read_bytes() == b"old" and _entries(tmp_path) == ["s.cmap"]


def test_figures_are_atomic(tmp_path, monkeypatch):
    import matplotlib.figure

    from connectoscope.connectome import ConnectivityMatrix, plot_heatmap

    m = ConnectivityMatrix.from_synapses(pd.DataFrame({"pre": [1, 2, 2], "post": [2, 1, 3]}))
    out = tmp_path / "h.png"
    plot_heatmap(m, out=out)
    good = out.read_bytes()
    assert good[:8] == b"\x89PNG\r\n\x1a\n"
    real = matplotlib.figure.Figure.savefig

    def half(self, fname, *a, **k):
        with open(fname, "wb") as f:
            f.write(b"\x89PNG half")
        _enospc()

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", half)
    with pytest.raises(OSError):
        plot_heatmap(m, out=out)
    assert out.read_bytes() == good and _entries(tmp_path) == ["h.png"]
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", real)
    plot_heatmap(m, out=tmp_path / "h.svg")
    assert (tmp_path / "h.svg").read_text().lstrip().startswith("<?xml")


def test_png_and_movies_keep_their_format(tmp_path):
    from PIL import Image

    from connectoscope.render._plane import save_png
    from connectoscope.render._scene import write_movie

    rgb = np.zeros((10, 12, 3), np.uint8)
    assert Image.open(save_png(rgb, tmp_path / "a.png")).format == "PNG"
    assert Image.open(save_png(rgb, tmp_path / "a.jpg")).format == "JPEG"
    gif = write_movie([rgb, rgb + 50], tmp_path / "m.gif")
    assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    mp4 = write_movie([rgb, rgb + 50], tmp_path / "m.mp4")
    assert mp4.read_bytes()[4:8] == b"ftyp"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
