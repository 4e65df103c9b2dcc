"""The CAVE adapter against a local stand-in of the CAVE services (tests/cave/standin.py):
real caveclient, real HTTP on 127.0.0.1, no network beyond it."""

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

import connectoscope as cs
from connectoscope.cave import CaveError, CaveSession
from connectoscope.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from standin import CaveStandIn, synthetic_tables

DS = "teststack"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """caveclient reads and writes ~/.cloudvolume: keep it inside the test."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    for name in ("CONNECTOSCOPE_CAVE_TOKEN", "CAVE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return h


@pytest.fixture
def server():
    syn, cells = synthetic_tables()
    with CaveStandIn(DS, {"synapses": syn, "cells": cells}, versions=(3, 5, 4)) as srv:
        srv.syn, srv.cells = syn, cells
        yield srv


def _queries(srv):
    return [(p, json.loads(b)) for m, p, _, b in srv.log if m == "POST"]


def test_synapses_batched_pinned_and_exact(server, home, monkeypatch):
    monkeypatch.setenv("CONNECTOSCOPE_CAVE_TOKEN", server.token)
    ids = [int(i) for i in server.cells.pt_root_id[:25]]
    s = CaveSession(DS, server_address=server.url)
    assert s.version == 5  # the newest version, pinned for every query
    t = s.synapses(ids)
    q = _queries(server)
    assert len(q) == 4  # 25 ids -> batches of 20 + 5, for pre and for post
    sizes = sorted(len(next(iter(b["filter_in_dict"]["synapses"].values()))) for _, b in q)
    assert sizes == [5, 5, 20, 20]
    assert all("/version/5/" in p for p, _ in q)
    syn = server.syn
    want = syn[syn.pre_pt_root_id.isin(ids) | syn.post_pt_root_id.isin(ids)]
    assert len(t) == len(want)  # each synapse once, even when both partners were asked for
    got = t.df.set_index("id").loc[want.id]
    assert (got["pre"].to_numpy() == want.pre_pt_root_id.to_numpy()).all()  # > 2**53, exact
    assert t.pre.dtype == np.int64 and int(t.pre.max()) > 2**53
    pos = np.stack(want.ctr_pt_position.to_numpy()) * [4, 4, 40]
    assert np.allclose(got[["x_nm", "y_nm", "z_nm"]].to_numpy(), pos)
    assert (got["size"].to_numpy() == want["size"].to_numpy()).all()
    pre_only = s.synapses(ids[:3], side="pre")
    assert set(pre_only.pre.tolist()) <= set(ids[:3])


def test_explicit_version_cells_and_provenance(server, home, monkeypatch, tmp_path):
    monkeypatch.setenv("CAVE_TOKEN", server.token)
    ids = [int(i) for i in server.cells.pt_root_id[:7]]
    s = CaveSession(DS, server_address=server.url, version=3)
    c = s.cells(ids)
    assert sorted(c.df.index.tolist()) == sorted(ids)
    row = server.cells.set_index("pt_root_id").loc[ids[0]]
    assert c.df.loc[ids[0], "cell_type"] == row.cell_type
    assert np.allclose(
        c.df.loc[ids[0], ["x_nm", "y_nm", "z_nm"]].to_numpy(float),
        np.asarray(row.pt_position) * [4, 4, 40],
    )
    assert all("/version/3/" in p for p, _ in _queries(server))
    ds = cs.Dataset.create(tmp_path / "d.cscope", voxel_size=(4, 4, 40))
    s.record(ds, "cave cells", n_ids=len(ids))
    step = ds.provenance[-1]
    assert step["materialization_version"] == 3 and step["datastack"] == DS
    assert server.token not in json.dumps(ds.metadata)


def test_token_from_caveclient_secret_file(server, home):
    secrets = home / ".cloudvolume" / "secrets"
    secrets.mkdir(parents=True)
    (secrets / "cave-secret.json").write_text(json.dumps({"token": server.token}))
    s = CaveSession(DS, server_address=server.url)
    assert s.token_source == "caveclient secret file"
    s.cells([int(server.cells.pt_root_id[0])])
    auth = {h.get("Authorization") for _, _, h, _ in server.log}
    assert auth == {f"Bearer {server.token}"}


def test_wrong_token_is_a_clear_error_without_the_token(server, home, monkeypatch):
    bad = "not-the-token-0123456789"
    monkeypatch.setenv("CONNECTOSCOPE_CAVE_TOKEN", bad)
    with pytest.raises(CaveError) as ei:
        CaveSession(DS, server_address=server.url)
    msg = str(ei.value)
    assert "CONNECTOSCOPE_CAVE_TOKEN" in msg and "save_token" in msg
    assert bad not in msg and bad not in repr(ei.value)


def test_cli_never_prints_or_logs_the_token(server, home, monkeypatch, tmp_path, capsys, caplog):
    monkeypatch.setenv("CONNECTOSCOPE_CAVE_TOKEN", server.token)
    caplog.set_level(logging.DEBUG)
    ds = cs.Dataset.create(tmp_path / "c.cscope", voxel_size=(4, 4, 40))
    ids = ",".join(str(int(i)) for i in server.cells.pt_root_id[:30])
    out = tmp_path / "syn.parquet"
    rc = main(
        [
            "cave",
            "synapses",
            DS,
            "--server",
            server.url,
            "--ids",
            ids,
            "--version",
            "4",
            "-o",
            str(out),
            "--dataset",
            str(ds.path),
        ]
    )
    assert rc == 0
    rc = main(
        ["cave", "cells", DS, "--server", server.url, "--ids", ids, "--dataset", str(ds.path)]
    )
    assert rc == 0
    text = capsys.readouterr()
    assert "materialization version 4" in text.out
    for blob in (text.out, text.err, caplog.text, json.dumps(cs.Dataset(ds.path).metadata)):
        assert server.token not in blob
    assert len(cs.Dataset(ds.path).synapses) > 0 and len(cs.Dataset(ds.path).cells) == 30
    steps = [p for p in cs.Dataset(ds.path).provenance if p["step"].startswith("cave")]
    assert [p["materialization_version"] for p in steps] == [4, 5]
    import pandas as pd

    assert (pd.read_parquet(out)["pre"].dtype) == np.int64


def test_id_lists_from_text_or_file(tmp_path):
    from connectoscope.cave import id_list
    from connectoscope.errors import InvalidParameterError

    f = tmp_path / "ids.txt"
    f.write_text(f"{2**60 + 1}\n{2**60 + 2}\n")
    assert id_list(str(f)).tolist() == [2**60 + 1, 2**60 + 2]
    assert id_list("5, 6,7").tolist() == [5, 6, 7]
    with pytest.raises(InvalidParameterError, match="comma-separated"):
        id_list("12,abc")


def test_a_batch_at_the_row_cap_warns(server, home, monkeypatch):
    import connectoscope.cave._session as sess
    from connectoscope.errors import ConnectoscopeWarning

    monkeypatch.setenv("CONNECTOSCOPE_CAVE_TOKEN", server.token)
    monkeypatch.setattr(sess, "ROW_CAP", 10)
    s = CaveSession(DS, server_address=server.url)
    with pytest.warns(ConnectoscopeWarning, match="smaller batch_size"):
        s.synapses([int(i) for i in server.cells.pt_root_id[:20]], side="pre")
