"""The generated files agree with each other: volume, object maps, synapses, cells, manifest."""

from __future__ import annotations

import zlib

import h5py
import numpy as np
import pandas as pd
import pytest

from connectoscope.sources import CubeFolder
from connectoscope.sources.synthetic import KINDS, ROOT_ID_BASE, SynthManifest, generate

SHAPE = (256, 256, 128)
CUBE = 128


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "src"
    m = generate(
        out, shape_xyz=SHAPE, cube=CUBE, seed=3, progress=False, connectome_synapses=20_000
    )
    return out, m


def assemble(folder) -> np.ndarray:
    """All cubes of a folder as one ``[z, y, x]`` array starting at the first cube."""
    cf = CubeFolder(folder)
    b = cf.bbox
    vol = np.zeros(b.shape_zyx, dtype=cf.dtype)
    for c in cf:
        lo = [s - o for s, o in zip(c.bbox.start, b.start)]
        hi = [s - o for s, o in zip(c.bbox.stop, b.start)]
        vol[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]] = c.read()
    return vol


@pytest.fixture(scope="module")
def volumes(synth):
    out, _ = synth
    return assemble(out / "segmentation"), assemble(out / "color")


@pytest.fixture(scope="module")
def maps(synth):
    out, _ = synth
    with h5py.File(out / "objects.hdf5", "r") as f:
        return {k: f["attributes"][k][()] for k in KINDS}, int(f.attrs["maximum_segment_id"])


