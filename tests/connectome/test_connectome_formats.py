"""Matrix files: our Parquet folder, Connectome-Utilities HDF5 (both ways with the real
package), L4dense CSV, and the safe protocol-0 pickle reader."""

import pickle
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from connectoscope.connectome import (
    CellTable,
    ConnectivityMatrix,
    convert_matrix,
    load_matrix,
    read_conntility_h5,
    read_l4dense_csv,
    save_matrix,
    write_conntility_h5,
    write_l4dense_csv,
)
from connectoscope.connectome._pickle0 import loads_protocol0
from connectoscope.errors import DataFormatError, DatasetExistsError

BIG = 864691135000000000
HUGE = 2**63 + 100


def matrix(ids_dtype=np.int64, base=BIG):
    b = np.array(base, dtype=np.uint64)
    pre = (b + np.array([1, 1, 1, 2, 3, 3], np.uint64)).astype(ids_dtype)
    post = (b + np.array([2, 2, 3, 1, 1, 9], np.uint64)).astype(ids_dtype)
    syn = pd.DataFrame(
        {"pre": pre, "post": post, "size": [10, 30, 5, 7, 1, 2], "x_nm": [1.0, 2, 3, 4, 5, 6]}
    )
    cells = CellTable(
        pd.DataFrame(
            {
                "pt_root_id": (b + np.array([1, 2, 3, 9], np.uint64)).astype(ids_dtype),
                "cell_type": ["23P", "BC", "4P", None],
                "status_axon": [True, False, True, False],
                "soma_depth": [1.5, 2.5, np.nan, 4.0],
            }
        )
    )
    return ConnectivityMatrix.from_synapses(syn, cells)


def same(a, b):
    assert a.shape == b.shape and a.n_synapses == b.n_synapses
    assert [int(x) for x in a.pre_ids] == [int(x) for x in b.pre_ids]
    assert [int(x) for x in a.post_ids] == [int(x) for x in b.post_ids]
    np.testing.assert_array_equal(a.dense("count"), b.dense("count"))


@pytest.mark.parametrize("dtype,base", [(np.int64, BIG), (np.uint64, HUGE)])
def test_parquet_folder_round_trip_full_and_condensed(tmp_path, dtype, base):
    m = matrix(dtype, base)
    back = load_matrix(save_matrix(m, tmp_path / "m"))
    same(m, back)
    assert back.is_full and back.pre_ids.dtype == m.pre_ids.dtype
    assert back.pre_vertices["cell_type"].tolist() == ["23P", "BC", "4P"]
    c = load_matrix(save_matrix(m.compress(), tmp_path / "c"))
    assert not c.is_full
    same(m, c)
    with pytest.raises(DatasetExistsError, match="overwrite"):
        save_matrix(m, tmp_path / "m")


def test_protocol0_reader_matches_pickle_and_refuses_code():
    for obj in (
        ["Soma Position", "TotHead", " AYNbr "],
        [(0, "index")],
        {1: {"names": [None], "type": "Index"}, "index": {}, "values_block_0": {}},
        [(1, ["a", "é", "b"])],
        [],
        None,
        [1.5, -2, True, False, "x\ny"],
    ):
        assert loads_protocol0(pickle.dumps(obj, protocol=0)) == obj
    # real attributes of a Connectome-Utilities file
    assert loads_protocol0(b"(lp0\nVNeuron\np1\naVSoma Region\np2\na.") == ["Neuron", "Soma Region"]

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(DataFormatError, match="refusing"):
        loads_protocol0(pickle.dumps(Evil(), protocol=0))
    with pytest.raises(DataFormatError, match="refusing"):
        loads_protocol0(b"cos\nsystem\n(S'echo pwned'\ntR.")


@pytest.mark.parametrize("dtype,base", [(np.int64, BIG), (np.uint64, HUGE)])
def test_conntility_layout_round_trip_with_h5py_only(tmp_path, dtype, base):
    m = matrix(dtype, base)
    p = write_conntility_h5(m, tmp_path / "m.h5")
    with h5py.File(p) as f:
        g = f["connectivity/full"]
        assert g.attrs["NEUROTOP_CLASS"] == "ConnectivityMatrix"
        assert tuple(g.attrs["NEUROTOP_SHAPE"]) == (4, 4)  # square over the union
        assert set(g) == {"vertex_properties", "edges", "edge_indices"}
        assert "connectivity/condensed" in f
    full = read_conntility_h5(p)
    same(m, full)  # rectangular again (is_pre / is_post)
    assert full.is_full and full.pre_ids.dtype == m.pre_ids.dtype
    assert full.edges["size"].tolist() == m.edges["size"].tolist()
    assert full.pre_vertices["cell_type"].tolist() == ["23P", "BC", "4P"]
    assert full.pre_vertices["status_axon"].tolist() == [True, False, True]
    cond = read_conntility_h5(p, "condensed")
    assert not cond.is_full
    same(m, cond)
    assert cond.condensed["size_sum"].tolist() == m.condensed["size_sum"].tolist()


