"""Laws that must hold for any input (hypothesis property tests): store round trips over
random chunk and shard shapes, compiled and numpy kernels agree, matrix sums, the two
routes to the condensed form, and ids above 2**53 kept exact."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import connectoscope as cs
from connectoscope.connectome import ConnectivityMatrix
from connectoscope.testing.strategies import label_volumes
from connectoscope.volume import _downsample, downsample_image, downsample_labels, write_layer

FAST = settings(max_examples=25, deadline=None)


@pytest.mark.filterwarnings("ignore:.*would be written as.*files")  # tiny chunks are the point
@FAST
@given(
    label_volumes(max_side=40, dtype=np.uint64),
    st.tuples(st.integers(1, 17), st.integers(1, 17), st.integers(1, 9)),
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
)
def test_write_read_round_trip_any_chunks_and_shards(tmp_path_factory, vol, chunk, per_shard):
    ds = cs.Dataset.create(tmp_path_factory.mktemp("rt") / "d.cscope", voxel_size=(4, 4, 40))
    shard = tuple(c * n for c, n in zip(chunk, per_shard))
    lay = write_layer(ds, "segmentation", vol, storage=cs.StorageSpec(chunk, shard), workers=1)
    np.testing.assert_array_equal(lay.read(), vol)
    prev = vol
    for i, lev in enumerate(lay.levels):  # every level: the kernel applied to the one above
        if i:
            step = tuple(a // b for a, b in zip(lev.factor_xyz, lay.levels[i - 1].factor_xyz))
            np.testing.assert_array_equal(lay.read(level=i), downsample_labels(prev, step))
        prev = lay.read(level=i)
        assert lev.shape_zyx == tuple(-(-s // f) for s, f in zip(vol.shape, lev.factor_xyz[::-1]))


@FAST
@given(label_volumes(max_side=30, dtype=np.uint64, min_side=2), st.sampled_from([1, 2]))
def test_compiled_label_kernels_equal_numpy(monkeypatch_session, vol, fz):
    default = downsample_labels(vol, (2, 2, fz))
    with monkeypatch_session.context() as m:
        m.setattr(_downsample, "_COMPILED_MIN", 0)  # every size through the compiled kernels
        fast = downsample_labels(vol, (2, 2, fz))
        m.setattr(_downsample, "_COMPILED_MIN", 10**18)  # every size through numpy
        slow = downsample_labels(vol, (2, 2, fz))
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(default, slow)


@FAST
@given(
    st.integers(2, 30).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(2, 30), st.integers(1, 8))
    ),
    st.sampled_from([1, 2]),
    st.integers(0, 2**31),
)
def test_compiled_image_kernels_equal_numpy(monkeypatch_session, shape, fz, seed):
    img = np.random.default_rng(seed).integers(0, 256, shape[::-1], dtype=np.uint8)
    with monkeypatch_session.context() as m:
        m.setattr(_downsample, "_COMPILED_MIN", 0)
        fast = downsample_image(img, (2, 2, fz))
        m.setattr(_downsample, "_COMPILED_MIN", 10**18)
        slow = downsample_image(img, (2, 2, fz))
    np.testing.assert_array_equal(fast, slow)


@st.composite
def synapse_tables(draw):
    n = draw(st.integers(1, 300))
    base = draw(st.sampled_from([0, 2**53 + 1, 2**63 - 1000]))
    pre = base + np.asarray(draw(st.lists(st.integers(0, 12), min_size=n, max_size=n)), np.uint64)
    post = base + np.asarray(draw(st.lists(st.integers(0, 40), min_size=n, max_size=n)), np.uint64)
    size = np.asarray(draw(st.lists(st.integers(1, 1000), min_size=n, max_size=n)), np.int64)
    return pd.DataFrame({"pre": pre, "post": post, "size": size})


@FAST
@given(synapse_tables())
def test_matrix_laws_and_exact_ids(df):
    m = ConnectivityMatrix.from_synapses(df)
    # the count matrix sums to the synapse count, the size sum to the total size
    assert int(m.matrix("count").sum()) == len(df)
    assert round(float(m.matrix("sum").sum())) == int(df["size"].sum())
    # compress == from_condensed(aggregate): the two routes to the condensed form agree
    agg = m.aggregate()
    a = m.compress().condensed.sort_values(["pre_idx", "post_idx"]).reset_index(drop=True)
    b = (
        ConnectivityMatrix.from_condensed(agg.drop(columns=["pre_idx", "post_idx"]))
        .condensed.sort_values(["pre_idx", "post_idx"])
        .reset_index(drop=True)
    )
    assert {"count", "size_sum", "size_mean"} <= set(a.columns) & set(b.columns)
    for col in ("count", "size_sum", "size_mean"):
        np.testing.assert_array_equal(a[col].to_numpy(), b[col].to_numpy())
    # ids above 2**53 survive exactly (never through float64)
    assert set(agg["pre"].tolist()) == set(df["pre"].tolist())
    assert set(agg["post"].tolist()) == set(df["post"].tolist())
    pairs = df.groupby(["pre", "post"]).size()
    got = agg.set_index(["pre", "post"])["count"]
    assert got.sort_index().tolist() == pairs.sort_index().tolist()


@pytest.fixture(scope="module")
def monkeypatch_session():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()
