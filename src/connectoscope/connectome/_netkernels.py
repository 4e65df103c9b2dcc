"""Compiled kernels (numba) of the network analyses (:mod:`._network`): the 16-type triad
census, degree-preserving edge swaps and distance-binned pair counts. The callers own the
checks and the documentation."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "TRIAD_NAMES",
    "configuration_null",
    "distance_counts",
    "swap_edges",
    "triad_census",
    "typed_neighbours",
]

#: The 16 triad types (Holland & Leinhardt's M-A-N labels), in the usual order.
TRIAD_NAMES = (
    "003",
    "012",
    "102",
    "021D",
    "021U",
    "021C",
    "111D",
    "111U",
    "030T",
    "030C",
    "201",
    "120D",
    "120U",
    "120C",
    "210",
    "300",
)
# Triad type (1-based, in TRIAD_NAMES order) of each of the 64 codes
#   v->u: 1, u->v: 2, v->w: 4, w->v: 8, u->w: 16, w->u: 32
_CODE_TYPE = np.array(
    [1, 2, 2, 3, 2, 4, 6, 8, 2, 6, 5, 7, 3, 8, 7, 11, 2, 6, 4, 8, 5, 9, 9, 13, 6, 10, 9, 14,
     7, 14, 12, 15, 2, 5, 6, 7, 6, 9, 10, 14, 4, 9, 9, 12, 8, 13, 14, 15, 3, 7, 8, 11, 7, 12,
     14, 15, 8, 14, 13, 15, 11, 15, 15, 16],
    np.int64,
) - 1  # fmt: skip


@njit(cache=True, nogil=True)
def triad_census(nb_ptr, nb_idx, nb_typ, n, code_type):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Counts of the 16 triad types of a directed graph without self-loops.

    ``nb_ptr``/``nb_idx``: CSR of the undirected neighbours (sorted, each once), with
    ``nb_typ`` the dyad seen from the row vertex: 1 (row -> neighbour only), 2 (neighbour ->
    row only) or 3 (both). Vertices should be numbered by decreasing degree.

    Batagelj & Mrvar's algorithm (every connected triad counted once, from its dyad (v, u),
    v < u, with the smallest ids; the empty triads are the rest of C(n, 3)), with the
    neighbours of ``v`` that are not neighbours of ``u`` counted from prefix sums by dyad
    type instead of one by one: each dyad costs the degree of its higher-numbered end, so
    with vertices numbered by decreasing degree the total is the sum over edges of the
    smaller end degree.
    """
    census = np.zeros(16, np.int64)
    vtag = np.full(n, -1, np.int64)  # w in N(v): v * 4 + dyad type of (v, w)
    maxdeg = 0
    for v in range(n):
        maxdeg = max(maxdeg, nb_ptr[v + 1] - nb_ptr[v])
    pref = np.zeros((maxdeg + 1, 4), np.int64)
    for v in range(n):
        a0 = nb_ptr[v]
        dv = nb_ptr[v + 1] - a0
        for k in range(dv):
            w = nb_idx[a0 + k]
            t = nb_typ[a0 + k]
            vtag[w] = v * 4 + t
            for c in range(4):
                pref[k + 1, c] = pref[k, c]
            pref[k + 1, t] += 1
        for ku in range(dv):
            u = nb_idx[a0 + ku]
            if u <= v:
                continue
            tvu = nb_typ[a0 + ku]
            base = (1 if tvu & 1 else 0) + (2 if tvu & 2 else 0)
            # neighbours of v after u in the order, by dyad type; those that are also
            # neighbours of u are taken out below and counted with u's edges
            rest1 = pref[dv, 1] - pref[ku + 1, 1]
            rest2 = pref[dv, 2] - pref[ku + 1, 2]
            rest3 = pref[dv, 3] - pref[ku + 1, 3]
            b0 = nb_ptr[u]
            du = nb_ptr[u + 1] - b0
            shared = 0
            for k in range(du):
                w = nb_idx[b0 + k]
                if w == v:
                    continue
                tag = vtag[w]
                tvw = tag - v * 4 if tag >= v * 4 and tag < v * 4 + 4 else 0
                if tvw:
                    shared += 1
                    if w > u:  # counted here, not from the prefix sums
                        if tvw == 1:
                            rest1 -= 1
                        elif tvw == 2:
                            rest2 -= 1
                        else:
                            rest3 -= 1
                if w > u or (w > v and tvw == 0):
                    tuw = nb_typ[b0 + k]
                    code = base
                    if tvw & 1:
                        code += 4
                    if tvw & 2:
                        code += 8
                    if tuw & 1:
                        code += 16
                    if tuw & 2:
                        code += 32
                    census[code_type[code]] += 1
            census[code_type[base + 4]] += rest1
            census[code_type[base + 8]] += rest2
            census[code_type[base + 12]] += rest3
            s_size = dv - 1 + du - 1 - shared
            census[2 if tvu == 3 else 1] += n - s_size - 2
    total = np.int64(n) * (n - 1) * (n - 2) // 6 if n >= 3 else np.int64(0)
    census[0] = total - census[1:].sum()
    return census


