import numpy as np
import pandas as pd
import pytest

from connectoscope.cli import main
from connectoscope.errors import DataFormatError, MissingDataError
from connectoscope.morphology import Skeleton, map_synapses, read_swc, write_swc
from connectoscope.testing import reference, require_shared

NEURONS = ["1734350788", "1734350908", "722817260", "754534424", "754538881"]


@pytest.mark.parametrize("bid", NEURONS)
def test_hemibrain_reference(bid):
    ref = reference("hemibrain-da1")["neurons"][bid]
    s = read_swc(require_shared(f"hemibrain-da1/swc/{bid}.swc"), units=8)
    info = s.summary()
    assert info["nodes"] == ref["n_nodes"]
    assert info["roots"] == ref["n_roots"]
    assert info["branch_points"] == ref["n_branch_points"]
    assert info["leaves"] == ref["n_leaves"]
    assert info["cable_length_um"] == pytest.approx(ref["cable_length_um"], abs=1e-3)
    syn = pd.read_csv(require_shared(f"hemibrain-da1/synapses/{bid}.csv"))
    assert syn["type"].value_counts().to_dict() == ref["synapse_types"]
    # distance from each synapse to its attached node, in 8 nm voxels
    v = s.vertices[s.vertex_of(syn["node_id"].to_numpy())] / 8
    d = np.linalg.norm(v - syn[["x", "y", "z"]].to_numpy(float), axis=1)
    assert np.median(d) == pytest.approx(ref["syn_to_node_dist_median"], abs=0.01)
    assert d.max() == pytest.approx(ref["syn_to_node_dist_max"], abs=0.01)
    # nearest-vertex mapping is never farther than the attached node
    m = map_synapses(s, syn[["x", "y", "z"]].to_numpy(float) * 8, policy="keep")
    assert (m["distance_nm"].to_numpy() <= d * 8 + 1e-6).all()
    assert m["distance_to_root_nm"].max() <= s.distance_to_root.max()


def test_two_roots_and_no_soma_reports(capsys):
    assert (
        main(
            [
                "skeleton",
                "info",
                str(require_shared("hemibrain-da1/swc/754538881.swc")),
                "--units",
                "8",
            ]
        )
        == 0
    )
    assert "2 root(s)" in capsys.readouterr().out
    assert (
        main(
            [
                "skeleton",
                "info",
                str(require_shared("hemibrain-da1/swc/722817260.swc")),
                "--units",
                "8",
            ]
        )
        == 0
    )
    assert "no soma-labelled node" in capsys.readouterr().out
    s = read_swc(require_shared("hemibrain-da1/swc/754538881.swc"), units=8)
    joined = s.join_fragments(max_dist=1e9)
    assert joined.roots.size == 1 and len(joined) == len(s)


def test_swc_roundtrip_and_measures(tmp_path):
    s = read_swc(require_shared("hemibrain-da1/swc/1734350788.swc"), units=8)
    write_swc(s, tmp_path / "a.swc", units=1000)
    t = read_swc(tmp_path / "a.swc", units=1000)
    np.testing.assert_array_equal(t.node_ids, s.node_ids)
    np.testing.assert_allclose(t.vertices, s.vertices, rtol=1e-5)
    np.testing.assert_array_equal(t.features["compartment"], s.features["compartment"])
    # path distances from many sources agree with distance_to_root at the root
    r = s.roots[0]
    d = s.path_distances(np.array([r]))
    np.testing.assert_allclose(d[0], s.distance_to_root, rtol=1e-9, atol=1e-6)
    assert s.strahler()[r] >= 3
    assert sum(len(seg) - 1 for seg in s.segments()) == len(s) - s.roots.size


def test_bad_swc(tmp_path):
    (tmp_path / "p.swc").write_text("1 1 0 0 0 1 -1\n2 3 1 0 0 1 7\n")
    with pytest.raises(DataFormatError, match="parent 7, which does not exist"):
        read_swc(tmp_path / "p.swc")
    (tmp_path / "d.swc").write_text("1 1 0 0 0 1 -1\n1 3 1 0 0 1 1\n")
    with pytest.raises(DataFormatError, match="duplicate node ids 1"):
        read_swc(tmp_path / "d.swc")
    (tmp_path / "c.swc").write_text("1 1 0 0 0 1 -1\n2 3 1 0 0 1 3\n3 3 2 0 0 1 2\n")
    with pytest.raises(DataFormatError, match="cycle"):
        read_swc(tmp_path / "c.swc")


def test_map_policy_and_cli(tmp_path, capsys):
    s = Skeleton.from_parents(
        np.arange(3), np.array([-1, 0, 1]), np.array([[0, 0, 0], [1000, 0, 0], [2000, 0, 0]])
    )
    pts = np.array([[900, 10, 0], [5000, 5000, 0]])
    assert len(map_synapses(s, pts, max_dist=200)) == 1
    assert map_synapses(s, pts, max_dist=200, policy="keep")["vertex"].tolist() == [1, -1]
    with pytest.raises(MissingDataError, match="1 of 2 synapses"):
        map_synapses(s, pts, max_dist=200, policy="raise")
    swc = require_shared("hemibrain-da1/swc/1734350788.swc")
    syn = require_shared("hemibrain-da1/synapses/1734350788.csv")
    out = tmp_path / "m.csv"
    assert (
        main(
            [
                "skeleton",
                "map-synapses",
                str(swc),
                str(syn),
                "--units",
                "8",
                "--syn-units",
                "8",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert len(pd.read_csv(out)) == 2705
    png = tmp_path / "n.png"
    assert (
        main(
            [
                "skeleton",
                "plot",
                str(swc),
                "--units",
                "8",
                "--synapses",
                str(syn),
                "--syn-units",
                "8",
                "-o",
                str(png),
            ]
        )
        == 0
    )
    assert png.stat().st_size > 10000


def test_skeletonize_synthetic_object(tmp_path):
    import connectoscope as cs
    from connectoscope.morphology import skeletonize_dataset
    from connectoscope.segmentation import ObjectMaps, Selection
    from connectoscope.volume import write_layer

    ds = cs.Dataset.create(tmp_path / "k.cscope", voxel_size=(10, 10, 10))
    lab = np.zeros((40, 40, 120), np.uint32)
    zz, yy = np.mgrid[0:40, 0:40]
    disk = (zz - 20) ** 2 + (yy - 20) ** 2 <= 16
    lab[disk, 10:60] = 1  # a cylinder in two supervoxels split by a membrane
    lab[disk, 61:110] = 2
    write_layer(ds, "segmentation", lab, kind="segmentation")
    ObjectMaps.from_arrays({"neuron": np.array([0, 1, 1])}).save(ds)
    sk = skeletonize_dataset(ds, Selection.parse(each="neuron"), level=0)[1]
    assert sk.roots.size == 1
    x = sk.vertices[:, 0]
    assert x.min() < 250 and x.max() > 950  # spans the cylinder along x (nm)
    assert 700 < sk.cable_length < 1300
    assert (ds.path / "skeletons" / "info").exists() and (
        ds.path / "skeletons" / "object_1"
    ).exists()
    # Neuroglancer looks skeletons up by every segment id of a shown object: the smallest (the
    # representative of the object's equivalence class) has the object's skeleton, the others
    # an empty one, so the viewer draws the neuron once, not once per segment
    skel = ds.path / "skeletons"
    assert (skel / "1").read_bytes() == (skel / "object_1").read_bytes()
    assert (skel / "2").read_bytes() == b"\x00" * 8  # 0 vertices, 0 edges
