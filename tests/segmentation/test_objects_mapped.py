"""Mapped segmentation: a label layer of object ids with its own pyramid."""

import numpy as np
import pytest

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.errors import DatasetExistsError, SelectionError
from connectoscope.segmentation import ObjectMaps, map_segmentation
from connectoscope.volume import downsample_labels, write_layer


@pytest.fixture
def ds(tmp_path, rng):
    d = cs.Dataset.create(tmp_path / "m.cscope", voxel_size=(4, 4, 40))
    lab = rng.integers(0, 30, (12, 192, 160)).astype(np.uint32)
    lab[:, 96:, :] = 3  # a large segment
    write_layer(d, "segmentation", lab, kind="segmentation")
    neuron = np.zeros(30, np.int64)
    neuron[[3, 4, 5]] = 1
    neuron[[10, 11]] = 2
    neuron[29] = 2**33  # needs 64-bit labels
    ObjectMaps.from_arrays({"neuron": neuron, "axon": (np.arange(30) % 7 == 0) * 5}).save(d)
    return d


def test_mapped_layer_levels(ds):
    layer = map_segmentation(ds, "neuron", workers=1)
    assert layer.name == "mapped_neuron" and layer.dtype == np.uint64
    seg = ds.segmentation
    assert layer.num_levels == seg.num_levels >= 2
    lab = seg.read(level=0)
    expect = ds.objects.lookup("neuron", lab)
    got = layer.read(level=0)
    np.testing.assert_array_equal(got, expect)
    assert int(got.max()) == 2**33  # 64-bit ids kept exactly
    # its own pyramid: mode downsampling of the mapped level 0 (not a map of the
    # segmentation's level 1, which differs where segments of one object compete)
    for i in range(1, layer.num_levels):
        f = np.array(layer.levels[i].factor_xyz) // np.array(layer.levels[i - 1].factor_xyz)
        prev = layer.read(level=i - 1)
        np.testing.assert_array_equal(layer.read(level=i), downsample_labels(prev, tuple(f)))
    assert cs.Dataset(ds.path).layer("mapped_neuron")["object_kind"] == "neuron"


def test_mapped_cli_rerun_and_errors(ds, capsys):
    assert main(["objects", "map", str(ds.path), "--kind", "axon", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "mapped_axon: 160 x 192 x 12 voxels" in out and "uint32" in out
    ds = cs.Dataset(ds.path)  # the CLI wrote the metadata
    axon = ds.volume("mapped_axon").read(level=0)
    np.testing.assert_array_equal(axon, ds.objects.lookup("axon", ds.segmentation.read()))
    # same inputs: kept as is; another object map: refused without --overwrite
    assert main(["objects", "map", str(ds.path), "--kind", "axon"]) == 0
    ObjectMaps.from_arrays({"axon": (np.arange(30) == 3) * 1}).save(ds)
    with pytest.raises(DatasetExistsError, match="--overwrite"):
        map_segmentation(cs.Dataset(ds.path), "axon")
    assert main(["objects", "map", str(ds.path), "--kind", "axon", "--overwrite"]) == 0
    capsys.readouterr()
    got = cs.Dataset(ds.path).volume("mapped_axon").read(level=0)
    np.testing.assert_array_equal(got, (ds.segmentation.read() == 3).astype(np.uint32))
    assert main(["objects", "map", str(ds.path), "--kind", "dendrite"]) == 2
    assert "unknown kind 'dendrite'; kinds present: axon" in capsys.readouterr().err
    with pytest.raises(SelectionError):
        map_segmentation(ds, "dendrite")
