"""Checks of a volume layer's grid and completeness.

:func:`check_grid` refuses chunk and shard shapes that cannot work (zero, negative) and warns,
with the number of files it would create, about shapes that would bury a store under tiny
files (``--chunk 7,7,7``: over 100,000 files for a 1 GB volume).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

from ..errors import ConnectoscopeWarning, InvalidParameterError

__all__ = ["MANY_FILES", "check_grid", "count_files", "warn_file_count"]

#: More files than this in one layer write gets a warning naming the count.
MANY_FILES = 10_000


def check_grid(
    chunk_xyz: Sequence[int] | None,
    shard_xyz: Sequence[int] | None,
    shape_zyx: Sequence[int] | None = None,
) -> None:
    """Refuse a chunk or shard shape with a zero, negative or non-integer edge, and an empty
    volume (an axis of length 0).

    Raises
    ------
    InvalidParameterError
        Names the option (``--chunk``/``--shard``) and the value, or the empty shape.
    """
    if shape_zyx is not None and (len(shape_zyx) != 3 or min(shape_zyx) < 1):
        raise InvalidParameterError(
            f"the source volume is empty (shape z, y, x = {tuple(shape_zyx)}); nothing to write"
        )
    for opt, val in (("--chunk", chunk_xyz), ("--shard", shard_xyz)):
        if val is None:
            continue
        vals = list(val)
        ok = len(vals) == 3 and all(
            isinstance(v, int | float) and float(v).is_integer() and int(v) >= 1 for v in vals
        )
        if not ok:
            raise InvalidParameterError(
                f"{opt} {','.join(map(str, vals))}: expected three positive whole numbers of "
                "voxels x,y,z, for example 64,64,64"
            )


def count_files(levels: Sequence[Any]) -> int:
    """Shard files a layer write creates: per level, the number of shards of its grid."""
    total = 0
    for lev in levels:
        total += math.prod(-(-int(n) // int(s)) for n, s in zip(lev.shape_zyx, lev.shard_zyx))
    return total


def warn_file_count(
    levels: Sequence[Any], chunk_xyz: Sequence[int] | None, shard_xyz: Sequence[int] | None
) -> None:
    """Warn (:class:`ConnectoscopeWarning`) when the chosen chunk/shard shapes make more than
    :data:`MANY_FILES` files."""
    if chunk_xyz is None and shard_xyz is None:
        return
    n = count_files(levels)
    if n > MANY_FILES:
        given = " ".join(
            f"{opt} {','.join(map(str, v))}"
            for opt, v in (("--chunk", chunk_xyz), ("--shard", shard_xyz))
            if v is not None
        )
        warnings.warn(
            f"{given}: this layer would be written as {n:,} files over {len(levels)} levels; "
            "slow to write, copy and delete. Choose larger shapes (64,64,64 chunks in "
            "256,256,256 shards is typical) or leave them out for the defaults",
            ConnectoscopeWarning,
            stacklevel=3,
        )
