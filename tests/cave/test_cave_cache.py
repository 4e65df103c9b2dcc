"""Resumable batch cache of CAVE queries: a download cut off by the server after N batches
is finished by a rerun that asks only for the missing batches, and equals a clean run."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from connectoscope.cave import BatchCache, CaveError, CaveSession
from connectoscope.cli import main
from connectoscope.errors import InvalidParameterError

sys.path.insert(0, str(Path(__file__).parent))
from standin import CaveStandIn, synthetic_tables

DS = "bulkstack"
N_CELLS, N_SYN, BATCH = 400, 20_000, 20
N_QUERIES = 2 * N_CELLS // BATCH  # pre and post side of every batch


@pytest.fixture
def env(tmp_path, monkeypatch):
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.delenv("CAVE_TOKEN", raising=False)
    syn, cells = synthetic_tables(n_cells=N_CELLS, n_syn=N_SYN, seed=3)
    with CaveStandIn(DS, {"synapses": syn, "cells": cells}, versions=(4, 5)) as srv:
        monkeypatch.setenv("CONNECTOSCOPE_CAVE_TOKEN", srv.token)
        srv.syn, srv.cells = syn, cells
        ids = tmp_path / "ids.txt"
        ids.write_text("\n".join(str(int(i)) for i in cells.pt_root_id))
        srv.ids_file = str(ids)
        yield srv


def _cli(srv, out, *extra):
    return main(
        ["cave", "synapses", DS, "--server", srv.url, "--ids", srv.ids_file, "-o", str(out)]
        + [str(e) for e in extra]
    )


def _parts(folder):
    return sorted(p.name for p in Path(folder).glob("*.parquet"))


def test_interrupted_bulk_download_resumes_with_only_the_missing_batches(env, tmp_path, capsys):
    # a clean run, one request at a time, through a flaky network (every 9th request
    # dropped once, retried)
    env.drop_every = 9
    clean = tmp_path / "clean.parquet"
    assert _cli(env, clean, "--concurrency", 1) == 0
    assert env.answered_queries == N_QUERIES and env.dropped > 0
    assert not Path(f"{clean}.parts").exists()  # the default cache goes once OUT is whole
    want = pd.read_parquet(clean)
    syn = env.syn
    assert len(want) == len(syn)  # every synapse has both partners among the 400 ids: all
    assert want["pre"].dtype == "int64"

    # the server goes away after 13 answered queries (4 requests in flight): the run fails,
    # every answer received is kept, nothing half-written
    env.drop_every, env.answered_queries, env.fail_after = 0, 0, 13
    out, cache = tmp_path / "out.parquet", tmp_path / "cache"
    assert _cli(env, out, "--cache", cache) == 2
    err = capsys.readouterr().err
    assert "failed" in err and env.token not in err
    assert not out.exists()
    assert len(_parts(cache)) == 13  # each answered batch is a part
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temp leftovers
    assert json.loads((cache / "cache.json").read_text())["version"] == 5

    # the rerun asks only for the 27 missing batches and gives the clean run's table
    env.fail_after, env.answered_queries = None, 0
    assert _cli(env, out, "--cache", cache) == 0
    assert env.answered_queries == N_QUERIES - 13
    assert "27 batches fetched, 13 from" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_parquet(out), want)
    assert len(_parts(cache)) == N_QUERIES  # an explicit --cache is kept

    # a third run is served from the cache alone
    env.answered_queries = 0
    assert _cli(env, tmp_path / "again.parquet", "--cache", cache) == 0
    assert env.answered_queries == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "again.parquet"), want)


def test_a_download_killed_with_sigkill_resumes_without_loss_or_duplicates(env, tmp_path):
    """kill -9 of the downloading process mid-way: every part left is whole, and the rerun
    fetches exactly the batches that have no part."""
    import os
    import signal
    import subprocess
    import time

    env.hold_after = 12  # 12 answers, then the server holds every request: kill it there
    out, cache = tmp_path / "k.parquet", tmp_path / "kcache"
    src = str(Path(__file__).parents[2] / "src")
    penv = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = ["cave", "synapses", DS, "--server", env.url, "--ids", env.ids_file]
    proc = subprocess.Popen(
        [sys.executable, "-m", "connectoscope", *args, "-o", str(out), "--cache", str(cache)],
        env=penv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        t0 = time.monotonic()
        while env.answered_queries < 12 and time.monotonic() - t0 < 60:
            assert proc.poll() is None, "the download ended before it could be killed"
            time.sleep(0.01)
        time.sleep(0.2)  # the last answers reach the client's cache (or not: either is fine)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
        env.release.set()
    assert not out.exists()
    parts = _parts(cache)
    assert 0 < len(parts) < N_QUERIES
    for p in parts:  # every part is whole
        pd.read_parquet(cache / p)
    env.hold_after, env.answered_queries = None, 0
    assert _cli(env, out, "--cache", cache) == 0
    assert env.answered_queries == N_QUERIES - len(parts)
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # killed temp files gone
    got = pd.read_parquet(out)
    assert len(got) == len(env.syn) and got["id"].is_unique
    assert set(got["id"]) == set(env.syn["id"])


def test_the_cache_pins_the_version_and_refuses_another(env, tmp_path, capsys):
    cache = tmp_path / "c"
    ids = [int(i) for i in env.cells.pt_root_id[:40]]
    s = CaveSession(DS, server_address=env.url, version=4, cache=cache)
    s.synapses(ids, side="pre")
    # no --version: the folder's version, not the server's newest (5)
    s2 = CaveSession(DS, server_address=env.url, cache=cache)
    assert s2.version == 4
    env.answered_queries = 0
    s2.synapses(ids, side="pre")
    assert env.answered_queries == 0 and s2.cache is not None and s2.cache.reused == 2
    # asking for another version refuses to mix, one line naming --version
    rc = _cli(env, tmp_path / "o.parquet", "--cache", cache, "--version", 5)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err
    assert "--version 5" in err and "--version 4" in err
    with pytest.raises(InvalidParameterError, match="mix versions"):
        CaveSession(DS, server_address=env.url, version=5, cache=cache)


def test_part_names_cover_every_key(tmp_path):
    from connectoscope.cave._cache import part_digest

    base = ("http://a", "ds", "synapses", 4, [3, 1, 2], "pre_pt_root_id")
    d = part_digest(*base)
    assert d == part_digest("http://a/", "ds", "synapses", 4, [1, 2, 3], "pre_pt_root_id")
    for i, other in enumerate(("http://b", "ds2", "cells", 5, [1, 2], "post_pt_root_id")):
        changed = list(base)
        changed[i] = other
        assert part_digest(*changed) != d
    c = BatchCache(tmp_path / "x")
    c.bind("http://a", "ds", 4)
    with pytest.raises(InvalidParameterError, match="belongs to datastack"):
        BatchCache(tmp_path / "x").bind("http://a", "other", 4)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "cache.json").write_text("{}")
    from connectoscope.errors import DataFormatError

    with pytest.raises(DataFormatError, match="cache record"):
        BatchCache(tmp_path / "bad")


def test_a_server_gone_for_good_is_a_cave_error(env, tmp_path):
    env.fail_after = 0
    s = CaveSession(DS, server_address=env.url, cache=tmp_path / "c")
    with pytest.raises(CaveError, match="failed"):
        s.synapses([int(env.cells.pt_root_id[0])])
    assert _parts(tmp_path / "c") == []
