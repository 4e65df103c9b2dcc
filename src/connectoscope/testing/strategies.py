"""Hypothesis strategies for label volumes, chunk grids and pyramids."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["chunk_shapes", "label_volumes", "shapes_zyx"]


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
