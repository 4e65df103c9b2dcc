"""Place synapses: boutons on axons touching spine heads (on short necks) or dendrite shafts.

Candidates are the places where an axon passes near a dendrite. A spine synapse grows a
neck from the dendrite axis towards the axon and puts the spine head against a bouton
centred on the axon; a shaft synapse moves the bouton against the dendrite surface. The
planned contact point lies inside the overlap of the two blobs; the rasteriser later
measures where the two segments really touch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ._cells import Tissue
from ._geometry import BOUTON, SPINEHEAD

__all__ = ["SynapsePlan", "plan_synapses"]

OVERLAP_NM = 70.0
NECK_RADIUS_NM = 45.0
BOUTON_SPACING_NM = 1400.0
VESICLE_RADIUS_NM = 17.0


@dataclass
class SynapsePlan:
    """Planned synapses (one per bouton) and the vesicles inside the boutons.

    Attributes
    ----------
    bouton_sid, target_sid : (n,) uint32
        Pre (bouton) and post (spine head or dendrite shaft) segment ids.
    contact_nm : (n, 3) float64
        Planned contact point, nm (x, y, z).
    spine : (n,) bool
        True for spine synapses, False for shaft synapses.
    post_dendrite_obj : (n,) int64
        Dendrite object (before renumbering) the target belongs to.
    vesicle_nm : (m, 3) float64, vesicle_sid : (m,) uint32
        Vesicle centres and the bouton each lies in.
    """

    bouton_sid: np.ndarray
    target_sid: np.ndarray
    contact_nm: np.ndarray
    spine: np.ndarray
    post_dendrite_obj: np.ndarray
    vesicle_nm: np.ndarray
    vesicle_sid: np.ndarray


_HASH_NM = 1000.0  # > 2 * largest blob radius + gap, so neighbours are in adjacent cells

_Placed = dict[tuple[int, int, int], list[tuple[float, float, float, float]]]


def _crowded(placed: _Placed, c: tuple[float, float, float], r: float) -> bool:
    """Whether a blob at ``c`` of radius ``r`` would come within 80 nm of a placed one."""
    x, y, z = math.floor(c[0] / _HASH_NM), math.floor(c[1] / _HASH_NM), math.floor(c[2] / _HASH_NM)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dz in (-1, 0, 1):
                for cx, cy, cz, r2 in placed.get((x + dx, y + dy, z + dz), ()):
                    d2 = (cx - c[0]) ** 2 + (cy - c[1]) ** 2 + (cz - c[2]) ** 2
                    if d2 < (r2 + r + 80) ** 2:
                        return True
    return False


def _place(placed: _Placed, c: tuple[float, float, float], r: float) -> None:
    key = (math.floor(c[0] / _HASH_NM), math.floor(c[1] / _HASH_NM), math.floor(c[2] / _HASH_NM))
    placed.setdefault(key, []).append((c[0], c[1], c[2], r))


def plan_synapses(t: Tissue, rng: np.random.Generator) -> SynapsePlan:
    """Add boutons, spine necks and spine heads to ``t.registry``; return the plan."""
    reg = t.registry
    den = t.dendrites.concat()
    axo = t.axons.concat()
    empty = SynapsePlan(
        np.zeros(0, np.uint32),
        np.zeros(0, np.uint32),
        np.zeros((0, 3)),
        np.zeros(0, bool),
        np.zeros(0, np.int64),
        np.zeros((0, 3)),
        np.zeros(0, np.uint32),
    )
    if len(den["points"]) == 0 or len(axo["points"]) == 0:
        return empty
    tree = cKDTree(den["points"])
    dist, idx = tree.query(axo["points"], k=1, distance_upper_bound=2000.0)
    n = len(axo["points"])
    rb = rng.uniform(150, 220, n)
    rh = rng.uniform(110, 180, n)
    coin = rng.random(n)
    found = np.isfinite(dist)
    idx = np.where(found, idx, 0)
    rd = den["radius"][idx]
    gap = dist - rd
    ra = axo["radius"]
    spine_ok = (
        found & (gap >= rb + 2 * rh - OVERLAP_NM + 150) & (gap <= rb + 2 * rh - OVERLAP_NM + 800)
    )
    shaft_ok = found & (gap >= ra + 30) & (gap - rb + OVERLAP_NM <= 0.6 * rb)
    cell_inhib = np.array([c.broad_type == "inhibitory" for c in t.cells], dtype=bool)
    inhib = cell_inhib[axo["cell"]]
    same_cell = axo["cell"] == den["cell"][idx]
    p_spine = np.where(inhib, 0.08, 0.7)
    p_shaft = np.where(inhib, 0.6, 0.06)
    want_spine = spine_ok & (coin < p_spine)
    want_shaft = shaft_ok & ~want_spine & (coin < p_shaft)
    # spine candidates first: where a shaft and a spine synapse compete for room, the spine
    # wins, as in cortex where most excitatory synapses sit on spines
    cand = np.concatenate(
        [np.flatnonzero(want_spine & ~same_cell), np.flatnonzero(want_shaft & ~same_cell)]
    )

    # blob centres of every candidate: bouton b, spine head h (spine synapses)
    a = axo["points"][cand]
    dpt = den["points"][idx[cand]]
    u = a - dpt
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    c_rb, c_rh, c_rd = rb[cand][:, None], rh[cand][:, None], rd[cand][:, None]
    c_spine = want_spine[cand]
    b = np.where(c_spine[:, None], a, dpt + u * (c_rd + c_rb - OVERLAP_NM))
    h = b - u * (c_rb + c_rh - OVERLAP_NM)
    contact = b - u * (c_rb - OVERLAP_NM / 2)
    clear = np.ones(len(cand), bool)
    if len(t.soma_centre):
        tree_s = cKDTree(t.soma_centre)
        for c, r, use in ((b, c_rb[:, 0], np.ones(len(cand), bool)), (h, c_rh[:, 0], c_spine)):
            d, si = tree_s.query(c, k=1)
            clear &= ~use | (d >= t.soma_radius[si] + r + 100)

    last_arc: dict[int, float] = {}
    placed: _Placed = {}
    rows: list[tuple[int, int, int, bool, int]] = []
    for n_c, i in enumerate(cand):
        if not clear[n_c]:
            continue
        aobj = int(axo["obj"][i])
        arc = float(axo["arc"][i])
        if aobj in last_arc and abs(arc - last_arc[aobj]) < BOUTON_SPACING_NM:
            continue
        spine = bool(c_spine[n_c])
        bt = (float(b[n_c, 0]), float(b[n_c, 1]), float(b[n_c, 2]))
        ht = (float(h[n_c, 0]), float(h[n_c, 1]), float(h[n_c, 2]))
        if _crowded(placed, bt, float(rb[i])) or (spine and _crowded(placed, ht, float(rh[i]))):
            continue
        last_arc[aobj] = arc
        j = int(idx[i])
        bsid = reg.new_segment(BOUTON, int(axo["cell"][i]), axon_obj=aobj)
        reg.add_sphere(b[n_c], float(rb[i]), bsid)
        _place(placed, bt, float(rb[i]))
        dobj = int(den["obj"][j])
        if spine:
            hsid = reg.new_segment(SPINEHEAD, int(den["cell"][j]), dendrite_obj=dobj)
            neck0 = dpt[n_c] + u[n_c] * rd[i] * 0.5
            reg.add_capsules(
                neck0, h[n_c], NECK_RADIUS_NM, NECK_RADIUS_NM * 0.9, int(den["sid"][j])
            )
            reg.add_sphere(h[n_c], float(rh[i]), hsid)
            _place(placed, ht, float(rh[i]))
            target = hsid
        else:
            target = int(den["sid"][j])
        rows.append((bsid, target, n_c, spine, dobj))
    if not rows:
        return empty
    rows_c = np.array([r[2] for r in rows], np.int64)
    bouton_r = rb[cand[rows_c]]
    # vesicles: uniform in a sphere of 0.8 * bouton radius
    nv = rng.integers(18, 36, len(rows))
    owner = np.repeat(np.arange(len(rows)), nv)
    v = rng.normal(size=(len(owner), 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    v *= (rng.random((len(owner), 1)) ** (1 / 3)) * bouton_r[owner, None] * 0.8
    bouton_sid = np.array([r[0] for r in rows], np.uint32)
    return SynapsePlan(
        bouton_sid=bouton_sid,
        target_sid=np.array([r[1] for r in rows], np.uint32),
        contact_nm=contact[rows_c],
        spine=np.array([r[3] for r in rows], bool),
        post_dendrite_obj=np.array([r[4] for r in rows], np.int64),
        vesicle_nm=b[rows_c][owner] + v,
        vesicle_sid=bouton_sid[owner],
    )
