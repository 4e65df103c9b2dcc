"""Hypothesis strategies for label volumes, chunk grids and pyramids, and skeleton trees."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..morphology import Skeleton

__all__ = ["chunk_shapes", "label_volumes", "shapes_zyx", "skeleton_trees"]


def shapes_zyx(*, min_side: int = 1, max_side: int = 24) -> st.SearchStrategy[tuple[int, int, int]]:
    """Array shapes ``(z, y, x)``."""
    side = st.integers(min_side, max_side)
    return st.tuples(side, side, side)


@st.composite
def label_volumes(
    draw: Any,
    *,
    dtype: Any = np.uint32,
    max_side: int = 24,
    max_labels: int = 8,
    min_side: int = 1,
) -> np.ndarray:
    """Blocky ``[z, y, x]`` label volumes with few labels (0 = background) that look like a
    segmentation (runs of equal values), including extreme ids for the dtype."""
    shape = draw(shapes_zyx(min_side=min_side, max_side=max_side))
    info = np.iinfo(dtype)
    ids = draw(
        st.lists(
            st.one_of(st.integers(0, 20), st.integers(0, int(info.max))),
            min_size=1,
            max_size=max_labels,
            unique=True,
        )
    )
    palette = np.array(ids, dtype=dtype)
    # coarse random grid upsampled: piecewise-constant blobs
    coarse_shape = tuple(max(1, s // draw(st.integers(1, 4))) for s in shape)
    idx = draw(hnp.arrays(np.int64, coarse_shape, elements=st.integers(0, len(ids) - 1)))
    reps = [-(-s // c) for s, c in zip(shape, coarse_shape)]
    big = np.kron(idx, np.ones(reps, dtype=np.int64))[: shape[0], : shape[1], : shape[2]]
    return np.ascontiguousarray(palette[big])


def chunk_shapes(shape_zyx: tuple[int, int, int]) -> st.SearchStrategy[tuple[int, int, int]]:
    """Chunk shapes that fit inside ``shape_zyx``."""
    return st.tuples(*(st.integers(1, max(1, s)) for s in shape_zyx))


# ---------------------------------------------------------------------- skeleton trees
@st.composite
def skeleton_trees(
    draw: Any,
    *,
    max_nodes: int = 60,
    max_trees: int = 3,
    id_max: int = 2**40,
) -> Any:
    """Random :class:`connectoscope.morphology.Skeleton` forests: 1..``max_trees`` trees,
    node ids unique (sparse, up to ``id_max``), parents drawn among earlier nodes of the same
    tree, vertices in nm on a 0.5 nm grid (so text round trips are exact), compartments
    0-6 and radii >= 0."""

    n = draw(st.integers(1, max_nodes))
    n_trees = draw(st.integers(1, min(max_trees, n)))
    ids = draw(st.lists(st.integers(1, id_max), min_size=n, max_size=n, unique=True))
    tree_of = np.sort(
        np.asarray(draw(st.lists(st.integers(0, n_trees - 1), min_size=n, max_size=n)))
    )
    tree_of[:n_trees] = np.arange(n_trees)  # every tree has a first node
    tree_of = np.sort(tree_of)
    parent = np.full(n, -1, np.int64)
    for i in range(n):
        earlier = np.flatnonzero(tree_of[:i] == tree_of[i])
        if earlier.size:
            parent[i] = int(earlier[draw(st.integers(0, earlier.size - 1))])
    steps = (
        np.asarray(
            draw(
                st.lists(
                    st.tuples(*(st.integers(-4000, 4000) for _ in range(3))), min_size=n, max_size=n
                )
            ),
            np.float64,
        ).reshape(n, 3)
        / 2.0
    )
    xyz = np.zeros((n, 3))
    for i in range(n):
        xyz[i] = (xyz[parent[i]] if parent[i] >= 0 else 0.0) + steps[i]
    comp = np.asarray(draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)), np.int32)
    rad = np.asarray(draw(st.lists(st.integers(0, 400), min_size=n, max_size=n)), float) / 2.0
    order = np.asarray(draw(st.permutations(range(n))))  # file order is arbitrary
    ida = np.asarray(ids, np.int64)
    pid = np.where(parent >= 0, ida[np.maximum(parent, 0)], -1)
    return Skeleton.from_parents(
        ida[order],
        pid[order],
        xyz[order],
        features={"compartment": comp[order], "radius": rad[order]},
        name="random",
    )
