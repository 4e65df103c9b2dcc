import numpy as np
import pandas as pd
import pytest

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.segmentation import ObjectMaps, Selection
from connectoscope.surfaces import make_surfaces, mesh_labels
from connectoscope.testing import load_pinky40
from connectoscope.volume import write_layer


def test_pinky40_label_closed_with_reference_volume():
    vol = load_pinky40("mip2")
    zz, yy, xx = np.nonzero(vol == 16649205)
    assert zz.size == 560_410
    crop = vol[zz.min() : zz.max() + 1, yy.min() : yy.max() + 1, xx.min() : xx.max() + 1]
    crop = np.where(crop == 16649205, crop, 0)
    # block-wise in two worker processes: 4 x 2 x 2 blocks of 128 voxels, seams stitched
    meshes = mesh_labels(crop, (16, 16, 40), block_xyz=(128, 128, 128), workers=2)
    m = meshes[16649205]
    assert m.is_closed
    assert len(np.unique(m.vertices, axis=0)) == len(m.vertices)  # no duplicate seam vertices
    expected = 560_410 * 16 * 16 * 40
    assert abs(m.volume_nm3 - expected) / expected < 0.03
    # simplified (40 nm) across the same seams: still one closed surface, volume kept
    s = mesh_labels(crop, (16, 16, 40), block_xyz=(128, 128, 128), workers=2, simplify_nm=40)
    s = s[16649205]
    assert s.is_closed and len(np.unique(s.vertices, axis=0)) == len(s.vertices)
    assert len(s.faces) < len(m.faces) / 4
    assert abs(s.volume_nm3 - expected) / expected < 0.03


@pytest.fixture
def ds(tmp_path):
    d = cs.Dataset.create(tmp_path / "s.cscope", voxel_size=(8, 8, 16))
    lab = np.zeros((40, 96, 96), np.uint32)
    lab[5:35, 10:50, 10:50] = 1  # neuron 1 body (segment 1)
    lab[15:25, 50:60, 20:30] = 2  # spine head of neuron 1 (segment 2)
    lab[5:35, 60:90, 60:90] = 3  # neuron 2
    write_layer(d, "segmentation", lab, kind="segmentation")
    write_layer(d, "image", np.full(lab.shape, 140, np.uint8), kind="image")
    ObjectMaps.from_arrays(
        {"neuron": np.array([0, 1, 1, 2]), "spinehead": np.array([0, 0, 7, 0])}
    ).save(d)
    return d


def test_make_surfaces_groups_files_and_precomputed(ds, tmp_path):
    r = make_surfaces(ds, Selection.parse(each="neuron"), tmp_path / "out", level=0)
    assert sorted(r["meshes"]) == [1, 2]
    assert all(m.is_closed for m in r["meshes"].values())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["neuron_1.ply", "neuron_2.ply"]
    # vertices are nm: neuron 2 spans x 60..90 voxels * 8 nm
    v = r["meshes"][2].vertices
    assert 60 * 8 - 8 <= v[:, 0].min() and v[:, 0].max() <= 90 * 8 + 8
    mesh_dir = ds.path / "meshes"
    import json

    assert json.loads((mesh_dir / "info").read_text())["@type"] == "neuroglancer_legacy_mesh"
    # each segment of neuron 1 lists its own patch of the neuron's one closed surface:
    # together the patches are the whole surface, each face exactly once
    from connectoscope.precomputed import read_legacy_mesh

    parts = [read_legacy_mesh(mesh_dir, s) for s in (1, 2)]
    assert all(len(f) for _, f in parts)
    whole = r["meshes"][1]
    assert sum(len(f) for _, f in parts) == len(whole.faces)
    tri = lambda v, f: {tuple(sorted(map(tuple, np.round(v[t], 3).tolist()))) for t in f}  # noqa: E731
    got = set().union(*(tri(v, f) for v, f in parts))
    assert got == tri(whole.vertices, whole.faces)
    # the spine head (segment 2) patch sits where segment 2 is: y 50..60 voxels * 8 nm
    v2 = parts[1][0]
    assert v2[:, 1].min() >= 49 * 8 and v2[:, 1].max() <= 61 * 8
    # neuron 2 is one segment: one fragment file, uint32 count + xyz float32 + uint32 faces
    frag = json.loads((mesh_dir / "3:0").read_text())["fragments"]
    raw = (mesh_dir / frag[0]).read_bytes()
    n = int(np.frombuffer(raw[:4], "<u4")[0])
    assert len(raw) == 4 + 12 * n + 12 * len(r["meshes"][2].faces)
    props = json.loads((mesh_dir / "segment_properties" / "info").read_text())
    assert props["inline"]["ids"] == ["1", "2", "3"]
    neuron = next(p for p in props["inline"]["properties"] if p["id"] == "neuron")
    assert neuron["values"] == [1, 1, 2]


def test_colour_by_kind(ds):
    from connectoscope.surfaces import mesh_selection

    m = mesh_selection(
        ds, Selection.parse(["neuron=1"], by="spinehead:red", color="yellow"), level=0
    )[1]
    cols = {tuple(c) for c in m.colors[:, :3].tolist()}
    assert (255, 255, 0) in cols and (255, 0, 0) in cols


