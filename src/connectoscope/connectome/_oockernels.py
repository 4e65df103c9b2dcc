"""Compiled kernels (numba, ``nogil``) of the out-of-core condenser
(:mod:`connectoscope.connectome._outofcore`).

Layout. A synapse ``(pre, post, size)`` goes to *bucket* ``f(pre)`` (one reduce task each)
and, inside it, to *sub-partition* ``g(post)``; ``g`` is also the *cell partition* of an id
in the per-cell pass. So every (pre, post) pair lives in one sub-partition, every
presynaptic id in one bucket, and every id's partial sums meet in one cell partition. Each
sub-partition is small (tens of thousands of rows), so its hash tables stay in the CPU
cache; the radix partitioning is done once, while the input is read.

Records are ``uint64`` rows: a synapse is ``(pre, post, size bits)`` (the float64 size bit
for bit); a cell partial is ``(id, out_degree, in_degree, out_synapses, in_synapses,
out_size_sum bits, in_size_sum bits)``. Ids are compared as uint64 bit patterns, so int64
and uint64 ids (also above 2**63) stay exact.

Four independent hashes: ``f`` (bucket of a pre id), ``g`` (sub-partition / cell partition
of an id), and the slot hashes of the pair and id tables (independent of ``f`` and ``g``,
whose top bits are nearly constant inside one partition).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "CELL_FIELDS",
    "aggregate_cells",
    "cell_partition",
    "reduce_subpartitions",
    "scatter_synapses",
    "table_size",
]

#: Fields of a cell record.
CELL_FIELDS = (
    "id",
    "out_degree",
    "in_degree",
    "out_synapses",
    "in_synapses",
    "out_size_sum",
    "in_size_sum",
)

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_M3 = np.uint64(0x165667B19E3779F9)
_M4 = np.uint64(0xD6E8FEB86659FD93)
_S32 = np.uint64(32)
_S29 = np.uint64(29)
_ONE = np.uint64(1)


@njit(cache=True, nogil=True, inline="always")
def _fin(h):  # type: ignore[no-untyped-def]  # pragma: no cover
    h ^= h >> _S32
    h *= _M1
    h ^= h >> _S29
    return h


@njit(cache=True, nogil=True, inline="always")
def _h_bucket(p):  # type: ignore[no-untyped-def]  # pragma: no cover
    return _fin((p ^ _M3) * _M2)


@njit(cache=True, nogil=True, inline="always")
def _h_cell(p):  # type: ignore[no-untyped-def]  # pragma: no cover
    return _fin((p + _M4) * _M3)


@njit(cache=True, nogil=True, inline="always")
def _h_idslot(p):  # type: ignore[no-untyped-def]  # pragma: no cover
    return _fin((p ^ _M1) * _M4)


@njit(cache=True, nogil=True, inline="always")
def _h_pairslot(p, q):  # type: ignore[no-untyped-def]  # pragma: no cover
    return _fin((p ^ _M2) * _M3 + q * _M4)


@njit(cache=True, nogil=True, inline="always")
def _range(h, n):  # type: ignore[no-untyped-def]  # pragma: no cover
    """0..n-1 from the top 32 bits of a hash."""
    return np.int64(((h >> _S32) * np.uint64(n)) >> _S32)


@njit(cache=True, nogil=True)
def _bits(cap):  # type: ignore[no-untyped-def]  # pragma: no cover
    b = 0
    while (1 << b) < cap:
        b += 1
    return b


def table_size(n: int) -> int:
    """Power of two >= 2 * n (at least 1024): a hash table at most half full."""
    cap = 1024
    while cap < 2 * n:
        cap *= 2
    return cap


# ---------------------------------------------------------------------------- map
@njit(cache=True, nogil=True)
def scatter_synapses(pre, post, size_bits, n_buckets, n_sub, rec, bk):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Fill ``rec`` (``(n, 3)`` uint64) with the synapses ordered by partition; returns the
    offsets ``(n_buckets * n_sub + 1,)``. ``bk`` is int32 scratch of length ``n``.

    The partition of a synapse is ``f(pre) * n_sub + g(post)``.
    """
    n = pre.size
    n_parts = n_buckets * n_sub
    start = np.zeros(n_parts + 1, np.int64)
    for i in range(n):
        b = _range(_h_bucket(pre[i]), n_buckets) * n_sub + _range(_h_cell(post[i]), n_sub)
        bk[i] = b
        start[b + 1] += 1
    for b in range(n_parts):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    for i in range(n):
        b = bk[i]
        j = fill[b]
        rec[j, 0] = pre[i]
        rec[j, 1] = post[i]
        rec[j, 2] = size_bits[i]
        fill[b] = j + 1
    return start


