"""Compiled (numba) label pooling kernels behind :mod:`._downsample`.

Inputs are C-contiguous ``[z, y, x]`` arrays already padded to even sizes on the pooled
axes; outputs are allocated here. Compiled on first use and cached on disk.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["countless_2x2x1", "mode_2x2x2"]

_compiled: dict[str, Any] = {}


def _jit() -> dict[str, Any]:
    if _compiled:
        return _compiled
    import numba

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def c221(a: Any, out: Any) -> None:  # pragma: no cover - compiled
        nz, ny, nx = out.shape
        for z in range(nz):
            for y in range(ny):
                for x in range(nx):
                    va = a[z, 2 * y, 2 * x]
                    vb = a[z, 2 * y, 2 * x + 1]
                    vc = a[z, 2 * y + 1, 2 * x]
                    vd = a[z, 2 * y + 1, 2 * x + 1]
                    # branch-free select: a if a==b or a==c, else b if b==c, else d
                    bc = vb if vb == vc else vd
                    out[z, y, x] = va if (va == vb) | (va == vc) else bc

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def m222(a: Any, out: Any) -> None:  # pragma: no cover - compiled
        nz, ny, nx = out.shape
        v = np.empty(8, a.dtype)
        for z in range(nz):
            for y in range(ny):
                for x in range(nx):
                    k = 0
                    for dz in range(2):
                        for dy in range(2):
                            for dx in range(2):
                                v[k] = a[2 * z + dz, 2 * y + dy, 2 * x + dx]
                                k += 1
                    best = v[0]
                    best_n = 0
                    for i in range(8):
                        n = 0
                        vi = v[i]
                        for j in range(8):
                            if v[j] == vi:
                                n += 1
                        if n > best_n:
                            best_n = n
                            best = vi
                            if n > 4:
                                break
                    out[z, y, x] = best

    _compiled["c221"] = c221
    _compiled["m222"] = m222
    return _compiled


def countless_2x2x1(a: np.ndarray) -> np.ndarray:
    """COUNTLESS 2x2x1 of an even-sized (y, x) ``[z, y, x]`` array."""
    out = np.empty((a.shape[0], a.shape[1] // 2, a.shape[2] // 2), a.dtype)
    _jit()["c221"](np.ascontiguousarray(a), out)
    return out


def mode_2x2x2(a: np.ndarray) -> np.ndarray:
    """Mode over 2x2x2 blocks (ties: first in z, y, x block order) of an even-sized array."""
    out = np.empty((a.shape[0] // 2, a.shape[1] // 2, a.shape[2] // 2), a.dtype)
    _jit()["m222"](np.ascontiguousarray(a), out)
    return out
