"""Multi-resolution sharded Draco meshes: codec laws, the dataset path, bad input."""

import json

import numpy as np
import pytest
import trimesh

from connectoscope.cli import main
from connectoscope.errors import InvalidParameterError
from connectoscope.precomputed import (
    cut_mesh_at_planes,
    decode_multires_manifest,
    decode_multires_mesh,
    encode_multires_mesh,
    list_sharded_keys,
    read_multires_mesh,
    write_multires_meshes,
)
from connectoscope.surfaces._simplify import simplify_mesh


def _joined(lod):
    vs = [v for _, v, _ in lod]
    offs = np.cumsum([0] + [len(v) for v in vs[:-1]])
    t = trimesh.Trimesh(
        np.concatenate(vs),
        np.concatenate([f + o for (_, _, f), o in zip(lod, offs)]),
        process=False,
    )
    t.merge_vertices()
    return t


def test_cut_mesh_keeps_surface_and_crosses_no_plane():
    s = trimesh.creation.icosphere(4, radius=1000.0)
    v, f = cut_mesh_at_planes(s.vertices + 1500, s.faces, (0, 0, 0), (333, 250, 400))
    t = trimesh.Trimesh(v, f, process=False)
    assert t.is_watertight and t.volume == pytest.approx(s.volume, rel=1e-9)
    assert len(f) > len(s.faces)
    tri = v[f]
    for ax, st in enumerate((333, 250, 400)):
        cell = np.floor(tri[:, :, ax].min(axis=1) / st + 1e-9)
        assert (tri[:, :, ax].max(axis=1) <= (cell + 1) * st + 1e-6).all()


def test_codec_round_trip_every_lod(tmp_path):
    s = trimesh.creation.icosphere(5, radius=1000.0)
    v0 = s.vertices + 1500
    lods = [(v0, s.faces)]
    for err in (20.0, 80.0):
        v, f, _ = simplify_mesh(v0, s.faces, err)
        lods.append((v, f))
    kw = dict(chunk_shape=(500, 500, 500), grid_origin=(0, 0, 0), lod_scales=[10, 20, 40])
    data, man = encode_multires_mesh(lods, **kw, segment_id=9)
    m = decode_multires_manifest(man)
    assert m.num_lods == 3 and m.data_size == len(data)
    for k in range(1, 3):  # the octree: every node's parent exists one LOD up
        parents = {tuple(p) for p in (m.positions[k - 1] >> 1).tolist()}
        assert parents <= {tuple(p) for p in m.positions[k].tolist()}
    dec = decode_multires_mesh(m, data)
    for k, lod in enumerate(dec):
        node = 500 * 2**k
        sub = node / 2 if k else node
        for pos, v, f in lod:  # inside its node; no triangle crosses the 2x2x2 split
            lo = np.array(pos) * node
            assert (v >= lo - 1e-3).all() and (v <= lo + node + 1e-3).all()
            tri = v[f] - lo
            cell = np.floor(tri.mean(axis=1) / sub)[:, None, :]
            tol = node / 65535  # the half-node plane is not on the quantisation grid
            assert (tri >= cell * sub - tol).all() and (tri <= (cell + 1) * sub + tol).all()
        t = _joined(lod)
        # nodes of one LOD meet without cracks: one closed surface again
        assert t.is_watertight
        assert abs(t.volume) == pytest.approx(abs(trimesh.Trimesh(*lods[k]).volume), rel=1e-3)
    # sharded: a handful of files, every segment back
    enc = {i: encode_multires_mesh(lods, **kw, segment_id=i) for i in range(1, 300)}
    files = write_multires_meshes(tmp_path / "m", enc)
    assert 1 <= len(files) <= 4
    info = json.loads((tmp_path / "m" / "info").read_text())
    assert info["@type"] == "neuroglancer_multilod_draco" and info["sharding"]
    assert list_sharded_keys(tmp_path / "m", info["sharding"]).tolist() == list(range(1, 300))
    back = read_multires_mesh(tmp_path / "m", 123)
    assert [len(lod) for lod in back] == [len(lod) for lod in dec]
    np.testing.assert_allclose(back[0][0][1], dec[0][0][1])
    assert read_multires_mesh(tmp_path / "m", 5000) is None


def test_quantisation_too_coarse_is_refused():
    s = trimesh.creation.icosphere(2, radius=100000.0)
    with pytest.raises(InvalidParameterError, match="segment 77: LOD 0 .* 10 bits"):
        encode_multires_mesh(
            [(s.vertices + 2e5, s.faces)],
            chunk_shape=(4e5, 4e5, 4e5),
            grid_origin=(0, 0, 0),
            lod_scales=[1],
            vertex_quantization_bits=10,
            max_error=[40.0],
            segment_id=77,
        )