@njit(cache=True, nogil=True)
def typed_neighbours(src, dst, n):  # type: ignore[no-untyped-def]  # pragma: no cover
    """CSR of the undirected neighbours of a directed graph (rows and columns sorted, each
    neighbour once) with the dyad type seen from the row: 1 (row -> col only), 2 (col ->
    row only), 3 (both)."""
    m = src.size
    cnt = np.zeros(n + 1, np.int64)
    for e in range(m):
        cnt[src[e] + 1] += 1
        cnt[dst[e] + 1] += 1
    for v in range(n):
        cnt[v + 1] += cnt[v]
    fill = cnt[:-1].copy()
    col = np.empty(2 * m, np.int64)
    typ = np.empty(2 * m, np.int64)
    for e in range(m):
        a, b = src[e], dst[e]
        col[fill[a]] = b
        typ[fill[a]] = 1
        fill[a] += 1
        col[fill[b]] = a
        typ[fill[b]] = 2
        fill[b] += 1
    ptr = np.zeros(n + 1, np.int64)
    out_col = np.empty(2 * m, np.int64)
    out_typ = np.empty(2 * m, np.int64)
    k = 0
    for v in range(n):
        a0, a1 = cnt[v], cnt[v + 1]
        if a1 > a0:
            order = np.argsort(col[a0:a1])
            last = -1
            for r in range(a1 - a0):
                c = col[a0 + order[r]]
                t = typ[a0 + order[r]]
                if c == last:
                    out_typ[k - 1] |= t
                else:
                    out_col[k] = c
                    out_typ[k] = t
                    k += 1
                    last = c
        ptr[v + 1] = k
    return ptr, out_col[:k].copy(), out_typ[:k].copy()


@njit(cache=True, nogil=True)
def _h(key):  # type: ignore[no-untyped-def]  # pragma: no cover
    h = np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)
    h ^= h >> np.uint64(31)
    return h


@njit(cache=True, nogil=True)
def _set_build(keys, cap):  # type: ignore[no-untyped-def]  # pragma: no cover
    table = np.full(cap, -1, np.int64)  # -1 empty, -2 deleted, else the key
    mask = np.uint64(cap - 1)
    for key in keys:
        s = _h(key) & mask
        while table[s] >= 0:
            s = (s + np.uint64(1)) & mask
        table[s] = key
    return table


@njit(cache=True, nogil=True)
def _set_has(table, key):  # type: ignore[no-untyped-def]  # pragma: no cover
    mask = np.uint64(table.size - 1)
    s = _h(key) & mask
    while True:
        t = table[s]
        if t == key:
            return True
        if t == -1:
            return False
        s = (s + np.uint64(1)) & mask


@njit(cache=True, nogil=True)
def _set_del(table, key):  # type: ignore[no-untyped-def]  # pragma: no cover
    mask = np.uint64(table.size - 1)
    s = _h(key) & mask
    while table[s] != key:
        s = (s + np.uint64(1)) & mask
    table[s] = -2


@njit(cache=True, nogil=True)
def _set_add(table, key):  # type: ignore[no-untyped-def]  # pragma: no cover
    mask = np.uint64(table.size - 1)
    s = _h(key) & mask
    while table[s] >= 0:
        s = (s + np.uint64(1)) & mask
    table[s] = key


@njit(cache=True, nogil=True)
def _swap_chunk(src, dst, n, table, todo, rng, tries_left):  # type: ignore[no-untyped-def]  # pragma: no cover
    # no array is rebound in this loop (numba would then refcount it on every pass)
    m = src.size
    done = 0
    tries = 0
    while done < todo and tries < tries_left:
        tries += 1
        i = rng.integers(0, m)
        j = rng.integers(0, m)
        a, b, c, d = src[i], dst[i], src[j], dst[j]
        if i == j or a == d or c == b or a == c or b == d:
            continue
        k1 = a * n + d
        k2 = c * n + b
        if _set_has(table, k1) or _set_has(table, k2):
            continue
        _set_del(table, a * n + b)
        _set_del(table, c * n + d)
        _set_add(table, k1)
        _set_add(table, k2)
        dst[i] = d
        dst[j] = b
        done += 1
    return done, tries