def test_pandas_reads_our_hdf5(tmp_path):
    m = matrix()
    p = write_conntility_h5(m, tmp_path / "m.h5")
    vp = pd.read_hdf(p, "connectivity/full/vertex_properties")
    assert vp["id"].tolist() == [BIG + 1, BIG + 2, BIG + 3, BIG + 9]
    assert vp["cell_type"].tolist()[:3] == ["23P", "BC", "4P"]
    e = pd.read_hdf(p, "connectivity/full/edges")
    assert e["size"].tolist() == [10, 30, 5, 7, 1, 2]
    idx = pd.read_hdf(p, "connectivity/condensed/edge_indices")
    assert list(idx.columns) == ["row", "col"] and len(idx) == 5


def test_real_conntility_loads_ours_and_we_load_theirs(tmp_path):
    import conntility

    m = matrix()
    p = write_conntility_h5(m, tmp_path / "ours.h5")
    M = conntility.ConnectivityMatrix.from_h5(str(p), "full")
    csr = M.matrix.tocsr()
    csr.sum_duplicates()  # the full form: one edge per synapse
    assert csr.shape == (4, 4) and csr.nnz == 5 and M.matrix.nnz == 6
    assert M.vertices["id"].tolist() == [BIG + 1, BIG + 2, BIG + 3, BIG + 9]  # exact
    assert np.asarray(M.matrix.sum()) == m.edges["size"].sum()  # default edge: size
    C = conntility.ConnectivityMatrix.from_h5(str(p), "condensed")
    assert C.edges["count"].sum() == 6
    # theirs -> ours: conntility writes with PyTables; we read with h5py alone
    M.to_h5(str(tmp_path / "theirs.h5"), "full")
    M.compress({"total": ("size", "sum")}).to_h5(str(tmp_path / "theirs.h5"), "condensed")
    back = read_conntility_h5(tmp_path / "theirs.h5")
    same(m, back)
    cond = read_conntility_h5(tmp_path / "theirs.h5", "condensed")
    assert cond.condensed["total"].sum() == 55 and cond.n_synapses == 6


def test_conntility_example_file_reads_with_h5py_only():
    import site

    hits = [
        Path(d) / "examples" / "data" / "C_elegans_witvliet.h5"
        for d in site.getsitepackages()
        if (Path(d) / "examples" / "data" / "C_elegans_witvliet.h5").exists()
    ]
    assert hits, "the Connectome-Utilities wheel ships examples/data/C_elegans_witvliet.h5"
    import conntility

    m = read_conntility_h5(hits[0], "full_matrix", prefix="chemical")
    M = conntility.ConnectivityMatrix.from_h5(str(hits[0]), "full_matrix", prefix="chemical")
    assert m.shape == M.matrix.shape == (324, 324) and m.n_synapses == len(M.edges)
    assert m.pre_vertices["Neuron"].tolist() == M.vertices["Neuron"].tolist()


def test_l4dense_csv_round_trip(tmp_path):
    m = matrix()
    p = write_l4dense_csv(m, tmp_path / "c.csv", label="cell_type")
    lines = p.read_text().splitlines()
    assert lines[0].split(",")[1:] == ["23P", "BC", "4P", ""]  # post labels, ids sorted
    assert [ln.split(",")[0] for ln in lines[1:]] == ["23P", "BC", "4P"]
    r = read_l4dense_csv(p)
    assert r.shape == m.shape and r.n_synapses == 6
    np.testing.assert_array_equal(r.dense("count"), m.dense("count"))
    assert r.pre_vertices["class"].tolist() == ["23P", "BC", "4P"]
    assert r.type_by_type("class").to_numpy().sum() == 5  # unlabelled column left out


def test_convert_between_all_formats(tmp_path):
    m = matrix()
    save_matrix(m, tmp_path / "a")
    convert_matrix(tmp_path / "a", tmp_path / "b.h5")
    convert_matrix(tmp_path / "b.h5", tmp_path / "c")
    same(m, load_matrix(tmp_path / "c"))
    convert_matrix(tmp_path / "c", tmp_path / "d.csv", label="cell_type")
    np.testing.assert_array_equal(load_matrix(tmp_path / "d.csv").dense(), m.dense())
    with pytest.raises(DatasetExistsError):
        convert_matrix(tmp_path / "a", tmp_path / "b.h5")