def test_cube_files_follow_l4dense_layout(synth):
    out, m = synth
    grid = (SHAPE[0] // CUBE, SHAPE[1] // CUBE, SHAPE[2] // CUBE)
    for layer, dtype in (("color", np.uint8), ("segmentation", np.uint32)):
        cf = CubeFolder(out / layer)
        assert cf.edge == CUBE
        assert cf.dtype == dtype
        assert cf.grid_shape == grid
        assert cf.missing == []
        assert not cf.skipped
        for c in cf:
            with h5py.File(c.path, "r") as f:
                assert list(f.keys()) == ["data"]
                assert f["data"].shape == (CUBE, CUBE, CUBE)
    assert sorted(m.cubes_present) == sorted(c.grid for c in CubeFolder(out / "color"))
    # cube x1y0z0 starts at one-based voxel (CUBE + 1, 1, 1)
    c = next(c for c in CubeFolder(out / "color") if c.grid == (1, 0, 0))
    assert c.start_vx_one_based == (CUBE + 1, 1, 1)


@pytest.fixture(scope="module")
def root_of(synth):
    """Cell root id of every segment id (0 for glia), from segments.parquet."""
    out, m = synth
    t = pd.read_parquet(out / "segments.parquet")
    r = np.zeros(m.maximum_segment_id + 1, np.int64)
    r[t["segment_id"].to_numpy().astype(np.int64)] = t["pt_root_id"].to_numpy()
    return r


def test_membranes_are_zero_between_cells(volumes, root_of):
    seg, _ = volumes
    assert (seg == 0).any()
    touching_same_cell = 0
    for axis in range(3):
        a = np.moveaxis(seg, axis, 0)
        x, y = a[:-1], a[1:]
        meet = (x != y) & (x != 0) & (y != 0)
        rx, ry = root_of[x[meet]], root_of[y[meet]]
        # two segments may touch only inside one cell (never glia, never two cells)
        assert ((rx == ry) & (rx != 0)).all(), f"two cells touch along axis {axis}"
        touching_same_cell += int(meet.sum())
    assert touching_same_cell > 0  # supervoxels of one cell touch directly


def test_segments_table(synth, volumes, maps, root_of):
    out, _ = synth
    seg, _ = volumes
    mp, _ = maps
    t = pd.read_parquet(out / "segments.parquet")
    assert set(t["kind"]) <= {"soma", "dendrite", "spinehead", "axon", "bouton", "glia"}
    ids = np.unique(seg)
    assert set(ids[ids != 0].tolist()) <= set(t["segment_id"].tolist())
    glia = t["kind"] == "glia"
    assert (t.loc[glia, "pt_root_id"] == 0).all() and (t.loc[~glia, "pt_root_id"] > 2**53).all()
    # the neuron map groups exactly the segments of cells with a soma in the volume
    cells = pd.read_parquet(out / "cells.parquet")
    whole = set(cells.loc[cells["neuron_id"] > 0, "pt_root_id"].tolist())
    sid = t["segment_id"].to_numpy().astype(np.int64)
    in_neuron = mp["neuron"][np.minimum(sid, len(mp["neuron"]) - 1)] > 0
    np.testing.assert_array_equal(in_neuron, t["pt_root_id"].isin(whole).to_numpy())


def test_maps_match_volume(synth, volumes, maps):
    _, m = synth
    seg, _ = volumes
    mp, max_id = maps
    # the maps describe the overview and the full-resolution cube (same tissue, same ids)
    fr = assemble(synth[0] / "fullres" / "segmentation")
    ids = np.union1d(np.unique(seg), np.unique(fr))
    ids = ids[ids != 0]
    assert max_id == int(ids.max()) == m.maximum_segment_id
    in_any = np.zeros(max_id + 1, bool)
    for k in KINDS:
        assert mp[k].dtype == np.int32
        assert len(mp[k]) == max_id + 1
        assert mp[k][0] == 0
        in_any |= mp[k] != 0
    # every mapped segment occurs in the volume, and every volume segment is mapped or glia
    present = np.zeros(max_id + 1, bool)
    present[ids] = True
    assert not (in_any & ~present).any()
    glia = ids >= m.glia_first_id
    assert in_any[ids[~glia]].all()
    assert not in_any[ids[glia]].any()
    assert m.n_segments == len(ids)
    assert m.n_glia_segments == int(glia.sum())


def test_object_table_equals_maps(synth, maps):
    out, _ = synth
    mp, _ = maps
    df = pd.read_parquet(out / "objects.parquet")
    assert list(df.columns) == ["segment_id", "kind", "object_id"]
    assert df["segment_id"].dtype == np.uint32
    assert df["object_id"].dtype == np.int32
    for k in KINDS:
        sub = df[df["kind"] == k]
        ids = np.flatnonzero(mp[k])
        np.testing.assert_array_equal(np.sort(sub["segment_id"].to_numpy()), ids)
        np.testing.assert_array_equal(
            sub.sort_values("segment_id")["object_id"].to_numpy(), mp[k][ids]
        )


def test_objects_group_supervoxels(maps):
    mp, _ = maps
    # over-segmentation: some axons and dendrites consist of several supervoxels
    for k in ("axon", "dendrite"):
        sizes = np.bincount(mp[k][mp[k] > 0])
        assert sizes.max() > 1, k
    # a neuron groups soma, dendrites, spine heads and its axon
    nid = mp["neuron"]
    for n in np.unique(nid[nid > 0]):
        segs = nid == n
        assert (mp["dendrite"][segs] > 0).any()
        assert (mp["axon"][segs] > 0).any()
        only_neuron = segs & (mp["dendrite"] == 0) & (mp["axon"] == 0) & (mp["spinehead"] == 0)
        assert only_neuron.sum() >= 1  # the soma
    # kinds are disjoint except for neuron
    for a in ("axon", "dendrite", "spinehead"):
        for b in ("axon", "dendrite", "spinehead"):
            if a < b:
                assert not ((mp[a] > 0) & (mp[b] > 0)).any()


def test_synapses_touch_at_their_position(synth, volumes, maps):
    out, m = synth
    seg, _ = volumes
    mp, _ = maps
    syn = pd.read_parquet(out / "synapses.parquet")
    assert len(syn) == m.n_synapses > 10
    assert set(syn["target"]) <= {"spine", "shaft", "soma"}
    assert {"spine", "shaft"} <= set(syn["target"])
    for col in ("id", "pre_pt_root_id", "post_pt_root_id", "size"):
        assert syn[col].dtype == np.int64
    for col in ("pre_segment_id", "post_segment_id"):
        assert syn[col].dtype == np.uint32
    assert (syn["pre_pt_root_id"] > 2**53).all()
    assert (syn["size"] > 0).all()
    pre = syn["pre_segment_id"].to_numpy().astype(np.int64)
    post = syn["post_segment_id"].to_numpy().astype(np.int64)
    assert (mp["axon"][pre] > 0).all()
    np.testing.assert_array_equal(syn["pre_object_id"].to_numpy(), mp["axon"][pre])
    spine = (syn["target"] == "spine").to_numpy()
    soma = (syn["target"] == "soma").to_numpy()
    shaft = ~spine & ~soma
    assert (mp["spinehead"][post[spine]] > 0).all()
    assert (mp["dendrite"][post[shaft]] > 0).all()
    np.testing.assert_array_equal(
        syn["post_object_id"].to_numpy()[shaft], mp["dendrite"][post[shaft]]
    )
    assert (syn["post_object_id"].to_numpy()[~soma] > 0).all()
    # soma synapses sit on a neuron's soma segment (in no axon/dendrite/spinehead map)
    assert (mp["neuron"][post[soma]] > 0).all()
    assert not (mp["dendrite"][post[soma]] > 0).any()
    assert (syn["post_object_id"].to_numpy()[soma] == 0).all()
    sz, sy, sx = seg.shape
    for row, a, b in zip(syn.itertuples(), pre, post):
        x, y, z = row.ctr_pt_position_x, row.ctr_pt_position_y, row.ctr_pt_position_z
        assert 0 <= x < sx and 0 <= y < sy and 0 <= z < sz
        nb = seg[max(z - 1, 0) : z + 2, max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2]
        assert (nb == a).any() and (nb == b).any(), f"synapse {row.id} does not touch"
    # root ids: pre/post cells exist in the cells table, 64-bit exact
    cells = pd.read_parquet(out / "cells.parquet")
    roots = set(cells["pt_root_id"].tolist())
    assert set(syn["pre_pt_root_id"].tolist()) <= roots
    assert set(syn["post_pt_root_id"].tolist()) <= roots


def test_cells_match_neuron_map(synth, maps):
    out, m = synth
    mp, _ = maps
    cells = pd.read_parquet(out / "cells.parquet")
    assert len(cells) == m.n_cells
    assert cells["pt_root_id"].dtype == np.int64
    assert cells["pt_root_id"].is_unique
    assert (cells["pt_root_id"] >= ROOT_ID_BASE).all()
    nids = sorted(cells.loc[cells["neuron_id"] > 0, "neuron_id"].tolist())
    assert nids == sorted(np.unique(mp["neuron"][mp["neuron"] > 0]).tolist())
    assert m.n_neurons == len(nids) >= 1
    assert set(cells["broad_type"]) <= {"excitatory", "inhibitory"}
    exc = cells["broad_type"] == "excitatory"
    assert cells.loc[exc, "cell_type"].str.endswith(("P", "IT")).all()
    assert cells["status_axon"].dtype == bool
    # somata of neurons lie inside the volume
    inside = cells[cells["neuron_id"] > 0]
    assert ((inside["pt_position_x"] >= 0) & (inside["pt_position_x"] < SHAPE[0])).all()


def test_manifest_counts_equal_recomputed(synth, maps):
    out, m = synth
    mp, _ = maps
    assert SynthManifest.read(out) == m
    for k in KINDS:
        objs = np.unique(mp[k][mp[k] > 0])
        assert m.counts[k] == len(objs)
        np.testing.assert_array_equal(objs, np.arange(1, len(objs) + 1))
        assert m.segments_per_kind[k] == int(np.count_nonzero(mp[k]))
    syn = pd.read_parquet(out / "synapses.parquet")
    assert m.n_spine_synapses == int((syn["target"] == "spine").sum())
    assert m.n_shaft_synapses == int((syn["target"] == "shaft").sum())
    assert m.n_soma_synapses == int((syn["target"] == "soma").sum())


def test_em_looks_like_em(volumes):
    seg, em = volumes
    assert em.dtype == np.uint8
    memb = seg == 0
    assert em[memb].mean() + 40 < em[~memb].mean()
    assert 5 < em.std() < 60
    raw = em[:16].tobytes()
    ratio = len(raw) / len(zlib.compress(raw, 6))
    assert 1.02 < ratio < 3.0  # compresses like EM, neither like random bytes nor flat


def test_tissue_is_densely_packed(synth, volumes, maps):
    _, m = synth
    seg, _ = volumes
    mp, _ = maps
    glia = seg >= m.glia_first_id
    membrane = seg == 0
    assert glia.mean() < 0.5  # about 0.25 at 512 x 512 x 256; small volumes have more
    assert 0.05 < membrane.mean() < 0.45
    # neurites touch: most axon segments have a different segment within 2 voxels in x
    axon = mp["axon"][seg] > 0
    left = np.zeros_like(seg)
    left[:, :, 2:] = seg[:, :, :-2]
    touching = axon & (left != 0) & (left != seg)
    assert touching.sum() > 0.02 * axon.sum()