@njit(cache=True, nogil=True)
def swap_edges(src, dst, n, n_swaps, rng, max_tries):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Degree-preserving randomisation in place: ``n_swaps`` successful double edge swaps
    (a->b, c->d) -> (a->d, c->b), refusing self-loops and existing edges, so every vertex
    keeps its in- and out-degree. ``rng`` is a ``numpy.random.Generator``. Returns the swaps
    done (fewer when ``max_tries`` ran out).
    """
    m = src.size
    if m < 2:
        return 0
    cap = 1024
    while cap < 3 * m:
        cap *= 2
    table = _set_build(src * n + dst, cap)
    done = 0
    tries = 0
    while done < n_swaps and tries < max_tries:
        # each swap leaves two tombstones: rebuild the table after m / 2 swaps
        d, t = _swap_chunk(
            src, dst, n, table, min(n_swaps - done, m // 2 + 1), rng, max_tries - tries
        )
        done += d
        tries += t
        table = _set_build(src * n + dst, cap)
    return done


@njit(cache=True, nogil=True)
def configuration_null(src, dst, n, rng, max_tries):  # type: ignore[no-untyped-def]  # pragma: no cover
    """A directed configuration model in place: the targets are shuffled among the edges
    (every vertex keeps its in- and out-degree), then each self-loop or repeated edge is
    repaired by swapping its target with a random edge's until both edges are new. Returns
    the number of edges still bad (0 unless ``max_tries`` ran out).
    """
    m = src.size
    for i in range(m - 1, 0, -1):  # Fisher-Yates
        j = rng.integers(0, i + 1)
        dst[i], dst[j] = dst[j], dst[i]
    cap = 1024
    while cap < 3 * m:
        cap *= 2
    table = np.full(cap, -1, np.int64)
    bad = np.zeros(m, np.bool_)
    for i in range(m):
        key = src[i] * n + dst[i]
        if src[i] == dst[i] or _set_has(table, key):
            bad[i] = True
        else:
            _set_add(table, key)
    left = 0
    tries = 0
    for i in range(m):
        if not bad[i]:
            continue
        fixed = False
        while tries < max_tries:
            tries += 1
            j = rng.integers(0, m)
            if bad[j] or j == i:
                continue
            a, c = src[i], src[j]
            b, d = dst[i], dst[j]  # i: a -> b (bad), j: c -> d (good)
            if a == d or c == b:
                continue
            k1 = a * n + d
            k2 = c * n + b
            if _set_has(table, k1) or _set_has(table, k2) or k1 == k2:
                continue
            _set_del(table, c * n + d)
            _set_add(table, k1)
            _set_add(table, k2)
            dst[i] = d
            dst[j] = b
            bad[i] = False
            fixed = True
            break
        if not fixed:
            left += 1
    return left


@njit(cache=True, nogil=True)
def distance_counts(  # type: ignore[no-untyped-def]  # pragma: no cover
    pre_xyz, pre_type, pre_id, post_xyz, post_type, post_id, n_types, edges_bin_sq, n_bins
):
    """Pairs (pre vertex, post vertex) tested per (pre type, post type, distance bin): every
    pair with both positions and types known, a vertex never paired with itself.

    ``edges_bin_sq``: squared bin edges (nm^2), increasing; pairs beyond the last are not
    counted. Returns an ``(n_types, n_types, n_bins)`` int64 array.
    """
    out = np.zeros((n_types, n_types, n_bins), np.int64)
    top = edges_bin_sq[n_bins]
    inv_w = n_bins / np.sqrt(top) if top > 0 else 0.0
    for i in range(pre_xyz.shape[0]):
        ti = pre_type[i]
        if ti < 0:
            continue
        xi, yi, zi = pre_xyz[i, 0], pre_xyz[i, 1], pre_xyz[i, 2]
        for j in range(post_xyz.shape[0]):
            tj = post_type[j]
            if tj < 0 or post_id[j] == pre_id[i]:
                continue
            dx = post_xyz[j, 0] - xi
            dy = post_xyz[j, 1] - yi
            dz = post_xyz[j, 2] - zi
            d2 = dx * dx + dy * dy + dz * dz
            if d2 >= top or d2 < edges_bin_sq[0]:
                continue
            lo = min(int(np.sqrt(d2) * inv_w), n_bins - 1)  # the bin of uniform edges...
            while lo > 0 and d2 < edges_bin_sq[lo]:  # ...checked against the real ones
                lo -= 1
            while lo < n_bins - 1 and d2 >= edges_bin_sq[lo + 1]:
                lo += 1
            out[ti, tj, lo] += 1
    return out
