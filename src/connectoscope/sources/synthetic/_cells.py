"""Cells of the synthetic tissue: somata with branching dendrites and an axon, plus the
dendrites and axons of cells whose somata lie outside the volume, packed densely.

All lengths are nm. Sizes are scaled down from real cortex so that a 512 x 512 x 256
volume (about 5.8 x 5.8 x 7.2 um at 11.24 x 11.24 x 28 nm) holds a few whole somata; the
thin axons and spine heads have realistic calibres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from ._geometry import AXON, DENDRITE, SOMA, Registry, random_unit, smooth_walk, split_by_length

__all__ = ["Cell", "NeuriteSamples", "Tissue", "plan_cells"]

EXCITATORY_TYPES = ("23P", "4P", "5P-IT", "6P-IT")
EXCITATORY_P = (0.35, 0.45, 0.12, 0.08)
INHIBITORY_TYPES = ("BC", "MC", "BPC", "NGC")
INHIBITORY_P = (0.45, 0.25, 0.2, 0.1)

MARGIN_NM = 400.0  # neurites are drawn this far beyond the volume so nothing ends at its faces
SOMA_RADIUS_NM = (900.0, 1300.0)
SOMA_PER_UM3 = 1 / 60
PASSING_DENDRITES_PER_UM3 = 1 / 12
PASSING_AXONS_PER_UM3 = 8.0
DENDRITE_STEP_NM = 200.0
AXON_STEP_NM = 130.0
SUPERVOXEL_LENGTH_NM = (1500.0, 3000.0)


@dataclass
class Cell:
    """One cell that reaches into the volume (with or without its soma inside)."""

    index: int
    cell_type: str
    broad_type: str
    has_soma: bool
    soma_nm: np.ndarray
    soma_radius_nm: float
    status_axon: bool
    status_dendrite: bool


@dataclass
class NeuriteSamples:
    """Sample points of dendrites or axons inside the volume, for placing synapses."""

    points: list[np.ndarray] = field(default_factory=list)
    radius: list[np.ndarray] = field(default_factory=list)
    sid: list[np.ndarray] = field(default_factory=list)
    obj: list[np.ndarray] = field(default_factory=list)
    cell: list[np.ndarray] = field(default_factory=list)
    arc: list[np.ndarray] = field(default_factory=list)

    def add(
        self, pts: np.ndarray, radius: np.ndarray, sid: np.ndarray, obj: int, cell: int
    ) -> None:
        seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        arc = np.concatenate([[0.0], np.cumsum(seg)])[:-1]
        self.points.append(pts[:-1])
        self.radius.append(radius[:-1])
        self.sid.append(sid)
        self.obj.append(np.full(len(sid), obj, np.int64))
        self.cell.append(np.full(len(sid), cell, np.int64))
        self.arc.append(arc)

    def concat(self) -> dict[str, np.ndarray]:
        if not self.points:
            return {
                "points": np.zeros((0, 3)),
                "radius": np.zeros(0),
                "sid": np.zeros(0, np.uint32),
                "obj": np.zeros(0, np.int64),
                "cell": np.zeros(0, np.int64),
                "arc": np.zeros(0),
            }
        return {
            "points": np.concatenate(self.points),
            "radius": np.concatenate(self.radius),
            "sid": np.concatenate(self.sid),
            "obj": np.concatenate(self.obj),
            "cell": np.concatenate(self.cell),
            "arc": np.concatenate(self.arc),
        }


@dataclass
class Tissue:
    """Everything planned before rasterisation."""

    extent_nm: np.ndarray
    registry: Registry
    cells: list[Cell]
    soma_sid: np.ndarray
    soma_centre: np.ndarray
    soma_radius: np.ndarray
    dendrites: NeuriteSamples
    axons: NeuriteSamples
    n_dendrite_objs: int = 0
    n_axon_objs: int = 0


def _inside(pts: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.all((pts >= lo) & (pts <= hi), axis=1)


def _clip_to_world(pts: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Keep the points up to and including the first one outside ``[lo, hi]``."""
    out = ~_inside(pts, lo, hi)
    out[0] = False
    idx = np.flatnonzero(out)
    return pts if len(idx) == 0 else pts[: idx[0] + 1]


def _cut_at_somata(
    pts: np.ndarray, r: float, centres: np.ndarray, radii: np.ndarray, skip: int
) -> np.ndarray:
    """Stop a curve before it enters a soma other than ``skip``."""
    if len(centres) == 0:
        return pts
    d = np.linalg.norm(pts[:, None, :] - centres[None, :, :], axis=2) - radii[None, :] - r - 100
    if 0 <= skip < len(centres):
        d[:, skip] = np.inf
    bad = np.flatnonzero(np.any(d < 0, axis=1))
    return pts if len(bad) == 0 else pts[: bad[0]]


