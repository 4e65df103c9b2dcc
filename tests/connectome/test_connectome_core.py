"""Synapse and cell tables: exact 64-bit ids, loaders, the L4dense form, bad input."""

import json

import numpy as np
import pandas as pd
import pytest

from connectoscope import Dataset
from connectoscope.connectome import CellTable, ConnectivityMatrix, SynapseTable, as_id_array
from connectoscope.errors import ConnectoscopeWarning, DataFormatError, InvalidParameterError

BIG = 864691135000000000  # > 2**53: float64 cannot hold these exactly
HUGE = 2**63 + 11  # only uint64 holds it


def test_id_arrays_stay_exact():
    a = as_id_array(np.array([BIG + 1, BIG + 3], np.int64))
    assert a.dtype == np.int64 and a.tolist() == [BIG + 1, BIG + 3]
    u = as_id_array(np.array([HUGE, 5], np.uint64))
    assert u.dtype == np.uint64 and int(u[0]) == HUGE
    assert as_id_array(np.array([7, 8], np.uint64)).dtype == np.int64  # fits: int64
    assert as_id_array(pd.Series([str(BIG + 7), str(HUGE)], dtype=object)).tolist() == [
        BIG + 7,
        HUGE,
    ]
    assert as_id_array(np.array([1.0, 2.0])).tolist() == [1, 2]  # small whole floats are fine
    assert as_id_array(pd.array([BIG + 9, 2], dtype="Int64")).tolist() == [BIG + 9, 2]


@pytest.mark.parametrize(
    "values,match",
    [
        (np.array([1.0, np.nan, np.nan]), r"2 missing \(NaN\) ids, first at row 1"),
        (np.array([1, -2, 3]), "1 negative ids, first at row 1"),
        (np.array([float(BIG + 1)]), "lost precision"),
        (np.array([1.5]), "lost precision"),
        (pd.Series(["12", "x"], dtype=object), "not integer ids"),
        (pd.Series(pd.array([1, None], dtype="Int64")), "1 missing ids"),
    ],
)
def test_bad_ids_are_refused_with_counts(values, match):
    with pytest.raises(DataFormatError, match=match):
        as_id_array(values, name="pre_pt_root_id")


def test_missing_columns_name_them_and_show_the_mapping():
    with pytest.raises(DataFormatError) as e:
        SynapseTable.from_frame(pd.DataFrame({"pre_root_id": [1], "post_root_id": [2]}))
    msg = str(e.value)
    assert "pre (as 'pre_pt_root_id')" in msg and "post (as 'post_pt_root_id')" in msg
    assert "columns={'pre': 'pre_root_id'" in msg and "--columns pre=" in msg
    t = SynapseTable.from_frame(
        pd.DataFrame({"pre_root_id": [BIG + 1], "post_root_id": [BIG + 2], "cleft_vx": [3]}),
        columns={"pre": "pre_root_id", "post": "post_root_id", "size": "cleft_vx"},
    )
    assert t.pre.tolist() == [BIG + 1] and t.size.tolist() == [3]
    with pytest.raises(InvalidParameterError, match="unknown keys"):
        SynapseTable.from_frame(pd.DataFrame({"pre": [1], "post": [2]}), columns={"weight": "w"})


def test_csv_with_an_empty_id_cell_is_refused_never_rounded(tmp_path):
    (tmp_path / "s.csv").write_text(
        f"pre_pt_root_id,post_pt_root_id\n{BIG + 1},{BIG + 3}\n,{BIG + 5}\n"
    )
    with pytest.raises(DataFormatError, match="missing"):
        SynapseTable.read(tmp_path / "s.csv")


def test_positions_voxels_to_nm_and_synth_json(tmp_path):
    df = pd.DataFrame(
        {
            "pre_pt_root_id": [BIG + 1],
            "post_pt_root_id": [BIG + 2],
            "size": [10],
            "ctr_pt_position_x": [100],
            "ctr_pt_position_y": [200],
            "ctr_pt_position_z": [30],
        }
    )
    t = SynapseTable.from_frame(df, voxel_size=(4, 4, 40))
    assert t.df[["x_nm", "y_nm", "z_nm"]].iloc[0].tolist() == [400, 800, 1200]
    kept = SynapseTable.from_frame(df)  # no voxel size: voxel positions stay as they are
    assert "x_nm" not in kept.df and "ctr_pt_position_x" in kept.df
    df.to_parquet(tmp_path / "synapses.parquet")
    (tmp_path / "synth.json").write_text(json.dumps({"voxel_size_nm": [10, 10, 20]}))
    t2 = SynapseTable.read(tmp_path / "synapses.parquet")
    assert t2.df["z_nm"].iloc[0] == 600 and t2.pre.tolist() == [BIG + 1]


