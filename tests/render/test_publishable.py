"""Properties a published picture needs: true aspect in nm, a scale bar of the right length,
a legend with the colours used, distinct colours for neighbouring objects, EM contrast,
movies of a useful size and length."""

import numpy as np
import pytest
from PIL import Image

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.colors import (
    PALETTE,
    color_difference,
    group_colors,
    id_colors,
    neighbour_colors,
)
from connectoscope.render import Picture, nice_scale_bar, plane_picture, render_plane
from connectoscope.segmentation import ObjectMaps
from connectoscope.volume import write_layer

VS = (8.0, 8.0, 20.0)  # anisotropic like 11.24 x 11.24 x 28


# ---------------------------------------------------------------- palette
def test_palette_is_perceptually_distinct():
    d = color_difference(PALETTE[:, None], PALETTE[None])
    for n, floor in ((4, 30), (12, 25), (32, 14), (64, 10)):
        sub = d[:n, :n] + np.eye(n) * 1e3
        assert sub.min() > floor, (n, sub.min())
    # every colour stands out from a white background and from mid-grey EM
    for bg in ((255, 255, 255), (160, 160, 160), (128, 128, 128)):
        assert color_difference(PALETTE, np.array(bg)).min() > 15


def test_four_demo_neurons_get_four_distinct_colours():
    # the issue: hashes gave two near-identical greens and two near-identical blues
    c = group_colors([1, 2, 3, 4])
    d = color_difference(c[:, None], c[None]) + np.eye(4) * 1e3
    assert d.min() > 30


def test_group_colours_distinct_for_large_ids():
    rng = np.random.default_rng(1)
    ids = rng.integers(2**59, 2**60, 64, dtype=np.uint64)
    c = group_colors(ids)
    assert len({tuple(x) for x in c.tolist()}) == 64
    # stable: the same set in another order gives each id the same colour
    perm = rng.permutation(64)
    np.testing.assert_array_equal(group_colors(ids[perm]), c[perm])
    # small ids keep their id colour (pictures and viewer agree on "neuron 3")
    np.testing.assert_array_equal(group_colors([3, 7]), id_colors(np.array([3, 7])))


def test_touching_segments_never_share_a_colour():
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(0)
    seeds = rng.uniform(0, 256, (400, 2))
    yy, xx = np.mgrid[0:256, 0:256]
    _, lab = cKDTree(seeds).query(np.stack([yy.ravel(), xx.ravel()], 1))
    lab = (lab.reshape(256, 256) + 1) * 7919  # large, scattered ids
    rgb = render_plane(np.full(lab.shape, 200, np.uint8), lab, opacity=1.0)
    for a, b, ra, rb in (
        (lab[:, :-1], lab[:, 1:], rgb[:, :-1], rgb[:, 1:]),
        (lab[:-1], lab[1:], rgb[:-1], rgb[1:]),
    ):
        edge = a != b
        assert edge.any()
        assert (ra[edge] != rb[edge]).any(axis=-1).all()  # every touching pair differs
    ids = np.unique(lab)
    cols = neighbour_colors(ids, np.zeros((0, 2), int))
    np.testing.assert_array_equal(cols, PALETTE[(ids - 1) % 32])  # alone: own colour


# ---------------------------------------------------------------- planes
@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    root = tmp_path_factory.mktemp("pub")
    d = cs.Dataset.create(root / "pub.cscope", voxel_size=VS)
    nz, ny, nx = 40, 96, 128
    lab = np.zeros((nz, ny, nx), np.uint32)
    zz, yy, xx = np.mgrid[0:nz, 0:ny, 0:nx]
    # a ball of radius 320 nm (40 voxels in x/y, 16 in z): round in nm, not in voxels
    r2 = ((xx - 40) * VS[0]) ** 2 + ((yy - 48) * VS[1]) ** 2 + ((zz - 20) * VS[2]) ** 2
    lab[r2 <= 320.0**2] = 1
    lab[:, 10:30, 90:120] = 2  # a box touching nothing
    lab[:, 30:60, 90:120] = 3  # touching 2
    rng = np.random.default_rng(0)
    em = rng.normal(150, 20, lab.shape).clip(0, 255).astype(np.uint8)
    em[lab > 0] = (em[lab > 0] * 0.8).astype(np.uint8)
    write_layer(d, "segmentation", lab, kind="segmentation")
    write_layer(d, "image", em, kind="image")
    ObjectMaps.from_arrays({"neuron": np.array([0, 1, 2, 2]), "axon": np.array([0, 0, 1, 0])}).save(
        d
    )
    return d


