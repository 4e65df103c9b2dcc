"""Choice of pyramid factors from the voxel anisotropy."""

from __future__ import annotations

from collections.abc import Sequence

from ..geometry import VoxelSize

__all__ = ["level_factors", "plan_pyramid"]


def plan_pyramid(
    shape_zyx: Sequence[int],
    voxel_size: VoxelSize,
    *,
    min_shape_zyx: Sequence[int] = (64, 64, 64),
) -> list[tuple[int, int, int]]:
    """Downsampling factor ``(x, y, z)`` of each step, finest first.

    Halve x and y alone (2x2x1) while the z voxel is at least twice as large as the x, y
    voxel (anisotropic EM: 28 or 40 nm in z against 4-16 nm in x, y); once near-isotropic,
    halve all three (2x2x2). An axis already at or below its ``min_shape_zyx`` entry is not
    halved. Stops when the whole level fits inside ``min_shape_zyx`` (one chunk).

    >>> plan_pyramid((256, 512, 512), VoxelSize(11.24, 11.24, 28), min_shape_zyx=(64, 64, 64))
    [(2, 2, 1), (2, 2, 2), (2, 2, 2)]
    """
    z, y, x = (int(v) for v in shape_zyx)
    mz, my, mx = (int(v) for v in min_shape_zyx)
    vx, vy, vz = voxel_size.xyz
    steps: list[tuple[int, int, int]] = []
    while z > mz or y > my or x > mx:
        halve_z = vz < 2 * min(vx, vy) * 0.999
        f = (2 if x > mx else 1, 2 if y > my else 1, 2 if (halve_z and z > mz) else 1)
        if f == (1, 1, 1):
            # only z is too large but still anisotropic: halve z anyway
            f = (1, 1, 2)
        steps.append(f)
        x, y, z = -(-x // f[0]), -(-y // f[1]), -(-z // f[2])
        vx, vy, vz = vx * f[0], vy * f[1], vz * f[2]
        if len(steps) > 40:  # pragma: no cover - defensive
            break
    return steps


def level_factors(plan: Sequence[Sequence[int]]) -> list[tuple[int, int, int]]:
    """Cumulative factor ``(x, y, z)`` of every level, starting with ``(1, 1, 1)``."""
    out = [(1, 1, 1)]
    for f in plan:
        p = out[-1]
        out.append((p[0] * int(f[0]), p[1] * int(f[1]), p[2] * int(f[2])))
    return out
