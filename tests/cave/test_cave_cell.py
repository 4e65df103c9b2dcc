"""``cave cell`` / ``load_cell``: one cell from the stand-in's skeleton service, synapse table
and synapse-target table, through real caveclient (and CloudVolume for the graphene info),
over a network that drops connections; then the tutorial's figures from the saved files."""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from connectoscope.cave import CaveError, CaveSession, load_cell, save_cell, skeleton_from_service
from connectoscope.cli import main
from connectoscope.errors import ConnectoscopeWarning, InvalidParameterError
from connectoscope.morphology import read_swc

sys.path.insert(0, str(Path(__file__).parent))
from standin import CaveStandIn, synthetic_cell, synthetic_tables

DS = "cellstack"
N_IN, N_OUT = 300, 120


@pytest.fixture
def srv(tmp_path, monkeypatch):
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.delenv("CAVE_TOKEN", raising=False)
    syn, cells = synthetic_tables(seed=4)
    root = int(cells.pt_root_id[0])
    others = cells.pt_root_id[1:].to_numpy()
    bg = syn[(syn.pre_pt_root_id != root) & (syn.post_pt_root_id != root)]
    sk, csyn, targets, truth = synthetic_cell(root, others, n_in=N_IN, n_out=N_OUT)
    tables = {
        "synapses": pd.concat([bg, csyn], ignore_index=True),
        "cells": cells,
        "synapse_target_predictions_ssa": targets,
    }
    with CaveStandIn(DS, tables, versions=(6, 7), skeletons={root: sk}) as s:
        monkeypatch.setenv("CONNECTOSCOPE_CAVE_TOKEN", s.token)
        s.root, s.sk, s.csyn, s.truth, s.cells = root, sk, csyn, truth, cells
        yield s


def _cell(srv, out, *extra):
    return main(
        ["cave", "cell", str(srv.root), DS, "--server", srv.url, "-o", str(out)]
        + [str(e) for e in extra]
    )


def test_cave_cell_end_to_end_over_a_flaky_network(srv, tmp_path, capsys):
    srv.drop_every = 5  # every 5th request is dropped once; caveclient retries it
    out = tmp_path / "cell"
    assert _cell(srv, out, "--partners") == 0
    assert srv.dropped > 0
    said = capsys.readouterr()
    assert f"{N_IN} inputs, {N_OUT} outputs" in said.out and "version 7" in said.out
    assert srv.token not in said.out + said.err
    name = str(srv.root)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{name}{s}"
        for s in (
            ".swc",
            ".skeleton.parquet",
            ".synapses.parquet",
            ".inputs.parquet",
            ".outputs.parquet",
            ".partners.parquet",
            ".json",
        )
    )  # the default cache folder is gone
    # the skeleton: same vertices (µm in the SWC), compartments, tree, rooted at the soma
    sk = read_swc(out / f"{name}.swc", units=1000.0)
    v = srv.sk["vertices"]
    order = sk.node_ids
    assert np.allclose(sk.vertices, v[order], atol=1e-6)
    assert (sk.features["compartment"] == srv.sk["compartment"][order]).all()
    parent_node = np.where(sk.parent >= 0, sk.node_ids[np.maximum(sk.parent, 0)], -1)
    want_parent = np.full(len(v), -1)
    want_parent[srv.sk["edges"][:, 0]] = srv.sk["edges"][:, 1]
    assert (parent_node == want_parent[order]).all()
    # synapses: each one once, autapses gone, partner ids exact, tags joined, mapped
    syn = pd.read_parquet(out / f"{name}.synapses.parquet")
    assert (syn.type == "post").sum() == N_IN and (syn.type == "pre").sum() == N_OUT
    truth = srv.truth.set_index("id").loc[syn["id"]]
    assert (syn["tag"].to_numpy() == truth["tag"].to_numpy()).all()
    c = srv.csyn.set_index("id").loc[syn["id"]]
    partner = np.where(syn.type == "pre", c.post_pt_root_id, c.pre_pt_root_id)
    assert (syn["partner_root_id"].to_numpy() == partner).all()
    assert syn["partner_root_id"].dtype == np.int64 and int(syn.partner_root_id.min()) > 2**53
    assert np.allclose(syn[["x", "y", "z"]].to_numpy(), np.stack(c.ctr_pt_position) * [4, 4, 40])
    inp = pd.read_parquet(out / f"{name}.inputs.parquet")
    t_in = srv.truth.set_index("id").loc[inp["id"]]
    assert (inp["node_id"].to_numpy() == t_in["vertex"].to_numpy()).all()
    assert set(inp.compartment_name) <= {"dendrite", "soma"}
    d = sk.distance_to_root[sk.vertex_of(inp["node_id"].to_numpy())]
    assert np.allclose(inp["distance_to_root_nm"], d, rtol=1e-9, atol=1e-6)
    summary = json.loads((out / f"{name}.json").read_text())
    assert summary["materialization_version"] == 7 and summary["skeleton_version"] == 4
    assert srv.token not in json.dumps(summary)
    # the partners' cell-table rows: every partner, with its cell type
    partners = pd.read_parquet(out / f"{name}.partners.parquet")
    assert set(partners.pt_root_id) == set(syn.partner_root_id)
    cells = srv.cells.set_index("pt_root_id").loc[partners.pt_root_id]
    assert (partners["cell_type"].to_numpy() == cells["cell_type"].to_numpy()).all()
    assert summary["partners_found"] == len(partners)
    # the tutorial's figures 8-12 from the saved files
    for fig in ("compartments", "synapses", "known", "targets", "dendrite_distance"):
        png = tmp_path / f"{fig}.png"
        known = ["--known", str(out / f"{name}.partners.parquet")] if fig == "known" else []
        rc = main(
            [
                "skeleton",
                "plot",
                str(out / f"{name}.swc"),
                "--synapses",
                str(out / f"{name}.synapses.parquet"),
                "--figure",
                fig,
                *known,
                "-o",
                str(png),
            ]
        )
        assert rc == 0 and png.stat().st_size > 10_000


