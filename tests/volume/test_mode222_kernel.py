"""The 2x2x2 label mode kernel against a plain reference (early exits change nothing)."""

import numpy as np
import pytest

from connectoscope.testing import load_pinky40
from connectoscope.volume._kernels import mode_2x2x2


def _reference(a):
    """Mode of each 2x2x2 block in z, y, x order, ties to the first; edges replicated."""
    nz, ny, nx = a.shape
    out = np.empty((-(-nz // 2), -(-ny // 2), -(-nx // 2)), a.dtype)
    for z, y, x in np.ndindex(out.shape):
        vals = [
            a[min(2 * z + i, nz - 1), min(2 * y + j, ny - 1), min(2 * x + k, nx - 1)]
            for i in (0, 1)
            for j in (0, 1)
            for k in (0, 1)
        ]
        counts = [vals.count(v) for v in vals]
        out[z, y, x] = vals[int(np.argmax(counts))]  # argmax: first of the most common
    return out


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.uint32, np.uint64])
def test_mode_matches_reference_on_ties_and_odd_shapes(dtype):
    rng = np.random.default_rng(3)
    for _ in range(30):
        shape = tuple(int(s) for s in rng.integers(1, 8, 3))
        a = rng.integers(0, int(rng.integers(1, 5)), shape).astype(dtype)
        np.testing.assert_array_equal(mode_2x2x2(a), _reference(a))


def test_mode_on_real_labels():
    a = np.ascontiguousarray(load_pinky40("mip2")[100:124, 200:232, 300:340])
    np.testing.assert_array_equal(mode_2x2x2(a), _reference(a))
