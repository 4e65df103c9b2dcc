"""Object maps, synapse table and cell table, from the plan and what the volume holds.

Only segments that really occur in the volume (after membranes are carved) enter the
maps, and object ids are renumbered ``1..n`` per kind in creation order, so every map
value names an object that is visible in the cube files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._cells import TARGET_NAMES, Tissue
from ._constants import KINDS, ROOT_ID_BASE
from ._geometry import AXON, BOUTON, DENDRITE, KIND_NAMES, SPINEHEAD
from ._scene import Scene
from ._synapses_plan import SynapsePlan

__all__ = ["KINDS", "ROOT_ID_BASE", "Tables", "build_tables"]


@dataclass
class Tables:
    """Everything written besides the cubes."""

    maps: dict[str, np.ndarray]
    objects: pd.DataFrame
    segments: pd.DataFrame
    synapses: pd.DataFrame
    cells: pd.DataFrame
    maximum_segment_id: int
    n_segments: int
    n_glia_segments: int


def _dense(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Renumber ``values[keep]`` to ``1..n`` by first value order; 0 elsewhere."""
    out = np.zeros(len(values), np.int64)
    if keep.any():
        _, inv = np.unique(values[keep], return_inverse=True)
        out[keep] = inv + 1
    return out


def build_tables(
    tissue: Tissue, plan: SynapsePlan, scene: Scene, extra_seen: np.ndarray | None = None
) -> Tables:
    """Build maps and tables after every block has been computed (``extra_seen``: ids seen
    in another grid of the same tissue, the full-resolution cube)."""
    reg = tissue.registry.arrays()
    n = tissue.registry.n_segments
    seen = scene.seen.copy()
    if extra_seen is not None:
        seen |= extra_seen
    seen[0] = False
    present_ids = np.flatnonzero(seen)
    max_id = int(present_ids[-1]) if len(present_ids) else 0
    pres = seen[1 : n + 1]
    kind, cell = reg["kind"], reg["cell"]
    has_soma = np.array([c.has_soma for c in tissue.cells], dtype=bool)

    neuron_cell = has_soma[cell] & pres
    neuron_num = np.zeros(len(tissue.cells), np.int64)
    soma_cells = np.unique(cell[neuron_cell])
    neuron_num[soma_cells] = np.arange(1, len(soma_cells) + 1)
    per_seg = {
        "neuron": np.where(neuron_cell, neuron_num[cell], 0),
        "axon": _dense(reg["axon_obj"], pres & ((kind == AXON) | (kind == BOUTON))),
        "dendrite": _dense(reg["dendrite_obj"], pres & (kind == DENDRITE)),
        "spinehead": _dense(np.arange(n), pres & (kind == SPINEHEAD)),
    }
    maps: dict[str, np.ndarray] = {}
    rows = []
    for k in KINDS:
        m = np.zeros(max_id + 1, np.int32)
        lim = min(n, max_id)
        m[1 : lim + 1] = per_seg[k][:lim].astype(np.int32)
        maps[k] = m
        ids = np.flatnonzero(m)
        rows.append(
            pd.DataFrame(
                {
                    "segment_id": ids.astype(np.uint32),
                    "kind": pd.Series([k] * len(ids), dtype=object),
                    "object_id": m[ids].astype(np.int32),
                }
            )
        )
    objects = pd.concat(rows, ignore_index=True)

    # dendrite object of every original dendrite object index (for spine heads)
    dobj_new = np.zeros(tissue.n_dendrite_objs + 1, np.int64)
    dmask = pres & (kind == DENDRITE)
    dobj_new[reg["dendrite_obj"][dmask]] = per_seg["dendrite"][dmask]

    ok = (scene.count > 0) & (scene.best_pos[:, 0] >= 0)
    s_idx = np.flatnonzero(ok)
    pre = plan.bouton_sid[s_idx].astype(np.int64)
    post = plan.target_sid[s_idx].astype(np.int64)
    tkind = plan.kind[s_idx]
    pos = scene.best_pos[s_idx]
    names = np.array([TARGET_NAMES[k] for k in sorted(TARGET_NAMES)], dtype=object)
    synapses = pd.DataFrame(
        {
            "id": np.arange(1, len(s_idx) + 1, dtype=np.int64),
            "pre_pt_root_id": (ROOT_ID_BASE + cell[pre - 1]).astype(np.int64),
            "post_pt_root_id": (ROOT_ID_BASE + cell[post - 1]).astype(np.int64),
            "pre_segment_id": pre.astype(np.uint32),
            "post_segment_id": post.astype(np.uint32),
            "pre_object_id": maps["axon"][pre].astype(np.int32),
            "post_object_id": np.where(
                plan.post_dendrite_obj[s_idx] > 0, dobj_new[plan.post_dendrite_obj[s_idx]], 0
            ).astype(np.int32),
            "size": scene.count[s_idx].astype(np.int64),
            "ctr_pt_position_x": pos[:, 0].astype(np.int64),
            "ctr_pt_position_y": pos[:, 1].astype(np.int64),
            "ctr_pt_position_z": pos[:, 2].astype(np.int64),
            "target": pd.Series(names[tkind.astype(np.int64)], dtype=object),
        }
    )

    vs = scene.vs
    cells_present = np.unique(cell[pres])
    cl = [tissue.cells[int(i)] for i in cells_present]
    soma_vx = np.array([np.floor(c.soma_nm / vs + 0.5) for c in cl], dtype=np.int64).reshape(-1, 3)
    cells = pd.DataFrame(
        {
            "pt_root_id": (ROOT_ID_BASE + cells_present).astype(np.int64),
            "neuron_id": neuron_num[cells_present].astype(np.int32),
            "cell_type": pd.Series([c.cell_type for c in cl], dtype=object),
            "broad_type": pd.Series([c.broad_type for c in cl], dtype=object),
            "status_axon": np.array([c.status_axon for c in cl], dtype=bool),
            "status_dendrite": np.array([c.status_dendrite for c in cl], dtype=bool),
            "pt_position_x": soma_vx[:, 0],
            "pt_position_y": soma_vx[:, 1],
            "pt_position_z": soma_vx[:, 2],
        }
    )
    n_glia = int(np.count_nonzero(present_ids >= scene.glia_first))
    # ground truth: the cell and kind of every segment present (glia: root id 0)
    neu = present_ids[present_ids <= n]
    kind_names = np.array(["glia"] + [KIND_NAMES[k] for k in sorted(KIND_NAMES)], dtype=object)
    seg_kind = np.zeros(len(present_ids), np.int64)
    seg_kind[: len(neu)] = kind[neu - 1]
    root = np.zeros(len(present_ids), np.int64)
    root[: len(neu)] = ROOT_ID_BASE + cell[neu - 1]
    segments = pd.DataFrame(
        {
            "segment_id": present_ids.astype(np.uint32),
            "kind": pd.Series(kind_names[seg_kind], dtype=object),
            "pt_root_id": root,
        }
    )
    return Tables(maps, objects, segments, synapses, cells, max_id, len(present_ids), n_glia)
