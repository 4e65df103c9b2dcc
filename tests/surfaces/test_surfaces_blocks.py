"""Block-wise meshing: seams stitched into one closed surface per object."""

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.errors import InvalidParameterError
from connectoscope.segmentation import ObjectMaps, Selection, object_stats
from connectoscope.surfaces import make_surfaces, mesh_labels, plan_blocks
from connectoscope.volume import write_layer

VS = (8.0, 8.0, 16.0)


def _ring_volume():
    """A ring (genus 1) centred on the corner where four 32-voxel blocks meet, and a bar
    touching it (another label)."""
    zz, yy, xx = np.mgrid[0:40, 0:64, 0:64]
    lab = np.zeros((40, 64, 64), np.uint32)
    outer = ((xx - 32) / 20.0) ** 2 + ((yy - 32) / 18.0) ** 2 + ((zz - 20) / 12.0) ** 2 < 1
    hole = ((xx - 32) / 6.0) ** 2 + ((yy - 32) / 6.0) ** 2 < 1
    lab[outer & ~hole] = 5
    lab[5:35, 28:36, 52:60] = 6
    return lab


def _check_closed_unique(m):
    assert m.is_closed, "surface has open or non-manifold edges"
    u = np.unique(m.vertices, axis=0)
    assert len(u) == len(m.vertices), "duplicate vertices (seam not merged)"
    used = np.unique(m.faces)
    assert len(used) == len(m.vertices), "unreferenced vertices"


def test_plan_blocks_covers_region_with_one_voxel_overlap():
    blocks = plan_blocks((0, 0, 0), (64, 64, 40), (32, 32, 64))
    assert len(blocks) == 4
    starts = sorted(b[0] for b in blocks)
    assert starts == [(0, 0, 0), (0, 32, 0), (32, 0, 0), (32, 32, 0)]
    for rs, re, lo, hi in blocks:
        for a in range(2):  # high faces inside the region read one voxel more
            assert re[a] == (33 if rs[a] == 0 else 64)
            assert lo[a] == (rs[a] == 0) and hi[a] == (rs[a] == 32)
    with pytest.raises(InvalidParameterError, match="2 voxels or more"):
        plan_blocks((0, 0, 0), (8, 8, 8), (1, 8, 8))


def test_object_spanning_four_blocks_matches_single_block():
    lab = _ring_volume()
    whole = mesh_labels(lab, VS, block_xyz=(256, 256, 256))
    four = mesh_labels(lab, VS, block_xyz=(32, 32, 64), workers=2)  # worker processes
    for k in (5, 6):
        a, b = whole[k], four[k]
        _check_closed_unique(b)
        # same surface: same vertex set, same number of faces, same topology and volume
        assert len(a.faces) == len(b.faces)
        np.testing.assert_array_equal(np.unique(a.vertices, axis=0), np.unique(b.vertices, axis=0))
        assert a.to_trimesh().euler_number == b.to_trimesh().euler_number
        assert b.volume_nm3 == pytest.approx(a.volume_nm3, rel=1e-6)
    assert four[5].to_trimesh().euler_number == 0  # the ring keeps its hole
    # the marching-cubes volume is close to the voxel volume
    assert four[5].volume_nm3 == pytest.approx((lab == 5).sum() * np.prod(VS), rel=0.03)


def test_simplified_blocks_stay_closed_within_the_error_bound():
    lab = _ring_volume()
    exact = mesh_labels(lab, VS, block_xyz=(256, 256, 256))[5]
    err = 8.0
    m = mesh_labels(lab, VS, block_xyz=(32, 32, 20), simplify_nm=err)[5]  # 8 blocks
    _check_closed_unique(m)
    assert len(m.faces) < len(exact.faces) / 3  # it did simplify
    assert m.volume_nm3 == pytest.approx(exact.volume_nm3, rel=0.02)
    # every simplified vertex lies within err of the exact surface (dense samples, 1 nm)
    dense = trimesh.remesh.subdivide_to_size(exact.vertices, exact.faces, max_edge=1.0)[0]
    d, _ = cKDTree(dense).query(m.vertices)
    assert d.max() <= err + 1.0


def test_smoothing_keeps_surface_closed():
    lab = _ring_volume()
    raw = mesh_labels(lab, VS, block_xyz=(32, 32, 64))[5]
    sm = mesh_labels(lab, VS, block_xyz=(32, 32, 64), smooth=10)[5]
    _check_closed_unique(sm)
    assert np.abs(sm.vertices - raw.vertices).max() > 0.5  # vertices moved
    assert sm.volume_nm3 == pytest.approx(raw.volume_nm3, rel=0.05)
    with pytest.raises(InvalidParameterError, match="smooth"):
        mesh_labels(lab, VS, smooth=-1)


