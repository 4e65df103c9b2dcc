"""Case 2 of issue 16 and Build 2: ids are exact in every format, or refused; never wrapped.

A hypothesis property test pushes ids above 2**31, 2**53 and 2**63 through every writer and
reader: ChimeraX ``.cmap`` (refused, or renumbered with a lookup table), precomputed legacy
meshes, segment properties, skeletons, annotations, Parquet tables (synapses, object maps),
the connectome HDF5 and our matrix folder."""

from __future__ import annotations

import json
import types
import warnings

import h5py
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.connectome import (
    ConnectivityMatrix,
    SynapseTable,
    load_matrix,
    read_conntility_h5,
    save_matrix,
    write_conntility_h5,
)
from connectoscope.errors import ConnectoscopeWarning, InvalidParameterError
from connectoscope.export import export_chimerax, lookup_table_path
from connectoscope.precomputed import (
    decode_skeleton,
    encode_skeleton,
    read_legacy_mesh,
    read_sharded,
    write_legacy_meshes,
    write_segment_properties,
    write_skeletons,
    write_synapse_annotations,
)
from connectoscope.segmentation import ObjectMaps
from connectoscope.volume import write_layer

BOUNDARIES = [
    2**31 - 1,
    2**31,
    2**32 - 1,
    2**32,
    2**32 + 7,
    2**53 - 1,
    2**53,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**63 + 1,
    2**64 - 1,
]


def big_ids(max_value=2**64 - 1):
    """Ids clustered around 2**31, 2**53 and 2**63 (where float64/int32/int64 break)."""
    near = st.sampled_from([b for b in BOUNDARIES if b <= max_value]).flatmap(
        lambda b: st.integers(max(1, b - 3), min(max_value, b + 3))
    )
    return st.one_of(near, st.integers(1, max_value))


def id_lists(max_value=2**64 - 1, max_size=6):
    return st.lists(big_ids(max_value), min_size=1, max_size=max_size, unique=True)


# ---------------------------------------------------------------------------- .cmap
def _dataset(tmp_path, labels, table=None):
    ds = cs.Dataset.create(tmp_path / "c.cscope", voxel_size=(4, 4, 40))
    write_layer(ds, "segmentation", labels, kind="segmentation")
    if table is not None:
        ds.folder("objects", create=True)
        table.to_parquet(ds.path / "objects" / "segment_objects.parquet")
    return ds


def _lookup(out):
    lut = pd.read_csv(lookup_table_path(out), dtype={"original_id": str})
    seg = lut[lut.what == "segment"]
    obj = lut[lut.what == "object"]
    to_seg = {int(c): int(o) for c, o in zip(seg.cmap_id, seg.original_id)}
    to_obj = {int(c): int(o) for c, o in zip(obj.cmap_id, obj.original_id)}
    return to_seg, to_obj


def test_issue_case_2_object_ids_7_and_2_32_plus_7_are_not_merged(tmp_path, capsys):
    labels = np.zeros((4, 8, 8), np.uint32)
    labels[:, :4] = 3
    labels[:, 4:] = 5
    table = pd.DataFrame(
        {
            "segment_id": np.array([3, 5], np.uint64),
            "kind": ["neuron", "neuron"],
            "object_id": np.array([7, 2**32 + 7], np.int64),
        }
    )
    ds = _dataset(tmp_path, labels, table)
    with pytest.raises(InvalidParameterError, match=r"object id 4294967303 .*--renumber"):
        export_chimerax(ds, tmp_path / "a.cmap")
    assert not (tmp_path / "a.cmap").exists()
    rc = main(["export", "chimerax", str(ds.path), str(tmp_path / "a.cmap")])
    assert rc == 2 and "--renumber" in capsys.readouterr().err
    rc = main(["export", "chimerax", str(ds.path), str(tmp_path / "a.cmap"), "--renumber"])
    assert rc == 0 and "ids renumbered" in capsys.readouterr().out
    to_seg, to_obj = _lookup(tmp_path / "a.cmap")
    with h5py.File(tmp_path / "a.cmap", "r") as f:
        data = f["Chimera/image1/data_zyx"][...]
        neuron = f["attributes/neuron"][...]
    assert neuron.dtype == np.int32
    got = {to_seg[int(c)]: to_obj[int(neuron[c])] for c in np.unique(data) if c}
    assert got == {3: 7, 5: 2**32 + 7}  # two objects, not one


