"""Each seed ChimeraX command's connectoscope equivalent (docs/seed_commands.md) runs here."""

import numpy as np
import pytest
from PIL import Image

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.segmentation import ObjectMaps
from connectoscope.volume import write_layer

# segment ids: 1, 2 neuron 1 body; 3 neuron 1 spine head; 4 neuron 2; 5 axon; 6 dendrite
NEURON = [0, 1, 1, 1, 2, 0, 0]
SPINE = [0, 0, 0, 1, 0, 0, 0]
AXON = [0, 0, 0, 0, 0, 1, 0]
DENDRITE = [0, 0, 0, 0, 0, 0, 1]


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    root = tmp_path_factory.mktemp("seed")
    d = cs.Dataset.create(root / "seed.cscope", voxel_size=(8, 8, 16))
    lab = np.zeros((24, 96, 96), np.uint32)
    lab[4:20, 10:40, 10:30] = 1
    lab[4:20, 10:40, 30:45] = 2
    lab[8:16, 40:50, 20:30] = 3  # spine head on segment 1
    lab[4:20, 55:85, 55:85] = 4
    lab[:, 60:66, 5:40] = 5
    lab[:, 5:12, 60:90] = 6
    em = np.full(lab.shape, 100, np.uint8)
    em[lab > 0] = 200
    write_layer(d, "segmentation", lab, kind="segmentation")
    write_layer(d, "image", em, kind="image")
    maps = ObjectMaps.from_arrays(
        {
            "neuron": np.array(NEURON),
            "spinehead": np.array(SPINE),
            "axon": np.array(AXON),
            "dendrite": np.array(DENDRITE),
        }
    )
    maps.save(d)
    return d


def _png(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def _has(img, rgb, tol=60, frac=0.002):
    return (np.abs(img - np.array(rgb)).max(axis=-1) < tol).mean() > frac


def test_open_cmap_attributes_and_counts(ds, tmp_path, capsys):
    # open seg_step884.cmap: the .cmap's /attributes/<kind> arrays become object maps
    cmap = tmp_path / "seg.cmap"
    assert main(["export", "chimerax", str(ds.path), str(cmap), "--layer", "segmentation"]) == 0
    other = cs.Dataset.create(tmp_path / "o.cscope", voxel_size=(8, 8, 16))
    assert main(["objects", "import", str(other.path), str(cmap)]) == 0
    got = cs.Dataset(other.path).objects
    assert got.counts() == {"axon": 1, "dendrite": 1, "neuron": 2, "spinehead": 1}
    np.testing.assert_array_equal(got.array("neuron", length=7), NEURON)
    # (counts of each object type)
    capsys.readouterr()
    assert main(["objects", "stats", str(ds.path), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "segments: 6" in out
    assert "neuron               2         4" in out


def test_seg_surf_each_neuron(ds, tmp_path):
    out = tmp_path / "meshes"
    assert main(["surfaces", str(ds.path), "--each", "neuron", "--level", "0", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["neuron_1.ply", "neuron_2.ply"]
    png = tmp_path / "each.png"
    argv = ["render", "surfaces", str(ds.path), "--each", "neuron", "--level", "0"]
    assert main([*argv, "--size", "320,240", "-o", str(png)]) == 0
    img = _png(png)
    from connectoscope.render import id_colors

    for c in id_colors(np.array([1, 2])):  # one colour each (lit: loose tolerance)
        hue = c / max(1, c.max())
        lit = img / np.maximum(1, img.max(axis=-1, keepdims=True))
        assert (np.abs(lit - hue).max(axis=-1) < 0.15).mean() > 0.005


def test_seg_surf_where_color_and_by_spinehead(ds, tmp_path):
    base = ["render", "surfaces", str(ds.path), "--where", "neuron=1", "--level", "0"]
    yellow = tmp_path / "yellow.png"
    assert main([*base, "--color", "yellow", "--size", "320,240", "-o", str(yellow)]) == 0
    img = _png(yellow)
    assert _has(img, (255, 255, 0), tol=110) and not _has(img, (255, 0, 0), tol=60)
    spines = tmp_path / "spines.png"
    argv = [*base, "--color", "yellow", "--by", "spinehead:red", "--size", "320,240"]
    assert main([*argv, "-o", str(spines)]) == 0
    img = _png(spines)
    assert _has(img, (255, 255, 0), tol=110) and _has(img, (255, 0, 0), tol=110)


def test_seg_color_map_by_kinds_with_levels(ds, tmp_path):
    png = tmp_path / "plane.png"
    argv = ["render", "plane", str(ds.path), "--z", "12", "--by", "dendrite:red"]
    argv += ["--by", "axon:lime", "--by", "spinehead:blue", "--levels", "95,0", "120,0.9"]
    # --opacity 1: ChimeraX's own brightness x colour; --plain: one pixel per voxel, no band
    assert main([*argv, "234,1", "--opacity", "1", "--plain", "-o", str(png)]) == 0
    img = _png(png)
    b200 = round(0.9 + (200 - 120) / (234 - 120) * 0.1, 6)  # brightness of EM value 200
    b100 = round((100 - 95) / (120 - 95) * 0.9, 6)  # of EM value 100
    assert img[8, 75].tolist() == [round(b200 * 255), 0, 0]  # dendrite: red
    assert img[62, 20].tolist() == [0, round(b200 * 255), 0]  # axon: lime
    assert img[45, 25].tolist() == [0, 0, round(b200 * 255)]  # spine head: blue
    g = round(b100 * 255)
    assert img[90, 2].tolist() == [g, g, g]  # unsegmented: grey through the curve
    g = round(b200 * 255)
    assert img[70, 70].tolist() == [g, g, g]  # neuron 2: no kind coloured, grey


def test_movies(ds, tmp_path):
    turn = tmp_path / "turn.gif"
    argv = ["movie", str(ds.path), "--turn", "360", "--where", "neuron=1", "--color", "yellow"]
    argv += ["--simplify", "8", "--smooth", "2"]
    assert main([*argv, "--by", "spinehead:red", "--frames", "4", "-o", str(turn)]) == 0
    gif = Image.open(turn)
    assert gif.n_frames == 4
    seen = []
    for i in range(4):
        gif.seek(i)
        seen.append(np.asarray(gif.convert("RGB")).astype(int))
    assert all(np.abs(seen[0] - f).mean() > 2 for f in seen[1:])  # the camera turns
    sl = tmp_path / "slice.mp4"
    argv = ["movie", str(ds.path), "--slice", "z", "--by-kind", "axon:lime", "--plain"]
    argv += ["--opacity", "1", "--min-size", "0", "--levels", "95,0", "120,0.9", "234,1"]
    assert main([*argv, "--frames", "6", "-o", str(sl)]) == 0
    import imageio.v2 as iio

    frames = iio.mimread(sl)
    assert len(frames) == 6
    f = np.asarray(frames[3]).astype(int)
    assert f[62, 20, 1] > 150 and f[62, 20, 0] < 60  # the axon is lime in the slice movie


def test_movie_bad_input(ds, tmp_path, capsys):
    out = tmp_path / "m.avi"
    assert main(["movie", str(ds.path), "--slice", "z", "-o", str(out)]) == 2
    assert "movies are written as .mp4, .gif" in capsys.readouterr().err and not out.exists()
    assert main(["movie", str(ds.path), "--slice", "z", "--turn", "9", "-o", "m.gif"]) == 2
    assert "give one of --slice x|y|z or --turn DEGREES" in capsys.readouterr().err
