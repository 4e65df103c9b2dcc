"""Neuron: skeleton + inputs/outputs + mesh, masks that carry across layers, forests,
per-synapse distance to the soma, targets, axon/dendrite by flow."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from connectoscope.errors import DataFormatError, InvalidParameterError
from connectoscope.morphology import Neuron, Skeleton, label_axon_dendrite, read_swc
from connectoscope.testing import require_shared
from connectoscope.testing.strategies import skeleton_trees


def _graph(sk):
    has = np.flatnonzero(sk.parent >= 0)
    return sp.coo_matrix(
        (sk.edge_lengths[has], (has, sk.parent[has])), shape=(len(sk),) * 2
    ).tocsr()


def _hemibrain(bid, mesh=False):
    sk = read_swc(require_shared(f"hemibrain-da1/swc/{bid}.swc"), units=8)
    syn = pd.read_csv(require_shared(f"hemibrain-da1/synapses/{bid}.csv"))
    m = None
    if mesh:
        import trimesh

        tm = trimesh.load(require_shared(f"hemibrain-da1/meshes/{bid}.obj"), process=False)
        m = (np.asarray(tm.vertices) * 8.0, np.asarray(tm.faces))
    return Neuron.build(sk, synapses=syn, units=8, mesh=m)


def test_neuron_synapses_distance_to_soma():
    n = _hemibrain("1734350788")
    assert (len(n.inputs), len(n.outputs)) == (2084, 621)  # post = inputs, pre = outputs
    assert "table_node_id" in n.inputs.columns  # the table's own node_id is kept
    rep = n.forest_report()
    assert rep["trees"] == 1 and rep["soma_node_id"] == 4177 and not rep["root_is_soma"]
    s = n.rerooted("soma")
    assert s.forest_report()["root_is_soma"]
    soma = s.soma_vertex
    # oracle: Dijkstra from the soma on the skeleton graph
    ref = dijkstra(_graph(s.skeleton), directed=False, indices=soma)
    np.testing.assert_allclose(s.inputs["distance_to_root_nm"], ref[s.inputs["vertex"]], rtol=1e-9)
    np.testing.assert_allclose(
        s.outputs["distance_to_root_nm"], ref[s.outputs["vertex"]], rtol=1e-9
    )
    # the mapped vertex is the nearest one (brute force on a sample)
    sample = s.inputs.iloc[::97]
    pts = sample[["x_nm", "y_nm", "z_nm"]].to_numpy()
    brute = np.linalg.norm(pts[:, None, :] - s.skeleton.vertices[None], axis=2).min(axis=1)
    np.testing.assert_allclose(sample["distance_nm"], brute, rtol=1e-9)
    # synapse-to-synapse path distances without an N x N matrix agree with Dijkstra
    d = s.synapse_path_distances("outputs", to="inputs")[:20]
    ref2 = dijkstra(_graph(s.skeleton), directed=False, indices=s.outputs["vertex"].to_numpy()[:20])
    np.testing.assert_allclose(d, ref2[:, s.inputs["vertex"].to_numpy()], rtol=1e-9, atol=1e-6)


def test_axon_dendrite_split_and_mask_carries_to_synapses_and_mesh():
    n = _hemibrain("1734350788", mesh=True).rerooted("soma")
    lab = label_axon_dendrite(n)
    n = n.with_compartments(lab)
    # anatomy of a DA1 projection neuron: dendrites in the antennal lobe, axon in LH and CA
    al_in = n.inputs[n.inputs["roi"] == "AL(R)"]["compartment_name"]
    lh = pd.concat([n.inputs, n.outputs])
    lh = lh[lh["roi"].isin(["LH(R)", "CA(R)"])]["compartment_name"]
    assert (al_in == "dendrite").mean() > 0.99 and (lh == "axon").mean() > 0.99
    d = n.masked("compartment != axon")
    assert not (d.skeleton.features["compartment"] == 2).any()
    assert len(d.skeleton) == int((lab != 2).sum())
    # the mask carried to the synapses: exactly those on non-axon vertices remain
    assert len(d.inputs) == int((n.inputs["compartment"] != 2).sum())
    assert len(d.outputs) == int((n.outputs["compartment"] != 2).sum())
    assert (d.inputs["compartment_name"] != "axon").all()
    np.testing.assert_array_equal(
        d.skeleton.node_ids[d.inputs["vertex"].to_numpy()], d.inputs["node_id"].to_numpy()
    )
    # distance to the soma travels with the kept vertices
    kept = d.skeleton.vertex_of(d.inputs["node_id"].to_numpy())
    np.testing.assert_allclose(
        d.skeleton.features["distance_to_soma"][kept], d.inputs["distance_to_root_nm"]
    )
    # and to the mesh: no face left whose vertex is nearest an axon vertex
    mv, mf = d.mesh
    assert 0 < len(mf) < len(n.mesh[1])
    near = d.skeleton.features["compartment"][d.mesh_vertex]
    assert (near != 2).all() and mf.max() < len(mv)
    with pytest.raises(InvalidParameterError, match="expected FEATURE OP VALUE"):
        n.masked("axon please")
    with pytest.raises(InvalidParameterError, match="no feature 'colour'"):
        n.masked("colour == 3")


def test_forest_report_reroot_and_join():
    n = _hemibrain("754538881")
    rep = n.forest_report()
    assert rep["trees"] == 2 and sorted(rep["tree_sizes"]) == [48, 4833]
    assert len(rep["gaps_nm"]) == 1 and rep["gaps_nm"][0] > 0
    j = n.join_fragments(max_dist=rep["gaps_nm"][0] * 1.01)
    assert j.forest_report()["trees"] == 1 and len(j.inputs) == len(n.inputs)
    assert n.join_fragments(max_dist=rep["gaps_nm"][0] * 0.5).forest_report()["trees"] == 2
    nosoma = _hemibrain("722817260")
    assert nosoma.forest_report()["soma_node_id"] is None
    with pytest.raises(InvalidParameterError, match="no soma vertex"):
        nosoma.rerooted("soma")
    r = nosoma.rerooted(int(nosoma.skeleton.node_ids[100]))
    assert r.skeleton.node_ids[r.skeleton.roots[0]] == nosoma.skeleton.node_ids[100]


def test_targets_policy_and_columns():
    sk = Skeleton.from_parents(
        np.arange(3), np.array([-1, 0, 1]), np.array([[0, 0, 0], [1000, 0, 0], [2000, 0, 0]])
    )
    sk.features["compartment"][:] = [1, 3, 3]
    t = pd.DataFrame(
        {
            "cx": [900, 5000, 1900],
            "cy": [0, 0, 10],
            "cz": [0, 0, 0],
            "tag": ["spine", "shaft", "soma"],
        }
    )
    n = Neuron.build(sk, inputs=t, position=("cx", "cy", "cz"), max_dist=300, policy="keep")
    assert n.inputs["target"].tolist() == ["spine", "shaft", "soma"]
    assert n.inputs["vertex"].tolist() == [1, -1, 2] and n.misses["inputs"] == 1
    assert n.inputs["compartment_name"].tolist() == ["dendrite", "", "dendrite"]
    dropped = Neuron.build(sk, inputs=t, position=("cx", "cy", "cz"), max_dist=300)
    assert len(dropped.inputs) == 2 and dropped.misses["inputs"] == 1
    with pytest.raises(DataFormatError, match="no position columns"):
        Neuron.build(sk, inputs=t)
    with pytest.raises(DataFormatError, match="no 'type' column"):
        Neuron.build(sk, synapses=t)
    with pytest.raises(InvalidParameterError, match="flow centrality needs inputs and outputs"):
        label_axon_dendrite(dropped)


@settings(max_examples=40)
@given(skeleton_trees(max_nodes=80))
def test_property_path_distances_match_dijkstra(sk):
    ref = dijkstra(_graph(sk), directed=False, indices=np.arange(len(sk)))
    d = sk.path_distances(np.arange(len(sk)))
    assert np.array_equal(np.isinf(d), np.isinf(ref))
    fin = np.isfinite(ref)
    np.testing.assert_allclose(d[fin], ref[fin], rtol=1e-9, atol=1e-6)
    # distance to root is the one-source case from each root
    for r in sk.roots.tolist():
        mine = sk.component == sk.component[r]
        np.testing.assert_allclose(sk.distance_to_root[mine], ref[r][mine], rtol=1e-9, atol=1e-6)
    # a subset of targets in any order, float32
    tg = np.arange(len(sk))[::-1][::2]
    d32 = sk.path_distances(np.arange(len(sk)), tg, dtype=np.float32)
    assert d32.dtype == np.float32
    np.testing.assert_allclose(d32, d[:, tg].astype(np.float32), rtol=1e-6)
    # blocks stream the same rows
    rows = np.concatenate(list(sk.iter_path_distances(np.arange(len(sk)), block_size=7)))
    np.testing.assert_array_equal(rows, d)
    with pytest.raises(InvalidParameterError, match="vertex indices must lie in"):
        sk.path_distances(np.array([len(sk)]))


@settings(max_examples=30)
@given(skeleton_trees(max_nodes=50), st.data())
def test_property_mask_carries_to_synapses_and_mesh(sk, data):
    n = len(sk)
    k = data.draw(st.integers(0, 30))
    pick = np.asarray(data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)), int)
    table = pd.DataFrame(
        {"x": sk.vertices[pick, 0], "y": sk.vertices[pick, 1], "z": sk.vertices[pick, 2]}
    )
    faces = np.asarray(
        data.draw(st.lists(st.tuples(*(st.integers(0, n - 1),) * 3), min_size=1, max_size=20))
    )
    nrn = Neuron.build(sk, inputs=table, mesh=(sk.vertices.copy(), faces))
    keep = np.asarray(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    m = nrn.masked(keep)
    # synapses sit exactly on vertices: kept iff their vertex is kept
    on = nrn.inputs["vertex"].to_numpy()
    assert len(m.inputs) == int(keep[on].sum())
    assert set(m.inputs["node_id"]) == set(sk.node_ids[on[keep[on]]])
    np.testing.assert_array_equal(
        m.skeleton.node_ids[m.inputs["vertex"].to_numpy()], m.inputs["node_id"].to_numpy()
    )
    # mesh faces survive iff all three vertices map to kept skeleton vertices
    mv, mf = m.mesh
    assert len(mf) == int(keep[nrn.mesh_vertex][faces].all(axis=1).sum())
    assert len(mv) == int(keep[nrn.mesh_vertex].sum())
    assert m.skeleton.features["distance_to_soma"].shape == (int(keep.sum()),)