def test_64_bit_segment_ids_are_refused_or_renumbered_never_crash(tmp_path, capsys):
    big = np.array([2**53 + 1, 2**63 + 5, 2**64 - 1], np.uint64)
    labels = np.zeros((2, 6, 6), np.uint64)
    labels[:, :2], labels[:, 2:4], labels[:, 4:] = big
    table = pd.DataFrame(
        {"segment_id": big, "kind": ["axon"] * 3, "object_id": np.array([1, 2, 2], np.int64)}
    )
    ds = _dataset(tmp_path, labels, table)
    rc = main(["export", "chimerax", str(ds.path), str(tmp_path / "b.cmap")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and "--renumber" in err
    # without a table, the voxels themselves are checked
    ds2 = _dataset(tmp_path / "n", labels)
    with pytest.raises(InvalidParameterError, match="32-bit labels"):
        export_chimerax(ds2, tmp_path / "n.cmap")
    assert not (tmp_path / "n.cmap").exists() and not list(tmp_path.glob(".n.cmap*"))
    out = export_chimerax(ds, tmp_path / "b.cmap", renumber=True)
    to_seg, to_obj = _lookup(out)
    with h5py.File(out, "r") as f:
        data = f["Chimera/image1/data_zyx"][...]
        axon = f["attributes/axon"][...]
    back = np.vectorize(lambda c: to_seg.get(int(c), 0), otypes=[np.uint64])(data)
    np.testing.assert_array_equal(back, labels)
    assert {to_seg[c]: to_obj[int(axon[c])] for c in to_seg} == dict(zip(big.tolist(), [1, 2, 2]))


@settings(max_examples=8)
@given(ids=id_lists(max_size=4), objs=id_lists(2**63 - 1, max_size=4))
def test_property_cmap_round_trip(tmp_path_factory, ids, objs):
    tmp = tmp_path_factory.mktemp("cmap")
    seg = np.array(ids, np.uint64)
    labels = np.repeat(seg, 4).reshape(len(seg), 2, 2).astype(np.uint64)
    obj = np.array([objs[i % len(objs)] for i in range(len(seg))], np.int64)
    table = pd.DataFrame({"segment_id": seg, "kind": "neuron", "object_id": obj})
    ds = _dataset(tmp, labels, table)
    fits = int(seg.max()) < 2**28 and int(obj.max()) < 2**31
    if not fits:
        with pytest.raises(InvalidParameterError, match="--renumber"):
            export_chimerax(ds, tmp / "p.cmap")
    out = export_chimerax(ds, tmp / "p.cmap", renumber=True, overwrite=True)
    to_seg, to_obj = _lookup(out)
    with h5py.File(out, "r") as f:
        data = f["Chimera/image1/data_zyx"][...]
        neuron = f["attributes/neuron"][...]
    back = np.vectorize(lambda c: to_seg.get(int(c), 0), otypes=[np.uint64])(data)
    np.testing.assert_array_equal(back, labels)
    assert {to_seg[c]: to_obj[int(neuron[c])] for c in to_seg} == dict(
        zip(seg.tolist(), obj.tolist())
    )


# ---------------------------------------------------------------------------- precomputed
@given(ids=id_lists())
def test_property_legacy_meshes_keep_ids(tmp_path_factory, ids):
    folder = tmp_path_factory.mktemp("mesh")
    tri = types.SimpleNamespace(
        vertices=np.eye(3, dtype=np.float32), faces=np.array([[0, 1, 2]]), segments=None
    )
    gid = ids[0]
    segs = np.array(ids, np.uint64)
    write_legacy_meshes(folder, {gid: tri}, {gid: segs})
    for s in ids:
        v, f = read_legacy_mesh(folder, s)
        assert len(v) == 3 and f.tolist() == [[0, 1, 2]]
    manifests = {p.name for p in folder.glob("*:0")}
    assert manifests == {f"{s}:0" for s in ids}


@given(ids=id_lists(), objs=st.lists(big_ids(), min_size=6, max_size=6))
def test_property_segment_properties_keep_ids(tmp_path_factory, ids, objs):
    folder = tmp_path_factory.mktemp("props")
    seg = np.array(ids, np.uint64)
    obj = np.array(objs[: len(ids)], np.uint64)
    fits = int(obj.max()) < 2**31
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConnectoscopeWarning)
        info = write_segment_properties(folder, seg, {"neuron": obj})
    doc = json.loads(info.read_text())["inline"]
    assert [int(s) for s in doc["ids"]] == ids  # strings: exact at any size
    labels = doc["properties"][0]["values"]
    assert labels == [f"neuron {int(o)}" for o in obj.tolist()]  # exact text
    numbers = [p for p in doc["properties"] if p["id"] == "neuron"]
    if numbers:  # a number property only when the values fit 32 bits, exactly
        assert numbers[0]["values"] == obj.tolist()
    else:
        assert not fits and any("32-bit" in str(w.message) for w in caught)


@given(ids=id_lists())
def test_property_skeletons_keep_ids(tmp_path_factory, ids):
    folder = tmp_path_factory.mktemp("skel")
    data = encode_skeleton(np.zeros((2, 3)), np.array([[0, 1]]))
    oid = ids[0]
    write_skeletons(folder, {oid: data}, segments={oid: np.array(ids, np.uint64)})
    rep = min(ids)  # the viewer's representative of the object has the skeleton
    for s in ids:
        _v, e, _ = decode_skeleton((folder / str(s)).read_bytes())
        assert e.tolist() == ([[0, 1]] if s == rep else [])  # the other members: empty
    assert (folder / f"object_{oid}").is_file()


@given(pre=id_lists(), post=id_lists(), ann=id_lists())
def test_property_annotations_keep_ids(tmp_path_factory, pre, post, ann):
    folder = tmp_path_factory.mktemp("ann") / "synapses"
    n = min(len(pre), len(post), len(ann))
    df = pd.DataFrame(
        {
            "id": np.array(ann[:n], np.uint64),
            "pre": np.array(pre[:n], np.uint64),
            "post": np.array(post[:n], np.uint64),
            "x_nm": np.arange(n, dtype=float),
            "y_nm": 0.0,
            "z_nm": 0.0,
            "size": 1.0,
        }
    )
    write_synapse_annotations(df, folder)
    info = json.loads((folder / "info").read_text())
    spec = info["by_id"]["sharding"]
    for a, p, q in zip(ann[:n], pre[:n], post[:n]):
        raw = read_sharded(folder / "by_id", a, spec)
        assert raw is not None
        tail = np.frombuffer(
            raw[-24:], np.dtype([("c0", "<u4"), ("s0", "<u8"), ("c1", "<u4"), ("s1", "<u8")])
        )
        assert (int(tail["s0"][0]), int(tail["s1"][0])) == (p, q)
    for rel, col in (("pre_segment", pre[:n]), ("post_segment", post[:n])):
        rspec = next(r for r in info["relationships"] if r["id"] == rel)["sharding"]
        for s in set(col):
            raw = read_sharded(folder / rel, s, rspec)
            assert raw is not None, (rel, s)
            count = int(np.frombuffer(raw[:8], "<u8")[0])
            got_ids = np.frombuffer(raw[-8 * count :], "<u8").tolist()
            want = sorted(a for a, c in zip(ann[:n], col) if c == s)
            assert sorted(got_ids) == want


# ---------------------------------------------------------------------------- tables
@given(pre=id_lists(), post=id_lists(), objs=id_lists(2**63 - 1))
def test_property_parquet_tables_keep_ids(tmp_path_factory, pre, post, objs):
    ds = cs.Dataset.create(tmp_path_factory.mktemp("pq") / "t.cscope", voxel_size=(4, 4, 40))
    n = min(len(pre), len(post))
    syn = SynapseTable(
        pd.DataFrame({"pre": np.array(pre[:n], np.uint64), "post": np.array(post[:n], np.uint64)})
    )
    syn.save(ds)
    back = SynapseTable.from_store(ds)
    assert back.pre.tolist() == pre[:n] and back.post.tolist() == post[:n]
    segs = np.array(pre, np.uint64)
    obj = np.array([objs[i % len(objs)] for i in range(len(segs))], np.int64)
    ObjectMaps({"neuron": (segs, obj)}).save(ds)
    t = ObjectMaps.from_store(ds).table
    got = dict(zip(t["segment_id"].tolist(), t["object_id"].tolist()))
    assert got == dict(zip(segs.tolist(), obj.tolist()))


@settings(max_examples=15)
@given(pre=id_lists(), post=id_lists())
def test_property_connectome_h5_and_folder_keep_ids(tmp_path_factory, pre, post):
    tmp = tmp_path_factory.mktemp("h5")
    n = max(len(pre), len(post))
    p = np.array([pre[i % len(pre)] for i in range(n)], np.uint64)
    q = np.array([post[i % len(post)] for i in range(n)], np.uint64)
    m = ConnectivityMatrix.from_synapses(pd.DataFrame({"pre": p, "post": q, "size": 1.0}))
    pairs = sorted(zip(p.tolist(), q.tolist()))
    for back in (
        read_conntility_h5(write_conntility_h5(m, tmp / "m.h5")),
        load_matrix(save_matrix(m, tmp / "m")),
    ):
        c = back.condensed
        got = sorted(
            (int(back.pre_ids[i]), int(back.post_ids[j]))
            for i, j, k in zip(c["pre_idx"], c["post_idx"], c["count"])
            for _ in range(int(k))
        )
        assert got == pairs
