"""Invariants of the generator over random small shapes, cube sizes and seeds."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from connectoscope.sources import CubeFolder
from connectoscope.sources.synthetic import KINDS, SynthManifest, generate

#: no full-resolution cube and no MICrONS-shaped connectome (tested on their own)
FAST = {"fullres_cube": 0, "connectome_synapses": 0}


@settings(max_examples=6, deadline=None)
@given(
    cube=st.sampled_from([16, 32, 64]),
    grid=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 2)),
    seed=st.integers(0, 2**31 - 1),
    voxel=st.sampled_from([(11.24, 11.24, 28.0), (4.0, 4.0, 40.0), (16.0, 16.0, 16.0)]),
)
def test_invariants(tmp_path_factory, cube, grid, seed, voxel):
    out = tmp_path_factory.mktemp("p") / "s"
    shape = (grid[0] * cube, grid[1] * cube, grid[2] * cube)
    m = generate(
        out, shape_xyz=shape, cube=cube, seed=seed, voxel_size=voxel, progress=False, **FAST
    )
    assert SynthManifest.read(out) == m
    cf = CubeFolder(out / "segmentation")
    seg = np.zeros(cf.bbox.shape_zyx, np.uint32)
    for c in cf:
        seg[c.bbox.slices_zyx] = c.read()
    assert seg.shape == shape[::-1]
    t = pd.read_parquet(out / "segments.parquet")
    root = np.zeros(m.maximum_segment_id + 1, np.int64)
    root[t["segment_id"].to_numpy().astype(np.int64)] = t["pt_root_id"].to_numpy()
    for axis in range(3):  # segments touch only inside one cell; cells are parted by 0
        a = np.moveaxis(seg, axis, 0)
        meet = (a[:-1] != a[1:]) & (a[:-1] != 0) & (a[1:] != 0)
        ra, rb = root[a[:-1][meet]], root[a[1:][meet]]
        assert ((ra == rb) & (ra != 0)).all()
    with h5py.File(out / "objects.hdf5", "r") as f:
        maps = {k: f["attributes"][k][()] for k in KINDS}
    present = np.zeros(m.maximum_segment_id + 1, bool)
    present[np.unique(seg)] = True
    present[0] = False
    for k in KINDS:
        assert len(maps[k]) == m.maximum_segment_id + 1
        assert not ((maps[k] != 0) & ~present).any()
    syn = pd.read_parquet(out / "synapses.parquet")
    assert len(syn) == m.n_synapses
    for r in syn.itertuples():
        x, y, z = r.ctr_pt_position_x, r.ctr_pt_position_y, r.ctr_pt_position_z
        nb = seg[max(z - 1, 0) : z + 2, max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2]
        assert (nb == r.pre_segment_id).any() and (nb == r.post_segment_id).any()