@pytest.fixture
def ds(tmp_path):
    d = cs.Dataset.create(tmp_path / "b.cscope", voxel_size=VS)
    lab = _ring_volume()
    lab[lab == 6] = 7
    lab[2:10, 2:10, 2:10] = 9  # far away: its blocks are skipped for neuron 1
    write_layer(d, "segmentation", lab, kind="segmentation")
    neuron = np.zeros(10, np.int64)
    neuron[[5, 7]] = 1
    neuron[9] = 2
    ObjectMaps.from_arrays({"neuron": neuron, "spinehead": (np.arange(10) == 7) * 3}).save(d)
    return d


def test_dataset_blocks_in_processes_with_table_region(ds, tmp_path):
    sel = Selection.parse(["neuron=1"], by="spinehead:red", color="yellow")
    ref = make_surfaces(ds, sel, None, level=0, block_xyz=(256, 256, 256), precomputed=False)
    object_stats(ds, workers=1)  # stored boxes restrict the region meshed
    r = make_surfaces(
        ds, sel, tmp_path / "o", level=0, block_xyz=(32, 32, 16), workers=2, precomputed=False
    )
    # the box of segments 5 and 7 (x, y, z voxels), not the whole volume
    assert (r.region.start, r.region.stop) == ((13, 15, 5), (60, 50, 35))
    m, m0 = r.meshes[1], ref.meshes[1]
    _check_closed_unique(m)
    np.testing.assert_array_equal(np.unique(m.vertices, axis=0), np.unique(m0.vertices, axis=0))
    cols = {tuple(c) for c in m.colors[:, :3].tolist()}
    assert cols == {(255, 255, 0), (255, 0, 0)}  # yellow neuron, red spine head
    # red vertices lie on the spine head (x 52..60 voxels)
    red = m.vertices[(m.colors[:, :3] == (255, 0, 0)).all(axis=1)]
    assert red[:, 0].min() >= 51 * 8 and red[:, 0].max() <= 60 * 8
    assert [p.name for p in r.files] == ["neuron_1.ply"]


def test_auto_level_is_chosen_and_said(tmp_path, capsys):
    ds = cs.Dataset.create(tmp_path / "auto.cscope", voxel_size=VS)
    lab = _ring_volume()
    write_layer(ds, "segmentation", lab, storage=cs.StorageSpec(chunk_xyz=(32, 32, 8)))
    ObjectMaps.from_arrays({"neuron": (np.arange(10) == 5).astype(np.int64)}).save(ds)
    assert ds.segmentation.num_levels == 2
    # level 0 holds 64 * 64 * 40 = 163,840 voxels, level 1 (2x2x1) 40,960
    r = make_surfaces(ds, Selection.parse(each="neuron"), None, max_voxels=100_000)
    assert r.auto_level and r.level == 1
    r = make_surfaces(ds, Selection.parse(each="neuron"), None, max_voxels=10**9)
    assert r.auto_level and r.level == 0
    argv = ["surfaces", str(ds.path), "--each", "neuron", "--auto-level", "--max-voxels"]
    assert main([*argv, "100000", "-o", str(tmp_path / "a")]) == 0
    assert "level 1 (chosen automatically" in capsys.readouterr().out


def test_size_limit_without_each_is_refused(ds, tmp_path, capsys):
    out = tmp_path / "lim"
    argv = ["surfaces", str(ds.path), "--where", "neuron", "--max-groups", "1", "-o", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "makes 2 groups" in err and "--each neuron" in err
    assert not out.exists()
    assert main([*argv[:-2], "--each", "neuron", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["neuron_1.ply", "neuron_2.ply"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seams_never_get_an_edge_of_four_triangles(seed):
    """Each block's simplifier must not join two seam vertices by a new edge: the next
    block could make the same chord, and stitched, it would have four triangles (seen on a
    synthetic neuron at 90 nm; random blobs with seeds 1 and 2 made one before the fix)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    lab = (ndimage.gaussian_filter(rng.normal(size=(48, 64, 64)), 3) > 0.02).astype(np.uint32)
    for m in mesh_labels(lab, (16, 16, 40), simplify_nm=120, block_xyz=(16, 16, 16)).values():
        f = np.asarray(m.faces, np.int64)
        e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
        _, counts = np.unique(e, axis=0, return_counts=True)
        assert set(counts.tolist()) == {2}
        assert m.is_closed


def test_mesh_labels_takes_a_voxel_size_object_or_text():
    lab = np.zeros((6, 8, 8), np.uint32)
    lab[1:5, 2:6, 2:6] = 3
    want = mesh_labels(lab, (8, 8, 40))[3]
    for vs in (cs.VoxelSize(8, 8, 40), "8,8,40"):
        got = mesh_labels(lab, vs)[3]
        assert np.array_equal(got.vertices, want.vertices)
    with pytest.raises(InvalidParameterError, match="voxel size"):
        mesh_labels(lab, (8, 0, 40))
