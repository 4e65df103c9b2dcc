"""``skeletonize``: whole neurons as one soma-rooted tree with compartments, in the dataset
frame, and the SWC on disk is that tree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.morphology import Neuron, read_swc, skeletonize_dataset, skeletonize_mask
from connectoscope.segmentation import ObjectMaps, Selection, import_objects
from connectoscope.volume import VolumeLayer, ingest, write_layer

SHAPE = (320, 320, 192)  # 18 x 18 x 16 um at 56.2 x 56.2 x 84 nm: one whole neuron


@pytest.fixture(scope="module")
def synth_ds(tmp_path_factory):
    from connectoscope.sources.synthetic import generate

    root = tmp_path_factory.mktemp("skel")
    src = root / "src"
    generate(
        src, shape_xyz=SHAPE, cube=64, seed=5, progress=False, workers=2,
        fullres_cube=0, connectome_synapses=0,
    )  # fmt: skip
    ds = cs.Dataset(ingest(src / "segmentation", root / "d.cscope", layer="segmentation").path)
    import_objects(ds, src / "objects.hdf5")
    return src, ds


@pytest.fixture(scope="module")
def skeletons(synth_ds):
    _, ds = synth_ds
    return skeletonize_dataset(ds, Selection.parse(each="neuron"), level=0)


pytestmark = pytest.mark.slow


def test_every_neuron_is_one_soma_rooted_tree_with_axon_and_dendrite(synth_ds, skeletons):
    _, ds = synth_ds
    assert len(skeletons) == len(ds.objects.object_ids("neuron")) >= 1
    for nid, sk in skeletons.items():
        comp = sk.features["compartment"]
        assert sk.roots.size == 1, f"neuron {nid}: {sk.roots.size} trees"
        assert comp[sk.roots[0]] == 1, "the root is the soma"
        assert (comp == 1).sum() >= 1 and (comp == 2).sum() >= 5 and (comp == 3).sum() >= 20
        assert set(np.unique(comp)) <= {1, 2, 3}  # nothing left undefined
        assert sk.meta["split"] == "maps"
        assert sk.features["radius"][sk.roots[0]] > 4000  # the soma centre, 10-13 um somata
        # soma vertices form one connected patch around the root
        soma = comp == 1
        assert soma[sk.parent[soma & (sk.parent >= 0)]].all()


def test_swc_on_disk_is_the_tree(synth_ds, skeletons):
    _, ds = synth_ds
    for nid, sk in skeletons.items():
        back = read_swc(ds.path / "skeletons" / f"{nid}.swc")
        assert len(back) == len(sk) and back.roots.size == 1
        np.testing.assert_array_equal(back.features["compartment"], sk.features["compartment"])
        np.testing.assert_allclose(back.vertices, sk.vertices, atol=1e-6)
        np.testing.assert_array_equal(back.parent, sk.parent)


def test_vertices_lie_in_the_neuron(synth_ds, skeletons):
    _, ds = synth_ds
    seg = VolumeLayer(ds, "segmentation")
    labels = seg.read(level=0)
    frame = seg.frame(0)
    neuron = ds.objects.array("neuron", length=int(labels.max()) + 1)
    for nid, sk in skeletons.items():
        vx = frame.voxel_at(sk.vertices)
        assert (vx >= 0).all() and (vx < np.asarray(labels.shape[::-1])).all()
        # each vertex within one pooled voxel (sk.meta["pool_xyz"]) of a voxel of the neuron
        f = np.asarray(sk.meta["pool_xyz"])
        hit = 0
        for x, y, z in vx:
            sl = tuple(slice(max(c - k, 0), c + k + 1) for c, k in zip((z, y, x), f[::-1]))
            hit += bool((neuron[labels[sl]] == nid).any())
        assert hit >= 0.97 * len(sk)


def test_synapses_on_the_tree(synth_ds, skeletons):
    src, _ = synth_ds
    cells = pd.read_parquet(src / "cells.parquet")
    syn = pd.read_parquet(src / "synapses.parquet")
    vs = cs.sources.synthetic.SynthManifest.read(src).voxel_size_nm
    for nid, sk in skeletons.items():
        rid = int(cells.loc[cells["neuron_id"] == nid, "pt_root_id"].iloc[0])
        n = Neuron.build(
            sk,
            inputs=syn[syn["post_pt_root_id"] == rid],
            outputs=syn[syn["pre_pt_root_id"] == rid],
            position="ctr_pt_position",
            units=vs,
            max_dist=2000,
        )
        assert len(n.inputs) >= 10 and len(n.outputs) >= 3
        dend = n.inputs[n.inputs["target"] != "soma"]
        # distances run along the one tree from the soma centre: none is 0 off the soma
        assert (dend["distance_to_root_nm"] > 1000).all()
        assert (n.inputs["compartment"] != 2).mean() > 0.9  # inputs on dendrites and soma
        assert (n.outputs["compartment"] == 2).mean() > 0.8  # outputs on the axon
        soma_in = n.inputs[n.inputs["target"] == "soma"]
        assert soma_in["distance_to_root_nm"].median() < dend["distance_to_root_nm"].median()


def test_flow_split_without_axon_dendrite_maps(tmp_path, synth_ds):
    src, ds0 = synth_ds
    ds = cs.Dataset(ingest(src / "segmentation", tmp_path / "f.cscope", layer="segmentation").path)
    maps = ObjectMaps.from_store(ds0)
    ObjectMaps.from_arrays({"neuron": maps.array("neuron")}).save(ds)
    cs.SynapseTable.read(src / "synapses.parquet").save(ds)  # names pre/post segment ids
    sks = skeletonize_dataset(ds, Selection.parse(each="neuron"), level=0, split="auto")
    for sk in sks.values():
        comp = sk.features["compartment"]
        assert sk.meta["split"] == "flow"
        assert (comp == 2).any() and (comp == 3).any() and comp[sk.roots[0]] == 1
    none = skeletonize_dataset(ds, Selection.parse(each="neuron"), split="none", write=False)
    for sk in none.values():
        assert set(np.unique(sk.features["compartment"])) == {0, 1}


def _rods_dataset(path, offset_vx=(0, 0, 0)):
    ds = cs.Dataset.create(path, voxel_size=(10, 10, 10), offset_vx=offset_vx)
    lab = np.zeros((40, 40, 120), np.uint32)
    zz, yy = np.mgrid[0:40, 0:40]
    disk = (zz - 20) ** 2 + (yy - 20) ** 2 <= 16
    lab[disk, 10:50] = 1  # two pieces of one object, 16 voxels apart
    lab[disk, 66:110] = 2
    lab[18:23, 18:23, 30] = 1  # a bump (spur candidate)
    write_layer(ds, "segmentation", lab, kind="segmentation")
    ObjectMaps.from_arrays({"neuron": np.array([0, 1, 1])}).save(ds)
    return ds


def test_pieces_joined_and_frame_offset(tmp_path):
    a = skeletonize_dataset(
        _rods_dataset(tmp_path / "a.cscope"), Selection.parse(each="neuron"), level=0
    )[1]
    b = skeletonize_dataset(
        _rods_dataset(tmp_path / "b.cscope", offset_vx=(100, 0, 7)),
        Selection.parse(each="neuron"),
        level=0,
    )[1]
    assert a.roots.size == 1 and b.roots.size == 1  # the two pieces joined
    # vertices are voxel centres in the dataset frame, the dataset offset included
    np.testing.assert_allclose(b.vertices - a.vertices, [[1000.0, 0.0, 70.0]] * len(a))
    assert np.allclose(a.vertices[:, 1:], 200.0, atol=15)  # on the axis (voxel 20 -> 200 nm)
    x = a.vertices[:, 0]
    assert x.min() < 200 and x.max() > 1000
    assert 900 < a.cable_length < 1300  # the gap is bridged once, no spur left


def test_level_frame_voxel_centres(synth_ds, skeletons):
    _, ds = synth_ds
    seg = VolumeLayer(ds, "segmentation")
    assert seg.num_levels >= 2
    one = skeletonize_dataset(ds, Selection.parse(each="neuron"), level=1, write=False)
    f1 = seg.frame(1)
    for nid, sk in one.items():
        # a pooled voxel of level 1 is centred on the mean of the level-1 voxel centres it
        # pools: integer or half-integer level-1 indices, in the dataset frame
        idx = f1.from_nm(sk.vertices)
        assert np.allclose(idx * 2, np.round(idx * 2), atol=1e-6)
        # and the same soma as at level 0, within a level-1 voxel
        d = np.linalg.norm(
            sk.vertices[sk.roots[0]] - skeletons[nid].vertices[skeletons[nid].roots[0]]
        )
        assert d < 2 * max(f1.voxel_size.xyz)


def test_skeletonize_mask_one_tree():
    m = np.zeros((30, 30, 80), bool)
    m[10:20, 10:20, 5:35] = True
    m[10:20, 10:20, 45:75] = True
    sk = skeletonize_mask(m, (10, 10, 10), offset_nm=(5, 0, 0))
    assert sk is not None and sk.roots.size == 1
    assert skeletonize_mask(np.zeros((3, 3, 3), bool), (1, 1, 1)) is None


def test_cli_skeletonize_tree(synth_ds, capsys):
    _, ds = synth_ds
    rc = main(["skeletonize", str(ds.path), "--each", "neuron", "--level", "0"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "1 root(s)" in out and "soma" in out and "axon" in out and "dendrite" in out
