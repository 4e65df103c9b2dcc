import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectoscope import Bbox, VoxelSize
from connectoscope.errors import InvalidParameterError
from connectoscope.geometry import nm_to_voxel, parse_xyz, voxel_to_nm


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


def test_bbox_nm_roundtrip_and_scaling():
    vs = VoxelSize(16, 16, 40)
    b = Bbox((2, 4, 6), (10, 20, 30))
    s, e = b.to_nm(vs)
    assert Bbox.from_nm(s, e, vs) == b
    assert b.scaled_down((2, 2, 1)) == Bbox((1, 2, 6), (5, 10, 30))
    assert Bbox((1, 1, 1), (3, 3, 3)).scaled_down((2, 2, 2)) == Bbox((0, 0, 0), (2, 2, 2))


def test_point_conversion():
    vs = VoxelSize(4, 4, 40)
    pts = np.array([[1, 2, 3], [10, 20, 30]])
    nm = voxel_to_nm(pts, vs)
    assert nm.tolist() == [[4, 8, 120], [40, 80, 1200]]
    assert np.allclose(nm_to_voxel(nm, vs), pts)
