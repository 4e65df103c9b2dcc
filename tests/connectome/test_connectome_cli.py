"""``connectoscope connectome build|stats|plot|convert|condense`` with ids above 2**53."""

import json

import numpy as np
import pandas as pd
import pytest

from connectoscope.cli import main
from connectoscope.connectome import load_matrix, read_conntility_h5

BIG = 864691135000000000


@pytest.fixture
def tables(tmp_path):
    rng = np.random.default_rng(5)
    n = 400
    ids = BIG + np.arange(1, 31, dtype=np.int64) * 1_000_003
    syn = pd.DataFrame(
        {
            "pre_root_id": rng.choice(ids[:12], n),
            "post_root_id": rng.choice(ids, n),
            "cleft_vx": rng.integers(5, 900, n),
            "ctr_pt_position_x": rng.integers(0, 1000, n),
            "ctr_pt_position_y": rng.integers(0, 1000, n),
            "ctr_pt_position_z": rng.integers(0, 100, n),
        }
    )
    types = np.array(["23P", "4P", "BC", "MC"])[np.arange(30) % 4]
    cells = pd.DataFrame(
        {
            "pt_root_id": ids,
            "cell_type": types,
            "broad_type": np.where(np.isin(types, ["BC", "MC"]), "inhibitory", "excitatory"),
            "status_axon": np.arange(30) % 3 != 0,
            "pt_position_x": rng.integers(0, 1000, 30),
            "pt_position_y": rng.integers(0, 1000, 30),
            "pt_position_z": rng.integers(0, 100, 30),
        }
    )
    syn.to_csv(tmp_path / "syn.csv", index=False)
    cells.to_csv(tmp_path / "cells.csv", index=False)
    return tmp_path, syn, cells


COLS = ["--columns", "pre=pre_root_id,post=post_root_id,size=cleft_vx"]


def test_build_stats_plot_convert(tables, capsys):
    d, syn, cells = tables
    args = ["connectome", "build", str(d / "syn.csv"), "--cells", str(d / "cells.csv"), *COLS]
    assert main([*args, "--voxel-size", "4,4,40", "-o", str(d / "m")]) == 0
    m = load_matrix(d / "m")
    assert m.n_synapses == len(syn) and m.pre_ids.dtype == np.int64
    assert set(m.pre_ids.tolist()) == set(syn.pre_root_id.tolist())  # exact 64-bit ids
    assert m.edges["z_nm"].max() <= 100 * 40
    capsys.readouterr()
    assert main(["connectome", "stats", str(d / "m"), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["synapses"] == len(syn)
    assert st["connected_pairs"] == len(syn.drop_duplicates(["pre_root_id", "post_root_id"]))
    # filters: proofread axons onto excitatory targets
    assert (
        main(
            [
                *args,
                "--pre",
                "status_axon=true",
                "--post",
                "broad_type=excitatory",
                "-o",
                str(d / "p"),
            ]
        )
        == 0
    )
    p = load_matrix(d / "p")
    keep_pre = set(cells.pt_root_id[cells.status_axon])
    keep_post = set(cells.pt_root_id[cells.broad_type == "excitatory"])
    expect = syn[syn.pre_root_id.isin(keep_pre) & syn.post_root_id.isin(keep_post)]
    assert p.n_synapses == len(expect) > 0
    assert main(["connectome", "stats", str(d / "m"), "--where", "cell_type=23P,4P"]) == 0
    assert "synapses:" in capsys.readouterr().out
    for kind, extra in (
        ("heatmap", ["--weight", "log_sum", "--sort-by", "cell_type"]),
        ("hist", ["--split-by", "broad_type"]),
        ("size-hist", []),
        ("somas", ["--status", "status_axon"]),
        ("types", ["--sort-by", "cell_type", "--weight", "probability"]),
    ):
        out = d / f"{kind}.png"
        assert (
            main(["connectome", "plot", str(d / "m"), "--kind", kind, *extra, "-o", str(out)]) == 0
        )
        assert out.stat().st_size > 5000
    assert (
        main(
            [
                "connectome",
                "plot",
                str(d / "m"),
                "--kind",
                "heatmap",
                "--pre",
                "status_axon=true",
                "-o",
                str(d / "h.svg"),
            ]
        )
        == 0
    )
    assert (d / "h.svg").read_text().lstrip().startswith("<?xml")
    # convert to the Connectome-Utilities layout and back, and to the L4dense CSV
    assert main(["connectome", "convert", str(d / "m"), str(d / "m.h5")]) == 0
    h = read_conntility_h5(d / "m.h5")
    assert h.n_synapses == m.n_synapses and h.pre_ids.tolist() == m.pre_ids.tolist()
    assert main(["connectome", "convert", str(d / "m.h5"), str(d / "back")]) == 0
    assert load_matrix(d / "back").dense("count").tolist() == m.dense("count").tolist()
    assert (
        main(["connectome", "convert", str(d / "m"), str(d / "m.csv"), "--label", "cell_type"]) == 0
    )
    assert load_matrix(d / "m.csv").n_synapses == len(syn)
    assert main(["connectome", "build", str(d / "syn.csv"), *COLS, "-o", str(d / "direct.h5")]) == 0
    assert read_conntility_h5(d / "direct.h5").n_synapses == len(syn)


def test_cli_errors_are_one_paragraph(tables, capsys):
    d, _, cells = tables
    assert main(["connectome", "build", str(d / "syn.csv"), "-o", str(d / "x")]) == 2
    err = capsys.readouterr().err
    assert "missing columns" in err and "--columns pre=" in err
    assert main(["connectome", "build", str(d / "syn.csv"), *COLS, "-o", str(d / "x")]) == 0
    assert main(["connectome", "build", str(d / "syn.csv"), *COLS, "-o", str(d / "x")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    dup = pd.concat([cells, cells.iloc[:2]])
    dup.to_csv(d / "dup.csv", index=False)
    assert (
        main(
            [
                "connectome",
                "build",
                str(d / "syn.csv"),
                *COLS,
                "--cells",
                str(d / "dup.csv"),
                "-o",
                str(d / "y"),
            ]
        )
        == 2
    )
    assert "--duplicates first|drop" in capsys.readouterr().err
    assert (
        main(
            [
                "connectome",
                "build",
                str(d / "syn.csv"),
                *COLS,
                "--cells",
                str(d / "dup.csv"),
                "--duplicates",
                "first",
                "-o",
                str(d / "y"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "note: " in out and "2 duplicate ids" in out
    cells.iloc[5:].to_csv(d / "few.csv", index=False)
    assert (
        main(
            [
                "connectome",
                "build",
                str(d / "syn.csv"),
                *COLS,
                "--cells",
                str(d / "few.csv"),
                "-o",
                str(d / "z"),
            ]
        )
        == 0
    )
    assert "have a partner missing from the cell table" in capsys.readouterr().out
    assert main(["connectome", "stats", str(d / "x"), "--pre", "nonsense"]) == 2
    assert "PROPERTY=VALUE" in capsys.readouterr().err


def test_cli_condense_out_of_core(tmp_path, capsys):
    from connectoscope.connectome import write_synthetic_dataset

    src = write_synthetic_dataset(
        tmp_path / "parts", 30_000, n_partitions=3, n_pre=50, n_post=400, workers=1
    )
    assert (
        main(["connectome", "condense", str(src), "--workers", "1", "-o", str(tmp_path / "c")]) == 0
    )
    assert "30000 synapses ->" in capsys.readouterr().out
    c = pd.read_parquet(tmp_path / "c" / "pairs")
    assert c["count"].sum() == 30_000
