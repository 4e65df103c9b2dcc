"""The viewer in a real browser: headless Debian Chromium shows EM, segments, a mesh and
loads the synapse annotations with no error in the page's console."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
from PIL import Image

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.connectome import SynapseTable
from connectoscope.segmentation import ObjectMaps
from connectoscope.volume import write_layer


def test_view_screenshot_shows_em_segments_and_mesh(tmp_path):
    rng = np.random.default_rng(0)
    ds = cs.Dataset.create(tmp_path / "v.cscope", voxel_size=(8, 8, 8))
    lab = np.zeros((64, 128, 128), np.uint32)
    zz, yy, xx = np.mgrid[0:64, 0:128, 0:128]
    lab[(zz - 32) ** 2 + (yy - 64) ** 2 + (xx - 64) ** 2 < 24**2] = 7  # a ball
    lab[:, :40, :40] = 3
    em = np.clip(120 + 40 * (lab > 0) + rng.normal(0, 25, lab.shape), 0, 255).astype(np.uint8)
    write_layer(ds, "segmentation", lab, kind="segmentation")
    write_layer(ds, "image", em, kind="image")
    ObjectMaps.from_arrays({"neuron": np.array([0, 0, 0, 2, 0, 0, 0, 1])}).save(ds)
    assert main(["surfaces", str(ds.path), "--each", "neuron", "--level", "0"]) == 0
    # synapses on the ball's surface (nm), between segment 3 and segment 7
    n = 400
    u = rng.normal(size=(n, 3))
    u = 24 * u / np.linalg.norm(u, axis=1, keepdims=True) + (64, 64, 32)  # x, y, z voxels
    syn = pd.DataFrame(
        {
            "pre": np.full(n, 2**60 + 3),
            "post": np.full(n, 2**60 + 7),
            "pre_segment_id": np.full(n, 3),
            "post_segment_id": np.full(n, 7),
            "size": rng.integers(20, 400, n),
            "x_nm": u[:, 0] * 8,
            "y_nm": u[:, 1] * 8,
            "z_nm": u[:, 2] * 8,
        }
    )
    SynapseTable(syn).save(ds)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "connectoscope",
            "view",
            str(ds.path),
            "--where",
            "neuron=1",
            "--state",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    state = json.loads(r.stdout)
    ann = next(la for la in state["layers"] if la["type"] == "annotation")
    assert ann["source"].endswith("/data/annotations/synapses")
    assert ann["filterBySegmentation"] == ["pre_segment", "post_segment"]
    assert (ds.path / "annotations" / "synapses" / "info").is_file()
    out = tmp_path / "view.png"
    log = tmp_path / "log.json"
    # a fresh process, as a user runs it (and isolated from the VTK/GL state of other tests)
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
            "--log",
            str(log),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    served = json.loads(log.read_text())
    # the browser's own favicon request is the only 404 allowed
    errors = [
        m
        for m in served["console"]
        if not m.startswith("warning") and not m.endswith("/favicon.ico]")
    ]
    assert errors == [], errors
    got = {path for path, status in served["requests"] if status == 200}
    assert "/data/annotations/synapses/info" in got
    # a selection shows its synapses through the relationship indices
    assert "/data/annotations/synapses/pre_segment/0.shard" in got, sorted(got)
    img = np.asarray(Image.open(out).convert("RGB")).astype(int)
    h, w, _ = img.shape
    assert h > 200 and w > 200
    sat = img.max(axis=-1) - img.min(axis=-1)
    grey = sat < 12
    # EM texture: many grey pixels with real variance (not a blank or error page)
    assert grey.mean() > 0.2 and img[grey].std() > 10
    # segment colours: saturated pixels in the 2-D panels
    assert (sat > 60).mean() > 0.01
    # a mesh: the 3-D panel (bottom left of the 4-panel layout) holds coloured pixels
    panel = sat[h // 2 :, : w // 2]
    assert (panel > 60).mean() > 0.005
    # synapse markers in their colour (#ffcc00): drawn, not only fetched
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    assert ((r > 220) & (g > 160) & (g < 225) & (b < 80)).mean() > 0.0008

    # with no selection every synapse is shown through the spatial index
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "connectoscope",
            "view",
            str(ds.path),
            "--screenshot",
            str(tmp_path / "all.png"),
            "--log",
            str(log),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    served = json.loads(log.read_text())
    assert [m for m in served["console"] if not m.endswith("/favicon.ico]")] == []
    got = {path for path, status in served["requests"] if status == 200}
    assert any(p.startswith("/data/annotations/synapses/spatial0/") for p in got), sorted(got)
