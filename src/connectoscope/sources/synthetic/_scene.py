"""The rasterisable scene: planned tissue turned into flat arrays, and one block's pass.

:func:`build_scene` flattens the plan; :meth:`Scene.run_block` computes one box of the
volume (labels, segmentation with membranes, EM grey values) and accumulates what the
tables need (segment ids present, measured synapse contacts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._cells import Tissue
from ._em import em_grey
from ._geometry import AXON, BOUTON, DENDRITE, SOMA, SPINEHEAD
from ._hash import seed_key
from ._raster import fill_glia, find_contacts, mask_membranes, splat_capsules
from ._synapses_plan import VESICLE_RADIUS_NM, SynapsePlan

__all__ = ["HALO", "Scene", "Tally", "build_scene"]

HALO = 2
GLIA_CELL_NM = 1000.0
NOISE_SIGMA = 11.0
#: mean cytoplasm grey per kind; glia are the palest, somata the darkest.
BASE_GREY = {SOMA: 150, DENDRITE: 166, SPINEHEAD: 170, AXON: 176, BOUTON: 180}
GLIA_GREY = 192
#: boutons where single vesicles are below the voxel size: a darker vesicle cloud
BOUTON_CLOUD_GREY = 132


def _voxel_bounds(
    lo_nm: np.ndarray, hi_nm: np.ndarray, vs: np.ndarray, org_nm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Voxel index range ``[lo, hi)`` (x, y, z) whose centres may fall in ``[lo_nm, hi_nm]``."""
    lo = np.floor((lo_nm - org_nm) / vs).astype(np.int64)
    hi = np.ceil((hi_nm - org_nm) / vs).astype(np.int64) + 1
    return lo, hi


@dataclass
class Tally:
    """Per-block accumulators: contact faces, best contact voxel, segment ids seen."""

    count: np.ndarray
    best: np.ndarray
    best_pos: np.ndarray
    seen: np.ndarray


