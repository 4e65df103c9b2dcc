"""Counter-based random numbers (splitmix64) so every voxel's noise depends only on its
global position and the seed, never on how the volume is cut into cubes or blocks."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["mix64", "position_key", "seed_key", "uniform01"]


@njit(inline="always", cache=True)
def mix64(x: np.uint64) -> np.uint64:
    """splitmix64 finaliser: a bijective scramble of 64 bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return x


@njit(inline="always", cache=True)
def position_key(seed_k: np.uint64, x: int, y: int, z: int) -> np.uint64:
    """Hash of a non-negative integer position ``(x, y, z)`` under a seed key."""
    k = np.uint64(x) | (np.uint64(y) << np.uint64(21)) | (np.uint64(z) << np.uint64(42))
    return mix64(k ^ seed_k)


@njit(inline="always", cache=True)
def uniform01(h: np.uint64) -> float:
    """Float in ``[0, 1)`` from the top 53 bits of a hash."""
    return float(h >> np.uint64(11)) * (1.0 / 9007199254740992.0)


def seed_key(seed: int, stream: int) -> np.uint64:
    """Seed key of one random stream (glia, noise...) for :func:`position_key`."""
    x = (int(seed) * 0x9E3779B97F4A7C15 + stream * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) % 2**64
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) % 2**64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) % 2**64
    x ^= x >> 31
    return np.uint64(x)