@pytest.mark.filterwarnings(
    "default::connectoscope.errors.ConnectoscopeWarning"
)  # as a user sees it
def test_surfaces_format_precomputed(tmp_path, capsys):
    import connectoscope as cs
    from connectoscope.segmentation import ObjectMaps
    from connectoscope.volume import write_layer

    d = cs.Dataset.create(tmp_path / "s.cscope", voxel_size=(8, 8, 16))
    lab = np.zeros((40, 96, 96), np.uint32)
    zz, yy, xx = np.mgrid[0:40, 0:96, 0:96]
    lab[((xx - 30) / 22.0) ** 2 + ((yy - 30) / 20.0) ** 2 + ((zz - 20) / 15.0) ** 2 < 1] = 1
    lab[15:25, 50:60, 20:30] = 2  # spine head of neuron 1
    lab[5:35, 60:90, 60:90] = 3
    write_layer(d, "segmentation", lab, kind="segmentation")
    ObjectMaps.from_arrays({"neuron": np.array([0, 1, 1, 2])}).save(d)
    argv = ["surfaces", str(d.path), "--each", "neuron", "--level", "0", "--simplify", "8"]
    assert main([*argv, "--format", "precomputed", "--block", "32,32,16"]) == 0
    folder = d.path / "meshes"
    info = json.loads((folder / "info").read_text())
    assert info["@type"] == "neuroglancer_multilod_draco"
    assert list_sharded_keys(folder, info["sharding"]).tolist() == [1, 2, 3]
    assert not list(folder.glob("*:0"))
    # neuron 1 = segments 1 and 2: their patches make one closed surface at every LOD
    lods1 = read_multires_mesh(folder, 1)
    lods2 = read_multires_mesh(folder, 2)
    assert len(lods1) >= 1
    expect = (lab == 1).sum() + (lab == 2).sum()
    for k in range(len(lods1)):
        t = _joined(lods1[k] + (lods2[k] if k < len(lods2) else []))
        assert t.is_watertight
        assert abs(t.volume) == pytest.approx(expect * 8 * 8 * 16, rel=0.05 * 2**k)
    d = cs.Dataset(d.path)  # metadata as written
    assert d.layers["meshes"]["format"] == "neuroglancer_multilod_draco"
    assert d.meshes[3].is_closed  # MeshSet reads LOD 0
    # the demo's rule (half the largest voxel edge) works for multires too
    from connectoscope.segmentation import Selection
    from connectoscope.surfaces import make_surfaces

    r = make_surfaces(
        d, Selection.parse(each="neuron"), None, level=0, simplify_nm="voxel", fmt="precomputed"
    )
    assert r.manifests == 3
    # -o with --format precomputed is refused (the folder is the dataset's)
    assert main([*argv, "--format", "precomputed", "-o", str(tmp_path / "x")]) == 2
    # legacy output stays available (and says that it replaces the multi-resolution meshes)
    capsys.readouterr()
    assert main([*argv, "-o", str(tmp_path / "ply")]) == 0
    assert "replaced by legacy meshes of this selection only" in capsys.readouterr().err
    assert json.loads((folder / "info").read_text())["@type"] == "neuroglancer_legacy_mesh"
    assert not list(folder.glob("*.shard")) and (folder / "1:0").is_file()


def test_second_reader_decodes_every_lod(tmp_path):
    """The project's generic precomputed reader (written separately) agrees with ours."""
    from connectoscope.precomputed import read_mesh

    s = trimesh.creation.icosphere(4, radius=800.0)
    v0 = s.vertices + 1000
    lods = [(v0, s.faces), simplify_mesh(v0, s.faces, 30.0)[:2]]
    kw = dict(chunk_shape=(400, 400, 400), grid_origin=(0, 0, 0), lod_scales=[8, 16])
    write_multires_meshes(tmp_path / "m", {7: encode_multires_mesh(lods, **kw)})
    ours = read_multires_mesh(tmp_path / "m", 7)
    for k in range(2):
        theirs = read_mesh(tmp_path / "m", 7, lod=k)
        mine = np.concatenate([v for _, v, _ in ours[k]])
        assert len(theirs.faces) == sum(len(f) for _, _, f in ours[k])
        np.testing.assert_allclose(
            np.sort(theirs.vertices, axis=0), np.sort(mine, axis=0), atol=1e-3
        )