@dataclass
class Scene:
    """Flat arrays for the kernels plus the accumulators of one generation run."""

    shape_xyz: np.ndarray
    vs: np.ndarray
    org_nm: np.ndarray
    p0: np.ndarray
    p1: np.ndarray
    r0: np.ndarray
    r1: np.ndarray
    sid: np.ndarray
    prio_cap: np.ndarray
    prio: np.ndarray
    cell_key: np.ndarray
    cap_lo: np.ndarray
    cap_hi: np.ndarray
    n_neurite: int
    glia_first: int
    glia_grid: np.ndarray
    max_id: int
    base_grey: np.ndarray
    soma_of: np.ndarray
    soma_c: np.ndarray
    soma_r: np.ndarray
    syn_of: np.ndarray
    pre: np.ndarray
    post: np.ndarray
    contact: np.ndarray
    ves_c: np.ndarray
    ves_sid: np.ndarray
    ves_lo: np.ndarray
    ves_hi: np.ndarray
    glia_key: np.uint64
    noise_key: np.uint64
    count: np.ndarray
    best: np.ndarray
    best_pos: np.ndarray
    seen: np.ndarray

    def new_tally(self) -> Tally:
        """Empty accumulators for one block (merged into the scene's with :meth:`merge`)."""
        n = len(self.pre)
        return Tally(
            count=np.zeros(n, np.int64),
            best=np.full(n, np.inf),
            best_pos=np.full((n, 3), -1, np.int64),
            seen=np.zeros(self.max_id + 1, np.bool_),
        )

    def merge(self, t: Tally) -> None:
        """Add one block's tally; the result does not depend on the order of merging."""
        self.count += t.count
        self.seen |= t.seen
        bp, op = t.best_pos, self.best_pos
        earlier = (bp[:, 2] < op[:, 2]) | (
            (bp[:, 2] == op[:, 2])
            & ((bp[:, 1] < op[:, 1]) | ((bp[:, 1] == op[:, 1]) & (bp[:, 0] < op[:, 0])))
        )
        take = (t.best < self.best) | ((t.best == self.best) & np.isfinite(t.best) & earlier)
        self.best[take] = t.best[take]
        self.best_pos[take] = bp[take]

    def run_block(
        self,
        start_xyz: tuple[int, int, int],
        size_xyz: tuple[int, int, int],
        tally: Tally | None = None,
        *,
        measure: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Compute one box; returns ``(segmentation uint32, em uint8)``, both [z, y, x].

        What the tables need goes into ``tally`` (the scene's own accumulators when
        omitted): the segment ids present and, with ``measure``, the synapse contacts.
        Safe to call from several threads with separate tallies: the kernels release the
        GIL and only read the scene.
        """
        acc = tally if tally is not None else Tally(self.count, self.best, self.best_pos, self.seen)
        h = HALO
        origin = np.array(start_xyz, np.int64) - h
        ext = np.array(size_xyz, np.int64) + 2 * h
        shape_zyx = (int(ext[2]), int(ext[1]), int(ext[0]))
        hi = origin + ext
        sel = np.flatnonzero(np.all((self.cap_hi > origin) & (self.cap_lo < hi), axis=1)).astype(
            np.int64
        )
        best = np.zeros(shape_zyx, np.float32)
        lab = np.zeros(shape_zyx, np.uint32)
        splat_capsules(
            best, lab, origin, self.org_nm, self.vs, self.p0, self.p1, self.r0, self.r1,
            self.sid, self.prio_cap, sel,
        )  # fmt: skip
        del best
        fill_glia(
            lab, origin, self.org_nm, self.vs, GLIA_CELL_NM, self.glia_grid, self.glia_first,
            self.glia_key,
        )  # fmt: skip
        seg = np.zeros(shape_zyx, np.uint32)
        memb = np.zeros(shape_zyx, np.uint8)
        mask_membranes(lab, seg, memb, self.cell_key, self.prio)
        if measure:
            find_contacts(
                lab, seg, h, origin, self.shape_xyz, self.org_nm, self.vs, self.syn_of,
                self.pre, self.post, self.contact, acc.count, acc.best, acc.best_pos, acc.seen,
            )  # fmt: skip
        else:
            acc.seen[np.unique(seg[h:-h, h:-h, h:-h])] = True
        vsel = np.flatnonzero(np.all((self.ves_hi > origin) & (self.ves_lo < hi), axis=1)).astype(
            np.int64
        )
        em = np.empty((int(size_xyz[2]), int(size_xyz[1]), int(size_xyz[0])), np.uint8)
        em_grey(
            lab, seg, memb, h, origin, self.org_nm, self.vs, self.base_grey, self.soma_of,
            self.soma_c, self.soma_r, self.syn_of, self.post, self.ves_c, self.ves_sid, vsel,
            VESICLE_RADIUS_NM, NOISE_SIGMA, self.noise_key, em,
        )  # fmt: skip
        return np.ascontiguousarray(seg[h:-h, h:-h, h:-h]), em


def build_scene(
    tissue: Tissue,
    plan: SynapsePlan,
    shape_xyz: tuple[int, int, int],
    voxel_size: tuple[float, float, float],
    seed: int,
) -> Scene:
    """Flatten the tissue and synapse plan into a :class:`Scene` for one voxel grid.

    ``shape_xyz`` and ``voxel_size`` describe the grid (voxel ``g`` centred at
    ``g * voxel_size`` nm); the segment ids (glia included) depend only on the tissue, so
    two grids of one tissue (the overview and the full-resolution cube) share them.
    """
    vs = np.asarray(voxel_size, np.float64)
    org = np.zeros(3)
    shape = np.asarray(shape_xyz, np.int64)
    reg = tissue.registry
    p0, p1, r0, r1, sid = reg.capsules()
    rmax = np.maximum(r0, r1)[:, None]
    cap_lo, cap_hi = _voxel_bounds(np.minimum(p0, p1) - rmax, np.maximum(p0, p1) + rmax, vs, org)
    n_neu = reg.n_segments
    glia_grid = (np.floor(tissue.extent_nm / GLIA_CELL_NM).astype(np.int64) + 5).astype(np.int64)
    glia_first = n_neu + 1
    max_id = glia_first + int(np.prod(glia_grid)) - 1
    arr = reg.arrays()
    whole = np.array([c.has_soma for c in tissue.cells], dtype=bool)
    prio = np.zeros(max_id + 1, np.uint8)
    prio[1 : n_neu + 1] = whole[arr["cell"]]
    cell_key = -np.arange(max_id + 1, dtype=np.int64)  # glia: each its own cell
    cell_key[1 : n_neu + 1] = arr["cell"]
    cell_key[0] = -(max_id + 1)
    # per-id grey: kind mean +- 8 from a hash of the id
    rng = np.random.default_rng([seed, 11])
    jitter = rng.integers(-8, 9, size=max_id + 1)
    base = np.full(max_id + 1, GLIA_GREY, np.int64)
    fine = float(vs.min()) <= 2.5 * VESICLE_RADIUS_NM
    for kind, grey in BASE_GREY.items():
        if kind == BOUTON and not fine:
            grey = BOUTON_CLOUD_GREY
        base[1 : n_neu + 1][arr["kind"] == kind] = grey
    base_grey = np.clip(base + jitter, 0, 255).astype(np.uint8)
    soma_of = np.full(n_neu + 1, -1, np.int32)
    soma_of[tissue.soma_sid] = np.arange(len(tissue.soma_sid), dtype=np.int32)
    syn_of = np.full(n_neu + 1, -1, np.int32)
    syn_of[plan.bouton_sid] = np.arange(len(plan.bouton_sid), dtype=np.int32)
    ves = plan.vesicle_nm if fine else np.zeros((0, 3))
    ves_sid = plan.vesicle_sid if fine else np.zeros(0, np.uint32)
    ves_lo, ves_hi = _voxel_bounds(ves - VESICLE_RADIUS_NM, ves + VESICLE_RADIUS_NM, vs, org)
    n_syn = len(plan.bouton_sid)
    return Scene(
        shape_xyz=shape,
        vs=vs,
        org_nm=org,
        p0=p0,
        p1=p1,
        r0=r0,
        r1=r1,
        sid=sid,
        prio_cap=prio[sid],
        prio=prio,
        cell_key=cell_key,
        cap_lo=cap_lo,
        cap_hi=cap_hi,
        n_neurite=n_neu,
        glia_first=glia_first,
        glia_grid=glia_grid,
        max_id=max_id,
        base_grey=base_grey,
        soma_of=soma_of,
        soma_c=np.ascontiguousarray(tissue.soma_centre, np.float64).reshape(-1, 3),
        soma_r=np.asarray(tissue.soma_radius, np.float64),
        syn_of=syn_of,
        pre=plan.bouton_sid,
        post=plan.target_sid,
        contact=np.ascontiguousarray(plan.contact_nm).reshape(-1, 3),
        ves_c=np.ascontiguousarray(ves).reshape(-1, 3),
        ves_sid=ves_sid,
        ves_lo=ves_lo.reshape(-1, 3),
        ves_hi=ves_hi.reshape(-1, 3),
        glia_key=seed_key(seed, 1),
        noise_key=seed_key(seed, 2),
        count=np.zeros(n_syn, np.int64),
        best=np.full(n_syn, np.inf),
        best_pos=np.full((n_syn, 3), -1, np.int64),
        seen=np.zeros(max_id + 1, np.bool_),
    )
