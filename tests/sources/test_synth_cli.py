"""``connectoscope synth``: the command line, its errors and the manifest round trip."""

from __future__ import annotations

import json

import pytest

from connectoscope.cli import main
from connectoscope.errors import DataFormatError, SourceNotFoundError
from connectoscope.sources.synthetic import SynthManifest


def test_cli_writes_folder(tmp_path, capsys):
    out = tmp_path / "src"
    rc = main(
        ["synth", str(out), "--shape", "128,128,64", "--cube", "64", "--seed", "2",
         "--no-progress", "--fullres-cube", "64", "--connectome-synapses", "20000"]
    )  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    assert "synapses:" in text and "next: connectoscope info" in text
    assert "full-resolution cube" in text and "connectome: " in text
    m = SynthManifest.read(out)
    assert m.shape_xyz == (128, 128, 64) and m.cube == 64 and m.seed == 2
    assert m.voxel_size_nm == (56.2, 56.2, 84.0)  # the default overview voxel
    assert (out / "segmentation" / "x1y1z0.hdf5").exists()
    assert m.fullres["cube"] == 64 and m.fullres["factor"] == [5, 5, 3]
    fr = SynthManifest.read(out / "fullres")
    assert fr.role == "fullres" and fr.voxel_size_nm == (11.24, 11.24, 28.0)
    assert fr.shape_xyz == (640, 640, 192) and len(fr.cubes_present) == 1
    g = fr.cubes_present[0]
    assert (out / "fullres" / "segmentation" / f"x{g[0]}y{g[1]}z{g[2]}.hdf5").exists()
    assert m.connectome["n_synapses"] == 20000
    assert (out / "microns" / "synapses.parquet").exists()


def test_cli_shape_not_divisible(tmp_path, capsys):
    rc = main(["synth", str(tmp_path / "o"), "--shape", "100,128,64", "--cube", "64"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "multiple of the cube edge 64" in err and "x=100" in err and "--shape 128,128,64" in err
    assert not (tmp_path / "o").exists()


def test_cli_refuses_existing_out(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    rc = main(["synth", str(out), "--shape", "64,64,64", "--cube", "64", "--no-progress"])
    assert rc == 2
    assert "--overwrite" in capsys.readouterr().err
    rc = main(
        ["synth", str(out), "--shape", "64,64,64", "--cube", "64", "--overwrite", "--no-progress",
         "--fullres-cube", "0", "--connectome-synapses", "0"]
    )  # fmt: skip
    assert rc == 0
    assert (out / "keep.txt").read_text() == "mine"  # only generated files are replaced
    assert (out / "synth.json").exists()


def test_cli_bad_workers(tmp_path, capsys):
    rc = main(
        ["synth", str(tmp_path / "o"), "--shape", "64,64,64", "--cube", "64", "--workers", "0"]
    )
    assert rc == 2
    assert "--workers" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_bad_voxel_size(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["synth", str(tmp_path / "o"), "--voxel-size", "1,2"])
    assert e.value.code == 2


def test_cli_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["synth", "--help"])
    text = capsys.readouterr().out
    assert "connectoscope synth source" in text and "--connectome-synapses" in text
    assert "--fullres-cube" in text


def test_cli_bad_fullres_and_connectome(tmp_path, capsys):
    rc = main(["synth", str(tmp_path / "o"), "--shape", "64,64,64", "--cube", "64",
               "--voxel-size", "4,4,40", "--fullres-cube", "64"])  # fmt: skip
    assert rc == 2
    err = capsys.readouterr().err
    assert "not an integer multiple" in err and "--fullres-cube 0" in err
    rc = main(["synth", str(tmp_path / "o"), "--shape", "64,64,64", "--cube", "64",
               "--connectome-synapses", "-1"])  # fmt: skip
    assert rc == 2
    assert "--connectome-synapses" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_manifest_round_trip_and_errors(tmp_path):
    m = SynthManifest(
        shape_xyz=(64, 64, 64),
        cube=64,
        seed=1,
        voxel_size_nm=(11.24, 11.24, 28.0),
        cubes_present=((0, 0, 0),),
        cubes_missing=(),
        counts={"neuron": 1},
    )
    d = json.loads(json.dumps(m.to_dict()))
    assert SynthManifest.from_dict(d) == m
    assert m.grid_shape == (1, 1, 1)
    with pytest.raises(SourceNotFoundError, match="no synthetic manifest"):
        SynthManifest.read(tmp_path)
    (tmp_path / "synth.json").write_text("{")
    with pytest.raises(DataFormatError):
        SynthManifest.read(tmp_path)
    with pytest.raises(DataFormatError, match="missing or bad field"):
        SynthManifest.from_dict({"cube": 1})
