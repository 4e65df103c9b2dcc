"""--label-downsampling countless|mode-smallest|mode-first: exact rules (a brute-force oracle),
compiled and numpy paths equal, named in the store metadata."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from connectoscope import Dataset
from connectoscope.cli import main
from connectoscope.errors import InvalidParameterError
from connectoscope.volume import downsample_labels
from connectoscope.volume._modes import _mode_numpy, downsample_labels_rule


def _oracle(arr, f, rule):
    fx, fy, fz = f
    pad = np.pad(arr, [(0, (-s) % k) for s, k in zip(arr.shape, (fz, fy, fx))], mode="edge")
    out = np.empty([s // k for s, k in zip(pad.shape, (fz, fy, fx))], arr.dtype)
    for z, y, x in np.ndindex(out.shape):
        block = [
            pad[z * fz + dz, y * fy + dy, x * fx + dx]
            for dz in range(fz) for dy in range(fy) for dx in range(fx)
        ]  # fmt: skip
        c = Counter(block)
        top = max(c.values())
        tied = [v for v in block if c[v] == top]
        out[z, y, x] = min(tied) if rule == "mode-smallest" else tied[0]
    return out


@pytest.mark.parametrize("rule", ["mode-smallest", "mode-first"])
@pytest.mark.parametrize("f", [(2, 2, 1), (2, 2, 2), (2, 1, 2), (1, 2, 1)])
def test_rules_match_oracle(rng, rule, f):
    arr = rng.integers(0, 4, (5, 7, 9)).astype(np.uint64) + np.uint64(2**60)
    got = downsample_labels_rule(arr, f, rule=rule)
    np.testing.assert_array_equal(got, _oracle(arr, f, rule))


@pytest.mark.parametrize("rule", ["mode-smallest", "mode-first"])
@pytest.mark.parametrize("f", [(2, 2, 1), (2, 2, 2)])
def test_compiled_equals_numpy(rng, rule, f):
    arr = rng.integers(0, 5, (33, 65, 67)).astype(np.uint32)  # > 64 K voxels, odd edges
    got = downsample_labels_rule(arr, f, rule=rule)
    np.testing.assert_array_equal(got, _mode_numpy(arr, f, rule == "mode-smallest"))


def test_countless_is_default_and_unchanged(rng):
    arr = rng.integers(0, 3, (4, 8, 8)).astype(np.uint32)
    np.testing.assert_array_equal(
        downsample_labels_rule(arr, (2, 2, 1)), downsample_labels(arr, (2, 2, 1))
    )
    with pytest.raises(InvalidParameterError, match=r"mode-largest.*--label-downsampling"):
        downsample_labels_rule(arr, rule="mode-largest")


def test_tie_rules_differ_on_2_2_ties():
    a = np.array([[[5, 3], [3, 5]], [[7, 7], [1, 2]]], dtype=np.uint32)[:, None].reshape(2, 2, 2)
    res = {r: downsample_labels_rule(a, (2, 2, 1), rule=r)[:, 0, 0].tolist()
           for r in ("countless", "mode-smallest", "mode-first")}  # fmt: skip
    assert res == {"countless": [3, 7], "mode-smallest": [3, 7], "mode-first": [5, 7]}
    b = np.array([[[3, 5], [5, 3]]], dtype=np.uint32)  # a=3 b=5 c=5 d=3
    assert downsample_labels_rule(b, (2, 2, 1), rule="countless")[0, 0, 0] == 5
    assert downsample_labels_rule(b, (2, 2, 1), rule="mode-smallest")[0, 0, 0] == 3


def test_ingest_names_rule_in_metadata(tmp_path, rng, capsys):
    arr = rng.integers(0, 6, (8, 256, 256)).astype(np.uint32)
    f = tmp_path / "a.npy"
    np.save(f, arr)
    for rule in ("mode-smallest", "countless"):
        ds = tmp_path / f"{rule}.cscope"
        rc = main(["ingest", str(f), str(ds), "--layer", "segmentation", "--voxel-size",
                   "4,4,40", "--label-downsampling", rule])  # fmt: skip
        assert rc == 0, capsys.readouterr().err
        d = Dataset(ds)
        meta = d.layer("segmentation")
        assert meta["label_downsampling"] == rule
        lvl1 = d.volume("segmentation").read(level=1)
        np.testing.assert_array_equal(lvl1, downsample_labels_rule(arr, (2, 2, 1), rule=rule))
    assert (
        "ties to the smallest id"
        in Dataset(tmp_path / "mode-smallest.cscope").layer("segmentation")["downsampling"]
    )
