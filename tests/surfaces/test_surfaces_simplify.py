"""Our bounded-error simplifier: closed stays closed, fixed seams stay, error and volume hold,
and block-wise meshes carry about as many triangles as one call."""

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

from connectoscope.errors import InvalidParameterError
from connectoscope.surfaces import mesh_labels
from connectoscope.surfaces._simplify import simplify_mesh
from connectoscope.testing import load_pinky40


def _max_deviation(ref_v, ref_f, v):
    dense = trimesh.remesh.subdivide_to_size(ref_v, ref_f, max_edge=1.0)[0]
    return cKDTree(dense).query(v)[0].max()


def test_sphere_error_bound_and_volume():
    s = trimesh.creation.icosphere(5, radius=200.0)
    for err in (1.0, 4.0, 10.0):
        v, f, src = simplify_mesh(s.vertices, s.faces, err)
        t = trimesh.Trimesh(v, f, process=False)
        assert t.is_watertight and t.is_winding_consistent
        assert len(f) < len(s.faces) / 4
        assert _max_deviation(s.vertices, s.faces, v) <= err
        # a surface within err of the original encloses a volume within area * err of it
        assert abs(t.volume - s.volume) <= s.area * err
        assert src.min() >= 0 and src.max() < len(s.vertices)
    with pytest.raises(InvalidParameterError, match="max_error"):
        simplify_mesh(s.vertices, s.faces, -1.0)


def test_fixed_vertices_do_not_move():
    s = trimesh.creation.icosphere(4, radius=100.0)
    fixed = s.vertices[:, 2] > 60  # a cap stays exact
    v, f, src = simplify_mesh(s.vertices, s.faces, 5.0, fixed=fixed)
    kept = src[fixed[src]]
    assert set(kept.tolist()) == set(np.flatnonzero(fixed).tolist())  # none removed
    np.testing.assert_array_equal(v[fixed[src]], s.vertices[kept])  # none moved
    assert trimesh.Trimesh(v, f, process=False).is_watertight


def test_quadrics_carry_the_error_to_a_second_pass():
    s = trimesh.creation.icosphere(5, radius=200.0)
    v1, f1, _, q, w = simplify_mesh(s.vertices, s.faces, 4.0, return_quadrics=True)
    v2, f2, _ = simplify_mesh(v1, f1, 4.0, quadrics=(q, w))
    _v3, f3, _ = simplify_mesh(v1, f1, 4.0)  # without them the error would add up
    assert len(f2) <= len(f1) and len(f3) < len(f2)
    assert _max_deviation(s.vertices, s.faces, v2) <= 4.0


def test_pinky40_blockwise_triangles_near_one_call():
    vol = load_pinky40("mip2")
    cut = np.ascontiguousarray(vol[256:288, 128:224, 128:224])
    one = mesh_labels(cut, (16, 16, 40), simplify_nm=40)
    blocks = mesh_labels(cut, (16, 16, 40), simplify_nm=40, block_xyz=(32, 32, 16))
    assert sorted(one) == sorted(blocks)
    n1 = sum(len(m.faces) for m in one.values())
    nb = sum(len(m.faces) for m in blocks.values())
    assert nb <= 1.1 * n1, (nb, n1)
    for k in list(blocks)[:40]:
        assert blocks[k].is_closed