def test_sharded_skeletons_are_a_handful_of_files(tmp_path):
    from connectoscope.precomputed import encode_skeleton, read_skeleton, write_skeletons_sharded

    rng = np.random.default_rng(0)
    enc, segs = {}, {}
    for oid in range(1, 2001):
        n = int(rng.integers(2, 30))
        v = rng.normal(size=(n, 3)) * 1000
        e = np.stack([np.arange(1, n), rng.integers(0, np.arange(1, n))], axis=1)
        attrs = {"radius": rng.random(n), "compartment": np.full(n, 3.0)}
        enc[oid] = encode_skeleton(v, e, attrs)
        segs[oid] = np.array([oid, 10_000 + oid, 2**40 + oid], np.uint64)
    files = write_skeletons_sharded(tmp_path / "sk", enc, segments=segs)
    on_disk = sorted(p.name for p in (tmp_path / "sk").iterdir())
    assert len(on_disk) == len(files) + 1 and len(files) <= 16  # 6000 keys, a few shards
    info = json.loads((tmp_path / "sk" / "info").read_text())
    assert info["@type"] == "neuroglancer_skeletons" and info["sharding"]["hash"]
    for oid in (1, 777, 2000):
        first, *others = segs[oid].tolist()  # the smallest id has it, the others are empty
        sk = read_skeleton(tmp_path / "sk", first)  # the generic reader
        np.testing.assert_array_equal(
            encode_skeleton(sk.vertices, sk.edges, sk.attributes), enc[oid]
        )
        for sid in others:
            assert len(read_skeleton(tmp_path / "sk", sid).vertices) == 0


def test_a_member_without_faces_gets_an_empty_manifest(tmp_path):
    """A segment of a meshed group with no faces at the meshed level still has a manifest:
    one LOD node of size 0, which Neuroglancer marks empty. Without it (or with a manifest of
    no nodes) the viewer waits for ever on that segment and a screenshot never finishes."""
    import connectoscope as cs
    from connectoscope.segmentation import ObjectMaps, Selection
    from connectoscope.surfaces import MeshSet, make_surfaces
    from connectoscope.viewer._view import _meshes_cover
    from connectoscope.volume import write_layer

    d = cs.Dataset.create(tmp_path / "e.cscope", voxel_size=(8, 8, 16))
    lab = np.zeros((16, 64, 64), np.uint32)
    lab[4:12, 10:50, 10:50] = 1
    lab[8, 30, 30] = 2  # one voxel inside neuron 1: no surface of its own at level 1
    lab[2:6, 52:60, 52:60] = 3  # an unmeshed kind
    write_layer(d, "segmentation", lab, kind="segmentation")
    ObjectMaps.from_arrays({"neuron": np.array([0, 1, 1, 0]), "glia": np.array([0, 0, 0, 3])}).save(
        d
    )
    make_surfaces(
        d, Selection.parse(each="neuron"), None, level=0, simplify_nm=8, fmt="precomputed"
    )
    folder = d.path / "meshes"
    info = json.loads((folder / "info").read_text())
    assert list_sharded_keys(folder, info["sharding"]).tolist() == [1, 2]
    lods = read_multires_mesh(folder, 2)
    assert lods is not None and all(lod == [] for lod in lods)  # empty, but present
    from connectoscope.precomputed._sharding import locate_sharded

    path, off, size = locate_sharded(folder, 2, info["sharding"])
    man = decode_multires_manifest(path.read_bytes()[off : off + size])
    assert len(man.positions[0]) == 1 and man.data_size == 0
    # the screenshot keeps the meshes when every shown segment has one, drops them otherwise
    ds = cs.Dataset(d.path)
    assert MeshSet(ds).multires
    assert _meshes_cover(ds, Selection.parse(each="neuron"))
    with pytest.warns(UserWarning, match="1 of the 1 segments shown have no mesh"):
        assert not _meshes_cover(ds, Selection.parse(each="glia"))


def test_legacy_meshes_of_one_object_do_not_hang_a_screenshot_of_all(tmp_path):
    """Seen in the rehearsal: `surfaces --where neuron=3` (legacy, the default) after
    `--format precomputed` replaced the multi-resolution meshes of every neuron; a
    screenshot of `--each neuron` then waited for the others' manifests until its timeout.
    Now the replacement is said, and the screenshot shows voxels only, with a warning."""
    import connectoscope as cs
    from connectoscope.segmentation import ObjectMaps, Selection
    from connectoscope.surfaces import MeshSet, make_surfaces
    from connectoscope.viewer._view import _meshes_cover
    from connectoscope.volume import write_layer

    d = cs.Dataset.create(tmp_path / "l.cscope", voxel_size=(8, 8, 16))
    lab = np.zeros((16, 64, 64), np.uint32)
    lab[4:12, 4:28, 4:28] = 1
    lab[4:12, 36:60, 36:60] = 2
    write_layer(d, "segmentation", lab, kind="segmentation")
    ObjectMaps.from_arrays({"neuron": np.array([0, 1, 2])}).save(d)
    make_surfaces(
        d, Selection.parse(each="neuron"), None, level=0, simplify_nm=8, fmt="precomputed"
    )
    with pytest.warns(UserWarning, match="replaced by legacy meshes of this selection only"):
        make_surfaces(d, Selection.parse(where="neuron=2"), None, level=0, simplify_nm=8)
    ds = cs.Dataset(d.path)
    assert not MeshSet(ds).multires and MeshSet(ds).ids() == [2]
    assert _meshes_cover(ds, Selection.parse(where="neuron=2"))
    with pytest.warns(UserWarning, match="1 of the 2 segments shown have no mesh"):
        assert not _meshes_cover(ds, Selection.parse(each="neuron"))
