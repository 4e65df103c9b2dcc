"""Cells of the synthetic tissue, at the scale of real mouse cortex.

All lengths are nm, positions ``(x, y, z)`` in the tissue frame (see ``_geometry``).

* **Whole neurons** (soma centre inside the volume): a soma 10-13 um across (a sphere, or a
  short capsule for pyramidal cells), 4-7 primary dendrites 2-2.8 um thick at the soma
  tapering to about 0.8-1 um and branching, spines on excitatory cells (necks 0.13-0.19 um
  thick, heads 0.44-0.76 um), and one axon: an initial segment 0.5 um thick, then 0.28 um,
  with thinner collaterals (0.14-0.22 um) carrying en-passant output boutons. Every part of
  a whole neuron overlaps its parent, and everything else bends around whole neurons, so each
  whole neuron's voxels form one connected piece.
* **Synapse partners**: every spine head, shaft synapse and soma synapse of a whole neuron
  gets a bouton on a passing axon grown through it; every output bouton contacts a spine
  head or the shaft of a passing dendrite grown past it.
* **Background neuropil**: more passing axons (0.1-0.28 um) and spiny passing dendrites
  (0.6-1.3 um) of cells whose somata lie outside, up to realistic length densities; synapses
  among them are planned in ``_synapses_plan``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._geometry import (
    AXON,
    BOUTON,
    DENDRITE,
    SOMA,
    SPINEHEAD,
    BlobGrid,
    Obstacles,
    Registry,
    perpendiculars,
    random_unit,
    split_by_length,
    steered_walks,
)

__all__ = [
    "SHAFT",
    "SOMA_TARGET",
    "SPINE",
    "Cell",
    "NeuriteSamples",
    "PlannedSynapses",
    "Tissue",
    "plan_cells",
]

#: A whole neuron's branches: (points, radii, segment ids, path distance from the soma,
#: object id), under "dend" and "axon".
Parts = dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]]]
#: A planned output target: what the passing dendrite grown past a bouton must carry.
Target = dict[str, Any]

EXCITATORY_TYPES = ("4P", "23P", "5P-IT", "6P-IT")
EXCITATORY_P = (0.7, 0.12, 0.1, 0.08)
INHIBITORY_TYPES = ("BC", "MC", "BPC", "NGC")
INHIBITORY_P = (0.45, 0.25, 0.2, 0.1)
PYRAMIDAL = {"23P", "5P-IT", "6P-IT"}

#: Synapse target kinds (``target`` column: shaft, spine, soma).
SHAFT, SPINE, SOMA_TARGET = 0, 1, 2
TARGET_NAMES = {SHAFT: "shaft", SPINE: "spine", SOMA_TARGET: "soma"}

MARGIN_NM = 400.0  # passing neurites run this far beyond the volume
SOMA_RADIUS_NM = (5000.0, 6500.0)  # 10-13 um across
SOMA_ELONGATION_NM = (0.0, 2500.0)  # pyramidal somata: a short capsule
#: Somata per um^3: about 1.5x the neuron density of mouse barrel-cortex layer 4 (about
#: 1.5e-4), so the demo's 29 x 29 x 21 um volume holds four whole neurons.
SOMA_PER_UM3 = 2.2e-4
DENDRITE_STEP_NM = 250.0
AXON_STEP_NM = 150.0
DENDRITE_DECAY_NM = 18000.0
SUPERVOXEL_LENGTH_NM = (1500.0, 3000.0)
OVERLAP_NM = 70.0
NECK_RADIUS_NM = (65.0, 95.0)
NECK_LENGTH_NM = (400.0, 1200.0)
HEAD_RADIUS_NM = (220.0, 380.0)
BOUTON_RADIUS_NM = (250.0, 380.0)
SPINES_PER_UM = 1.3
SHAFT_SYNAPSES_PER_UM = {"excitatory": 0.12, "inhibitory": 0.8}
SOMA_SYNAPSES = {"excitatory": (12, 25), "inhibitory": (20, 40)}
OUTPUT_BOUTON_SPACING_NM = (2000.0, 4000.0)
AIS_NM = 4000.0  # axon initial segment: 0.5 um thick, no boutons
PASSING_AXON_RADIUS_NM = (60.0, 170.0)
PASSING_DENDRITE_RADIUS_NM = (300.0, 650.0)
#: Length densities (um of neurite per um^3 of volume) the passing neurites are topped up to.
AXON_LENGTH_PER_UM3 = 8.0
DENDRITE_LENGTH_PER_UM3 = 0.5
CLEAR_NM = 100.0  # gap kept between whole neurons and everything else


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
    """Sample points of passing dendrites or axons inside the volume, for placing synapses."""

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
class PlannedSynapses:
    """Synapses planned with their geometry (one bouton each)."""

    bouton_sid: list[int] = field(default_factory=list)
    target_sid: list[int] = field(default_factory=list)
    contact: list[np.ndarray] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)
    post_dendrite_obj: list[int] = field(default_factory=list)
    bouton_c: list[np.ndarray] = field(default_factory=list)
    bouton_r: list[float] = field(default_factory=list)

    def add(
        self,
        bouton: int,
        target: int,
        contact: np.ndarray,
        kind: int,
        dobj: int,
        bc: np.ndarray,
        br: float,
    ) -> None:
        self.bouton_sid.append(int(bouton))
        self.target_sid.append(int(target))
        self.contact.append(np.asarray(contact, np.float64))
        self.kind.append(int(kind))
        self.post_dendrite_obj.append(int(dobj))
        self.bouton_c.append(np.asarray(bc, np.float64))
        self.bouton_r.append(float(br))

    def __len__(self) -> int:
        return len(self.bouton_sid)


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
    obstacles: Obstacles
    synapses: PlannedSynapses
    blobs: BlobGrid
    n_dendrite_objs: int = 0
    n_axon_objs: int = 0
    #: a point (nm) on the first neuron's proximal dendrite, where the full-resolution cube goes
    anchor_nm: np.ndarray = field(default_factory=lambda: np.zeros(3))


def _pick_type(rng: np.random.Generator, inhibitory_p: float) -> tuple[str, str]:
    if rng.random() < inhibitory_p:
        return str(rng.choice(INHIBITORY_TYPES, p=INHIBITORY_P)), "inhibitory"
    return str(rng.choice(EXCITATORY_TYPES, p=EXCITATORY_P)), "excitatory"


def _perpendicular(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """A random unit vector perpendicular to unit vector ``t``."""
    for _ in range(10):
        v = random_unit(rng)
        v = v - t * float(v @ t)
        n = float(np.linalg.norm(v))
        if n > 1e-3:
            return v / n
    return np.array([1.0, 0.0, 0.0])


def _tangents(pts: np.ndarray) -> np.ndarray:
    d = np.diff(pts, axis=0)
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    return np.concatenate([d, d[-1:]])


class _Planner:
    """Builds the tissue step by step (one instance per :func:`plan_cells` call)."""

    def __init__(self, extent_nm: np.ndarray, rng: np.random.Generator) -> None:
        self.extent = np.asarray(extent_nm, np.float64)
        self.rng = rng
        self.reg = Registry()
        self.cells: list[Cell] = []
        self.dend = NeuriteSamples()
        self.axo = NeuriteSamples()
        self.obst = Obstacles()
        self.syn = PlannedSynapses()
        self.n_dobj = 0
        self.n_aobj = 0
        self.lo_in = np.zeros(3)
        self.hi_in = self.extent.copy()
        self.lo_out = -np.full(3, MARGIN_NM)
        self.hi_out = self.extent + MARGIN_NM
        self.diag = float(np.linalg.norm(self.hi_out - self.lo_out))
        self.soma_c: list[np.ndarray] = []
        self.soma_p: list[tuple[np.ndarray, np.ndarray]] = []
        self.soma_r: list[float] = []
        self.soma_sid: list[int] = []
        self.anchor = self.extent / 2
        # blobs (heads, boutons) already placed, for crowding checks
        self.blobs = BlobGrid()

    # ------------------------------------------------------------------ registry helpers
    def new_cell(self, has_soma: bool, inhibitory_p: float, soma_nm: np.ndarray | None = None,
                 radius: float = 0.0) -> int:  # fmt: skip
        ct, bt = _pick_type(self.rng, inhibitory_p)
        if soma_nm is None:
            soma_nm = self.extent / 2 + random_unit(self.rng) * float(
                np.linalg.norm(self.extent)
            ) * self.rng.uniform(0.8, 3)
        idx = len(self.cells)
        sa = bool(self.rng.random() < (0.9 if has_soma else 0.25))
        sd = bool(self.rng.random() < (0.95 if has_soma else 0.3))
        self.cells.append(Cell(idx, ct, bt, has_soma, np.asarray(soma_nm, float), radius, sa, sd))
        return idx

    def register_curve(
        self,
        pts: np.ndarray,
        radius: np.ndarray,
        kind: int,
        cell: int,
        obj: int,
        samples: NeuriteSamples | None,
    ) -> np.ndarray:
        """Capsules between consecutive points, split into supervoxels; sid per capsule."""
        n = len(pts) - 1
        step = float(np.mean(np.linalg.norm(np.diff(pts, axis=0), axis=1)))
        pieces = split_by_length(self.rng, n, max(step, 1.0), *SUPERVOXEL_LENGTH_NM)
        ids = np.array(
            [
                self.reg.new_segment(
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
        self.reg.add_capsules(pts[:-1], pts[1:], radius[:-1], radius[1:], sid)
        if samples is not None:
            keep = np.all((pts[:-1] >= self.lo_in) & (pts[:-1] <= self.hi_in), axis=1)
            samples.add(
                np.concatenate([pts[:-1][keep], pts[-1:]]),
                np.concatenate([radius[:-1][keep], radius[-1:]]),
                sid[keep],
                obj,
                cell,
            )
        return sid

    def inside(self, p: np.ndarray, pad: float = 0.0) -> bool:
        return bool(np.all(p >= self.lo_in + pad) and np.all(p <= self.hi_in - pad))

    # ------------------------------------------------------------------ whole neurons
    def place_somata(self, n_soma: int) -> None:
        rng = self.rng
        r_cap = 0.4 * float(np.min(self.extent))  # volumes too small for a real soma
        for _ in range(400 * max(1, n_soma)):
            if len(self.soma_c) >= n_soma:
                break
            r = min(rng.uniform(*SOMA_RADIUS_NM), r_cap)
            pad = np.minimum(0.9 * r, self.extent * 0.3)
            c = rng.uniform(pad, self.extent - pad)
            if all(
                np.linalg.norm(c - c2) > r + r2 + 1500 for c2, r2 in zip(self.soma_c, self.soma_r)
            ):
                self.soma_c.append(c)
                self.soma_r.append(r)
        for c, r in zip(self.soma_c, self.soma_r):
            first = not self.soma_sid
            cell = self.new_cell(True, 0.0 if first else 0.25, c, r)
            ct = self.cells[cell].cell_type
            if ct in PYRAMIDAL:  # apical axis towards the pia (-y)
                a = np.array([0.0, -1.0, 0.0]) + 0.2 * random_unit(rng)
                a /= np.linalg.norm(a)
                half = 0.5 * rng.uniform(*SOMA_ELONGATION_NM)
            else:
                a = random_unit(rng)
                half = 0.5 * rng.uniform(0, 0.4 * SOMA_ELONGATION_NM[1])
            p0, p1 = c - a * half, c + a * half
            sid = self.reg.new_segment(SOMA, cell)
            self.reg.add_capsules(p0, p1, r, r, sid)
            self.obst.add_capsules(p0[None], p1[None], np.array([r]), np.array([r]), cell)
            self.soma_sid.append(sid)
            self.soma_p.append((p0, p1))

    def soma_surface(self, s: int, u: np.ndarray, depth: float) -> np.ndarray:
        """Point ``depth`` nm inside the soma surface of soma ``s`` in direction ``u``."""
        p0, p1 = self.soma_p[s]
        c = 0.5 * (p0 + p1)
        half = 0.5 * float(np.linalg.norm(p1 - p0))
        a = (p1 - p0) / max(2 * half, 1e-9)
        along = float(np.clip(u @ a, -1, 1)) * half
        return c + a * along + u * (self.soma_r[s] - depth)

    def grow(
        self, start: np.ndarray, d: np.ndarray, r: float, step: float, length: float,
        wiggle: float, cell: int,
    ) -> np.ndarray:  # fmt: skip
        """One steered walk of a whole neuron, ending at the volume face."""
        w = steered_walks(
            self.rng, start[None], d[None], step=step, n_steps=max(2, int(length / step)),
            wiggle=wiggle, radius=r, obstacles=self.obst, lo=self.lo_in, hi=self.hi_in,
            margin=CLEAR_NM + 200, exclude_cell=np.array([cell]),
        )  # fmt: skip
        return w[0]

    def longest(
        self, *, start_dir: np.ndarray, tries: int, s: int, r: float, length: float,
        wiggle: float, cell: int,
    ) -> np.ndarray:  # fmt: skip
        """The longest of ``tries`` walks from soma ``s`` (the first along ``start_dir``,
        then random directions): an axon that stays in the volume."""
        best = np.zeros((0, 3))
        u = start_dir
        for k in range(tries):
            if k:
                u = random_unit(self.rng)
            pts = self.grow(
                self.soma_surface(s, u, 400.0), u, r, AXON_STEP_NM, length, wiggle, cell
            )
            if len(pts) > len(best):
                best = pts
            if len(pts) * AXON_STEP_NM > 20000:
                break
        return best

    def grow_neuron(self, s: int, cell: int) -> Parts:
        """Dendrites and axon of whole neuron ``s`` (see :data:`Parts`)."""
        rng = self.rng
        c = self.cells[cell]
        exc = c.broad_type == "excitatory"
        out: Parts = {"dend": [], "axon": []}
        p0, p1 = self.soma_p[s]
        apical = (p1 - p0) / max(float(np.linalg.norm(p1 - p0)), 1e-9)
        dirs: list[np.ndarray] = []
        n_primary = int(rng.integers(5, 8) if exc else rng.integers(4, 7))
        if c.cell_type in PYRAMIDAL and np.linalg.norm(p1 - p0) > 0:
            dirs.append(apical)
        for _ in range(2000):  # spread directions (fewer when no room is left)
            if len(dirs) >= n_primary:
                break
            u = random_unit(rng)
            if all(float(u @ v) < 0.45 for v in dirs):
                dirs.append(u)
        r_lo, r_hi = (1000.0, 1400.0) if exc else (700.0, 1000.0)
        r_min = 400.0 if exc else 320.0
        for k, u in enumerate(dirs):
            self.n_dobj += 1
            dobj = self.n_dobj
            r0 = rng.uniform(r_lo, r_hi) * (1.15 if k == 0 and c.cell_type in PYRAMIDAL else 1.0)
            stack = [(self.soma_surface(s, u, 0.5 * r0 + 300.0), u, r0, 0.0, 0)]
            while stack:
                start, d, rs, s0, depth = stack.pop()
                pts = self.grow(start, d, rs, DENDRITE_STEP_NM, 40000.0, 0.07, cell)
                if len(pts) < 3:
                    continue
                arc = np.concatenate(
                    [[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))]
                )
                rad = np.maximum(r_min, rs * np.exp(-arc / DENDRITE_DECAY_NM))
                sid = self.register_curve(pts, rad, DENDRITE, cell, dobj, None)
                self.obst.add_capsules(pts[:-1], pts[1:], rad[:-1], rad[1:], cell)
                out["dend"].append((pts, rad, sid, s0 + arc, dobj))
                if depth < 3 and arc[-1] > 6000 and rng.random() < 0.75:
                    b = int(np.searchsorted(arc, rng.uniform(4000, min(10000, arc[-1] - 2000))))
                    t = pts[min(b + 1, len(pts) - 1)] - pts[b]
                    t /= max(float(np.linalg.norm(t)), 1e-9)
                    nd = t + _perpendicular(rng, t) * rng.uniform(0.8, 1.3)
                    nd /= np.linalg.norm(nd)
                    stack.append((pts[b], nd, max(r_min, rad[b] * 0.8), s0 + arc[b], depth + 1))
        # axon: away from the dendrites (down, -apical, for pyramidal cells)
        if c.cell_type in PYRAMIDAL:
            u = -apical
        else:
            m = -np.mean(dirs, axis=0)
            u = m / np.linalg.norm(m) if np.linalg.norm(m) > 0.1 else random_unit(rng)
        self.n_aobj += 1
        aobj = self.n_aobj
        main = self.longest(start_dir=u, tries=8, s=s, r=250.0, length=60000.0, wiggle=0.06,
                            cell=cell)  # fmt: skip
        if len(main) >= 3:
            arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(main, axis=0), axis=1))])
            rad = np.where(arc < AIS_NM, 250.0, np.maximum(140.0, 250.0 - (arc - AIS_NM) * 0.05))
            sid = self.register_curve(main, rad, AXON, cell, aobj, None)
            self.obst.add_capsules(main[:-1], main[1:], rad[:-1], rad[1:], cell)
            out["axon"].append((main, rad, sid, arc, aobj))
            n_coll = int(rng.integers(3, 6))
            for _ in range(n_coll):
                if arc[-1] < AIS_NM + 1500:
                    break
                b = int(np.searchsorted(arc, rng.uniform(AIS_NM, arc[-1] - 1000)))
                t = main[min(b + 1, len(main) - 1)] - main[b]
                t /= max(float(np.linalg.norm(t)), 1e-9)
                rc = rng.uniform(70.0, 110.0)
                best = np.zeros((0, 3))
                for _ in range(3):
                    nd = 0.4 * t + _perpendicular(rng, t)
                    nd /= np.linalg.norm(nd)
                    pts = self.grow(main[b], nd, rc, AXON_STEP_NM, 40000.0, 0.15, cell)
                    if len(pts) > len(best):
                        best = pts
                pts = best
                if len(pts) < 3:
                    continue
                ca = np.concatenate(
                    [[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))]
                )
                cr = np.full(len(pts), rc)
                cr[: min(len(cr), 4)] = np.linspace(rad[b], rc, min(len(cr), 4))
                sid = self.register_curve(pts, cr, AXON, cell, aobj, None)
                self.obst.add_capsules(pts[:-1], pts[1:], cr[:-1], cr[1:], cell)
                out["axon"].append((pts, cr, sid, arc[b] + ca, aobj))
        return out

    # ------------------------------------------------------------------ synapse partners
    def plan_inputs(
        self, s: int, cell: int, parts: Parts
    ) -> list[tuple[np.ndarray, np.ndarray, int]]:
        """Spines, shaft and soma synapses of whole neuron ``s``: the boutons are made here,
        the axons through them later. Candidates are proposed along every branch at once,
        checked against the other whole neurons in one go, then accepted one by one where
        they do not crowd earlier ones. Returns (bouton centre, axon direction, bouton sid).
        """
        rng = self.rng
        c = self.cells[cell]
        exc = c.broad_type == "excitatory"
        rows: dict[str, list[np.ndarray]] = {k: [] for k in
            ("p", "t", "rd", "sid", "dob", "tk")}  # fmt: skip
        for pts, rad, sid, arc, dobj in parts["dend"]:
            tang = _tangents(pts)
            length = float(arc[-1] - arc[0])
            for kind, rate in ((SPINE, SPINES_PER_UM if exc else 0.0),
                               (SHAFT, SHAFT_SYNAPSES_PER_UM[c.broad_type])):  # fmt: skip
                n = int(rng.poisson(rate * length / 1000.0))
                a = np.sort(rng.uniform(arc[0], arc[-1], n))
                if kind == SPINE:
                    a = a[a >= 2500.0]
                i = np.minimum(np.searchsorted(arc, a), len(pts) - 2)
                rows["p"].append(pts[i])
                rows["t"].append(tang[i])
                rows["rd"].append(rad[i])
                rows["sid"].append(sid[i].astype(np.int64))
                rows["dob"].append(np.full(i.size, dobj, np.int64))
                rows["tk"].append(np.full(i.size, kind, np.int64))
        n_soma = int(rng.integers(*SOMA_SYNAPSES[c.broad_type]))
        us = random_unit(rng, n_soma)
        surf = np.array([self.soma_surface(s, u, 0.0) for u in us]).reshape(-1, 3)
        cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in rows.items()}
        n_d = len(cat["tk"])
        p = np.concatenate([cat["p"].reshape(-1, 3), surf])
        t = np.concatenate([cat["t"].reshape(-1, 3), us])
        rd = np.concatenate([cat["rd"], np.zeros(n_soma)])
        tk = np.concatenate([cat["tk"], np.full(n_soma, SOMA_TARGET)]).astype(np.int64)
        tsid = np.concatenate([cat["sid"], np.full(n_soma, self.soma_sid[s])]).astype(np.int64)
        dob = np.concatenate([cat["dob"], np.zeros(n_soma)]).astype(np.int64)
        n_c = len(tk)
        if n_c == 0:
            return []
        u = np.concatenate([perpendiculars(rng, t[:n_d]), us])
        rb = rng.uniform(*BOUTON_RADIUS_NM, n_c)
        rn = rng.uniform(*NECK_RADIUS_NM, n_c)
        ln = rng.uniform(*NECK_LENGTH_NM, n_c)
        rh = rng.uniform(*HEAD_RADIUS_NM, n_c)
        is_spine = tk == SPINE
        h = p + u * (rd + ln + 0.7 * rh)[:, None]
        b = np.where(
            is_spine[:, None],
            h + u * (rh + rb - OVERLAP_NM)[:, None],
            p + u * (rd + rb - OVERLAP_NM)[:, None],
        )
        contact = np.where(
            is_spine[:, None], h + u * (rh - OVERLAP_NM / 2)[:, None],
            p + u * (rd - OVERLAP_NM / 2)[:, None],
        )  # fmt: skip
        # axon direction: across the spine axis, across the shaft, or along the soma surface
        v = np.where((tk == SHAFT)[:, None], np.cross(u, t), perpendiculars(rng, u))
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
        ok = np.all((p >= self.lo_in) & (p <= self.hi_in), axis=1)
        ok &= np.all((b >= self.lo_in) & (b <= self.hi_in), axis=1)
        ok &= ~is_spine | np.all((h >= self.lo_in) & (h <= self.hi_in), axis=1)
        gh, _ = self.obst.clearance(h, rh, cell)
        ok &= ~is_spine | (gh >= CLEAR_NM)
        # a spine's bouton must clear everything, even its own neuron's other branches
        gb_all, _ = self.obst.clearance(b, rb)
        gb_other, _ = self.obst.clearance(b, rb, cell)
        ok &= np.where(is_spine, gb_all, gb_other) >= CLEAR_NM
        pending: list[tuple[np.ndarray, np.ndarray, int]] = []
        heads = []
        for k in np.flatnonzero(ok).tolist():
            if self.blobs.crowded(b[k], rb[k]) or (is_spine[k] and self.blobs.crowded(h[k], rh[k])):
                continue
            if is_spine[k]:
                hsid = self.reg.new_segment(SPINEHEAD, cell, dendrite_obj=int(dob[k]))
                self.reg.add_capsules(p[k], h[k], rn[k], rn[k] * 0.9, int(tsid[k]))
                self.reg.add_sphere(h[k], rh[k], hsid)
                self.blobs.place(h[k], rh[k])
                heads.append(k)
                target = hsid
            else:
                target = int(tsid[k])
            inhib_p = {SPINE: 0.05, SHAFT: 0.8, SOMA_TARGET: 0.9}[int(tk[k])]
            pre = self.new_cell(False, inhib_p)
            self.n_aobj += 1
            bsid = self.reg.new_segment(BOUTON, pre, axon_obj=self.n_aobj)
            self.reg.add_sphere(b[k], rb[k], bsid)
            self.blobs.place(b[k], rb[k])
            self.syn.add(bsid, target, contact[k], int(tk[k]), int(dob[k]), b[k], rb[k])
            pending.append((b[k], v[k], bsid))
        if heads:
            self.obst.add(h[heads], rh[heads], cell)
        return pending

    def plan_outputs(
        self, cell: int, parts: Parts
    ) -> list[tuple[np.ndarray, np.ndarray, float, Target]]:
        """Output boutons on the axon of a whole neuron and the targets they touch (a spine
        head, or the shaft, of a passing dendrite grown later). Returns (dendrite axis point,
        dendrite direction, dendrite radius, target description)."""
        rng = self.rng
        c = self.cells[cell]
        exc = c.broad_type == "excitatory"
        ps, ts, aobjs = [], [], []
        for pts, _rad, _sid, arc, aobj in parts["axon"]:
            tang = _tangents(pts)
            first = max(arc[0], AIS_NM + 500.0)
            n = int(max(0.0, arc[-1] - 300 - first) / np.mean(OUTPUT_BOUTON_SPACING_NM)) + 1
            a = (
                first
                + np.cumsum(rng.uniform(*OUTPUT_BOUTON_SPACING_NM, n))
                - np.mean(OUTPUT_BOUTON_SPACING_NM) * rng.random()
            )
            a = a[(a >= arc[0]) & (a < arc[-1] - 300)]
            i = np.minimum(np.searchsorted(arc, a), len(pts) - 2)
            ps.append(pts[i])
            ts.append(tang[i])
            aobjs.append(np.full(i.size, aobj, np.int64))
        if not ps:
            return []
        p = np.concatenate(ps).reshape(-1, 3)
        t = np.concatenate(ts).reshape(-1, 3)
        aobj_a = np.concatenate(aobjs)
        n = len(p)
        rb = rng.uniform(*BOUTON_RADIUS_NM, n)
        u = perpendiculars(rng, t)
        rdp = rng.uniform(*PASSING_DENDRITE_RADIUS_NM, n)
        spine = (rng.random(n) < 0.85) & exc
        rh = rng.uniform(*HEAD_RADIUS_NM, n)
        ln = rng.uniform(*NECK_LENGTH_NM, n)
        rn = rng.uniform(*NECK_RADIUS_NM, n)
        h = np.where(spine[:, None], p + u * (rb + rh - OVERLAP_NM)[:, None], p)
        q = np.where(
            spine[:, None],
            h + u * (0.7 * rh + ln + rdp)[:, None],
            p + u * (rb + rdp - OVERLAP_NM)[:, None],
        )
        v = np.cross(u, t)
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
        ok = np.all((p >= self.lo_in) & (p <= self.hi_in), axis=1)
        gh, _ = self.obst.clearance(h, rh, cell)
        ok &= ~spine | (gh >= CLEAR_NM)
        gq_all, _ = self.obst.clearance(q, rdp)
        gq_other, _ = self.obst.clearance(q, rdp, cell)
        ok &= np.where(spine, gq_all >= CLEAR_NM + 200, gq_other >= CLEAR_NM)
        pending: list[tuple[np.ndarray, np.ndarray, float, Target]] = []
        placed = []
        for k in np.flatnonzero(ok).tolist():
            if self.blobs.crowded(p[k], rb[k]) or (spine[k] and self.blobs.crowded(h[k], rh[k])):
                continue
            bsid = self.reg.new_segment(BOUTON, cell, axon_obj=int(aobj_a[k]))
            self.reg.add_sphere(p[k], rb[k], bsid)
            self.blobs.place(p[k], rb[k])
            placed.append(k)
            if spine[k]:
                self.blobs.place(h[k], rh[k])
            info = {"bouton": bsid, "b": p[k], "rb": float(rb[k]), "u": u[k],
                    "spine": bool(spine[k]), "h": h[k], "rh": float(rh[k]),
                    "rn": float(rn[k])}  # fmt: skip
            pending.append((q[k], v[k], float(rdp[k]), info))
        if placed:
            self.obst.add(p[placed], rb[placed], cell)
        return pending

    # ------------------------------------------------------------------ passing neurites
    def passing(
        self, starts: np.ndarray, dirs: np.ndarray, step: float, radius: np.ndarray,
        wiggle: float,
    ) -> list[tuple[np.ndarray, int]]:  # fmt: skip
        """Curves through ``starts`` running out on both sides (bending around whole
        neurons); returns (points, index of the start point) per curve."""
        n = len(starts)
        if n == 0:
            return []
        walks = steered_walks(
            self.rng, np.concatenate([starts, starts]), np.concatenate([dirs, -dirs]),
            step=step, n_steps=int(self.diag / step) + 2, wiggle=wiggle,
            radius=np.concatenate([radius, radius]), obstacles=self.obst, lo=self.lo_out,
            hi=self.hi_out, margin=CLEAR_NM, free_steps=int(1000 / step) + 1,
        )  # fmt: skip
        out = []
        for i in range(n):
            fwd, bwd = walks[i], walks[n + i]
            out.append((np.concatenate([bwd[::-1], fwd[1:]]), len(bwd) - 1))
        return out


def plan_cells(extent_nm: np.ndarray, rng: np.random.Generator) -> Tissue:
    """Plan whole neurons, their synapse partners and the background neuropil in a volume of
    ``extent_nm`` (x, y, z) nm."""
    pl = _Planner(np.asarray(extent_nm, np.float64), rng)
    vol_um3 = float(np.prod(pl.extent)) / 1e9
    pl.place_somata(max(1, round(vol_um3 * SOMA_PER_UM3)))
    parts = []
    for s in range(len(pl.soma_sid)):
        cell = s  # whole neurons are the first cells
        parts.append(pl.grow_neuron(s, cell))
    if parts and parts[0]["dend"]:
        pts = parts[0]["dend"][0][0]
        pl.anchor = pts[min(len(pts) - 1, 12)]
    axon_starts: list[tuple[np.ndarray, np.ndarray, int]] = []
    dend_targets: list[tuple[np.ndarray, np.ndarray, float, Target]] = []
    for s, p in enumerate(parts):
        axon_starts += pl.plan_inputs(s, s, p)
        dend_targets += pl.plan_outputs(s, p)

    # passing axons through the input boutons
    if axon_starts:
        b = np.array([a[0] for a in axon_starts])
        d = np.array([a[1] for a in axon_starts])
        r = rng.uniform(*PASSING_AXON_RADIUS_NM, len(b))
        for (pts, _), (_, _, bsid), ra in zip(
            pl.passing(b, d, AXON_STEP_NM, r, 0.04), axon_starts, r
        ):
            k = bsid - 1
            cell, aobj = pl.reg.cell[k], pl.reg.axon_obj[k]
            if len(pts) >= 2:
                pl.register_curve(pts, np.full(len(pts), ra), AXON, cell, aobj, pl.axo)

    # passing dendrites carrying the output targets
    if dend_targets:
        q = np.array([t[0] for t in dend_targets])
        d = np.array([t[1] for t in dend_targets])
        r = np.array([t[2] for t in dend_targets])
        for (pts, at), (qq, _, rd, info) in zip(
            pl.passing(q, d, DENDRITE_STEP_NM, r, 0.06), dend_targets
        ):
            if len(pts) < 2:
                continue
            cell = pl.new_cell(False, 0.15)
            pl.n_dobj += 1
            sid = pl.register_curve(pts, np.full(len(pts), rd), DENDRITE, cell, pl.n_dobj, pl.dend)
            ssid = int(sid[min(at, len(sid) - 1)])
            b, rb, u = info["b"], info["rb"], info["u"]
            if info["spine"]:
                h, rh = info["h"], info["rh"]
                hsid = pl.reg.new_segment(SPINEHEAD, cell, dendrite_obj=pl.n_dobj)
                pl.reg.add_capsules(qq, h, info["rn"], info["rn"] * 0.9, ssid)
                pl.reg.add_sphere(h, rh, hsid)
                pl.syn.add(
                    info["bouton"], hsid, b + u * (rb - OVERLAP_NM / 2), SPINE, pl.n_dobj, b, rb
                )
            else:
                pl.syn.add(
                    info["bouton"], ssid, b + u * (rb - OVERLAP_NM / 2), SHAFT, pl.n_dobj, b, rb
                )

    # background neuropil up to the target length densities
    ex_um = pl.extent / 1000.0
    chord_nm = (
        1000.0
        * 4
        * vol_um3
        / (2 * (ex_um[0] * ex_um[1] + ex_um[1] * ex_um[2] + ex_um[0] * ex_um[2]))
    )

    def top_up(samples: NeuriteSamples, per_um3: float) -> int:
        """Walks still needed (each crosses the volume once: the mean chord 4V/S)."""
        have = sum(float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) for p in samples.points)
        want = per_um3 * vol_um3 * 1000.0 - have
        return max(0, int(want / chord_nm))

    n_ax = top_up(pl.axo, AXON_LENGTH_PER_UM3)
    n_de = top_up(pl.dend, DENDRITE_LENGTH_PER_UM3)
    for kind, n, step, rr, wig, samples in (
        (DENDRITE, n_de, DENDRITE_STEP_NM, PASSING_DENDRITE_RADIUS_NM, 0.06, pl.dend),
        (AXON, n_ax, AXON_STEP_NM, PASSING_AXON_RADIUS_NM, 0.04, pl.axo),
    ):
        starts = rng.uniform(pl.lo_in, pl.hi_in, (n, 3))
        r = rng.uniform(*rr, n)
        g, _ = pl.obst.clearance(starts, r)
        ok = g > CLEAR_NM
        starts, r = starts[ok], r[ok]
        dirs = random_unit(rng, len(starts)) if len(starts) else np.zeros((0, 3))
        for (pts, _), ra in zip(pl.passing(starts, dirs, step, r, wig), r):
            if len(pts) < 4:
                continue
            cell = pl.new_cell(False, 0.15 if kind == DENDRITE else 0.2)
            if kind == DENDRITE:
                pl.n_dobj += 1
                rad = ra * (1 + 0.12 * np.sin(np.arange(len(pts)) / rng.uniform(8, 20)))
                pl.register_curve(pts, rad, DENDRITE, cell, pl.n_dobj, samples)
            else:
                pl.n_aobj += 1
                pl.register_curve(pts, np.full(len(pts), ra), AXON, cell, pl.n_aobj, samples)

    soma_c = np.array(pl.soma_c).reshape(-1, 3)
    return Tissue(
        extent_nm=pl.extent,
        registry=pl.reg,
        cells=pl.cells,
        soma_sid=np.asarray(pl.soma_sid, dtype=np.uint32),
        soma_centre=soma_c,
        soma_radius=np.asarray(pl.soma_r, np.float64),
        dendrites=pl.dend,
        axons=pl.axo,
        obstacles=pl.obst,
        synapses=pl.syn,
        blobs=pl.blobs,
        n_dendrite_objs=pl.n_dobj,
        n_axon_objs=pl.n_aobj,
        anchor_nm=np.asarray(pl.anchor, np.float64),
    )
