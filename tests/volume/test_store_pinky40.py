import numpy as np

from connectoscope.testing import load_pinky40
from connectoscope.volume import downsample_labels


def test_countless_reproduces_pinky40_mip3_exactly():
    mip2 = load_pinky40("mip2")
    mip3 = load_pinky40("mip3")
    ours = downsample_labels(mip2, (2, 2, 1))
    assert ours.shape == mip3.shape == (512, 256, 256)
    assert int((ours != mip3).sum()) == 0


def test_mode_2x2x2_is_a_mode():
    a = np.array([[[1, 1], [2, 3]], [[1, 4], [5, 6]]], dtype=np.uint64) + np.uint64(2**60)
    assert downsample_labels(a, (2, 2, 2))[0, 0, 0] == np.uint64(2**60 + 1)