def test_cave_cell_resumes_after_the_server_goes_away(srv, tmp_path, capsys):
    out, cache = tmp_path / "cell", tmp_path / "cache"
    srv.fail_after = 1  # the skeleton and the pre-side synapse query, then nothing
    assert _cell(srv, out, "--cache", cache, "--version", 6) == 2
    assert "failed" in capsys.readouterr().err
    assert not out.exists() or not list(out.iterdir())  # nothing half-written
    assert len(list(cache.glob("*.parquet"))) == 1
    srv.fail_after, srv.answered_queries = None, 0
    assert _cell(srv, out, "--cache", cache) == 0  # the cache's version 6, not the newest
    assert srv.answered_queries == 2  # the post side and the target table only
    assert "version 6" in capsys.readouterr().out
    assert len(pd.read_parquet(out / f"{srv.root}.inputs.parquet")) == N_IN


def test_load_cell_python_api_targets_and_errors(srv, tmp_path):
    s = CaveSession(DS, server_address=srv.url)
    nrn = load_cell(srv.root, session=s, target_table=None, omit_autapses=False)
    assert len(nrn.inputs) == N_IN + 3 and len(nrn.outputs) == N_OUT + 3  # autapses both
    assert set(nrn.inputs["target"]) == {""}
    assert nrn.soma_vertex is not None and nrn.skeleton.meta["cave"]["datastack"] == DS
    with pytest.raises(InvalidParameterError, match="no table 'spines'"):
        load_cell(srv.root, session=s, target_table="spines")
    with pytest.raises(CaveError, match="skeleton of"):
        load_cell(int(srv.root) + 1, session=s)
    lonely = int(srv.root) + 2  # a skeleton, but no synapses at this version
    srv.skeletons[lonely] = srv.sk
    with pytest.warns(ConnectoscopeWarning, match="no synapses of"):
        nrn = load_cell(lonely, session=s)
    assert len(nrn.inputs) == len(nrn.outputs) == 0 and len(nrn.skeleton) == len(srv.sk["vertices"])
    files = save_cell(nrn, tmp_path / "lonely")
    assert len(pd.read_parquet(files["synapses"])) == 0


def test_skeleton_from_service_orients_edges_from_the_root():
    v = np.arange(15, dtype=float).reshape(5, 3)
    # edges stored parent-first for one, child-first for another, and a detached piece
    sk = skeleton_from_service(
        {"vertices": v, "edges": [[1, 0], [1, 2], [3, 4]], "root": 1, "compartment": [3] * 5}
    )
    parent_node = np.where(sk.parent >= 0, sk.node_ids[np.maximum(sk.parent, 0)], -1)
    got = dict(zip(sk.node_ids.tolist(), parent_node.tolist(), strict=True))
    assert got[1] == -1 and got[0] == 1 and got[2] == 1
    assert sorted([got[3], got[4]]) == [-1, 3]
    assert len(sk.roots) == 2


def test_skeleton_answers_that_cannot_be_a_tree_are_clear_errors():
    from connectoscope.errors import DataFormatError

    v = np.zeros((3, 3))
    with pytest.raises(DataFormatError, match="root 5 is not a vertex"):
        skeleton_from_service({"vertices": v, "edges": [[1, 0]], "root": 5}, name="c")
    with pytest.raises(DataFormatError, match="outside 0..2"):
        skeleton_from_service({"vertices": v, "edges": [[3, 0]]}, name="c")
    with pytest.raises(DataFormatError, match="is empty"):
        skeleton_from_service({"vertices": [], "edges": []}, name="c")
    with pytest.raises(DataFormatError, match="compartment has 2 values"):
        skeleton_from_service({"vertices": v, "edges": [], "compartment": [1, 3]}, name="c")
