import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectoscope import Bbox, VoxelSize
from connectoscope.errors import InvalidParameterError
from connectoscope.geometry import LevelFrame, parse_xyz


def test_parse_xyz_forms():
    assert parse_xyz("16,16,40") == (16.0, 16.0, 40.0)
    assert parse_xyz("11.24x11.24x28") == (11.24, 11.24, 28.0)
    assert parse_xyz("4") == (4.0, 4.0, 4.0)
    assert parse_xyz((1, 2, 3), integer=True) == (1, 2, 3)


@pytest.mark.parametrize("bad", ["1,2", "a,b,c", "1,2,3,4", "nan,1,1"])
def test_parse_xyz_errors_name_the_option(bad):
    with pytest.raises(InvalidParameterError, match="--voxel-size"):
        parse_xyz(bad, name="--voxel-size")


def test_parse_xyz_positive_and_integer():
    with pytest.raises(InvalidParameterError, match="> 0"):
        parse_xyz("1,0,1", name="v", positive=True)
    with pytest.raises(InvalidParameterError, match="whole numbers"):
        parse_xyz("1.5,1,1", name="v", integer=True)


def test_voxel_size_roundtrip_and_errors():
    vs = VoxelSize.parse("11.24,11.24,28")
    assert VoxelSize.from_dict(vs.to_dict()) == vs
    assert vs.zyx == (28.0, 11.24, 11.24)
    assert vs.scaled((2, 2, 1)).xyz == (22.48, 22.48, 28.0)
    with pytest.raises(InvalidParameterError):
        VoxelSize(1, -1, 1)
    # builtin subclass: callers may catch ValueError
    with pytest.raises(ValueError):
        VoxelSize.parse("0,1,1")


def test_bbox_basics():
    b = Bbox((1, 2, 3), (11, 22, 33))
    assert b.size == (10, 20, 30)
    assert b.shape_zyx == (30, 20, 10)
    assert b.volume == 6000
    arr = np.zeros((40, 30, 20))
    assert arr[b.slices_zyx].shape == b.shape_zyx
    assert Bbox.parse("1,2,3:11,22,33") == b
    assert Bbox.from_dict(b.to_dict()) == b
    with pytest.raises(InvalidParameterError):
        Bbox((5, 0, 0), (4, 1, 1))
    with pytest.raises(InvalidParameterError, match="x0,y0,z0:x1,y1,z1"):
        Bbox.parse("1,2,3")


@given(
    st.tuples(*[st.integers(0, 50)] * 3),
    st.tuples(*[st.integers(0, 50)] * 3),
    st.tuples(*[st.integers(0, 50)] * 3),
    st.tuples(*[st.integers(0, 50)] * 3),
)
def test_bbox_intersection_union_laws(a0, a1, b0, b1):
    a = Bbox(tuple(map(min, a0, a1)), tuple(map(max, a0, a1)))
    b = Bbox(tuple(map(min, b0, b1)), tuple(map(max, b0, b1)))
    i = a.intersection(b)
    u = a.union(b)
    assert u.contains(a) and u.contains(b)
    assert i.volume <= min(a.volume, b.volume)
    if not i.empty:
        assert a.contains(i) and b.contains(i)


def test_bbox_scaling():
    b = Bbox((2, 4, 6), (10, 20, 30))
    assert b.scaled_down((2, 2, 1)) == Bbox((1, 2, 6), (5, 10, 30))
    assert Bbox((1, 1, 1), (3, 3, 3)).scaled_down((2, 2, 2)) == Bbox((0, 0, 0), (2, 2, 2))


def test_frame_points_centre_convention():
    f = LevelFrame(VoxelSize(4, 4, 40))
    pts = np.array([[1, 2, 3], [10, 20, 30]])
    nm = f.to_nm(pts)
    assert nm.tolist() == [[4, 8, 120], [40, 80, 1200]]
    assert np.allclose(f.from_nm(nm), pts)
    # a point anywhere inside voxel (1, 2, 3) maps back to it
    assert f.voxel_at([[5.9, 6.1, 139.0]]).tolist() == [[1, 2, 3]]


def test_frame_offset_and_levels():
    f = LevelFrame(VoxelSize(11.24, 11.24, 28), offset_vx=(1024, 0, 2048))
    assert f.origin_nm.tolist() == pytest.approx([1024 * 11.24, 0, 2048 * 28])
    f1 = f.level((2, 2, 1))
    # a coarse voxel's centre is the mean of the centres of the fine voxels it pools
    fine = f.to_nm([[0, 0, 0], [1, 1, 0]]).mean(0)
    assert f1.to_nm([[0, 0, 0]])[0] == pytest.approx(fine)
    assert f1.voxel_size.xyz == (22.48, 22.48, 28.0)
    assert f1.ome_translation_zyx == pytest.approx([2048 * 28, 11.24 / 2, 1024 * 11.24 + 11.24 / 2])
    assert f.for_voxel_size((22.48, 22.48, 28)) == f1
    with pytest.raises(InvalidParameterError, match="integer multiple"):
        f.for_voxel_size((20, 20, 28))


def test_frame_bbox_from_nm_edges():
    f = LevelFrame(VoxelSize(10, 10, 10))
    # voxel i covers [10 i - 5, 10 i + 5): touching a face selects nothing more
    assert f.bbox_from_nm((-5, -5, -5), (5, 5, 5)) == Bbox((0, 0, 0), (1, 1, 1))
    assert f.bbox_from_nm((-4, 0, 0), (6, 1, 1)) == Bbox((0, 0, 0), (2, 1, 1))
    assert f.bbox_from_nm((3, 3, 3), (3, 3, 3)).empty
    with pytest.raises(InvalidParameterError, match="stop"):
        f.bbox_from_nm((5, 5, 5), (0, 0, 0))


@given(
    st.tuples(*[st.integers(-3000, 3000)] * 3),
    st.tuples(*[st.sampled_from([1, 2, 4, 8])] * 3),
    st.tuples(*[st.integers(-50, 50)] * 3),
    st.tuples(*[st.integers(0, 40)] * 3),
)
def test_frame_bbox_roundtrip_law(offset, factor, start, size):
    f = LevelFrame(VoxelSize(11.24, 7, 28), offset_vx=offset, factor_xyz=factor)
    b = Bbox(start, tuple(a + s for a, s in zip(start, size)))
    assert f.bbox_from_nm(*f.bbox_to_nm(b)) == b
    pts = np.array([start], float) + 0.25
    assert np.allclose(f.from_nm(f.to_nm(pts)), pts)
