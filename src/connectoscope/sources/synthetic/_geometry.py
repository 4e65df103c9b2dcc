"""Geometric primitives of the synthetic tissue: tapered capsules and the segment registry.

Everything here is in nanometres, ``(x, y, z)`` order, in the frame of the whole volume
(voxel ``(i, j, k)`` has its centre at ``((i + 0.5) * vx, (j + 0.5) * vy, (k + 0.5) * vz)``).
A neurite is a smooth random curve sampled every ``step`` nm; consecutive samples become
tapered capsules. Each capsule carries the segment (supervoxel) id it paints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "AXON",
    "BOUTON",
    "DENDRITE",
    "KIND_NAMES",
    "SOMA",
    "SPINEHEAD",
    "Registry",
    "random_unit",
    "smooth_walk",
    "split_by_length",
]

#: Supervoxel kind codes (private to the generator).
SOMA, DENDRITE, SPINEHEAD, AXON, BOUTON = 1, 2, 3, 4, 5
KIND_NAMES = {
    SOMA: "soma",
    DENDRITE: "dendrite",
    SPINEHEAD: "spinehead",
    AXON: "axon",
    BOUTON: "bouton",
}


def random_unit(rng: np.random.Generator, n: int | None = None) -> np.ndarray:
    """Uniform random unit vector(s) ``(3,)`` or ``(n, 3)``."""
    v = rng.normal(size=(1 if n is None else n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v[0] if n is None else v


def smooth_walk(
    rng: np.random.Generator,
    start: np.ndarray,
    direction: np.ndarray,
    *,
    step: float,
    n_steps: int,
    wiggle: float,
) -> np.ndarray:
    """Points ``(n_steps + 1, 3)`` nm of a smooth random curve starting at ``start``.

    The direction performs a random walk on the sphere: ``wiggle`` is the standard
    deviation of its change per step (radians, roughly).
    """
    noise = rng.normal(scale=wiggle, size=(n_steps, 3))
    dirs = direction[None, :] + np.cumsum(noise, axis=0)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    pts = np.empty((n_steps + 1, 3))
    pts[0] = start
    pts[1:] = start + np.cumsum(dirs * step, axis=0)
    return pts


def split_by_length(
    rng: np.random.Generator, n_caps: int, step: float, lo: float, hi: float
) -> np.ndarray:
    """Piece index ``(n_caps,)`` of each capsule when a curve is cut every ``lo..hi`` nm."""
    n_pieces = int(n_caps * step / lo) + 2
    cuts = np.cumsum(rng.uniform(lo, hi, n_pieces))
    arc = np.arange(n_caps) * step
    return np.searchsorted(cuts, arc, side="right").astype(np.int64)


@dataclass
class Registry:
    """Segments (supervoxels) and the capsules that paint them, in creation order.

    Segment ids are ``index + 1``; id 0 is the membrane/background value.
    """

    kind: list[int] = field(default_factory=list)
    cell: list[int] = field(default_factory=list)
    dendrite_obj: list[int] = field(default_factory=list)
    axon_obj: list[int] = field(default_factory=list)
    p0: list[np.ndarray] = field(default_factory=list)
    p1: list[np.ndarray] = field(default_factory=list)
    r0: list[np.ndarray] = field(default_factory=list)
    r1: list[np.ndarray] = field(default_factory=list)
    sid: list[np.ndarray] = field(default_factory=list)

    @property
    def n_segments(self) -> int:
        return len(self.kind)

    def new_segment(
        self, kind: int, cell: int, *, dendrite_obj: int = -1, axon_obj: int = -1
    ) -> int:
        """Register a segment; returns its id (>= 1)."""
        self.kind.append(kind)
        self.cell.append(cell)
        self.dendrite_obj.append(dendrite_obj)
        self.axon_obj.append(axon_obj)
        return len(self.kind)

    def add_capsules(
        self,
        p0: np.ndarray,
        p1: np.ndarray,
        r0: np.ndarray | float,
        r1: np.ndarray | float,
        sid: np.ndarray | int,
    ) -> None:
        """Add capsules from ``p0`` to ``p1`` (``(n, 3)`` nm) with end radii and segment ids."""
        p0 = np.atleast_2d(np.asarray(p0, dtype=np.float64))
        p1 = np.atleast_2d(np.asarray(p1, dtype=np.float64))
        n = len(p0)
        self.p0.append(p0)
        self.p1.append(p1)
        self.r0.append(np.broadcast_to(np.asarray(r0, dtype=np.float64), (n,)).copy())
        self.r1.append(np.broadcast_to(np.asarray(r1, dtype=np.float64), (n,)).copy())
        self.sid.append(np.broadcast_to(np.asarray(sid, dtype=np.uint32), (n,)).copy())

    def add_sphere(self, centre: np.ndarray, radius: float, sid: int) -> None:
        """A sphere is a capsule of zero length."""
        self.add_capsules(centre, centre, radius, radius, sid)

    def capsules(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All capsules as arrays ``p0 (n,3)``, ``p1 (n,3)``, ``r0 (n,)``, ``r1 (n,)``, ``sid (n,)``."""
        if not self.p0:
            e3 = np.zeros((0, 3))
            e = np.zeros(0)
            return e3, e3.copy(), e, e.copy(), np.zeros(0, np.uint32)
        return (
            np.concatenate(self.p0),
            np.concatenate(self.p1),
            np.concatenate(self.r0),
            np.concatenate(self.r1),
            np.concatenate(self.sid),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """Per-segment arrays indexed by ``id - 1``: kind, cell, dendrite_obj, axon_obj."""
        return {
            "kind": np.asarray(self.kind, dtype=np.int8),
            "cell": np.asarray(self.cell, dtype=np.int64),
            "dendrite_obj": np.asarray(self.dendrite_obj, dtype=np.int64),
            "axon_obj": np.asarray(self.axon_obj, dtype=np.int64),
        }