def test_cell_table_duplicates_policies_and_positions():
    df = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "pt_root_id": [BIG + 5, BIG + 5, BIG + 6],
            "cell_type": ["g", "g2", "e"],
            "pt_position": ["[103860  44385    891]", "[1 2 3]", "[4 5 6]"],
        }
    )
    with pytest.raises(DataFormatError) as e:
        CellTable(df)
    assert str(BIG + 5) in str(e.value) and "duplicates='first'" in str(e.value)
    with pytest.warns(ConnectoscopeWarning, match="1 duplicate ids"):
        first = CellTable(df, duplicates="first", voxel_size=(4, 4, 40))
    assert first.df.loc[BIG + 5, "cell_type"] == "g" and first.duplicate_ids == [BIG + 5]
    assert first.df.loc[BIG + 5, "x_nm"] == 103860 * 4 and first.df.loc[BIG + 5, "z_nm"] == 891 * 40
    assert "row_id" in first.df  # MICrONS row ids kept apart from root ids
    with pytest.warns(ConnectoscopeWarning):
        dropped = CellTable(df, duplicates="drop")
    assert dropped.ids.tolist() == [BIG + 6]
    with pytest.raises(InvalidParameterError, match="duplicates must be"):
        CellTable(df, duplicates="last")
    with pytest.raises(DataFormatError, match="id_column="):
        CellTable(pd.DataFrame({"cell": [1]}))
    assert CellTable(pd.DataFrame({"cell": [BIG]}), id_column="cell").ids.tolist() == [BIG]


def test_mismatched_cell_ids_report_lost_partners():
    syn = pd.DataFrame({"pre": [BIG + 1, BIG + 1, BIG + 2], "post": [BIG + 2, BIG + 9, BIG + 8]})
    cells = CellTable(pd.DataFrame({"pt_root_id": [BIG + 1, BIG + 2], "t": ["a", "b"]}))
    with pytest.warns(ConnectoscopeWarning, match=r"2 of 3 synapses have a partner missing"):
        m = ConnectivityMatrix.from_synapses(syn, cells)
    assert m.unmatched_synapses == 2 and m.n_synapses == 3
    assert m.post_vertices["t"].isna().sum() == 2  # kept, with missing properties
    with pytest.warns(ConnectoscopeWarning, match="dropped"):
        d = ConnectivityMatrix.from_synapses(syn, cells, missing_cells="drop")
    assert d.n_synapses == 1 and d.dropped == 2 and d.post_ids.tolist() == [BIG + 2]
    with pytest.raises(DataFormatError, match="missing_cells="):
        ConnectivityMatrix.from_synapses(syn, cells, missing_cells="error")


def test_duplicate_vertex_ids_are_refused():
    v = pd.DataFrame(index=pd.Index([BIG, BIG], name="id"))
    w = pd.DataFrame(index=pd.Index([BIG], name="id"))
    e = pd.DataFrame({"pre_idx": [0], "post_idx": [0]})
    with pytest.raises(DataFormatError, match="duplicate vertex ids"):
        ConnectivityMatrix(v, w, e)
    with pytest.raises(DataFormatError, match="duplicate vertex ids"):
        ConnectivityMatrix.from_synapses(
            pd.DataFrame({"pre": [BIG], "post": [BIG]}), pre_ids=[BIG, BIG]
        )


class FakeMaps:
    """Anything with lookup(kind, segment_ids), like segmentation.ObjectMaps."""

    def __init__(self, table):
        self.table = table

    def lookup(self, kind, segment_ids):
        t = self.table[kind]
        return np.array([t.get(int(s), 0) for s in np.asarray(segment_ids).reshape(-1)], np.int64)


def test_l4dense_synapses_resolve_segment_sets_to_objects():
    maps = FakeMaps({"axon": {10: 1, 11: 1, 12: 2}, "dendrite": {20: 7, 21: 8, 22: 8}})
    pre = [[10, 11], [12], [10, 12, 11], [99]]
    post = [[20], [21, 22], [22], [20]]
    extra = pd.DataFrame({"size": [5, 6, 7, 8]})
    with pytest.warns(ConnectoscopeWarning, match="1 of 4 dropped.*1 touch several"):
        t = SynapseTable.from_l4dense(pre, post, maps, extra=extra)
    assert t.pre.tolist() == [1, 2, 1]  # majority object for the mixed set
    assert t.post.tolist() == [7, 8, 8]
    assert t.df["size"].tolist() == [5, 6, 7] and t.df["n_pre_objects"].tolist() == [1, 1, 2]
    with pytest.raises(DataFormatError, match="unresolved='drop'"):
        SynapseTable.from_l4dense(pre, post, maps, unresolved="error")


def test_l4dense_with_segmentation_object_maps():
    from connectoscope.segmentation import ObjectMaps

    maps = ObjectMaps(
        {
            "axon": (np.array([10, 11, 12], np.uint32), np.array([1, 1, 2])),
            "dendrite": (np.array([20, 21], np.uint32), np.array([7, 8])),
        }
    )
    t = SynapseTable.from_l4dense([[10, 11], [12]], [[20], [21]], maps)
    assert t.pre.tolist() == [1, 2] and t.post.tolist() == [7, 8]
    m = ConnectivityMatrix.from_synapses(t)
    assert m.shape == (2, 2) and m.n_synapses == 2


def test_dataset_storage_round_trip(tmp_path):
    ds = Dataset.create(tmp_path / "d.cscope", voxel_size=(4, 4, 40))
    syn = SynapseTable.from_frame(
        pd.DataFrame(
            {"pre": np.array([HUGE, 3], np.uint64), "post": np.array([4, HUGE], np.uint64)}
        )
    )
    cells = CellTable(pd.DataFrame({"pt_root_id": [BIG + 1], "cell_type": ["23P"]}))
    syn.save(ds)
    cells.save(ds)
    back = Dataset(tmp_path / "d.cscope")
    assert back.synapses.pre.dtype == np.uint64 and int(back.synapses.pre[0]) == HUGE
    assert back.cells.ids.tolist() == [BIG + 1]
    assert (tmp_path / "d.cscope" / "synapses" / "synapses.parquet").exists()