@njit(cache=True, nogil=True)
def cell_partition(ids, n_sub):  # type: ignore[no-untyped-def]  # pragma: no cover
    """(order, offsets): positions of ``ids`` grouped by their cell partition ``g(id)``."""
    n = ids.size
    bk = np.empty(n, np.int32)
    start = np.zeros(n_sub + 1, np.int64)
    for i in range(n):
        b = _range(_h_cell(ids[i]), n_sub)
        bk[i] = b
        start[b + 1] += 1
    for b in range(n_sub):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    order = np.empty(n, np.int64)
    for i in range(n):
        j = fill[bk[i]]
        order[j] = i
        fill[bk[i]] = j + 1
    return order, start


# ---------------------------------------------------------------------------- id tables
@njit(cache=True, nogil=True, inline="always")
def _find(table, keys, m, key):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Row of ``key`` (``m`` when it is new: the caller counts it); the table has room."""
    mask = np.uint64(table.size - 1)
    shift = np.uint64(64 - _bits(table.size))
    slot = _h_idslot(key) >> shift
    while True:
        g = table[slot]
        if g < 0:
            table[slot] = m
            keys[m] = key
            return m
        if keys[g] == key:
            return g
        slot = (slot + _ONE) & mask


@njit(cache=True, nogil=True)
def _type_of(key, type_ids, type_codes, n_types):  # type: ignore[no-untyped-def]  # pragma: no cover
    if type_ids.size == 0:
        return n_types
    a = np.searchsorted(type_ids, key)
    if a < type_ids.size and type_ids[a] == key:
        return type_codes[a]
    return n_types


# ---------------------------------------------------------------------------- reduce
@njit(cache=True, nogil=True)
def reduce_subpartitions(  # type: ignore[no-untyped-def]  # pragma: no cover
    data,
    seg,
    j_from,
    j_to,
    pair_table,
    opre,
    opost,
    ocnt,
    osum,
    omin,
    omax,
    n_out,
    post_table,
    post_keys,
    post_cnt,
    post_sum,
    post_type,
    cell_rec,
    n_cell,
    cell_off,
    pre_table,
    pre_keys,
    pre_cnt,
    pre_sum,
    pre_type,
    n_pre,
    type_ids,
    type_codes,
    n_types,
    tp_cnt,
    tp_sum,
):
    """Aggregate sub-partitions ``j_from .. j_to - 1`` of one bucket.

    Parameters
    ----------
    data : (R, 3) uint64
        Synapse records of the slice, batch after batch, each batch ordered by
        sub-partition; ``seg[b, j]`` is the first row of sub-partition ``j`` of batch ``b``.
    pair_table : int32 array
        Scratch table, a power of two at least twice the largest sub-partition.
    opre, opost : (>= R,) uint64
    ocnt : (>= R,) int64
    osum, omin, omax : (>= R,) float64
        The pairs and their statistics, written from row ``n_out``.
    post_* : per sub-partition table of postsynaptic ids (reset for every ``j``), whose
        rows go to ``cell_rec`` (cell records, from row ``n_cell``) at the end of each
        sub-partition; ``cell_off[j]`` gets the first cell row of sub-partition ``j``.
    pre_* : the bucket's table of presynaptic ids (kept across calls; ``n_pre`` rows).
    tp_cnt : (n_types + 1, n_types + 1, 2) int64
        Pairs and synapses per (pre type, post type); ``tp_sum`` the size sums.

    Returns
    -------
    (j, n_out, n_cell, n_pre)
        ``j`` is the next sub-partition to do: less than ``j_to`` when the presynaptic table
        needs room (the caller grows it and calls again).
    """
    pmask = np.uint64(pair_table.size - 1)
    pshift = np.uint64(64 - _bits(pair_table.size))
    dataf = data.view(np.float64)
    pre_room = pre_keys.size
    for j in range(j_from, j_to):
        cell_off[j] = n_cell
        rows_j = 0
        for b in range(seg.shape[0]):
            rows_j += seg[b, j + 1] - seg[b, j]
        if 2 * (n_pre + rows_j + 1) > pre_table.size or n_pre + rows_j + 1 > pre_room:
            return j, n_out, n_cell, n_pre
        # 1. pairs of sub-partition j
        pair_table[:] = -1
        base = n_out
        for b in range(seg.shape[0]):
            for i in range(seg[b, j], seg[b, j + 1]):
                p = data[i, 0]
                q = data[i, 1]
                s = dataf[i, 2]
                slot = _h_pairslot(p, q) >> pshift
                while True:
                    g = pair_table[slot]
                    if g < 0:
                        pair_table[slot] = n_out - base
                        opre[n_out] = p
                        opost[n_out] = q
                        ocnt[n_out] = 1
                        osum[n_out] = s
                        omin[n_out] = s
                        omax[n_out] = s
                        n_out += 1
                        break
                    o = base + g
                    if opre[o] == p and opost[o] == q:
                        ocnt[o] += 1
                        osum[o] += s
                        if s < omin[o]:
                            omin[o] = s
                        if s > omax[o]:
                            omax[o] = s
                        break
                    slot = (slot + _ONE) & pmask
        # 2. per-cell sums of those pairs: pre ids in the bucket table, post ids in a table
        #    of this sub-partition (every post id of the bucket with g(id) == j is here)
        post_table[:] = -1
        m = 0
        for o in range(base, n_out):
            p = opre[o]
            q = opost[o]
            c = ocnt[o]
            s = osum[o]
            a = _find(pre_table, pre_keys, n_pre, p)
            if a == n_pre:
                n_pre += 1
                pre_type[a] = _type_of(p, type_ids, type_codes, n_types)
                pre_cnt[a, 0] = 0
                pre_cnt[a, 1] = 0
                pre_sum[a] = 0.0
            pre_cnt[a, 0] += 1
            pre_cnt[a, 1] += c
            pre_sum[a] += s
            t = _find(post_table, post_keys, m, q)
            if t == m:
                m += 1
                post_type[t] = _type_of(q, type_ids, type_codes, n_types)
                post_cnt[t, 0] = 0
                post_cnt[t, 1] = 0
                post_sum[t] = 0.0
            post_cnt[t, 0] += 1
            post_cnt[t, 1] += c
            post_sum[t] += s
            ta = pre_type[a]
            tb = post_type[t]
            tp_cnt[ta, tb, 0] += 1
            tp_cnt[ta, tb, 1] += c
            tp_sum[ta, tb] += s
        cf = cell_rec.view(np.float64)
        for t in range(m):
            r = n_cell + t
            cell_rec[r, 0] = post_keys[t]
            cell_rec[r, 1] = np.uint64(post_cnt[t, 0])
            cell_rec[r, 2] = np.uint64(post_cnt[t, 1])
            cf[r, 3] = post_sum[t]
        n_cell += m
    cell_off[j_to] = n_cell
    return j_to, n_out, n_cell, n_pre


@njit(cache=True, nogil=True)
def rehash(keys, m, cap):  # type: ignore[no-untyped-def]  # pragma: no cover
    """A new id table of ``cap`` slots for the first ``m`` keys."""
    table = np.full(cap, -1, np.int64)
    mask = np.uint64(cap - 1)
    shift = np.uint64(64 - _bits(cap))
    for g in range(m):
        slot = _h_idslot(keys[g]) >> shift
        while table[slot] >= 0:
            slot = (slot + _ONE) & mask
        table[slot] = g
    return table


# ---------------------------------------------------------------------------- cells
@njit(cache=True, nogil=True)
def _agg_side(table, keys, out, m, rec, side):  # type: ignore[no-untyped-def]  # pragma: no cover
    # no array is rebound in this loop (numba would then refcount it on every pass)
    recf = rec.view(np.float64)
    outf = out.view(np.float64)
    for i in range(rec.shape[0]):
        g = _find(table, keys, m, rec[i, 0])
        if g == m:
            m += 1
            out[g, 0] = rec[i, 0]
            for c in range(1, 5):
                out[g, c] = 0
            outf[g, 5] = 0.0
            outf[g, 6] = 0.0
        out[g, 1 + side] += rec[i, 1]
        out[g, 3 + side] += rec[i, 2]
        outf[g, 5 + side] += recf[i, 3]
    return m


@njit(cache=True, nogil=True)
def aggregate_cells(pre_rec, post_rec):  # type: ignore[no-untyped-def]  # pragma: no cover
    """One cell record per distinct id from partial records ``(n, 4)`` = ``(id, degree,
    synapses, size_sum bits)`` of the presynaptic and the postsynaptic side.

    Returns
    -------
    (n_ids, 7) uint64
        ``id, out_degree, in_degree, out_synapses, in_synapses, out_size_sum bits,
        in_size_sum bits``.
    """
    n = pre_rec.shape[0] + post_rec.shape[0]
    cap = 1024
    while cap < 2 * n:
        cap *= 2
    table = np.full(cap, -1, np.int64)
    keys = np.empty(n + 1, np.uint64)
    out = np.empty((n + 1, 7), np.uint64)
    m = _agg_side(table, keys, out, 0, pre_rec, 0)
    m = _agg_side(table, keys, out, m, post_rec, 1)
    return out[:m].copy()
