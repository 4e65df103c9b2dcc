"""Compiled kernels (numba) behind :class:`ConnectivityMatrix`; the Python callers own the
checks and the documentation."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

__all__ = ["factorize_ids", "group_pairs"]


@njit(cache=True, nogil=True)
def _group_pairs(  # pragma: no cover
    pi: np.ndarray, qi: np.ndarray, w: np.ndarray, n_pre: int, n_post: int, with_inv: bool
) -> Any:
    n = pi.size
    weighted = w.size == n
    start = np.zeros(n_pre + 1, np.int64)
    for k in range(n):
        start[pi[k] + 1] += 1
    for r in range(n_pre):
        start[r + 1] += start[r]
    fill = start[:-1].copy()
    qs = np.empty(n, np.int64)  # columns in row order (counting sort)
    ws = np.empty(n if weighted else 0, np.float64)
    order = np.empty(n if with_inv else 0, np.int64)
    for k in range(n):
        r = pi[k]
        t = fill[r]
        qs[t] = qi[k]
        if weighted:
            ws[t] = w[k]
        if with_inv:
            order[t] = k
        fill[r] = t + 1
    mark = np.full(n_post, -1, np.int64)
    slot = np.empty(n_post, np.int64)
    rows = np.empty(n, np.int64)
    cols = np.empty(n, np.int64)
    cnt = np.zeros(n, np.int64)
    wsum = np.zeros(n if weighted else 0, np.float64)
    inv = np.empty(n if with_inv else 0, np.int64)
    n_pairs = 0
    for r in range(n_pre):
        a = start[r]
        b = start[r + 1]
        if a == b:
            continue
        first = n_pairs
        for t in range(a, b):
            c = qs[t]
            if mark[c] != r:
                mark[c] = r
                cols[n_pairs] = c
                n_pairs += 1
        cols[first:n_pairs].sort()
        for j in range(first, n_pairs):
            slot[cols[j]] = j
            rows[j] = r
        for t in range(a, b):
            j = slot[qs[t]]
            cnt[j] += 1
            if weighted:
                wsum[j] += ws[t]
            if with_inv:
                inv[order[t]] = j
    m = n_pairs
    return (
        rows[:m].copy(),
        cols[:m].copy(),
        cnt[:m].copy(),
        wsum[: m if weighted else 0].copy(),
        inv,
    )


def group_pairs(
    pre_idx: np.ndarray,
    post_idx: np.ndarray,
    n_pre: int,
    n_post: int,
    *,
    weights: np.ndarray | None = None,
    with_inverse: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Connected pairs of per-synapse (row, column) positions in linear time.

    Parameters
    ----------
    pre_idx, post_idx : int arrays
        Row and column position of every synapse.
    n_pre, n_post : int
        Matrix shape.
    weights : float array, optional
        Per-synapse values summed per pair.
    with_inverse : bool
        Also return every synapse's pair number.

    Returns
    -------
    rows, cols, counts : int64 arrays, one per pair, sorted by row then column
    sums : float64 array per pair, or None without ``weights``
    inverse : int64 array per synapse, or None
    """
    w = (
        np.ascontiguousarray(weights, dtype=np.float64)
        if weights is not None
        else np.zeros(0, np.float64)
    )
    rows, cols, cnt, wsum, inv = _group_pairs(
        np.ascontiguousarray(pre_idx, dtype=np.int64),
        np.ascontiguousarray(post_idx, dtype=np.int64),
        w,
        int(n_pre),
        int(n_post),
        bool(with_inverse),
    )
    return rows, cols, cnt, (wsum if weights is not None else None), (inv if with_inverse else None)


@njit(cache=True, nogil=True)
def _factorize(keys: np.ndarray) -> Any:  # pragma: no cover
    n = keys.size
    cap = 1024
    bits = 10
    shift = np.uint64(64 - bits)
    table = np.full(cap, -1, np.int64)  # slot -> unique number
    uniq = np.empty(16, np.uint64)
    n_uniq = 0
    codes = np.empty(n, np.int64)
    mul = np.uint64(0x9E3779B97F4A7C15)
    for k in range(n):
        key = keys[k]
        h = np.int64((key * mul) >> shift)
        while True:
            u = table[h]
            if u < 0:
                if n_uniq == uniq.size:
                    bigger = np.empty(uniq.size * 2, np.uint64)
                    bigger[:n_uniq] = uniq[:n_uniq]
                    uniq = bigger
                uniq[n_uniq] = key
                table[h] = n_uniq
                codes[k] = n_uniq
                n_uniq += 1
                if 2 * n_uniq > cap:  # grow and rehash
                    cap *= 2
                    bits += 1
                    table = np.full(cap, -1, np.int64)
                    shift = np.uint64(64 - bits)
                    for j in range(n_uniq):
                        g = np.int64((uniq[j] * mul) >> shift)
                        while table[g] >= 0:
                            g = (g + 1) & (cap - 1)
                        table[g] = j
                break
            if uniq[u] == key:
                codes[k] = u
                break
            h = (h + 1) & (cap - 1)
    return codes, uniq[:n_uniq].copy()


def factorize_ids(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, sorted unique ids) of a 64-bit id array: ``uniques[codes] == ids``.

    A compiled open-addressing hash (ids are compared as uint64 bit patterns, so int64 and
    uint64 ids stay exact); the uniques are then sorted and the codes renumbered.
    """
    a = np.ascontiguousarray(ids)
    if a.dtype not in (np.int64, np.uint64):
        raise TypeError(f"ids must be int64 or uint64, got {a.dtype}")
    codes, uniq = _factorize(a.view(np.uint64))
    uniq = uniq.view(a.dtype)
    order = np.argsort(uniq, kind="stable")
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size, dtype=np.int64)
    return rank[codes], uniq[order]
