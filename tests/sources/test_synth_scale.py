"""The synthetic cortex at real scale, measured from the voxels it wrote.

One volume at the default overview voxel (56.2 x 56.2 x 84 nm, 21.6 x 21.6 x 16.1 um) with
its full-resolution cube (11.24 x 11.24 x 28 nm): soma diameters, dendrite, axon, spine
calibres (twice the largest inscribed ball, from the distance transform of each segment),
one connected piece per neuron, and the two grids agreeing where their voxel centres meet.
"""

from __future__ import annotations

import cc3d
import h5py
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from connectoscope.sources import CubeFolder
from connectoscope.sources.synthetic import SynthManifest, generate

pytestmark = pytest.mark.slow

SHAPE = (384, 384, 192)


def assemble(folder) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The cubes of a folder as one ``[z, y, x]`` array, and its first voxel (x, y, z)."""
    cf = CubeFolder(folder)
    b = cf.bbox
    vol = np.zeros(b.shape_zyx, dtype=cf.dtype)
    for c in cf:
        lo = [s - o for s, o in zip(c.bbox.start, b.start)]
        hi = [s - o for s, o in zip(c.bbox.stop, b.start)]
        vol[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]] = c.read()
    return vol, b.start


@pytest.fixture(scope="module")
def cortex(tmp_path_factory):
    out = tmp_path_factory.mktemp("scale") / "src"
    m = generate(
        out, shape_xyz=SHAPE, cube=192, seed=11, progress=False, connectome_synapses=0, workers=2
    )
    seg, _ = assemble(out / "segmentation")
    fr, fr_start = assemble(out / "fullres" / "segmentation")
    segs = pd.read_parquet(out / "segments.parquet")
    cells = pd.read_parquet(out / "cells.parquet")
    with h5py.File(out / "objects.hdf5") as f:
        neuron = f["attributes"]["neuron"][()]
    return {
        "out": out,
        "m": m,
        "seg": seg,
        "fr": fr,
        "fr_start": fr_start,
        "segs": segs,
        "cells": cells,
        "neuron": neuron,
    }


def _diameters_um(vol: np.ndarray, ids: np.ndarray, vs_xyz, interior: bool = False) -> np.ndarray:
    """Twice the largest inscribed ball (um) of every segment in ``ids`` present in ``vol``
    (each segment alone: one distance transform per bounding box; ``interior``: only the
    segments that do not touch the volume's faces)."""
    want = np.zeros(int(vol.max()) + 1, bool)
    want[ids[ids <= vol.max()]] = True
    lab = np.where(want[vol], vol, 0)
    out = []
    for i, sl in enumerate(ndimage.find_objects(lab), start=0):
        if sl is None:
            continue
        if interior and any(s.start == 0 or s.stop == n for s, n in zip(sl, vol.shape)):
            continue
        pad = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in sl)
        m = lab[pad] == i + 1
        if m.sum() < 2:
            continue
        edt = ndimage.distance_transform_edt(np.pad(m, 1), sampling=vs_xyz[::-1])
        out.append(2 * edt.max() / 1000)
    return np.asarray(out)


def test_whole_neurons_are_one_piece(cortex):
    nl = np.where(cortex["seg"] < len(cortex["neuron"]), cortex["neuron"][cortex["seg"]], 0)
    nids = np.unique(nl[nl > 0])
    assert len(nids) == cortex["m"].n_neurons >= 2
    for n in nids:
        cc = cc3d.connected_components(nl == n, connectivity=6)
        assert cc.max() == 1, f"neuron {n} is in {cc.max()} pieces"


def test_somata_are_10_to_15_um(cortex):
    vs = cortex["m"].voxel_size_nm
    nl = np.where(cortex["seg"] < len(cortex["neuron"]), cortex["neuron"][cortex["seg"]], 0)
    for n in np.unique(nl[nl > 0]):
        edt = ndimage.distance_transform_edt(np.pad(nl == n, 1), sampling=vs[::-1])
        d = 2 * edt.max() / 1000  # the largest ball inside a neuron sits in its soma
        assert 9.8 <= d <= 15.0, f"neuron {n}: soma {d:.1f} um across"


def _ids(cortex, kind, whole: bool | None = None) -> np.ndarray:
    s = cortex["segs"]
    whole_roots = set(cortex["cells"].loc[cortex["cells"]["neuron_id"] > 0, "pt_root_id"])
    sel = s["kind"] == kind
    if whole is not None:
        sel &= s["pt_root_id"].isin(whole_roots) == whole
    return s.loc[sel, "segment_id"].to_numpy().astype(np.int64)


def test_dendrites_are_1_to_3_um_thick(cortex):
    d = _diameters_um(
        cortex["seg"], _ids(cortex, "dendrite", whole=True), cortex["m"].voxel_size_nm
    )
    assert len(d) >= 10
    assert 1.0 <= np.median(d) <= 3.0
    assert d.max() <= 3.2 and np.quantile(d, 0.1) >= 0.7


def test_axons_and_spines_at_full_resolution(cortex):
    vs = cortex["m"].fullres["voxel_size_nm"]
    fr = cortex["fr"]
    # passing axons: 0.1 - 0.3 um (the membrane takes one voxel off one side)
    d = _diameters_um(fr, _ids(cortex, "axon", whole=False), vs)
    assert len(d) >= 5
    assert 0.1 <= np.median(d) <= 0.3
    assert np.quantile(d, 0.9) <= 0.35
    heads = _diameters_um(fr, _ids(cortex, "spinehead"), vs, interior=True)
    if len(heads):  # heads wholly inside the cube: 0.4 - 0.8 um (passing dendrites' 0.37 - 0.65)
        assert 0.3 <= np.median(heads) <= 0.8


def test_whole_neuron_axons_are_thin(cortex):
    d = _diameters_um(cortex["seg"], _ids(cortex, "axon", whole=True), cortex["m"].voxel_size_nm)
    assert len(d) >= 3
    assert np.median(d) <= 0.6 and d.min() >= 0.1
    boutons = _diameters_um(
        cortex["seg"], _ids(cortex, "bouton", whole=True), cortex["m"].voxel_size_nm
    )
    assert len(boutons) >= 3 and 0.35 <= np.median(boutons) <= 0.9  # output boutons


def test_fullres_cube_agrees_with_the_overview(cortex):
    m = cortex["m"]
    f = np.asarray(m.fullres["factor"])  # (5, 5, 3): overview centres are full-res centres
    start = np.asarray(cortex["fr_start"])
    assert list(start) == m.fullres["offset_vx"]
    fr = cortex["fr"]
    fr_m = SynthManifest.read(cortex["out"] / "fullres")
    assert fr_m.role == "fullres" and tuple(fr_m.voxel_size_nm) == (11.24, 11.24, 28.0)
    # overview voxels whose centre falls in the cube
    lo = -(-start // f)
    hi = (start + np.asarray(fr.shape[::-1]) - 1) // f + 1
    ov = cortex["seg"][lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]
    zz, yy, xx = np.meshgrid(
        *(
            np.arange(a, b) * ff - s
            for a, b, ff, s in zip(lo[::-1], hi[::-1], f[::-1], start[::-1])
        ),
        indexing="ij",
    )
    fine = fr[zz, yy, xx]
    both = (ov != 0) & (fine != 0)
    assert both.mean() > 0.5
    assert (ov[both] == fine[both]).mean() > 0.999  # the same tissue, the same segment ids
