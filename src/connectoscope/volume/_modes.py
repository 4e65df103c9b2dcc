"""Label downsampling rules of other tools, exactly: the most frequent id of each block, with
ties broken the way each tool breaks them.

Rules (``--label-downsampling``):

``countless`` (default)
    COUNTLESS for 2x2x1 (:func:`connectoscope.volume.downsample_labels`; reproduces the MICrONS
    pinky40 mips), the mode with ties to the first value in block order otherwise.
``mode-smallest``
    The mode; a tie goes to the smallest id (0 is an ordinary id). webKnossos' downsampling
    (and so the L4dense mags) breaks 2-2 ties this way.
``mode-first``
    The mode; a tie goes to the value met first in block order (z, then y, then x, offset 0
    before 1).

Arrays are ``[z, y, x]``; factors ``(x, y, z)`` of 1 or 2 per axis. A partial block at the far
edge is completed by edge replication, as for COUNTLESS. Blocks of 2x2x1 and 2x2x2 of arrays
of 64 K voxels or more run in compiled numba kernels (GIL released); the rest in numpy; both
give identical results (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import InvalidParameterError

__all__ = ["LABEL_RULES", "describe_rule", "downsample_labels_rule"]

LABEL_RULES = ("countless", "mode-smallest", "mode-first")

_DESCRIPTIONS = {
    "countless": "mode (COUNTLESS 2x2x1, most frequent otherwise)",
    "mode-smallest": "mode, ties to the smallest id (webKnossos)",
    "mode-first": "mode, ties to the first value in block order",
}
_COMPILED_MIN = 1 << 16


def describe_rule(rule: str) -> str:
    """The text stored in the dataset metadata for ``rule``."""
    check_rule(rule)
    return _DESCRIPTIONS[rule]


def check_rule(rule: str) -> str:
    if rule not in LABEL_RULES:
        raise InvalidParameterError(
            f"label downsampling {rule!r} is not known; use one of {', '.join(LABEL_RULES)} "
            "(--label-downsampling)"
        )
    return rule


def _blocks(arr: np.ndarray, fz: int, fy: int, fx: int) -> list[np.ndarray]:
    pz, py, px = (-arr.shape[0]) % fz, (-arr.shape[1]) % fy, (-arr.shape[2]) % fx
    if pz or py or px:
        arr = np.pad(arr, ((0, pz), (0, py), (0, px)), mode="edge")
    return [arr[z::fz, y::fy, x::fx] for z in range(fz) for y in range(fy) for x in range(fx)]


def _mode_numpy(arr: np.ndarray, f: tuple[int, int, int], smallest: bool) -> np.ndarray:
    fx, fy, fz = f
    cands = _blocks(arr, fz, fy, fx)
    n = len(cands)
    best = cands[0].copy()
    best_count = np.zeros(best.shape, dtype=np.uint8)
    for i in range(n):
        ci = cands[i]
        count = np.zeros(best.shape, dtype=np.uint8)
        for j in range(n):
            count += ci == cands[j]
        better = count > best_count
        if smallest:
            better |= (count == best_count) & (ci < best)
        np.copyto(best, ci, where=better)
        np.maximum(best_count, count, out=best_count)
    return best


@lru_cache(maxsize=1)
def _jit() -> dict[str, Any]:
    import numba

    jit = numba.njit(nogil=True, cache=False)

    @jit
    def pick(vals: Any, n: int, smallest: bool) -> Any:  # pragma: no cover - compiled
        best = vals[0]
        best_c = 0
        for i in range(n):
            c = 0
            for j in range(n):
                if vals[j] == vals[i]:
                    c += 1
            if c > best_c or (smallest and c == best_c and vals[i] < best):
                best = vals[i]
                best_c = c
        return best

    @jit
    def mode221(a: Any, out: Any, smallest: bool) -> None:  # pragma: no cover - compiled
        nz, ny, nx = a.shape
        oy, ox = out.shape[1], out.shape[2]
        vals = np.empty(4, a.dtype)
        for z in range(nz):
            for y in range(oy):
                y0 = 2 * y
                y1 = min(y0 + 1, ny - 1)
                for x in range(ox):
                    x0 = 2 * x
                    x1 = min(x0 + 1, nx - 1)
                    vals[0] = a[z, y0, x0]
                    vals[1] = a[z, y0, x1]
                    vals[2] = a[z, y1, x0]
                    vals[3] = a[z, y1, x1]
                    out[z, y, x] = pick(vals, 4, smallest)

    @jit
    def mode222(a: Any, out: Any, smallest: bool) -> None:  # pragma: no cover - compiled
        nz, ny, nx = a.shape
        oz, oy, ox = out.shape
        vals = np.empty(8, a.dtype)
        for z in range(oz):
            z0 = 2 * z
            z1 = min(z0 + 1, nz - 1)
            for y in range(oy):
                y0 = 2 * y
                y1 = min(y0 + 1, ny - 1)
                for x in range(ox):
                    x0 = 2 * x
                    x1 = min(x0 + 1, nx - 1)
                    k = 0
                    for zz in (z0, z1):
                        for yy in (y0, y1):
                            for xx in (x0, x1):
                                vals[k] = a[zz, yy, xx]
                                k += 1
                    out[z, y, x] = pick(vals, 8, smallest)

    return {"221": mode221, "222": mode222}


def downsample_labels_rule(
    labels_zyx: np.ndarray, factor_xyz: Sequence[int] = (2, 2, 1), *, rule: str = "countless"
) -> np.ndarray:
    """Downsample a label volume by ``factor_xyz`` (each 1 or 2) under ``rule``.

    Parameters
    ----------
    labels_zyx : numpy.ndarray
        ``[z, y, x]`` integer labels.
    factor_xyz : sequence of int
        ``(x, y, z)``, each 1 or 2.
    rule : {"countless", "mode-smallest", "mode-first"}

    Returns
    -------
    numpy.ndarray
        ``[z, y, x]`` of shape ``ceil(shape / factor)``, same dtype.

    Examples
    --------
    >>> a = np.array([[[5, 3], [3, 5]]], dtype=np.uint32)   # a 2-2 tie
    >>> [int(downsample_labels_rule(a, (2, 2, 1), rule=r)[0, 0, 0])
    ...  for r in ("countless", "mode-smallest", "mode-first")]
    [3, 3, 5]
    """
    from ._downsample import _check, downsample_labels

    check_rule(rule)
    if rule == "countless":
        return downsample_labels(labels_zyx, factor_xyz)
    arr = np.asarray(labels_zyx)
    f = _check(arr, factor_xyz, "downsample_labels")
    if not np.issubdtype(arr.dtype, np.integer):
        raise InvalidParameterError(f"downsample_labels: expected integer labels, got {arr.dtype}")
    if f == (1, 1, 1):
        return arr.copy()
    smallest = rule == "mode-smallest"
    if arr.size >= _COMPILED_MIN and f in ((2, 2, 1), (2, 2, 2)):
        fz = f[2]
        out = np.empty(
            (-(-arr.shape[0] // fz), -(-arr.shape[1] // 2), -(-arr.shape[2] // 2)), arr.dtype
        )
        _jit()["221" if fz == 1 else "222"](np.ascontiguousarray(arr), out, smallest)
        return out
    return _mode_numpy(arr, f, smallest)
