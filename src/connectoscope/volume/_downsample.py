"""Pyramid kernels: label mode pooling (COUNTLESS 2x2x1, true mode 2x2x2) and image area
averages. Arrays are ``[z, y, x]``; factors are given ``(x, y, z)``.

Rules
-----
* Output shape is ``ceil(shape / factor)`` per axis. A partial block at the far edge is
  completed by edge replication (labels) or averaged over the voxels present (images).
* 2x2x1 labels follow the COUNTLESS rule exactly: for each 2x2 block in x, y with
  ``a=(x0,y0), b=(x1,y0), c=(x0,y1), d=(x1,y1)``: ``a`` if ``a==b or a==c``, else ``b`` if
  ``b==c``, else ``d``. 0 is an ordinary value. This reproduces the MICrONS pinky40 mip3
  from mip2 with 0 mismatching voxels.
* Other factors (each 1 or 2 per axis): the most frequent value of the block; ties go to
  the value that occurs first in block order (z, then y, then x, offsets 0 before 1).
* Images: mean of the block rounded half up (not truncated), same dtype out.
* Arrays of 64 K voxels or more go to compiled numba kernels (:mod:`._kernels`, no padded
  copy, GIL released); smaller ones to numpy. Both give identical results (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InvalidParameterError
from ._kernels import countless_2x2x1, mean_2x2x1, mean_2x2x2, mean_supported, mode_2x2x2

__all__ = ["downsample_image", "downsample_labels"]

#: Arrays at least this large use the compiled kernels (smaller ones: numpy, no compile).
_COMPILED_MIN = 1 << 16


def _check(arr: np.ndarray, factor_xyz: Sequence[int], what: str) -> tuple[int, int, int]:
    if arr.ndim != 3:
        raise InvalidParameterError(
            f"{what}: expected a 3-D [z, y, x] array, got shape {arr.shape}"
        )
    f = tuple(int(v) for v in factor_xyz)
    if len(f) != 3 or any(v not in (1, 2) for v in f):
        raise InvalidParameterError(
            f"{what}: factors must be 1 or 2 per axis (x, y, z), got {tuple(factor_xyz)}; "
            "compose several steps for larger factors"
        )
    return (f[0], f[1], f[2])


def _pad_edge(arr: np.ndarray, fz: int, fy: int, fx: int) -> np.ndarray:
    pz, py, px = (-arr.shape[0]) % fz, (-arr.shape[1]) % fy, (-arr.shape[2]) % fx
    if pz or py or px:
        arr = np.pad(arr, ((0, pz), (0, py), (0, px)), mode="edge")
    return arr


def downsample_labels(labels_zyx: np.ndarray, factor_xyz: Sequence[int] = (2, 2, 1)) -> np.ndarray:
    """Mode-pool a label volume by ``factor_xyz`` (each 1 or 2).

    Parameters
    ----------
    labels_zyx : numpy.ndarray
        ``[z, y, x]`` integer labels (any int/uint dtype, 64-bit ids exact).
    factor_xyz : sequence of int
        Factor per axis ``(x, y, z)``, each 1 or 2.

    Returns
    -------
    numpy.ndarray
        ``[z, y, x]`` of shape ``ceil(shape / factor)``, same dtype.

    Examples
    --------
    >>> a = np.array([[[1, 1], [2, 3]]], dtype=np.uint32)
    >>> downsample_labels(a, (2, 2, 1)).tolist()
    [[[1]]]
    """
    arr = np.asarray(labels_zyx)
    fx, fy, fz = _check(arr, factor_xyz, "downsample_labels")
    if not np.issubdtype(arr.dtype, np.integer):
        raise InvalidParameterError(f"downsample_labels: expected integer labels, got {arr.dtype}")
    if (fx, fy, fz) == (1, 1, 1):
        return arr.copy()
    if arr.size >= _COMPILED_MIN and (fx, fy, fz) in ((2, 2, 1), (2, 2, 2)):
        return countless_2x2x1(arr) if fz == 1 else mode_2x2x2(arr)
    arr = _pad_edge(arr, fz, fy, fx)
    if (fx, fy, fz) == (2, 2, 1):
        a = arr[:, 0::2, 0::2]
        b = arr[:, 0::2, 1::2]
        c = arr[:, 1::2, 0::2]
        d = arr[:, 1::2, 1::2]
        out = np.where(b == c, b, d)
        np.copyto(out, a, where=(a == b) | (a == c))
        return out
    # general mode over the block: candidates in block order, count equal values
    cands = [arr[z::fz, y::fy, x::fx] for z in range(fz) for y in range(fy) for x in range(fx)]
    n = len(cands)
    best = cands[0].copy()
    best_count = np.zeros(best.shape, dtype=np.uint8)
    for i in range(n):
        count = np.zeros(best.shape, dtype=np.uint8)
        ci = cands[i]
        for j in range(n):
            count += ci == cands[j]
        better = count > best_count
        np.copyto(best, ci, where=better)
        np.maximum(best_count, count, out=best_count)
    return best


def downsample_image(image_zyx: np.ndarray, factor_xyz: Sequence[int] = (2, 2, 1)) -> np.ndarray:
    """Area-average an image by ``factor_xyz`` (each 1 or 2), rounding half up.

    Parameters
    ----------
    image_zyx : numpy.ndarray
        ``[z, y, x]`` uint8/uint16 (or float) image.
    factor_xyz : sequence of int
        Factor per axis ``(x, y, z)``, each 1 or 2.

    Returns
    -------
    numpy.ndarray
        ``[z, y, x]`` of shape ``ceil(shape / factor)``, same dtype.
    """
    arr = np.asarray(image_zyx)
    fx, fy, fz = _check(arr, factor_xyz, "downsample_image")
    if (fx, fy, fz) == (1, 1, 1):
        return arr.copy()
    if arr.size >= _COMPILED_MIN and (fx, fy, fz) in ((2, 2, 1), (2, 2, 2)):
        if mean_supported(arr.dtype):
            return mean_2x2x1(arr) if fz == 1 else mean_2x2x2(arr)
    kind = arr.dtype.kind
    acc_dtype = np.float64 if kind == "f" else (np.int64 if kind == "i" else np.uint64)
    out_shape = tuple(-(-s // f) for s, f in zip(arr.shape, (fz, fy, fx)))
    total = np.zeros(out_shape, dtype=acc_dtype)
    count = np.zeros(out_shape, dtype=acc_dtype)
    for z in range(fz):
        for y in range(fy):
            for x in range(fx):
                part = arr[z::fz, y::fy, x::fx]
                sl = tuple(slice(0, s) for s in part.shape)
                total[sl] += part
                count[sl] += 1
    if np.issubdtype(arr.dtype, np.floating):
        return (total / count).astype(arr.dtype)
    return ((total + count // 2) // count).astype(arr.dtype)