def _pick_type(rng: np.random.Generator, inhibitory_p: float) -> tuple[str, str]:
    if rng.random() < inhibitory_p:
        return str(rng.choice(INHIBITORY_TYPES, p=INHIBITORY_P)), "inhibitory"
    return str(rng.choice(EXCITATORY_TYPES, p=EXCITATORY_P)), "excitatory"


def plan_cells(extent_nm: np.ndarray, rng: np.random.Generator) -> Tissue:
    """Place somata, dendrites and axons in a volume of ``extent_nm`` (x, y, z) nm."""
    extent_nm = np.asarray(extent_nm, dtype=np.float64)
    vol_um3 = float(np.prod(extent_nm)) / 1e9
    lo, hi = -np.full(3, MARGIN_NM), extent_nm + MARGIN_NM
    diag = float(np.linalg.norm(hi - lo))
    reg = Registry()
    cells: list[Cell] = []
    dend = NeuriteSamples()
    axo = NeuriteSamples()
    n_dobj = 0
    n_aobj = 0

    def register_curve(
        pts: np.ndarray, radius: np.ndarray, kind: int, cell: int, obj: int, samples: NeuriteSamples
    ) -> np.ndarray:
        """Capsules between consecutive points, split into supervoxels; returns sid per capsule."""
        n = len(pts) - 1
        step = float(np.mean(np.linalg.norm(np.diff(pts, axis=0), axis=1)))
        pieces = split_by_length(rng, n, step, *SUPERVOXEL_LENGTH_NM)
        ids = np.array(
            [
                reg.new_segment(
                    kind,
                    cell,
                    dendrite_obj=obj if kind == DENDRITE else -1,
                    axon_obj=obj if kind == AXON else -1,
                )
                for _ in range(int(pieces[-1]) + 1)
            ],
            dtype=np.uint32,
        )
        sid = ids[pieces]
        reg.add_capsules(pts[:-1], pts[1:], radius[:-1], radius[1:], sid)
        keep = _inside(pts[:-1], np.zeros(3), extent_nm)
        samples.add(
            np.concatenate([pts[:-1][keep], pts[-1:]]),
            np.concatenate([radius[:-1][keep], radius[-1:]]),
            sid[keep],
            obj,
            cell,
        )
        return sid

    # --- somata --------------------------------------------------------------------------
    n_soma = max(1, round(vol_um3 * SOMA_PER_UM3))
    centres: list[np.ndarray] = []
    radii: list[float] = []
    for _ in range(200 * n_soma):
        if len(centres) >= n_soma:
            break
        r = rng.uniform(*SOMA_RADIUS_NM)
        pad = np.minimum(r * 0.6, extent_nm * 0.3)
        c = rng.uniform(pad, extent_nm - pad)
        if all(np.linalg.norm(c - c2) > r + r2 + 500 for c2, r2 in zip(centres, radii)):
            centres.append(c)
            radii.append(r)
    soma_c = np.array(centres).reshape(-1, 3)
    soma_r = np.array(radii)
    soma_sid = []
    for s, (c, r) in enumerate(zip(soma_c, soma_r)):
        ct, bt = _pick_type(rng, 0.2)
        cell = len(cells)
        cells.append(Cell(cell, ct, bt, True, c, float(r), rng.random() < 0.5, rng.random() < 0.8))
        sid = reg.new_segment(SOMA, cell)
        soma_sid.append(sid)
        reg.add_sphere(c, float(r), sid)
        # primary dendrites (one dendrite object per primary tree)
        dirs: list[np.ndarray] = []
        n_primary = int(rng.integers(4, 7))
        while len(dirs) < n_primary:
            u = random_unit(rng)
            if all(float(u @ v) < 0.6 for v in dirs):
                dirs.append(u)
        for u in dirs:
            n_dobj += 1
            trees = [(c + u * r * 0.8, u, rng.uniform(260, 340), 0)]
            while trees:
                start, d, r0, depth = trees.pop()
                n_steps = int(rng.uniform(6000, 14000) / DENDRITE_STEP_NM)
                pts = smooth_walk(
                    rng, start, d, step=DENDRITE_STEP_NM, n_steps=n_steps, wiggle=0.12
                )
                pts = _clip_to_world(pts, lo, hi)
                pts = np.concatenate([pts[:1], _cut_at_somata(pts[1:], r0, soma_c, soma_r, s)])
                if len(pts) < 3:
                    continue
                rad = r0 * np.maximum(0.5, 1 - np.arange(len(pts)) / (len(pts) + 10) * 0.5)
                register_curve(pts, rad, DENDRITE, cell, n_dobj, dend)
                if depth < 2 and len(pts) >= 10 and rng.random() < 0.6:
                    b = int(rng.integers(len(pts) // 4, len(pts) * 3 // 5))
                    t = pts[b + 1] - pts[b]
                    t /= np.linalg.norm(t)
                    cd = t + random_unit(rng) * 0.9
                    cd /= np.linalg.norm(cd)
                    trees.append((pts[b], cd, rad[b] * 0.75, depth + 1))
        # axon, pointing away from the dendrites
        for _ in range(50):
            u = random_unit(rng)
            if all(float(u @ v) < 0.5 for v in dirs):
                break
        n_aobj += 1
        pts = smooth_walk(
            rng,
            c + u * r * 0.85,
            u,
            step=AXON_STEP_NM,
            n_steps=int(diag / AXON_STEP_NM) + 2,
            wiggle=0.05,
        )
        pts = _clip_to_world(pts, lo, hi)
        pts = np.concatenate([pts[:1], _cut_at_somata(pts[1:], 80, soma_c, soma_r, s)])
        if len(pts) >= 3:
            rad = np.full(len(pts), 75.0)
            rad[: int(1000 / AXON_STEP_NM)] = 110.0  # axon initial segment
            register_curve(pts, rad, AXON, cell, n_aobj, axo)
        else:
            n_aobj -= 1

    # --- neurites of cells outside the volume ---------------------------------------------
    soma_tree = cKDTree(soma_c) if len(soma_c) else None

    def stop_near_somata(pts: np.ndarray, r: float) -> np.ndarray:
        """Cut a walk before its first point that comes near a soma."""
        if soma_tree is None:
            return pts
        d, i = soma_tree.query(pts, k=1)
        bad = np.flatnonzero(d < soma_r[i] + 0.5 * r)
        return pts if len(bad) == 0 else pts[: bad[0]]

    def passing(step: float, r: float, wiggle: float) -> np.ndarray | None:
        """A neurite through a random point of the volume, running out on both sides
        (or ending where it meets a soma)."""
        for _ in range(30):
            start = rng.uniform(np.zeros(3), extent_nm)
            d = random_unit(rng)
            n = int(diag / step) + 2
            fwd = _clip_to_world(
                smooth_walk(rng, start, d, step=step, n_steps=n, wiggle=wiggle), lo, hi
            )
            bwd = _clip_to_world(
                smooth_walk(rng, start, -d, step=step, n_steps=n, wiggle=wiggle), lo, hi
            )
            fwd, bwd = stop_near_somata(fwd, r), stop_near_somata(bwd, r)
            if len(fwd) == 0 or len(bwd) == 0:
                continue
            pts = np.concatenate([bwd[::-1], fwd[1:]])
            if len(pts) >= 4:
                return pts
        return None

    def outside_soma() -> np.ndarray:
        return extent_nm / 2 + random_unit(rng) * float(np.linalg.norm(extent_nm)) * rng.uniform(
            0.8, 3
        )

    for _ in range(max(2, round(vol_um3 * PASSING_DENDRITES_PER_UM3))):
        r = rng.uniform(170, 320)
        walk = passing(DENDRITE_STEP_NM, r, 0.08)
        if walk is None:
            continue
        pts = walk
        ct, bt = _pick_type(rng, 0.15)
        cell = len(cells)
        cells.append(
            Cell(cell, ct, bt, False, outside_soma(), 0.0, rng.random() < 0.2, rng.random() < 0.3)
        )
        n_dobj += 1
        rad = r * (1 + 0.15 * np.sin(np.arange(len(pts)) / rng.uniform(8, 20)))
        register_curve(pts, rad, DENDRITE, cell, n_dobj, dend)

    for _ in range(round(vol_um3 * PASSING_AXONS_PER_UM3)):
        r = rng.uniform(55, 95)
        walk = passing(AXON_STEP_NM, r, 0.04)
        if walk is None:
            continue
        pts = walk
        ct, bt = _pick_type(rng, 0.18)
        cell = len(cells)
        cells.append(
            Cell(cell, ct, bt, False, outside_soma(), 0.0, rng.random() < 0.3, rng.random() < 0.1)
        )
        n_aobj += 1
        register_curve(pts, np.full(len(pts), r), AXON, cell, n_aobj, axo)

    return Tissue(
        extent_nm=extent_nm,
        registry=reg,
        cells=cells,
        soma_sid=np.asarray(soma_sid, dtype=np.uint32),
        soma_centre=soma_c,
        soma_radius=soma_r,
        dendrites=dend,
        axons=axo,
        n_dendrite_objs=n_dobj,
        n_axon_objs=n_aobj,
    )
