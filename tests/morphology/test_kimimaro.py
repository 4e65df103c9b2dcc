"""skeletonize --method kimimaro (the optional GPL extra) and its missing-dependency error."""

import sys

import numpy as np
import pytest

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.errors import DependencyMissingError
from connectoscope.morphology import read_swc, skeletonize_dataset
from connectoscope.morphology._skeletonize import skeletonize_mask_kimimaro
from connectoscope.segmentation import ObjectMaps, Selection
from connectoscope.volume import write_layer


@pytest.fixture
def cylinder_ds(tmp_path):
    ds = cs.Dataset.create(tmp_path / "k.cscope", voxel_size=(10, 10, 10))
    lab = np.zeros((40, 40, 120), np.uint32)
    zz, yy = np.mgrid[0:40, 0:40]
    disk = (zz - 20) ** 2 + (yy - 20) ** 2 <= 16
    lab[disk, 10:60] = 1  # a cylinder along x in two supervoxels split by a membrane
    lab[disk, 61:110] = 2
    write_layer(ds, "segmentation", lab, kind="segmentation")
    ObjectMaps.from_arrays({"neuron": np.array([0, 1, 1])}).save(ds)
    return ds


def test_kimimaro_skeleton_of_a_cylinder(cylinder_ds, capsys):
    import kimimaro  # noqa: F401  (the GPL extra; installed for the tests)

    sk = skeletonize_dataset(
        cylinder_ds, Selection.parse(each="neuron"), level=0, method="kimimaro"
    )[1]
    assert sk.roots.size == 1 and sk.meta["method"] == "kimimaro"
    x = sk.vertices[:, 0]
    assert x.min() < 200 and x.max() > 1000  # spans the cylinder (100..1100 nm)
    assert 800 < sk.cable_length < 1300
    assert (sk.features["radius"] > 0).all()
    assert (
        main(
            [
                "skeletonize",
                str(cylinder_ds.path),
                "--each",
                "neuron",
                "--level",
                "0",
                "--method",
                "kimimaro",
            ]
        )
        == 0
    )
    assert "1 root(s)" in capsys.readouterr().out
    back = read_swc(cylinder_ds.path / "skeletons" / "1.swc")
    assert len(back) == len(sk)


def test_kimimaro_missing_names_the_extra(monkeypatch, cylinder_ds, capsys):
    monkeypatch.setitem(sys.modules, "kimimaro", None)  # import kimimaro -> ImportError
    with pytest.raises(DependencyMissingError, match=r'pip install "connectoscope\[skeleton\]"'):
        skeletonize_mask_kimimaro(np.ones((3, 3, 3), bool), (1, 1, 1))
    assert (
        main(["skeletonize", str(cylinder_ds.path), "--each", "neuron", "--method", "kimimaro"])
        == 2
    )
    assert "connectoscope[skeleton]" in capsys.readouterr().err
