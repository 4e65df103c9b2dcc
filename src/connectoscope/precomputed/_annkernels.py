"""Compiled kernels (numba) of the streaming annotation writer
(:func:`~connectoscope.precomputed.write_synapse_annotations_streaming`): the sharded
format's MurmurHash3, the multiple-annotation encoding of sorted entries and the gather of
values in shard order. Imported only when that writer runs."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["encode", "gather", "murmur"]

_M32 = np.uint64(0xFFFFFFFF)


@njit(cache=True, nogil=True, inline="always")
def _rotl(x, r):  # type: ignore[no-untyped-def]  # pragma: no cover
    return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & _M32


@njit(cache=True, nogil=True, inline="always")
def _mul(a, c):  # type: ignore[no-untyped-def]  # pragma: no cover
    return (a * np.uint64(c)) & _M32


@njit(cache=True, nogil=True, inline="always")
def _fmix(h):  # type: ignore[no-untyped-def]  # pragma: no cover
    h ^= h >> np.uint64(16)
    h = _mul(h, 0x85EBCA6B)
    h ^= h >> np.uint64(13)
    h = _mul(h, 0xC2B2AE35)
    return h ^ (h >> np.uint64(16))


@njit(cache=True, nogil=True)
def murmur(keys):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Low 64 bits of MurmurHash3_x86_128 (seed 0) of each uint64 key's 8 bytes."""
    out = np.empty(keys.size, np.uint64)
    for i in range(keys.size):
        k = keys[i]
        h2 = _mul(_rotl(_mul(k >> np.uint64(32), 0xAB0E9789), 16), 0x38B34AE5)
        h1 = _mul(_rotl(_mul(k & _M32, 0x239B961B), 15), 0xAB0E9789)
        n = np.uint64(8)
        h1, h2, h3, h4 = h1 ^ n, h2 ^ n, n, n
        h1 = (h1 + h2 + h3 + h4) & _M32
        h2 = (h2 + h1) & _M32
        h3 = (h3 + h1) & _M32
        h4 = (h4 + h1) & _M32
        h1, h2, h3, h4 = _fmix(h1), _fmix(h2), _fmix(h3), _fmix(h4)
        h1 = (h1 + h2 + h3 + h4) & _M32
        h2 = (h2 + h1) & _M32
        out[i] = h1 | (h2 << np.uint64(32))
    return out


@njit(cache=True, nogil=True)
def encode(keys, rb, ib, w):  # type: ignore[no-untyped-def]  # pragma: no cover
    """(distinct keys, values, offsets) of entries sorted by key: per key a little-endian
    uint64 count, the ``w``-byte records ``rb``, then the 8-byte ids ``ib``."""
    m = keys.size
    n_groups = 0
    for i in range(m):
        if i == 0 or keys[i] != keys[i - 1]:
            n_groups += 1
    ukeys = np.empty(n_groups, np.uint64)
    offs = np.zeros(n_groups + 1, np.int64)
    counts = np.zeros(n_groups, np.int64)
    g = -1
    for i in range(m):
        if i == 0 or keys[i] != keys[i - 1]:
            g += 1
            ukeys[g] = keys[i]
        counts[g] += 1
    for g in range(n_groups):
        offs[g + 1] = offs[g] + 8 + counts[g] * (w + 8)
    buf = np.empty(offs[n_groups], np.uint8)
    i = 0
    for g in range(n_groups):
        o = offs[g]
        c = counts[g]
        for b in range(8):
            buf[o + b] = (c >> (8 * b)) & 0xFF
        for r in range(c):
            for b in range(w):
                buf[o + 8 + r * w + b] = rb[i + r, b]
            for b in range(8):
                buf[o + 8 + c * w + r * 8 + b] = ib[i + r, b]
        i += c
    return ukeys, buf, offs


@njit(cache=True, nogil=True)
def gather(buf, offs, order):  # type: ignore[no-untyped-def]  # pragma: no cover
    """The values ``buf[offs[i]:offs[i + 1]]`` for ``i`` in ``order``, concatenated."""
    total = 0
    for i in order:
        total += offs[i + 1] - offs[i]
    out = np.empty(total, np.uint8)
    p = 0
    for i in order:
        for b in range(offs[i], offs[i + 1]):
            out[p] = buf[b]
            p += 1
    return out
