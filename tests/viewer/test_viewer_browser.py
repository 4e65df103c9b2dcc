"""The viewer in a real browser: headless Debian Chromium shows EM, segments and a mesh."""

import subprocess
import sys

import numpy as np
from PIL import Image

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.segmentation import ObjectMaps
from connectoscope.volume import write_array


def test_view_screenshot_shows_em_segments_and_mesh(tmp_path):
    rng = np.random.default_rng(0)
    ds = cs.Dataset.create(tmp_path / "v.cscope", voxel_size=(8, 8, 8))
    lab = np.zeros((64, 128, 128), np.uint32)
    zz, yy, xx = np.mgrid[0:64, 0:128, 0:128]
    lab[(zz - 32) ** 2 + (yy - 64) ** 2 + (xx - 64) ** 2 < 24**2] = 7  # a ball
    lab[:, :40, :40] = 3
    em = np.clip(120 + 40 * (lab > 0) + rng.normal(0, 25, lab.shape), 0, 255).astype(np.uint8)
    write_array(ds, "segmentation", lab, kind="segmentation")
    write_array(ds, "image", em, kind="image")
    ObjectMaps.from_arrays({"neuron": np.array([0, 0, 0, 2, 0, 0, 0, 1])}).save(ds)
    assert main(["surfaces", str(ds.path), "--each", "neuron", "--level", "0"]) == 0
    out = tmp_path / "view.png"
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
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
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
