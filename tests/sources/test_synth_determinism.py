"""Same seed, same bytes; the content does not depend on the cube size."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd

from connectoscope.sources import CubeFolder
from connectoscope.sources.synthetic import generate

#: no full-resolution cube and no MICrONS-shaped connectome (tested on their own)
FAST = {"fullres_cube": 0, "connectome_synapses": 0}

SHAPE = (128, 128, 64)


def _files(out):
    return sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())


def _assemble(folder):
    cf = CubeFolder(folder)
    vol = np.zeros(cf.bbox.shape_zyx, cf.dtype)
    for c in cf:
        vol[c.bbox.slices_zyx] = c.read()
    return vol


def test_same_seed_same_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    kw = {"fullres_cube": 64, "connectome_synapses": 20_000}
    generate(a, shape_xyz=SHAPE, cube=64, seed=7, progress=False, **kw)
    generate(b, shape_xyz=SHAPE, cube=64, seed=7, progress=False, **kw)
    assert (a / "fullres" / "synth.json").exists() and (a / "microns" / "synapses.parquet").exists()
    assert _files(a) == _files(b)
    for rel in _files(a):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_other_seed_other_data(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, shape_xyz=SHAPE, cube=64, seed=1, progress=False, **FAST)
    generate(b, shape_xyz=SHAPE, cube=64, seed=2, progress=False, **FAST)
    assert not np.array_equal(_assemble(a / "segmentation"), _assemble(b / "segmentation"))


def test_content_independent_of_cube_size(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    shape = (128, 128, 128)
    ma = generate(a, shape_xyz=shape, cube=128, seed=4, progress=False, **FAST)
    mb = generate(b, shape_xyz=shape, cube=32, seed=4, progress=False, **FAST)
    assert len(mb.cubes_present) == 64
    for layer in ("color", "segmentation"):
        np.testing.assert_array_equal(_assemble(a / layer), _assemble(b / layer))
    for name in ("synapses.parquet", "cells.parquet", "objects.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / name), pd.read_parquet(b / name))
    with h5py.File(a / "objects.hdf5") as fa, h5py.File(b / "objects.hdf5") as fb:
        for k in fa["attributes"]:
            np.testing.assert_array_equal(fa["attributes"][k][()], fb["attributes"][k][()])
    assert ma.counts == mb.counts and ma.n_synapses == mb.n_synapses


def test_threads_give_the_same_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, shape_xyz=(128, 128, 128), cube=64, seed=6, progress=False, workers=1, **FAST)
    generate(b, shape_xyz=(128, 128, 128), cube=64, seed=6, progress=False, workers=3, **FAST)
    assert _files(a) == _files(b)
    for rel in _files(a):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
