import json

import h5py
import numpy as np
import pandas as pd
import pytest

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.errors import DataFormatError, SelectionError
from connectoscope.segmentation import ObjectMaps, Selection, import_objects, parse_ranges
from connectoscope.volume import write_layer


@pytest.fixture
def maps():
    neuron = np.zeros(20, np.int32)
    neuron[[3, 4, 5]] = 1
    neuron[[7, 8]] = 2
    neuron[[12]] = 17
    spine = np.zeros(20, np.int32)
    spine[[4]] = 9
    spine[[8]] = 10
    return ObjectMaps.from_arrays({"neuron": neuron, "spinehead": spine})


def test_lookup_counts_table(maps):
    assert maps.kinds == ["neuron", "spinehead"]
    assert maps.counts() == {"neuron": 3, "spinehead": 2}
    vol = np.array([[[0, 3, 7], [12, 99, 2**40]]], np.uint64)
    np.testing.assert_array_equal(maps.lookup("neuron", vol), [[[0, 1, 2], [17, 0, 0]]])
    t = maps.table
    assert list(t.columns) == ["segment_id", "kind", "object_id"]
    again = ObjectMaps.from_table(t)
    np.testing.assert_array_equal(again.array("neuron"), maps.array("neuron")[:13])
    with pytest.raises(SelectionError, match="kinds present: neuron, spinehead"):
        maps.lookup("axon", vol)


def test_selection_semantics(maps):
    assert parse_ranges("3,7,8-10") == [(3, 3), (7, 7), (8, 10)]
    g = Selection.parse(["neuron"]).groups(maps)
    assert {k: v.tolist() for k, v in g.items()} == {1: [3, 4, 5], 2: [7, 8], 17: [12]}
    g = Selection.parse(["neuron=1-2"]).groups(maps)
    assert sorted(g) == [1, 2]
    # several where clauses intersect
    g = Selection.parse(["neuron", "spinehead"]).groups(maps)
    assert {k: v.tolist() for k, v in g.items()} == {1: [4], 2: [8]}
    g = Selection.parse(["3,7,8-10"]).groups(maps, segment_ids=np.arange(20))
    assert sorted(g) == [3, 7, 8, 9, 10]
    g = Selection.parse(["3-8"], each="neuron").groups(maps)
    assert {k: v.tolist() for k, v in g.items()} == {1: [3, 4, 5], 2: [7, 8]}
    sel = Selection.parse(["neuron=1"], by="spinehead:red", color="yellow")
    assert (sel.by, sel.by_color, sel.color) == ("spinehead", "red", "yellow")
    with pytest.raises(SelectionError, match="matches no segment"):
        Selection.parse(["neuron=5"]).groups(maps)
    with pytest.raises(SelectionError, match="unknown kind 'axon'.*neuron, spinehead"):
        Selection.parse(["axon"]).groups(maps)
    with pytest.raises(SelectionError, match="runs backwards"):
        Selection.parse(["10-3"])
    with pytest.raises(SelectionError, match="examples"):
        Selection.parse(["neuron>3"])


def test_import_sources(tmp_path, maps):
    ds = cs.Dataset.create(tmp_path / "o.cscope", voxel_size=(1, 1, 1))
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["attributes/neuron"] = maps.array("neuron").astype(np.int32)
    maps.table.query("kind == 'spinehead'").to_csv(tmp_path / "s.csv", index=False)
    (tmp_path / "ax.json").write_text(json.dumps([[1, 2], [19]]))
    import_objects(ds, tmp_path / "a.h5")
    import_objects(ds, tmp_path / "s.csv")
    import_objects(ds, tmp_path / "ax.json", kind="axon")
    got = cs.Dataset(ds.path).objects
    assert got.counts() == {"axon": 2, "neuron": 3, "spinehead": 2}
    assert got.lookup("axon", np.array([1, 2, 19])).tolist() == [1, 1, 2]
    assert cs.Dataset(ds.path).layer("objects")["kinds"]["neuron"] == 3
    bad = pd.DataFrame({"segment_id": [1, 1], "kind": ["a", "a"], "object_id": [1, 2]})
    with pytest.raises(DataFormatError, match="listed twice"):
        ObjectMaps.from_table(bad)
    with pytest.raises(DataFormatError, match="lacks columns"):
        ObjectMaps.from_table(bad.drop(columns="kind"))


def test_stats_cli_counts_and_tables(tmp_path, capsys):
    ds = cs.Dataset.create(tmp_path / "s.cscope", voxel_size=(4, 4, 40))
    lab = np.zeros((8, 40, 40), np.uint32)
    lab[:, :20, :20] = 3
    lab[:, 20:, :] = 4
    lab[2:4, 0:2, 30:32] = 12
    write_layer(ds, "segmentation", lab, kind="segmentation")
    maps = ObjectMaps.from_arrays({"neuron": np.array([0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 2])})
    maps.save(ds)
    assert main(["objects", "stats", str(ds.path)]) == 0
    out = capsys.readouterr().out
    assert "segments: 3" in out
    assert "neuron               2         3" in out
    seg = pd.read_parquet(ds.path / "objects" / "segments.parquet").set_index("segment_id")
    assert seg.loc[3, "voxels"] == 8 * 20 * 20
    assert seg.loc[12, "voxels"] == 8
    assert (seg.loc[12, ["x0", "y0", "z0", "x1", "y1", "z1"]].tolist()) == [30, 0, 2, 32, 2, 4]
    assert seg.loc[12, "centroid_x_nm"] == pytest.approx(30.5 * 4)
    obj = pd.read_parquet(ds.path / "objects" / "objects_neuron.parquet").set_index("object_id")
    assert obj.loc[1, "voxels"] == 8 * 20 * 20 + 8 * 20 * 40
    assert main(["objects", "import", str(ds.path), str(tmp_path / "missing.h5")]) == 2
