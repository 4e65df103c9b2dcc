"""``connectome build --out-of-core on`` gives the same matrix as the in-memory build (ids,
vertex properties, edges, condensed table), with cell tables, missing cells, vertex
selections, Parquet folders / CSV inputs and folder / .h5 outputs. (Its peak memory is
measured by ``benchmarks/bench_connectome.py``: the build lines.)"""

import numpy as np
import pandas as pd
import pytest

from connectoscope.cli import main
from connectoscope.connectome import (
    ConnectivityMatrix,
    build_out_of_core,
    count_rows,
    load_matrix,
    read_conntility_h5,
)
from connectoscope.errors import DataFormatError, DatasetExistsError

BIG = 864691135000000000


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    d = tmp_path_factory.mktemp("build")
    rng = np.random.default_rng(3)
    n = 3000
    ids = BIG + np.arange(1, 61, dtype=np.int64) * 1_000_003
    syn = pd.DataFrame(
        {
            "pre_root_id": rng.choice(ids[:25], n),
            "post_root_id": rng.choice(ids, n),
            "cleft_vx": rng.integers(5, 900, n),
            "ctr_pt_position_x": rng.integers(0, 1000, n),
            "ctr_pt_position_y": rng.integers(0, 1000, n),
            "ctr_pt_position_z": rng.integers(0, 100, n),
            "tag": rng.choice(["a", "b"], n),
        }
    )
    types = np.array(["23P", "4P", "BC", "MC"])[np.arange(50) % 4]
    cells = pd.DataFrame(
        {
            "pt_root_id": ids[:50],  # 10 ids have no row: unmatched partners
            "cell_type": types,
            "broad_type": np.where(np.isin(types, ["BC", "MC"]), "inhibitory", "excitatory"),
            "status_axon": np.arange(50) % 3 != 0,
        }
    )
    syn.to_csv(d / "syn.csv", index=False)
    (d / "parts").mkdir()
    for i in range(3):
        syn.iloc[i * 1000 : (i + 1) * 1000].to_parquet(d / "parts" / f"p{i}.parquet", index=False)
    cells.to_csv(d / "cells.csv", index=False)
    return d, syn, cells


COLS = ["--columns", "pre=pre_root_id,post=post_root_id,size=cleft_vx", "--voxel-size", "4,4,40"]


def _same(a: ConnectivityMatrix, b: ConnectivityMatrix) -> None:
    assert a.shape == b.shape and a.n_synapses == b.n_synapses and a.n_pairs == b.n_pairs
    assert np.array_equal(a.pre_ids, b.pre_ids) and np.array_equal(a.post_ids, b.post_ids)
    pd.testing.assert_frame_equal(a.pre_vertices, b.pre_vertices)
    pd.testing.assert_frame_equal(a.post_vertices, b.post_vertices)
    for w in ("count", "sum", "binary"):
        assert (a.matrix(w) != b.matrix(w)).nnz == 0
    if a.edges is not None and b.edges is not None:
        key = [c for c in ("pre_idx", "post_idx", "size", "x_nm", "tag") if c in a.edges]
        ea = a.edges.sort_values(key).reset_index(drop=True)
        eb = b.edges.sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(ea, eb, check_dtype=False)
    ca = a.condensed.sort_values(["pre", "post"]).reset_index(drop=True)
    cb = b.condensed.sort_values(["pre", "post"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(ca, cb, check_dtype=False)


@pytest.mark.parametrize(
    ("source", "extra"),
    [
        ("syn.csv", []),
        ("parts", ["--missing-cells", "drop"]),
        ("parts", ["--pre", "status_axon=true", "--post", "broad_type=excitatory"]),
        ("syn.csv", ["--where", "cell_type=23P,BC", "--missing-cells", "drop"]),
    ],
)
def test_out_of_core_build_matches_in_memory(tables, tmp_path, source, extra, capsys):
    d = tables[0]
    base = ["connectome", "build", str(d / source), "--cells", str(d / "cells.csv"), *COLS, *extra]
    assert main([*base, "--out-of-core", "off", "-o", str(tmp_path / "mem")]) == 0
    assert main([*base, "--out-of-core", "on", "--workers", "2", "-o", str(tmp_path / "ooc")]) == 0
    out = capsys.readouterr().out
    assert "built out of core" in out and "missing from the cell table" in out
    _same(load_matrix(tmp_path / "mem"), load_matrix(tmp_path / "ooc"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mem", "ooc"]  # no work left behind


@pytest.mark.filterwarnings("ignore::connectoscope.errors.ConnectoscopeWarning")
def test_out_of_core_build_h5_and_errors(tables, tmp_path):
    d, syn, cells = tables
    base = ["connectome", "build", str(d / "parts"), "--cells", str(d / "cells.csv"), *COLS]
    assert main([*base, "--out-of-core", "off", "-o", str(tmp_path / "mem.h5")]) == 0
    assert main([*base, "--out-of-core", "on", "-o", str(tmp_path / "ooc.h5")]) == 0
    a, b = read_conntility_h5(tmp_path / "mem.h5"), read_conntility_h5(tmp_path / "ooc.h5")
    assert a.shape == b.shape and (a.matrix("count") != b.matrix("count")).nnz == 0
    assert main([*base, "--out-of-core", "on", "-o", str(tmp_path / "ooc.h5")]) == 2  # exists
    assert main([*base, "--out-of-core", "on", "--overwrite", "-o", str(tmp_path / "ooc.h5")]) == 0
    with pytest.raises(DataFormatError, match="missing from the cell table"):
        build_out_of_core(
            d / "parts",
            tmp_path / "x",
            cells=cells,
            columns={"pre": "pre_root_id", "post": "post_root_id"},
            missing_cells="error",
        )
    (tmp_path / "foreign").mkdir()
    with pytest.raises(DatasetExistsError, match="not a connectivity matrix"):
        build_out_of_core(
            d / "parts",
            tmp_path / "foreign",
            columns={"pre": "pre_root_id", "post": "post_root_id"},
            overwrite=True,
        )
    assert count_rows(d / "parts") == len(syn)
    assert abs(count_rows(d / "syn.csv") - len(syn)) < 0.2 * len(syn)  # an estimate
