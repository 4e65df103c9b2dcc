"""Geometric primitives of the synthetic tissue: tapered capsules and the segment registry.

Everything here is in nanometres, ``(x, y, z)`` order, in the frame of the tissue: the centre
of voxel ``(i, j, k)`` of any generated grid sits at ``(i * vx, j * vy, k * vz)`` (the
:class:`connectoscope.geometry.LevelFrame` convention for a dataset with offset 0).
A neurite is a smooth random curve sampled every ``step`` nm; consecutive samples become
tapered capsules. Each capsule carries the segment (supervoxel) id it paints.
:func:`steered_walks` grows many curves at once that bend away from :class:`Obstacles`
(the whole neurons), so nothing cuts through a neuron that has its soma in the volume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "AXON",
    "BOUTON",
    "DENDRITE",
    "KIND_NAMES",
    "SOMA",
    "SPINEHEAD",
    "BlobGrid",
    "Obstacles",
    "Registry",
    "perpendiculars",
    "random_unit",
    "smooth_walk",
    "split_by_length",
    "steered_walks",
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


def perpendiculars(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Random unit vectors ``(n, 3)`` perpendicular to the unit vectors ``t`` ``(n, 3)``."""
    v = rng.normal(size=t.shape)
    v -= t * np.sum(v * t, axis=1, keepdims=True)
    n = np.linalg.norm(v, axis=1, keepdims=True)
    bad = n[:, 0] < 1e-6
    if bad.any():  # pragma: no cover - measure zero
        v[bad] = np.cross(t[bad], [0.577, 0.577, 0.577])
        n[bad] = np.linalg.norm(v[bad], axis=1, keepdims=True)
    return v / n


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


class BlobGrid:
    """Spheres placed one by one (spine heads, boutons), hashed on a grid of ``cell_nm``
    (more than twice the largest radius plus the gap) for quick crowding checks."""

    def __init__(self, cell_nm: float = 1000.0) -> None:
        self.cell = float(cell_nm)
        self._grid: dict[tuple[int, int, int], list[tuple[float, float, float, float]]] = {}

    def _key(self, c: np.ndarray | tuple[float, float, float]) -> tuple[int, int, int]:
        return (
            math.floor(c[0] / self.cell),
            math.floor(c[1] / self.cell),
            math.floor(c[2] / self.cell),
        )

    def crowded(
        self, c: np.ndarray | tuple[float, float, float], r: float, gap: float = 80.0
    ) -> bool:
        """Whether a sphere at ``c`` of radius ``r`` comes within ``gap`` nm of a placed one."""
        x, y, z = self._key(c)
        cx, cy, cz = float(c[0]), float(c[1]), float(c[2])
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for dz in (-1, 0, 1):
                    for px, py, pz, pr in self._grid.get((x + dx, y + dy, z + dz), ()):
                        if (px - cx) ** 2 + (py - cy) ** 2 + (pz - cz) ** 2 < (pr + r + gap) ** 2:
                            return True
        return False

    def place(self, c: np.ndarray | tuple[float, float, float], r: float) -> None:
        """Add a sphere."""
        self._grid.setdefault(self._key(c), []).append(
            (float(c[0]), float(c[1]), float(c[2]), float(r))
        )