def test_cli_errors(ds, tmp_path, capsys):
    assert main(["surfaces", str(ds.path), "--where", "axon", "-o", str(tmp_path / "x")]) == 2
    assert "kinds present: neuron, spinehead" in capsys.readouterr().err
    assert main(["surfaces", str(ds.path), "--where", "neuron=9", "-o", str(tmp_path / "x")]) == 2
    assert "matches no segment; nothing written" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["surfaces", str(ds.path), "-o", str(tmp_path / "x")]) == 2
    assert "--each neuron" in capsys.readouterr().err
    assert (
        main(
            [
                "surfaces",
                str(ds.path),
                "--each",
                "neuron",
                "--color",
                "yelow",
                "--by",
                "spinehead",
                "-o",
                str(tmp_path / "y"),
            ]
        )
        == 2
    )
    assert "did you mean yellow" in capsys.readouterr().err


def test_pinky40_through_the_dataset(tmp_path):
    """The whole path on real data: store, object table, blocks read in worker processes."""
    vol = load_pinky40("mip2")
    d = cs.Dataset.create(tmp_path / "p.cscope", voxel_size=(16, 16, 40))
    write_layer(d, "segmentation", vol, kind="segmentation", pyramid=False)
    del vol
    cs.object_stats(d, workers=2)
    out = tmp_path / "m"
    argv = [
        "surfaces",
        str(d.path),
        "--where",
        "16649205",
        "--level",
        "0",
        "--block",
        "128,128,128",
    ]
    assert main([*argv, "--workers", "2", "-o", str(out)]) == 0
    r = make_surfaces(
        d, Selection.parse(["16649205"]), None, level=0, block_xyz=(128, 128, 128), workers=2
    )
    # the stored box (x 34-511, y 0-255, z 285-511) limits the region meshed
    assert (r.region.start, r.region.stop) == ((34, 0, 285), (512, 256, 512))
    m = r.meshes[16649205]
    assert m.is_closed and len(np.unique(m.vertices, axis=0)) == len(m.vertices)
    expected = 560_410 * 16 * 16 * 40
    assert abs(m.volume_nm3 - expected) / expected < 0.03
    assert [p.name for p in out.iterdir()] == ["segment_16649205.ply"]


def test_by_kind_without_colour_uses_one_colour_per_value(ds):
    from connectoscope.render import id_colors
    from connectoscope.surfaces import mesh_selection

    m = mesh_selection(ds, Selection.parse(["neuron=1"], by="spinehead"), level=0)[1]
    cols = {tuple(c) for c in m.colors[:, :3].tolist()}
    assert cols == {(178, 178, 178), tuple(id_colors(np.array([7]))[0].tolist())}  # grey + 7


def test_64bit_object_ids_warn_and_still_write(tmp_path):
    from connectoscope.errors import ConnectoscopeWarning

    d = cs.Dataset.create(tmp_path / "w.cscope", voxel_size=(8, 8, 8))
    lab = np.zeros((16, 16, 16), np.uint64)
    lab[4:12, 4:12, 4:12] = 2**40 + 1
    write_layer(d, "segmentation", lab, kind="segmentation")
    table = pd.DataFrame({"segment_id": [2**40 + 1], "kind": ["cell"], "object_id": [2**60]})
    ObjectMaps.from_table(table).save(d)
    with pytest.warns(ConnectoscopeWarning, match="beyond the 32-bit Neuroglancer number"):
        r = make_surfaces(d, Selection.parse(each="cell"), tmp_path / "o", level=0)
    assert list(r.meshes) == [2**60] and r.meshes[2**60].is_closed
    assert [p.name for p in (tmp_path / "o").iterdir()] == [f"cell_{2**60}.ply"]
    import json

    props = json.loads((d.path / "meshes" / "segment_properties" / "info").read_text())
    assert props["inline"]["ids"] == [str(2**40 + 1)]  # exact, no float rounding
    assert [p["id"] for p in props["inline"]["properties"]] == ["label", "tags"]
    assert (d.path / "meshes" / f"{2**40 + 1}:0").exists()


@pytest.mark.parametrize("fmt", ["ply", "obj", "glb"])
def test_mesh_files_round_trip(ds, tmp_path, fmt):
    from connectoscope.errors import InvalidParameterError, SourceNotFoundError
    from connectoscope.surfaces import load_mesh

    argv = ["surfaces", str(ds.path), "--each", "neuron", "--format", fmt, "--level", "0"]
    assert main([*argv, "-o", str(tmp_path / fmt)]) == 0
    r = make_surfaces(ds, Selection.parse(each="neuron"), None, level=0, precomputed=False)
    back = load_mesh(tmp_path / fmt / f"neuron_1.{fmt}")
    assert back.is_closed
    assert back.volume_nm3 == pytest.approx(r.meshes[1].volume_nm3, rel=1e-5)
    with pytest.raises(SourceNotFoundError, match="no such mesh file"):
        load_mesh(tmp_path / f"missing.{fmt}")
    with pytest.raises(InvalidParameterError, match="use one of .ply, .obj, .glb"):
        r.meshes[1].save(tmp_path / "x.stl")


def test_segment_properties_cap_keeps_meshed_segments(ds, tmp_path):
    import json

    from connectoscope.errors import ConnectoscopeWarning
    from connectoscope.precomputed import write_segment_properties

    with pytest.warns(ConnectoscopeWarning, match="3 segments belong to object kinds"):
        ids, numbers = ds.objects.segment_properties(meshed_ids=[3], max_ids=2)
    info = write_segment_properties(tmp_path, ids, numbers)
    props = json.loads(info.read_text())["inline"]
    assert props["ids"] == ["3"]
    assert next(p for p in props["properties"] if p["id"] == "neuron")["values"] == [2]
