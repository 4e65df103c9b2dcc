"""Multi-resolution sharded meshes of every label of a real pinky40 cutout, drawn by
Neuroglancer in headless Chromium at two zooms."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.segmentation import ObjectMaps
from connectoscope.testing import load_pinky40
from connectoscope.volume import write_layer


def test_multires_meshes_in_the_browser_at_two_zooms(tmp_path):
    vol = np.ascontiguousarray(load_pinky40("mip2")[256:320, 128:256, 128:256])
    ds = cs.Dataset.create(tmp_path / "p.cscope", voxel_size=(16, 16, 40))
    write_layer(ds, "segmentation", vol, kind="segmentation")
    ids = np.unique(vol)[1:]
    table = pd.DataFrame({"segment_id": ids, "kind": "segment", "object_id": ids.astype(np.int64)})
    ObjectMaps.from_table(table).save(ds)
    argv = ["surfaces", str(ds.path), "--each", "segment", "--level", "0", "--simplify", "40"]
    assert main([*argv, "--format", "precomputed", "--workers", "2"]) == 0
    shards = list((ds.path / "meshes").glob("*.shard"))
    assert 1 <= len(shards) <= 8  # every label's LODs in a handful of files
    r = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("_two_zooms.py")),
            str(ds.path),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    log = json.loads((tmp_path / "log.json").read_text())
    errors = [m for m in log["console"] if not m.endswith("/favicon.ico]")]
    assert errors == [], errors
    served = {p for p, status in log["requests"] if status in (200, 206)}
    assert "/data/meshes/info" in served
    assert any(p.startswith("/data/meshes/") and p.endswith(".shard") for p in served), served
    imgs = {}
    for name in ("far", "near"):
        img = np.asarray(Image.open(tmp_path / f"{name}.png").convert("RGB")).astype(int)
        sat = img.max(axis=-1) - img.min(axis=-1)
        imgs[name] = sat > 40  # segment colours (the background is black or grey)
    # far: the whole cutout is a block of coloured surfaces amid background
    assert 0.02 < imgs["far"].mean() < 0.9
    # near: surfaces fill most of the view; a different picture from far away
    assert imgs["near"].mean() > imgs["far"].mean()
    assert (imgs["near"] != imgs["far"]).mean() > 0.1
