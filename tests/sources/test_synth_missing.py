"""``missing``: some grid positions have no files; the tables still describe the volume."""

from __future__ import annotations

import pandas as pd
import pytest

from connectoscope.errors import InvalidParameterError
from connectoscope.sources import CubeFolder
from connectoscope.sources.synthetic import SynthManifest, generate

#: no full-resolution cube and no MICrONS-shaped connectome (tested on their own)
FAST = {"fullres_cube": 0, "connectome_synapses": 0}


def test_missing_cubes_have_no_files(tmp_path):
    full, holes = tmp_path / "full", tmp_path / "holes"
    shape = (128, 128, 128)
    mf = generate(full, shape_xyz=shape, cube=64, seed=5, progress=False, **FAST)
    mh = generate(holes, shape_xyz=shape, cube=64, seed=5, missing=3, progress=False, **FAST)
    assert len(mh.cubes_missing) == 3
    assert len(mh.cubes_present) == 5
    assert set(mh.cubes_missing).isdisjoint(mh.cubes_present)
    for g in mh.cubes_missing:
        name = f"x{g[0]}y{g[1]}z{g[2]}.hdf5"
        assert not (holes / "color" / name).exists()
        assert not (holes / "segmentation" / name).exists()
    for layer in ("color", "segmentation"):
        cf = CubeFolder(holes / layer)
        assert {c.grid for c in cf} == set(mh.cubes_present)
        inside = [g for g in mh.cubes_missing if all(g[a] < cf.grid_shape[a] for a in range(3))]
        assert set(cf.missing) == set(inside)
        # present cubes are byte-identical in content to the full run
        full_cf = {c.grid: c for c in CubeFolder(full / layer)}
        for c in cf:
            assert (c.read() == full_cf[c.grid].read()).all()
    assert SynthManifest.read(holes).cubes_missing == mh.cubes_missing
    for name in ("synapses.parquet", "cells.parquet", "objects.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(full / name), pd.read_parquet(holes / name))
    assert mf.counts == mh.counts


def test_missing_is_deterministic(tmp_path):
    a = generate(
        tmp_path / "a", shape_xyz=(128, 128, 64), cube=64, seed=9, missing=2, progress=False, **FAST
    )
    b = generate(
        tmp_path / "b", shape_xyz=(128, 128, 64), cube=64, seed=9, missing=2, progress=False, **FAST
    )
    assert a.cubes_missing == b.cubes_missing


def test_missing_out_of_range(tmp_path):
    with pytest.raises(InvalidParameterError, match="--missing 4"):
        generate(
            tmp_path / "x", shape_xyz=(128, 128, 64), cube=64, missing=4, progress=False, **FAST
        )
    assert not (tmp_path / "x").exists()
