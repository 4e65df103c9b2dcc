"""The pyramid's level plan: downsampling factors from the voxel anisotropy.

One plan serves every layer of a dataset (image, segmentation, mapped layers): it depends on
the level-0 shape and voxel size only, never on a layer's dtype, so level ``i`` of every
layer has the same shape and voxel size. The first layer written records the plan in the
dataset metadata (``pyramid.factors_xyz``) and later layers reuse it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..geometry import VoxelSize

__all__ = ["DEFAULT_MIN_XY", "level_factors", "plan_pyramid"]

#: The pyramid ends once a level fits in one chunk in x and y (the default chunk edge).
DEFAULT_MIN_XY = 128


def plan_pyramid(
    shape_zyx: Sequence[int],
    voxel_size: VoxelSize,
    *,
    min_xy: int = DEFAULT_MIN_XY,
) -> list[tuple[int, int, int]]:
    """Downsampling factor ``(x, y, z)`` of each step, finest first.

    Halve x and y alone (2x2x1) while the z voxel is at least twice as large as the x, y
    voxel (anisotropic EM: 28 or 40 nm in z against 4-16 nm in x, y); once near-isotropic,
    halve all three (2x2x2, z only while more than one plane is left). An axis already at or
    below ``min_xy`` voxels is not halved. No step halves z alone: the pyramid stops when x
    and y both fit in ``min_xy`` (one chunk), whatever z is.

    >>> plan_pyramid((256, 512, 512), VoxelSize(11.24, 11.24, 28))
    [(2, 2, 1), (2, 2, 2)]
    >>> plan_pyramid((2000, 100, 100), VoxelSize(4, 4, 40))
    []
    """
    z, y, x = (int(v) for v in shape_zyx)
    m = int(min_xy)
    vx, vy, vz = voxel_size.xyz
    steps: list[tuple[int, int, int]] = []
    while x > m or y > m:
        near_isotropic = vz < 2 * min(vx, vy) * 0.999
        f = (2 if x > m else 1, 2 if y > m else 1, 2 if (near_isotropic and z > 1) else 1)
        steps.append(f)
        x, y, z = -(-x // f[0]), -(-y // f[1]), -(-z // f[2])
        vx, vy, vz = vx * f[0], vy * f[1], vz * f[2]
    return steps


def level_factors(plan: Sequence[Sequence[int]]) -> list[tuple[int, int, int]]:
    """Cumulative factor ``(x, y, z)`` of every level, starting with ``(1, 1, 1)``."""
    out = [(1, 1, 1)]
    for f in plan:
        p = out[-1]
        out.append((p[0] * int(f[0]), p[1] * int(f[1]), p[2] * int(f[2])))
    return out