def _ball_extent(rgb, axis_len):
    """Rows and columns (pixels) covered by coloured (non-grey) pixels in the left part."""
    sat = rgb.max(axis=-1).astype(int) - rgb.min(axis=-1).astype(int)
    m = sat[:, :axis_len] > 20
    rows = np.flatnonzero(m.any(axis=1))
    cols = np.flatnonzero(m.any(axis=0))
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


@pytest.mark.parametrize("axis", ["y", "x"])
def test_side_planes_are_true_aspect(ds, axis):
    pic = plane_picture(ds, axis, 48 if axis == "y" else 40, opacity=1.0)
    nz = 40
    # rows are z: 40 voxels x 20 nm = 800 nm = 100 pixels of 8 nm
    assert pic.rgb.shape[0] == round(nz * VS[2] / VS[0]) == 100
    assert pic.pixel_nm == pytest.approx(8.0)
    # the ball (640 nm across in every direction) is as tall as it is wide, in pixels
    h, w = _ball_extent(pic.rgb, 80 if axis == "y" else 90)
    assert h * pic.pixel_nm == pytest.approx(640, abs=2 * VS[2])
    assert w * pic.pixel_nm == pytest.approx(640, abs=2 * VS[0])
    assert h / w == pytest.approx(1.0, abs=0.08)


def test_voxel_aspect_would_squash(ds):
    raw = plane_picture(ds, "y", 48, true_aspect=False, opacity=1.0)
    h, w = _ball_extent(raw.rgb, 80)
    assert h / w < 0.5  # what the old pictures showed: squashed 2.5x


def test_cli_plane_has_scale_bar_and_legend(ds, tmp_path):
    out = tmp_path / "side.png"
    argv = ["render", "plane", str(ds.path), "--y", "48", "--by", "axon:lime"]
    assert main([*argv, "--by", "neuron:magenta", "-o", str(out)]) == 0
    img = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert img.shape[1] == 128 and img.shape[0] > 100  # the image plus a band
    band = img[100:]
    # legend swatches: lime and magenta as the 0.5 overlay shows them, squares in the band
    for rgb in ((128, 255, 128), (255, 128, 255)):
        assert (np.abs(band - np.array(rgb)).max(axis=-1) == 0).sum() >= 25
    # scale bar: a black run of exactly length_nm / pixel_nm pixels
    pic = plane_picture(ds, "y", 48)
    length_nm, label, px = pic.scale_bar
    assert (length_nm, label) == (200.0, "200 nm") and px == 25
    black = (band.max(axis=-1) < 30).astype(int)
    runs = [_longest_run(r) for r in black]
    assert max(runs) == px


def _longest_run(row):
    best = cur = 0
    for v in row:
        cur = cur + 1 if v else 0
        best = max(best, cur)
    return best


def test_auto_levels_give_contrast(ds):
    pic = plane_picture(ds, "z", 20, segments=False)
    g = pic.rgb[..., 0]
    lo, hi = np.percentile(g, [1, 99])
    assert lo < 25 and hi > 230  # stretched: not washed out
    raw = plane_picture(ds, "z", 20, segments=False, levels=None)
    lo2, hi2 = np.percentile(raw.rgb[..., 0], [1, 99])
    assert hi2 - lo2 < 0.6 * (hi - lo)


