"""Coordinate frames: FrameTransform as data, the built-in minnie65 standard transform."""

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.transform import Rotation

from connectoscope.errors import InvalidParameterError
from connectoscope.morphology import Skeleton
from connectoscope.transform import (
    MINNIE65_PIA_POINT_NM,
    FrameTransform,
    minnie65_transform,
    rotation_about,
)

# three MICrONS voxel positions (4 x 4 x 40 nm) and their oriented positions in µm, as given
# by CAVEconnectome/standard_transform 2.x minnie_transform("vx").apply(...) (reference values)
VOXELS = np.array([[59769, 60738, 9145], [111838, 68905, 10214], [141854, 104048, 8827]], float)
REFERENCE_UM = np.array(
    [
        [216.99158163, -133.80669157, 365.8],
        [421.62782476, -83.11055369, 408.56],
        [528.98328793, 67.3907945, 353.08],
    ]
)


def test_minnie65_matches_reference_and_definition():
    t = minnie65_transform()
    assert (t.name, t.version, t.unit) == ("minnie65", "1.4", "µm")
    assert t.voxel_size_nm == (4.0, 4.0, 40.0)
    np.testing.assert_allclose(t.apply(VOXELS, units="voxel"), REFERENCE_UM, atol=1e-7)
    # second oracle: the definition written out with scipy (rotate 5 deg about z, pia at y=0, µm)
    rot = Rotation.from_euler("z", 5, degrees=True)
    nm = VOXELS * [4, 4, 40]
    pia_y = rot.apply(np.asarray(MINNIE65_PIA_POINT_NM))[1]
    expect = (rot.apply(nm) - [0, pia_y, 0]) / 1000
    np.testing.assert_allclose(t.apply(nm), expect, rtol=1e-12, atol=1e-9)
    # the pia reference point lands at depth 0
    assert t.apply_project("y", np.asarray(MINNIE65_PIA_POINT_NM)) == pytest.approx(0, abs=1e-9)
    np.testing.assert_allclose(t.invert(t.apply(nm)), nm, rtol=1e-12)
    np.testing.assert_allclose(
        t.invert(t.apply(VOXELS, units="voxel"), units="voxel"), VOXELS, rtol=1e-12
    )
    with pytest.raises(InvalidParameterError, match="version must be '1.4'"):
        minnie65_transform(version="9")


def test_frame_transform_value_object():
    t = minnie65_transform()
    d = t.to_dict()
    assert FrameTransform.from_dict(d) == t
    import json

    assert FrameTransform.from_dict(json.loads(json.dumps(d))) == t
    with pytest.raises(AttributeError):
        t.unit = "nm"  # frozen
    np.testing.assert_allclose(
        np.asarray(rotation_about("z", 5)), Rotation.from_euler("z", 5, degrees=True).as_matrix()
    )
    with pytest.raises(InvalidParameterError, match="proper rotation"):
        FrameTransform(rotation=((1, 0, 0), (0, 1, 0), (0, 0, -1)))
    with pytest.raises(InvalidParameterError, match="not a frame transform dict"):
        FrameTransform.from_dict({"rotation": 3})
    with pytest.raises(InvalidParameterError, match=r"shape \(\.\.\., 3\)"):
        t.apply(np.zeros((4, 2)))
    steps = FrameTransform.from_steps(
        [("translate", (1, 2, 3)), ("scale", 2), ("translate", (10, 0, 0))]
    )
    np.testing.assert_allclose(steps.apply([[0, 0, 0]]), [[12, 4, 6]])


def test_apply_to_tables_skeletons_meshes():
    t = minnie65_transform()
    split = pd.DataFrame({f"pt_position_{a}": VOXELS[:, k] for k, a in enumerate("xyz")})
    vec = pd.DataFrame({"pt_position": list(VOXELS)})
    a = t.apply_table(split, "pt_position")
    b = t.apply_table(vec, "pt_position")
    for k, ax in enumerate("xyz"):
        np.testing.assert_allclose(a[f"pt_position_tf_{ax}"], REFERENCE_UM[:, k], atol=1e-7)
        np.testing.assert_allclose(b[f"pt_position_tf_{ax}"], REFERENCE_UM[:, k], atol=1e-7)
    with pytest.raises(InvalidParameterError, match="no position columns"):
        t.apply_table(split, "ctr_pt_position")
    sk = Skeleton.from_parents(np.arange(3), np.array([-1, 0, 1]), VOXELS * [4, 4, 40])
    tsk = t.apply_skeleton(sk)
    np.testing.assert_allclose(tsk.vertices, REFERENCE_UM, atol=1e-7)
    assert tsk.meta["unit"] == "µm" and tsk.meta["frame"]["name"] == "minnie65"
    # rigid rotation + uniform scale: cable length scales by 1/1000 exactly
    assert tsk.cable_length == pytest.approx(sk.cable_length / 1000, rel=1e-12)
    from connectoscope.surfaces import Mesh

    m = Mesh(1, (VOXELS * [4, 4, 40]).astype(np.float64), np.array([[0, 1, 2]], np.uint32))
    tm = t.apply_mesh(m)
    assert isinstance(tm, Mesh) and tm.faces is m.faces
    np.testing.assert_allclose(tm.vertices, REFERENCE_UM, atol=1e-7)
    v, _faces = t.apply_mesh((VOXELS * [4, 4, 40], np.array([[0, 1, 2]])))
    np.testing.assert_allclose(v, REFERENCE_UM, atol=1e-7)
    with pytest.raises(InvalidParameterError, match="have .vertices"):
        t.apply_mesh(object())