class Obstacles:
    """Sample points of the whole neurons (spheres of known radius, nm) that other curves
    keep clear of.

    Large spheres (somata, radius above ``big_nm``) are checked exactly against every query
    point; the rest through a KD-tree of their centres (the ``k`` nearest within reach).
    """

    def __init__(self, big_nm: float = 2000.0, k: int = 24) -> None:
        self.big_nm = float(big_nm)
        self.k = int(k)
        self._pts: list[np.ndarray] = []
        self._rad: list[np.ndarray] = []
        self._cell: list[np.ndarray] = []
        self._tree: object | None = None
        self._dirty = True

    def add(self, pts: np.ndarray, radius: np.ndarray | float, cell: int) -> None:
        """Add spheres ``pts (n, 3)`` of ``radius`` belonging to ``cell``."""
        p = np.atleast_2d(np.asarray(pts, np.float64))
        self._pts.append(p)
        self._rad.append(np.broadcast_to(np.asarray(radius, np.float64), (len(p),)).copy())
        self._cell.append(np.full(len(p), int(cell), np.int64))
        self._dirty = True

    def add_capsules(
        self, p0: np.ndarray, p1: np.ndarray, r0: np.ndarray, r1: np.ndarray, cell: int
    ) -> None:
        """Add capsules as spheres every ``min(r)`` nm along their axes."""
        p0, p1 = np.atleast_2d(p0), np.atleast_2d(p1)
        r0 = np.broadcast_to(np.asarray(r0, np.float64), (len(p0),))
        r1 = np.broadcast_to(np.asarray(r1, np.float64), (len(p0),))
        length = np.linalg.norm(p1 - p0, axis=1)
        n = np.maximum(1, np.ceil(length / np.maximum(0.5 * np.minimum(r0, r1), 40.0))).astype(int)
        t = np.concatenate([np.linspace(0, 1, k + 1) for k in n])
        rep = np.repeat(np.arange(len(p0)), n + 1)
        pts = p0[rep] + (p1 - p0)[rep] * t[:, None]
        self.add(pts, r0[rep] + (r1 - r0)[rep] * t, cell)

    def _build(self) -> None:
        from scipy.spatial import cKDTree

        if not self._dirty:
            return
        pts = np.concatenate(self._pts) if self._pts else np.zeros((0, 3))
        rad = np.concatenate(self._rad) if self._rad else np.zeros(0)
        cell = np.concatenate(self._cell) if self._cell else np.zeros(0, np.int64)
        big = rad > self.big_nm
        self.big_pts, self.big_rad, self.big_cell = pts[big], rad[big], cell[big]
        self.pts, self.rad, self.cell = pts[~big], rad[~big], cell[~big]
        self.rmax = float(self.rad.max()) if len(self.rad) else 0.0
        self._tree = cKDTree(self.pts) if len(self.pts) else None
        self._dirty = False

    def clearance(
        self, pts: np.ndarray, radius: np.ndarray | float, exclude_cell: int = -1
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gap (nm) between spheres ``pts`` of ``radius`` and the nearest obstacle surface
        (``inf`` when none is near), and the unit vector pointing away from that obstacle.
        Obstacles of ``exclude_cell`` are ignored."""
        self._build()
        p = np.atleast_2d(np.asarray(pts, np.float64))
        r = np.broadcast_to(np.asarray(radius, np.float64), (len(p),))
        gap = np.full(len(p), np.inf)
        away = np.zeros((len(p), 3))
        if len(self.big_pts):
            d = np.linalg.norm(p[:, None, :] - self.big_pts[None], axis=2)
            g = d - self.big_rad[None] - r[:, None]
            g[:, self.big_cell == exclude_cell] = np.inf
            j = np.argmin(g, axis=1)
            gb = g[np.arange(len(p)), j]
            take = gb < gap
            gap[take] = gb[take]
            v = p - self.big_pts[j]
            away[take] = v[take]
        if self._tree is not None:
            reach = float(r.max(initial=0.0)) + self.rmax + 2000.0
            d, j = self._tree.query(p, k=self.k, distance_upper_bound=reach)  # type: ignore[attr-defined]
            ok = np.isfinite(d)
            jj = np.where(ok, j, 0)
            g = np.where(ok, d - self.rad[jj] - r[:, None], np.inf)
            if exclude_cell >= 0:
                g[self.cell[jj] == exclude_cell] = np.inf
            k = np.argmin(g, axis=1)
            gs = g[np.arange(len(p)), k]
            take = gs < gap
            gap[take] = gs[take]
            v = p - self.pts[jj[np.arange(len(p)), k]]
            away[take] = v[take]
        nrm = np.linalg.norm(away, axis=1, keepdims=True)
        away = np.where(nrm > 0, away / np.maximum(nrm, 1e-12), 0.0)
        return gap, away


def steered_walks(
    rng: np.random.Generator,
    starts: np.ndarray,
    directions: np.ndarray,
    *,
    step: float,
    n_steps: int,
    wiggle: float,
    radius: np.ndarray | float,
    obstacles: Obstacles | None,
    lo: np.ndarray,
    hi: np.ndarray,
    margin: float = 120.0,
    exclude_cell: np.ndarray | None = None,
    free_steps: int = 0,
) -> list[np.ndarray]:
    """Smooth random curves grown in lockstep, each bending away from ``obstacles``.

        Each walk starts at ``starts[i]`` heading ``directions[i]``; the direction wanders by
        ``wiggle`` (radians per step, roughly). When the next point would come closer than
        ``margin`` nm to an obstacle, the direction slides along it, pushed outwards (up to three
    times, harder each time); a
        walk that still cannot keep clear, or that leaves the box ``[lo, hi]`` nm, ends there
        (the point outside the box is kept, so the curve reaches the face). The first
        ``free_steps`` steps ignore the obstacles (a curve that starts touching one).

        Returns
        -------
        list of (m_i, 3) float64
            The points of each walk, ``starts[i]`` first.
    """
    s = np.atleast_2d(np.asarray(starts, np.float64))
    d = np.atleast_2d(np.asarray(directions, np.float64)).copy()
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    a = len(s)
    r = np.broadcast_to(np.asarray(radius, np.float64), (a,))
    excl = np.full(a, -1, np.int64) if exclude_cell is None else np.asarray(exclude_cell)
    pts = np.empty((n_steps + 1, a, 3))
    pts[0] = s
    end = np.full(a, n_steps + 1)
    alive = np.ones(a, bool)
    for t in range(n_steps):
        noise = rng.normal(scale=wiggle, size=(a, 3))
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            end[:] = np.minimum(end, t + 1)
            break
        dd = d[idx] + noise[idx]
        dd /= np.linalg.norm(dd, axis=1, keepdims=True)
        cur = pts[t, idx]
        nxt = cur + dd * step
        if obstacles is not None and t >= free_steps:
            blocked = np.ones(idx.size, bool)
            for push in (0.3, 0.8, 2.0):
                sub = np.flatnonzero(blocked)
                gap = np.full(sub.size, np.inf)
                away = np.zeros((sub.size, 3))
                for c in np.unique(excl[idx[sub]]):
                    m = excl[idx[sub]] == c
                    g, w = obstacles.clearance(nxt[sub[m]], r[idx[sub[m]]], int(c))
                    gap[m], away[m] = g, w
                bad = gap < margin
                blocked[sub[~bad]] = False
                if not bad.any():
                    break
                b = sub[bad]
                # slide along the obstacle: drop the inward component, push outwards
                n_ = away[bad]
                inward = np.minimum(np.sum(dd[b] * n_, axis=1, keepdims=True), 0.0)
                dd[b] = dd[b] - inward * n_ + push * n_
                dd[b] /= np.linalg.norm(dd[b], axis=1, keepdims=True)
                nxt[b] = cur[b] + dd[b] * step
            stop = blocked
            end[idx[stop]] = t + 1
            alive[idx[stop]] = False
            keep = ~stop
            idx, dd, nxt = idx[keep], dd[keep], nxt[keep]
        d[idx] = dd
        pts[t + 1, idx] = nxt
        out = np.any((nxt < lo) | (nxt > hi), axis=1)
        end[idx[out]] = t + 2
        alive[idx[out]] = False
    return [pts[: int(end[i]), i].copy() for i in range(a)]
