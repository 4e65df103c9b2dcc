"""Synapses: the ones planned with the whole neurons, plus background synapses between
passing axons and passing dendrites (boutons against spine heads on short necks, or
against dendrite shafts), and the vesicles inside every bouton.

Background candidates are the places where a passing axon runs near a passing dendrite.
A spine synapse grows a neck from the dendrite axis towards the axon and puts the spine
head against a bouton centred on the axon; a shaft synapse moves the bouton against the
dendrite surface. Nothing is placed where it would touch a whole neuron. The planned contact
point lies inside the overlap of the two blobs; the rasteriser later measures where the two
segments really touch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ._cells import (
    BOUTON_RADIUS_NM,
    CLEAR_NM,
    HEAD_RADIUS_NM,
    NECK_RADIUS_NM,
    OVERLAP_NM,
    SHAFT,
    SPINE,
    Tissue,
)
from ._geometry import BOUTON, SPINEHEAD

__all__ = ["SynapsePlan", "plan_synapses"]

BOUTON_SPACING_NM = 3000.0
VESICLE_RADIUS_NM = 18.0
#: vesicles per nm^3 of the inner 80 % of a bouton (about 1500 per um^3)
VESICLE_DENSITY = 1500e-9


@dataclass
class SynapsePlan:
    """Planned synapses (one per bouton) and the vesicles inside the boutons.

    Attributes
    ----------
    bouton_sid, target_sid : (n,) uint32
        Pre (bouton) and post (spine head, dendrite shaft or soma) segment ids.
    contact_nm : (n, 3) float64
        Planned contact point, nm (x, y, z).
    kind : (n,) int8
        Target kind: 0 shaft, 1 spine, 2 soma.
    post_dendrite_obj : (n,) int64
        Dendrite object (before renumbering) the target belongs to (0 for somata).
    vesicle_nm : (m, 3) float64, vesicle_sid : (m,) uint32
        Vesicle centres and the bouton each lies in.
    """

    bouton_sid: np.ndarray
    target_sid: np.ndarray
    contact_nm: np.ndarray
    kind: np.ndarray
    post_dendrite_obj: np.ndarray
    vesicle_nm: np.ndarray
    vesicle_sid: np.ndarray

    @property
    def spine(self) -> np.ndarray:
        """True for spine synapses."""
        return np.asarray(self.kind == SPINE)


def plan_synapses(t: Tissue, rng: np.random.Generator) -> SynapsePlan:
    """Add background boutons, spine necks and heads to ``t.registry``; return every
    synapse (the whole neurons' first) with its vesicles."""
    reg = t.registry
    den = t.dendrites.concat()
    axo = t.axons.concat()
    ps = t.synapses
    bouton = list(ps.bouton_sid)
    target = list(ps.target_sid)
    contact = list(ps.contact)
    kinds = list(ps.kind)
    dobjs = list(ps.post_dendrite_obj)
    bc = list(ps.bouton_c)
    br = list(ps.bouton_r)
    placed = t.blobs
    if len(den["points"]) and len(axo["points"]):
        tree = cKDTree(den["points"])
        dist, idx = tree.query(axo["points"], k=1, distance_upper_bound=2500.0)
        n = len(axo["points"])
        rb = rng.uniform(*BOUTON_RADIUS_NM, n) * 0.85
        rh = rng.uniform(*HEAD_RADIUS_NM, n) * 0.85
        rn = rng.uniform(*NECK_RADIUS_NM, n)
        coin = rng.random(n)
        found = np.isfinite(dist)
        idx = np.where(found, idx, 0)
        rd = den["radius"][idx]
        gap = dist - rd
        ra = axo["radius"]
        spine_ok = found & (gap >= rb + 2 * rh - OVERLAP_NM + 300) & (gap <= rb + 2 * rh + 1200)
        shaft_ok = found & (gap >= ra + 30) & (gap - rb + OVERLAP_NM <= 0.6 * rb)
        cell_inhib = np.array([c.broad_type == "inhibitory" for c in t.cells], dtype=bool)
        inhib = cell_inhib[axo["cell"]]
        same_cell = axo["cell"] == den["cell"][idx]
        p_spine = np.where(inhib, 0.08, 0.7)
        p_shaft = np.where(inhib, 0.6, 0.06)
        want_spine = spine_ok & (coin < p_spine)
        want_shaft = shaft_ok & ~want_spine & (coin < p_shaft)
        # spine candidates first: where a shaft and a spine synapse compete for room, the
        # spine wins, as in cortex where most excitatory synapses sit on spines
        cand = np.concatenate(
            [np.flatnonzero(want_spine & ~same_cell), np.flatnonzero(want_shaft & ~same_cell)]
        )
        a = axo["points"][cand]
        dpt = den["points"][idx[cand]]
        u = a - dpt
        u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-9)
        c_rb, c_rh, c_rd = rb[cand][:, None], rh[cand][:, None], rd[cand][:, None]
        c_spine = want_spine[cand]
        b = np.where(c_spine[:, None], a, dpt + u * (c_rd + c_rb - OVERLAP_NM))
        h = b - u * (c_rb + c_rh - OVERLAP_NM)
        cpt = b - u * (c_rb - OVERLAP_NM / 2)
        # keep clear of the whole neurons (bouton, head and the neck's middle)
        clear = np.ones(len(cand), bool)
        if len(cand):
            for pts, r, use in (
                (b, c_rb[:, 0], np.ones(len(cand), bool)),
                (h, c_rh[:, 0], c_spine),
                (0.5 * (h + dpt), rn[cand], c_spine),
            ):
                g, _ = t.obstacles.clearance(pts, r)
                clear &= ~use | (g >= CLEAR_NM)
        last_arc: dict[int, float] = {}
        for n_c, i in enumerate(cand):
            if not clear[n_c]:
                continue
            aobj = int(axo["obj"][i])
            arc = float(axo["arc"][i])
            if aobj in last_arc and abs(arc - last_arc[aobj]) < BOUTON_SPACING_NM:
                continue
            spine = bool(c_spine[n_c])
            if placed.crowded(b[n_c], float(rb[i])) or (
                spine and placed.crowded(h[n_c], float(rh[i]))
            ):
                continue
            last_arc[aobj] = arc
            j = int(idx[i])
            bsid = reg.new_segment(BOUTON, int(axo["cell"][i]), axon_obj=aobj)
            reg.add_sphere(b[n_c], float(rb[i]), bsid)
            placed.place(b[n_c], float(rb[i]))
            dobj = int(den["obj"][j])
            if spine:
                hsid = reg.new_segment(SPINEHEAD, int(den["cell"][j]), dendrite_obj=dobj)
                reg.add_capsules(
                    dpt[n_c], h[n_c], float(rn[i]), float(rn[i]) * 0.9, int(den["sid"][j])
                )
                reg.add_sphere(h[n_c], float(rh[i]), hsid)
                placed.place(h[n_c], float(rh[i]))
                tgt = hsid
            else:
                tgt = int(den["sid"][j])
            bouton.append(bsid)
            target.append(tgt)
            contact.append(cpt[n_c])
            kinds.append(SPINE if spine else SHAFT)
            dobjs.append(dobj)
            bc.append(b[n_c])
            br.append(float(rb[i]))
    if not bouton:
        return SynapsePlan(
            np.zeros(0, np.uint32), np.zeros(0, np.uint32), np.zeros((0, 3)),
            np.zeros(0, np.int8), np.zeros(0, np.int64), np.zeros((0, 3)),
            np.zeros(0, np.uint32),
        )  # fmt: skip
    bc_a = np.array(bc).reshape(-1, 3)
    br_a = np.array(br)
    # vesicles: uniform in a sphere of 0.8 * bouton radius, about 1500 per um^3
    nv = np.maximum(8, (VESICLE_DENSITY * 4 / 3 * np.pi * (0.8 * br_a) ** 3).astype(np.int64))
    owner = np.repeat(np.arange(len(bc_a)), nv)
    v = rng.normal(size=(len(owner), 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    v *= (rng.random((len(owner), 1)) ** (1 / 3)) * br_a[owner, None] * 0.8
    bouton_sid = np.array(bouton, np.uint32)
    return SynapsePlan(
        bouton_sid=bouton_sid,
        target_sid=np.array(target, np.uint32),
        contact_nm=np.array(contact).reshape(-1, 3),
        kind=np.array(kinds, np.int8),
        post_dendrite_obj=np.array(dobjs, np.int64),
        vesicle_nm=bc_a[owner] + v,
        vesicle_sid=bouton_sid[owner],
    )
