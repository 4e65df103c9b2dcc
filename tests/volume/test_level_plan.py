"""The level plan: one per dataset, no z-only levels, shapes = ceil(shape / factor)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import connectoscope as cs
from connectoscope.volume import level_factors, plan_pyramid, write_layer


@given(
    st.tuples(st.integers(1, 600), st.integers(1, 5000), st.integers(1, 5000)),
    st.tuples(st.floats(1, 50), st.floats(1, 50), st.floats(1, 200)),
    st.sampled_from([32, 64, 128]),
)
def test_plan_laws(shape_zyx, vs, min_xy):
    voxel = cs.VoxelSize(*vs)
    plan = plan_pyramid(shape_zyx, voxel, min_xy=min_xy)
    assert all(f[0] == 2 or f[1] == 2 for f in plan)  # never z alone
    _z, y, x = shape_zyx
    for f in level_factors(plan)[:-1]:
        # every level but the last is still wider than one chunk in x or y
        assert -(-x // f[0]) > min_xy or -(-y // f[1]) > min_xy
    fz = level_factors(plan)[-1]
    assert -(-x // fz[0]) <= min_xy and -(-y // fz[1]) <= min_xy


@settings(max_examples=10, deadline=None)
@given(st.integers(129, 700), st.integers(129, 700), st.integers(1, 40))
def test_image_and_segmentation_share_one_plan(tmp_path_factory, x, y, z):
    ds = cs.Dataset.create(tmp_path_factory.mktemp("p") / "d.cscope", voxel_size=(8, 8, 30))
    rng = np.random.default_rng(0)
    write_layer(ds, "segmentation", rng.integers(0, 9, (z, y, x), dtype=np.uint32))
    write_layer(ds, "image", rng.integers(0, 255, (z, y, x), dtype=np.uint8))
    seg, img = ds.segmentation.levels, ds.image.levels
    assert [(lv.shape_zyx, lv.voxel_size) for lv in seg] == [
        (lv.shape_zyx, lv.voxel_size) for lv in img
    ]
    for lv in seg:  # shapes are ceil(shape / factor)
        fx, fy, fz = lv.factor_xyz
        assert lv.shape_zyx == (-(-z // fz), -(-y // fy), -(-x // fx))
    assert ds.metadata["pyramid"]["factors_xyz"] == [list(lv.factor_xyz) for lv in seg]
