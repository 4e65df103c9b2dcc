"""The viewer honours --each, --color and --by (one palette colour per object, the segments of
an object grouped so that a click selects it), and --screenshot always ends."""

import colorsys
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.colors import group_colors, to_hex
from connectoscope.errors import DependencyMissingError
from connectoscope.segmentation import ObjectMaps, Selection
from connectoscope.viewer import _view as view_mod
from connectoscope.viewer import viewer_state
from connectoscope.volume import write_layer

# neuron 1 = segments 1, 2, 3 (3 is a spine head); neuron 2 = segments 4, 5
NEURON = [0, 1, 1, 1, 2, 2]
SPINE = [0, 0, 0, 1, 0, 0]


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    d = cs.Dataset.create(tmp_path_factory.mktemp("vsel") / "v.cscope", voxel_size=(8, 8, 8))
    lab = np.zeros((32, 128, 128), np.uint32)
    lab[:, 8:40, 8:60] = 1
    lab[:, 40:72, 8:60] = 2
    lab[:, 72:104, 8:60] = 3
    lab[:, 8:56, 68:120] = 4
    lab[:, 56:104, 68:120] = 5
    rng = np.random.default_rng(0)
    em = np.clip(128 + rng.normal(0, 10, lab.shape), 0, 255).astype(np.uint8)
    write_layer(d, "segmentation", lab, kind="segmentation")
    write_layer(d, "image", em, kind="image")
    ObjectMaps.from_arrays({"neuron": np.array(NEURON), "spinehead": np.array(SPINE)}).save(d)
    return d


def _seg_layer(state):
    return next(la for la in state["layers"] if la["type"] == "segmentation")


def test_each_groups_segments_and_uses_the_palette(ds):
    seg = _seg_layer(viewer_state(ds, "http://h/data", selection=Selection.parse(each="neuron")))
    assert seg["equivalences"] == [["1", "2", "3"], ["4", "5"]]
    assert seg["segments"] == ["1", "4"]  # one representative per neuron
    cols = group_colors([1, 2])
    assert seg["segmentColors"] == {"1": to_hex(cols[0]), "4": to_hex(cols[1])}
    # the pictures colour the same neurons the same way
    from connectoscope.render import mesh_colors
    from connectoscope.surfaces import Mesh

    meshes = [Mesh(i, np.zeros((3, 3), np.float32), np.zeros((1, 3), np.uint32)) for i in (1, 2)]
    assert [to_hex(c) for c in mesh_colors(meshes).values()] == list(seg["segmentColors"].values())


def test_color_and_by_are_honoured(ds):
    sel = Selection.parse(["neuron=1"], color="yellow", by="spinehead:red")
    seg = _seg_layer(viewer_state(ds, "http://h/data", selection=sel))
    # the spine head leaves the neuron's class to take its own colour
    assert seg["equivalences"] == [["1", "2"]]
    assert seg["segmentColors"] == {"1": "#ffff00", "3": "#ff0000"}
    assert sorted(seg["segments"]) == ["1", "3"]
    # --color alone colours everything, --by alone the kind's segments
    seg = _seg_layer(viewer_state(ds, "http://h/data", selection=Selection.parse(color="lime")))
    assert seg["segmentDefaultColor"] == "#00ff00" and "segments" not in seg
    seg = _seg_layer(
        viewer_state(ds, "http://h/data", selection=Selection.parse(by="spinehead:blue"))
    )
    assert seg["segmentColors"] == {"3": "#0000ff"}


def test_state_cli_color_is_not_ignored(ds, capsys):
    assert main(["view", str(ds.path), "--color", "red", "--state", "--no-annotations"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert _seg_layer(state)["segmentDefaultColor"] == "#ff0000"


def _hue(rgb):
    return colorsys.rgb_to_hsv(*(np.asarray(rgb, float) / 255))[0] * 360


def test_screenshot_colours_whole_neurons(ds, tmp_path):
    out = tmp_path / "each.png"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "connectoscope",
            "view",
            str(ds.path),
            "--each",
            "neuron",
            "--screenshot",
            str(out),
            "--size",
            "800,600",
            "--timeout",
            "200",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    img = np.asarray(Image.open(out).convert("RGB")).astype(float) / 255
    panel = img[: img.shape[0] // 2, : img.shape[1] // 2]  # the xy panel of the 4-panel layout
    hsv = np.array([colorsys.rgb_to_hsv(*p) for p in panel.reshape(-1, 3)])
    coloured = hsv[:, 1] > 0.25
    hues = hsv[coloured, 0] * 360
    want = [_hue(c) for c in group_colors([1, 2])]

    def near(h, w):
        return np.minimum(np.abs(h - w), 360 - np.abs(h - w)) < 20

    n1, n2 = near(hues, want[0]).sum(), near(hues, want[1]).sum()
    assert n1 > 500 and n2 > 500, (n1, n2, np.histogram(hues, 12))
    # no other hue: every segment of a neuron takes the neuron's colour (grouped), none its own
    assert (near(hues, want[0]) | near(hues, want[1])).mean() > 0.97
    # neuron 1 (3 segments: 32 x 3 rows of 52 columns) vs neuron 2 (2 segments: 96 x 52):
    # all members are drawn, not only the representative
    assert n1 / n2 == pytest.approx(1.0, rel=0.25)


def test_screenshot_always_ends(ds, tmp_path, monkeypatch):
    # a child that hangs and leaves a grandchild: both are ended at the overall timeout
    marker = tmp_path / "grandchild.pid"
    hang = (
        "import subprocess, sys, time, pathlib; "
        "p = subprocess.Popen(['sleep', '300']); "
        f"pathlib.Path({str(marker)!r}).write_text(str(p.pid)); time.sleep(300)"
    )
    monkeypatch.setattr(view_mod, "_CHILD_CODE", hang)
    monkeypatch.setattr(view_mod, "_GRACE_S", 0.0)
    t0 = time.monotonic()
    with pytest.raises(view_mod.ScreenshotTimeoutError, match="did not finish within 3 s"):
        view_mod.screenshot(ds, tmp_path / "x.png", timeout_s=3, annotations=False)
    assert time.monotonic() - t0 < 20
    pid = int(marker.read_text())
    time.sleep(0.5)
    assert not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2]
    assert not (tmp_path / "x.png").exists()


def test_screenshot_cli_timeout_is_one_clear_line(ds, tmp_path):
    t0 = time.monotonic()
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "connectoscope",
            "view",
            str(ds.path),
            "--no-annotations",
            "--screenshot",
            str(tmp_path / "t.png"),
            "--timeout",
            "0.5",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "view --screenshot" in r.stderr and ("time" in r.stderr or "within" in r.stderr)
    assert time.monotonic() - t0 < 60
    assert not (tmp_path / "t.png").exists()


def test_missing_playwright_names_the_extra(ds, tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "playwright" else real(n, *a)
    )
    with pytest.raises(DependencyMissingError, match=r"connectoscope\[viewer\]"):
        view_mod.screenshot(ds, tmp_path / "x.png", annotations=False)
    assert main(["view", str(ds.path), "--screenshot", str(tmp_path / "x.png")]) == 2
    assert 'pip install "connectoscope[viewer]"' in capsys.readouterr().err