def test_opacity_tints_and_keeps_texture(ds):
    full = plane_picture(ds, "z", 20, by=[("axon", "red")], opacity=1.0, levels=None).rgb
    half = plane_picture(ds, "z", 20, by=[("axon", "red")], opacity=0.5, levels=None).rgb
    box = (slice(12, 28), slice(92, 118))
    assert full[box][..., 1].max() == 0  # b * red: green channel gone
    g = half[box][..., 1].astype(float)
    assert g.mean() > 40 and g.std() > 5  # EM texture visible through the tint
    assert (half[box][..., 0] >= half[box][..., 1]).all()  # still reads red


def test_legend_band_and_nice_bars():
    assert nice_scale_bar(5120.0) == (1000.0, "1 µm")
    assert nice_scale_bar(100.0) == (20.0, "20 nm")
    pic = Picture(np.zeros((50, 400, 3), np.uint8), 10.0, [("axon", (0, 255, 0))], "cap")
    a = pic.annotated()
    assert a.shape[0] > 50 and a.shape[1] == 400
    assert pic.scale_bar == (500.0, "500 nm", 50)
    assert np.array_equal(pic.annotated(scale_bar=False, legend=False)[:50], pic.rgb)


# ---------------------------------------------------------------- 3-D and movies
def test_surface_picture_scale_and_legend(ds, tmp_path):
    from connectoscope.render import surface_picture
    from connectoscope.segmentation import Selection
    from connectoscope.surfaces import mesh_selection

    meshes = list(mesh_selection(ds, Selection.parse(["neuron=1"]), level=0, workers=1).values())
    pic = surface_picture(meshes, size=(480, 360), label="neuron")
    assert pic.legend == [("neuron 1", tuple(int(v) for v in id_colors(np.array([1]))[0]))]
    # orthographic: the ball (640 nm across) measures 640 nm in pixels from any direction
    m = pic.rgb.min(axis=-1) < 235
    rows = np.flatnonzero(m.any(axis=1))
    cols = np.flatnonzero(m.any(axis=0))
    for n in (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1):
        assert n * pic.pixel_nm == pytest.approx(640, rel=0.1)
    out = tmp_path / "ball.png"
    argv = ["render", "surfaces", str(ds.path), "--each", "neuron", "--level", "0"]
    assert main([*argv, "--size", "480,360", "-o", str(out)]) == 0
    img = np.asarray(Image.open(out).convert("RGB")).astype(int)
    band = img[360:]
    for c in id_colors(np.array([1, 2])):  # one swatch per neuron, palette colours
        assert (np.abs(band - c).max(axis=-1) == 0).sum() >= 25


def test_movies_are_big_enough_and_timed(ds, tmp_path):
    gif = tmp_path / "turn.gif"
    argv = ["movie", str(ds.path), "--turn", "360", "--each", "neuron", "--level", "0"]
    assert main([*argv, "--frames", "6", "--fps", "12", "-o", str(gif)]) == 0
    im = Image.open(gif)
    assert im.n_frames == 6 and im.size[0] >= 1280 and im.size[1] >= 720
    # a real frame rate (was 0 ms); GIF stores centiseconds
    assert im.info["duration"] == pytest.approx(1000 / 12, abs=10)
    for i in range(im.n_frames):  # nothing leaves the picture at any angle
        im.seek(i)
        f = np.asarray(im.convert("RGB"))[:720].astype(int)
        edge = np.concatenate([f[0], f[-1], f[:, 0], f[:, -1]])
        assert (edge.min(axis=-1) < 235).sum() == 0, i
    mp4 = tmp_path / "slice.mp4"
    assert main(["movie", str(ds.path), "--slice", "y", "-o", str(mp4)]) == 0
    import imageio.v2 as iio

    r = iio.get_reader(mp4)
    meta = r.get_meta_data()
    frames = [f for f in r]
    assert len(frames) == 96  # every plane by default
    assert max(meta["size"]) >= 720 and meta["codec"] == "h264"
    assert meta["fps"] == 15
    f = frames[48].astype(int)
    # true aspect after upsampling: 128 x 100 pixels of 8 nm -> width 720, height ~562 + band
    assert f.shape[1] == 720 and f.shape[0] > 562
