"""Compiled (numba) pooling kernels behind :mod:`._downsample`.

Inputs are C-contiguous ``[z, y, x]`` arrays of any size: a partial block at the far edge of
an axis is completed by edge replication, done by clamping indices (no padded copy). Outputs
are allocated here with shape ``ceil(shape / factor)``. Compiled on first use per dtype and
cached on disk; every kernel releases the GIL, so shard tasks run them in parallel threads.

Edge replication gives the same image average as averaging only the voxels present: every
present voxel is repeated the same number of times, so the rounded mean is unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["countless_2x2x1", "mean_2x2x1", "mean_2x2x2", "mean_supported", "mode_2x2x2"]

_compiled: dict[str, Any] = {}


def _jit() -> dict[str, Any]:
    if _compiled:
        return _compiled
    import numba

    jit = numba.njit(cache=True, nogil=True, boundscheck=False)

    @jit
    def c221(a: Any, out: Any) -> None:  # pragma: no cover - compiled
        nz, ny, nx = a.shape
        oy, ox = out.shape[1], out.shape[2]
        hx = nx // 2
        for z in range(nz):
            for y in range(oy):
                r0 = a[z, 2 * y]
                r1 = a[z, min(2 * y + 1, ny - 1)]
                o = out[z, y]
                for x in range(hx):
                    va = r0[2 * x]
                    vb = r0[2 * x + 1]
                    vc = r1[2 * x]
                    vd = r1[2 * x + 1]
                    # a if a==b or a==c, else b if b==c, else d
                    bc = vb if vb == vc else vd
                    o[x] = va if (va == vb) | (va == vc) else bc
                if ox > hx:  # odd x: b = a, d = c, so the rule gives a
                    o[hx] = r0[nx - 1]

    @jit
    def mode8(v: Any) -> Any:  # pragma: no cover - compiled
        # the value seen most often; ties keep the first in block order
        best = v[0]
        best_n = 0
        claimed = 0
        for i in range(8):
            vi = v[i]
            seen = False
            for k in range(i):
                if v[k] == vi:
                    seen = True
                    break
            if seen:
                continue
            n = 1
            for j in range(i + 1, 8):
                if v[j] == vi:
                    n += 1
            claimed += n
            if n > best_n:  # strict: ties keep the first in block order
                best_n = n
                best = vi
            if best_n >= 8 - claimed:  # the unclaimed voxels cannot beat it
                break
        return best

    @jit
    def m222(a: Any, out: Any) -> None:  # pragma: no cover - compiled
        nz, ny, nx = a.shape
        oz, oy, ox = out.shape
        hx = nx // 2
        v = np.empty(8, a.dtype)
        for z in range(oz):
            z0 = 2 * z
            z1 = min(z0 + 1, nz - 1)
            for y in range(oy):
                y0 = 2 * y
                y1 = min(y0 + 1, ny - 1)
                r0 = a[z0, y0]
                r1 = a[z0, y1]
                r2 = a[z1, y0]
                r3 = a[z1, y1]
                o = out[z, y]
                for x in range(ox):
                    x0 = 2 * x
                    x1 = x0 + 1 if x < hx else nx - 1
                    v0 = r0[x0]
                    # stop early where the whole block agrees (most of a dense volume)
                    if (
                        r0[x1] == v0 and r1[x0] == v0 and r1[x1] == v0
                        and r2[x0] == v0 and r2[x1] == v0 and r3[x0] == v0 and r3[x1] == v0
                    ):  # fmt: skip
                        o[x] = v0
                        continue
                    v[0] = v0
                    v[1] = r0[x1]
                    v[2] = r1[x0]
                    v[3] = r1[x1]
                    v[4] = r2[x0]
                    v[5] = r2[x1]
                    v[6] = r3[x0]
                    v[7] = r3[x1]
                    o[x] = mode8(v)

    @jit
    def mean221_int(a: Any, out: Any) -> None:  # pragma: no cover - compiled
        nz, ny, nx = a.shape
        oy, ox = out.shape[1], out.shape[2]
        hx = nx // 2
        for z in range(nz):
            for y in range(oy):
                r0 = a[z, 2 * y]
                r1 = a[z, min(2 * y + 1, ny - 1)]
                o = out[z, y]
                for x in range(hx):  # numba sums in 64 bits; floor((s + 2) / 4)
                    s = r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]
                    o[x] = (s + 2) >> 2
                if ox > hx:
                    o[hx] = (r0[nx - 1] + r1[nx - 1] + 1) >> 1

    @jit
    def mean221_float(a: Any, out: Any) -> None:  # pragma: no cover - compiled
        nz, ny, nx = a.shape
        oy, ox = out.shape[1], out.shape[2]
        hx = nx // 2
        for z in range(nz):
            for y in range(oy):
                r0 = a[z, 2 * y]
                r1 = a[z, min(2 * y + 1, ny - 1)]
                o = out[z, y]
                for x in range(hx):
                    s = np.float64(r0[2 * x]) + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]
                    o[x] = s / 4
                if ox > hx:
                    o[hx] = (np.float64(r0[nx - 1]) + r1[nx - 1]) / 2

    @jit
    def mean222_int(a: Any, out: Any) -> None:  # pragma: no cover - compiled
        nz, ny, nx = a.shape
        oz, oy, ox = out.shape
        hx = nx // 2
        for z in range(oz):
            z1 = min(2 * z + 1, nz - 1)
            for y in range(oy):
                y1 = min(2 * y + 1, ny - 1)
                r0 = a[2 * z, 2 * y]
                r1 = a[2 * z, y1]
                r2 = a[z1, 2 * y]
                r3 = a[z1, y1]
                o = out[z, y]
                for x in range(hx):
                    i = 2 * x
                    s = (
                        r0[i] + r0[i + 1] + r1[i] + r1[i + 1]
                        + r2[i] + r2[i + 1] + r3[i] + r3[i + 1]
                    )  # fmt: skip
                    o[x] = (s + 4) >> 3
                if ox > hx:
                    i = nx - 1
                    o[hx] = (r0[i] + r1[i] + r2[i] + r3[i] + 2) >> 2

    @jit
    def mean222_float(a: Any, out: Any) -> None:  # pragma: no cover - compiled
        nz, ny, nx = a.shape
        oz, oy, ox = out.shape
        hx = nx // 2
        for z in range(oz):
            z1 = min(2 * z + 1, nz - 1)
            for y in range(oy):
                y1 = min(2 * y + 1, ny - 1)
                r0 = a[2 * z, 2 * y]
                r1 = a[2 * z, y1]
                r2 = a[z1, 2 * y]
                r3 = a[z1, y1]
                o = out[z, y]
                for x in range(hx):
                    i = 2 * x
                    s = (
                        np.float64(r0[i]) + r0[i + 1] + r1[i] + r1[i + 1]
                        + r2[i] + r2[i + 1] + r3[i] + r3[i + 1]
                    )  # fmt: skip
                    o[x] = s / 8
                if ox > hx:
                    i = nx - 1
                    o[hx] = (np.float64(r0[i]) + r1[i] + r2[i] + r3[i]) / 4

    _compiled["c221"] = c221
    _compiled["m222"] = m222
    _compiled["mean221_int"] = mean221_int
    _compiled["mean221_float"] = mean221_float
    _compiled["mean222_int"] = mean222_int
    _compiled["mean222_float"] = mean222_float
    return _compiled


def _out(a: np.ndarray, fz: int) -> np.ndarray:
    return np.empty((-(-a.shape[0] // fz), -(-a.shape[1] // 2), -(-a.shape[2] // 2)), a.dtype)


def countless_2x2x1(a: np.ndarray) -> np.ndarray:
    """COUNTLESS 2x2x1 of a ``[z, y, x]`` label array (odd edges: edge replication)."""
    out = _out(a, 1)
    _jit()["c221"](np.ascontiguousarray(a), out)
    return out


def mode_2x2x2(a: np.ndarray) -> np.ndarray:
    """Mode over 2x2x2 blocks (ties: first in z, y, x block order; odd edges replicated).

    Stops early where a block agrees (seven comparisons: most blocks of a dense
    segmentation), and in mixed blocks once the voxels not yet counted cannot beat the
    leading value.
    """
    out = _out(a, 2)
    _jit()["m222"](np.ascontiguousarray(a), out)
    return out


def mean_supported(dtype: np.dtype) -> bool:
    """True when the compiled image kernels take ``dtype`` (integers up to 32 bits, floats)."""
    dt = np.dtype(dtype)
    return (dt.kind in "ui" and dt.itemsize <= 4) or dt.kind == "f"


def mean_2x2x1(a: np.ndarray) -> np.ndarray:
    """Area average over 2x2x1 blocks, rounded half up for integers (see :func:`mean_supported`)."""
    out = _out(a, 1)
    _jit()["mean221_float" if a.dtype.kind == "f" else "mean221_int"](np.ascontiguousarray(a), out)
    return out


def mean_2x2x2(a: np.ndarray) -> np.ndarray:
    """Area average over 2x2x2 blocks, rounded half up for integers (see :func:`mean_supported`)."""
    out = _out(a, 2)
    _jit()["mean222_float" if a.dtype.kind == "f" else "mean222_int"](np.ascontiguousarray(a), out)
    return out
