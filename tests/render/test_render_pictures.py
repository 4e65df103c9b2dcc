import numpy as np
import pytest
from PIL import Image

import connectoscope as cs
from connectoscope.cli import main
from connectoscope.errors import InvalidParameterError
from connectoscope.render import apply_levels, id_colors, parse_color, render_plane
from connectoscope.segmentation import ObjectMaps
from connectoscope.volume import write_layer


def test_colors_and_levels():
    assert parse_color("lime") == (0.0, 1.0, 0.0)
    assert parse_color("#ff0") == (1.0, 1.0, 0.0)
    with pytest.raises(InvalidParameterError, match="did you mean"):
        parse_color("limee")
    # stable across runs: pinned values from the shared palette
    assert id_colors(np.array([1, 2, 65, 0])).tolist() == [
        [60, 15, 255],
        [180, 0, 0],
        [60, 15, 255],
        [160, 160, 160],
    ]
    b = apply_levels(
        np.array([0, 95, 107.5, 120, 234, 255], np.float32), [(95, 0), (120, 0.9), (234, 1)]
    )
    np.testing.assert_allclose(b, [0, 0, 0.45, 0.9, 1, 1], atol=1e-6)
    grey = np.full((4, 4), 200, np.uint8)
    lab = np.zeros((4, 4), np.uint32)
    lab[0, 0] = 5
    out = render_plane(grey, lab, opacity=1.0)
    assert out[1, 1].tolist() == [200, 200, 200]  # 0 stays grey
    expect = np.round(200 / 255 * id_colors(np.array([5]))[0].astype(float)).astype(int)
    assert np.abs(out[0, 0].astype(int) - expect).max() <= 1  # colour modulates the grey
    half = render_plane(grey, lab)  # default opacity 0.5: white mixed with the colour
    tint = 127.5 + 0.5 * id_colors(np.array([5]))[0].astype(float)
    assert np.abs(half[0, 0].astype(int) - np.round(200 / 255 * tint)).max() <= 1


@pytest.fixture
def ds(tmp_path):
    d = cs.Dataset.create(tmp_path / "r.cscope", voxel_size=(8, 8, 16))
    lab = np.zeros((20, 64, 64), np.uint32)
    lab[:, 5:30, 5:30] = 1
    lab[:, 35:60, 35:60] = 2
    write_layer(d, "segmentation", lab, kind="segmentation")
    rng = np.random.default_rng(0)
    write_layer(d, "image", rng.integers(100, 250, lab.shape).astype(np.uint8), kind="image")
    ObjectMaps.from_arrays({"axon": np.array([0, 1, 0]), "neuron": np.array([0, 1, 2])}).save(d)
    return d


def _frac(img, rgb, tol=40):
    return (np.abs(img[..., :3].astype(int) - np.array(rgb)).max(axis=-1) < tol).mean()


def test_plane_cli(ds, tmp_path):
    out = tmp_path / "p.png"
    assert (
        main(
            [
                "render",
                "plane",
                str(ds.path),
                "--z",
                "3",
                "--by",
                "axon:lime",
                "--plain",
                "--opacity",
                "1",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    img = np.asarray(Image.open(out))
    assert img.shape == (64, 64, 3)
    assert img[10, 10, 1] > 0 and img[10, 10, 0] == 0 and img[10, 10, 2] == 0  # lime tint
    assert img[45, 45, 0] == img[45, 45, 1] == img[45, 45, 2]  # not an axon: grey
    assert main(["render", "plane", str(ds.path), "--z", "99", "-o", str(out)]) == 2
    assert (
        main(["render", "plane", str(ds.path), "--z", "1", "--by", "dendrite:red", "-o", str(out)])
        == 2
    )


def test_surface_picture_and_movie(ds, tmp_path):
    out = tmp_path / "s.png"
    assert (
        main(
            [
                "render",
                "surfaces",
                str(ds.path),
                "--where",
                "neuron=1",
                "--color",
                "yellow",
                "--by",
                "axon:red",
                "--level",
                "0",
                "--size",
                "320,240",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    img = np.asarray(Image.open(out))
    assert img.std() > 5  # not blank
    assert _frac(img, (255, 0, 0), tol=120) > 0.01  # the selected object's colour is present
    mv = tmp_path / "t.gif"
    assert (
        main(
            [
                "movie",
                str(ds.path),
                "--turn",
                "90",
                "--each",
                "neuron",
                "--frames",
                "4",
                "--level",
                "0",
                "-o",
                str(mv),
            ]
        )
        == 0
    )
    assert mv.stat().st_size > 1000
    mp4 = tmp_path / "s.mp4"
    assert main(["movie", str(ds.path), "--slice", "z", "--frames", "5", "-o", str(mp4)]) == 0
    assert mp4.stat().st_size > 500
