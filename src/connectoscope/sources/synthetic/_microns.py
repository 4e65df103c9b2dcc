"""A MICrONS-shaped synthetic connectome (cells + "proofread axons to all targets" synapses).

:func:`synthetic_microns` / :func:`write_microns_connectome` make a cell table (cell types in
the proportions of the MICrONS cell-type table, by cortical depth, excitatory/inhibitory,
proofreading status, a proofread column) and the synapse table of the MICrONS tutorial's
"proofread axons to all targets" matrix (2,088,830 synapses, 2,275 x 63,718 cells; positions
in 4 x 4 x 40 nm voxels, log-normal sizes, spine/shaft/soma tags), so every figure of the
tutorial can be drawn from it. ``connectoscope synth`` writes one into ``OUT/microns``; the
connectome layer re-exports these names (``connectoscope.connectome._synthetic``).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..._atomic import atomic_path, write_json_atomic, write_parquet_atomic
from ...errors import InvalidParameterError

__all__ = [
    "ID_BASE",
    "MICRONS_CELL_TYPES",
    "MICRONS_SHAPE",
    "MICRONS_VOXEL_NM",
    "microns_shape",
    "random_root_ids",
    "synthetic_microns",
    "write_microns_connectome",
]

#: The MICrONS tutorial's proofread-to-all table.
MICRONS_SHAPE = {"n_synapses": 2_088_830, "n_pre": 2_275, "n_post": 63_718, "n_pairs": 1_260_000}
#: Root ids start here (MICrONS-like, above 2**53).
ID_BASE = 864691135000000000


def random_root_ids(rng: np.random.Generator, n: int, span: int, dtype: str) -> np.ndarray:
    """``n`` distinct sorted root ids ``ID_BASE + k`` with ``k`` drawn from ``0..span-1``."""
    off = np.sort(rng.choice(span, n, replace=False)).astype(np.uint64)
    return (np.uint64(ID_BASE) + off).astype(dtype)


#: Cell types and their share of the neurons (approximately the MICrONS soma/nucleus
#: cell-type table, ``aibs_metamodel_celltypes``: 85 % excitatory, 15 % inhibitory).
MICRONS_CELL_TYPES: dict[str, float] = {
    "23P": 0.22,
    "4P": 0.18,
    "5P-IT": 0.11,
    "5P-ET": 0.035,
    "5P-NP": 0.015,
    "6P-IT": 0.15,
    "6P-CT": 0.14,
    "BC": 0.06,
    "MC": 0.045,
    "BPC": 0.03,
    "NGC": 0.015,
}
INHIBITORY_TYPES = ("BC", "MC", "BPC", "NGC")
#: Cortical depth (um below the pia) of the somata of each excitatory type.
_DEPTH_UM = {
    "23P": (90.0, 300.0),
    "4P": (300.0, 420.0),
    "5P-IT": (420.0, 640.0),
    "5P-ET": (480.0, 640.0),
    "5P-NP": (480.0, 640.0),
    "6P-IT": (640.0, 900.0),
    "6P-CT": (640.0, 900.0),
}
_INHIB_DEPTH_UM = (60.0, 900.0)
#: Extent of the virtual volume, um: x (width), y (depth; the pia at y = PIA_UM), z.
_EXTENT_UM = (1300.0, 1000.0, 800.0)
_PIA_UM = 60.0
_COLUMN_RADIUS_UM = 60.0
#: Voxel size of the positions, nm (MICrONS).
MICRONS_VOXEL_NM = (4.0, 4.0, 40.0)
#: Target tag probabilities (spine, shaft, soma) by presynaptic type, onto excitatory and
#: onto inhibitory (aspiny) cells.
_TAG_P = {
    "E": ((0.85, 0.13, 0.02), (0.0, 0.88, 0.12)),
    "BC": ((0.10, 0.55, 0.35), (0.0, 0.70, 0.30)),
    "MC": ((0.40, 0.60, 0.00), (0.0, 1.00, 0.00)),
    "BPC": ((0.10, 0.85, 0.05), (0.0, 0.95, 0.05)),
    "NGC": ((0.10, 0.85, 0.05), (0.0, 0.95, 0.05)),
}
TAGS = ("spine", "shaft", "soma")
#: Median synapse size (voxels) per tag; log-normal around it.
_SIZE_MEDIAN = {"spine": 2200.0, "shaft": 1300.0, "soma": 1600.0}


def _microns_cells(
    rng: np.random.Generator, n_cells: int, n_pre: int, extra_dendrite: int
) -> pd.DataFrame:
    types = np.array(list(MICRONS_CELL_TYPES))
    p = np.array(list(MICRONS_CELL_TYPES.values()))
    ct = types[rng.choice(len(types), n_cells, p=p / p.sum())]
    inhib = np.isin(ct, INHIBITORY_TYPES)
    depth = np.empty(n_cells)
    for t in types:
        m = ct == t
        lo, hi = _INHIB_DEPTH_UM if t in INHIBITORY_TYPES else _DEPTH_UM[str(t)]
        depth[m] = rng.uniform(lo, hi, int(m.sum()))
    x = rng.uniform(0, _EXTENT_UM[0], n_cells)
    z = rng.uniform(0, _EXTENT_UM[2], n_cells)
    # the proofread cells: most in a column (every cell nearest its axis), the rest scattered
    # excitatory cells
    cx, cz = _EXTENT_UM[0] / 2, _EXTENT_UM[2] / 2
    r_axis = np.hypot(x - cx, z - cz)
    n_col = min(n_pre, round(0.6 * n_pre))
    col = np.argsort(r_axis, kind="stable")[:n_col]
    is_column = np.zeros(n_cells, bool)
    is_column[col] = True
    others = np.flatnonzero(~is_column & ~inhib)
    rest = rng.choice(others, n_pre - n_col, replace=False) if n_pre > n_col else np.zeros(0, int)
    status_axon = is_column.copy()
    status_axon[rest] = True
    status_dendrite = status_axon.copy()
    more = np.flatnonzero(~status_dendrite)
    status_dendrite[rng.choice(more, min(extra_dendrite, more.size), replace=False)] = True
    strategy = np.where(
        is_column, "axon_fully_extended", np.where(status_axon, "axon_partially_extended", "none")
    )
    ids = random_root_ids(rng, n_cells, 10**10, "int64")
    rng.shuffle(ids)
    um = np.stack([x, depth + _PIA_UM, z], axis=1) * 1000.0 / np.asarray(MICRONS_VOXEL_NM)
    return pd.DataFrame(
        {
            "id": np.arange(1, n_cells + 1, dtype=np.int64),
            "pt_root_id": ids.astype(np.int64),
            "cell_type": pd.Series(ct, dtype=object),
            "broad_type": pd.Series(np.where(inhib, "inhibitory", "excitatory"), dtype=object),
            "classification_system": pd.Series(
                np.where(inhib, "inhibitory_neuron", "excitatory_neuron"), dtype=object
            ),
            "pt_position_x": np.round(um[:, 0]).astype(np.int64),
            "pt_position_y": np.round(um[:, 1]).astype(np.int64),
            "pt_position_z": np.round(um[:, 2]).astype(np.int64),
            "status_axon": status_axon,
            "status_dendrite": status_dendrite,
            "strategy_axon": pd.Series(strategy, dtype=object),
            "is_column": is_column,
        }
    )


def _sample_pairs(
    rng: np.random.Generator,
    pre_xyz: np.ndarray,
    pre_inhib: np.ndarray,
    post_xyz: np.ndarray,
    post_inhib: np.ndarray,
    degree: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct post partners of every pre cell, up to ``degree[i]`` of them, with a
    probability falling off with lateral and depth distance.

    Each pre cell throws points from a Gaussian around its soma (lateral sigma 170 um, depth
    220 um; 110 and 150 um for inhibitory cells) and takes a random post cell of the 40 um
    grid cell each point lands in (throws into empty grid cells are lost); a partner of the
    same class (E-E, I-I) is kept with probability 0.6. Repeats are dropped and the throws
    go on until each cell has its degree (at most six rounds; far from every post cell a
    degree may stay short).
    """
    n_post = len(post_xyz)
    g_um = 40.0
    lo = post_xyz.min(axis=0)
    gshape = np.floor((post_xyz.max(axis=0) - lo) / g_um).astype(np.int64) + 1
    gcell = np.ravel_multi_index(
        tuple(np.floor((post_xyz - lo) / g_um).astype(np.int64).T), tuple(gshape)
    )
    by_cell = np.argsort(gcell, kind="stable")
    g_start = np.searchsorted(gcell[by_cell], np.arange(int(np.prod(gshape)) + 1))
    have = np.zeros(len(pre_xyz), np.int64)
    keys_all: list[np.ndarray] = []
    taken = np.zeros(0, np.int64)
    for _ in range(6):
        need = np.maximum(0, degree - have)
        if not need.any():
            break
        n_draw = np.where(need > 0, np.ceil(need * 1.8).astype(np.int64) + 8, 0)
        pre = np.repeat(np.arange(len(pre_xyz)), n_draw)
        inh = pre_inhib[pre]
        sig = np.stack(
            [np.where(inh, 110.0, 170.0), np.where(inh, 150.0, 220.0), np.where(inh, 110.0, 170.0)],
            axis=1,
        )
        pts = pre_xyz[pre] + rng.normal(size=(pre.size, 3)) * sig
        gi = np.floor((pts - lo) / g_um).astype(np.int64)
        ok = np.all((gi >= 0) & (gi < gshape), axis=1)
        cidx = np.zeros(pre.size, np.int64)
        cidx[ok] = np.ravel_multi_index(tuple(gi[ok].T), tuple(gshape))
        cnt = g_start[cidx + 1] - g_start[cidx]
        ok &= cnt > 0
        j = by_cell[
            np.minimum(g_start[cidx] + (rng.random(pre.size) * cnt).astype(np.int64), n_post - 1)
        ]
        keep = ok & ((post_inhib[j] != inh) | (rng.random(pre.size) < 0.6))
        key = pre[keep].astype(np.int64) * n_post + j[keep]
        # first occurrence of each new pair, in throw order
        _, first = np.unique(key, return_index=True)
        key = key[np.sort(first)]
        if taken.size:
            pos = np.minimum(np.searchsorted(taken, key), taken.size - 1)
            key = key[taken[pos] != key]
        p = key // n_post
        o = np.argsort(p, kind="stable")
        key, p = key[o], p[o]
        start = np.searchsorted(p, np.arange(len(pre_xyz)))
        rank = np.arange(key.size) - start[p]
        key = key[rank < need[p]]
        have += np.bincount(key // n_post, minlength=len(pre_xyz))
        keys_all.append(key)
        taken = np.sort(np.concatenate([taken, key]))
    keys = np.sort(np.concatenate(keys_all)) if keys_all else np.zeros(0, np.int64)
    return (keys // n_post).astype(np.int32), (keys % n_post).astype(np.int32)


def _microns_plan(
    n_synapses: int, n_pre: int, n_post: int, n_cells: int, n_pairs: int | None, seed: int
) -> dict[str, Any]:
    if not 1 <= n_pre <= n_post <= n_cells:
        raise InvalidParameterError(
            f"need 1 <= n_pre ({n_pre}) <= n_post ({n_post}) <= n_cells ({n_cells})"
        )
    n_pairs = n_pairs or round(n_synapses * MICRONS_SHAPE["n_pairs"] / MICRONS_SHAPE["n_synapses"])
    n_pairs = max(n_post, n_pairs)
    if n_pairs > n_synapses or n_pairs > n_pre * n_post:
        raise InvalidParameterError(
            f"{n_synapses} synapses cannot connect {n_pre} x {n_post} cells in {n_pairs} pairs "
            "(need n_post <= pairs <= synapses and pairs <= n_pre * n_post)"
        )
    rng = np.random.default_rng([seed, 101])
    cells = _microns_cells(rng, n_cells, n_pre, extra_dendrite=min(n_cells - n_pre, n_pre))
    xyz_um = cells[["pt_position_x", "pt_position_y", "pt_position_z"]].to_numpy(np.float64)
    xyz_um = xyz_um * np.asarray(MICRONS_VOXEL_NM) / 1000.0
    inhib = (cells["broad_type"] == "inhibitory").to_numpy()
    pre_idx = np.flatnonzero(cells["status_axon"].to_numpy())
    # the targets: every proofread cell, then the cells nearest the column axis
    r_axis = np.hypot(xyz_um[:, 0] - _EXTENT_UM[0] / 2, xyz_um[:, 2] - _EXTENT_UM[2] / 2)
    order = np.argsort(np.where(cells["status_axon"].to_numpy(), -1.0, r_axis), kind="stable")
    post_idx = np.sort(order[:n_post])
    # out-degree: log-normal, scaled to n_pairs in total, at most n_post
    deg = rng.lognormal(0.0, 0.6, n_pre)
    deg = np.clip(np.round(deg / deg.sum() * n_pairs), 1, n_post).astype(np.int64)
    deg[np.argmax(deg)] += n_pairs - int(deg.sum())
    deg = np.clip(deg, 1, n_post)
    pi, qi = _sample_pairs(
        rng, xyz_um[pre_idx], inhib[pre_idx], xyz_um[post_idx], inhib[post_idx], deg
    )
    # every post cell receives at least one connection: uncovered ones from the nearest pre
    covered = np.zeros(n_post, bool)
    covered[qi] = True
    lost = np.flatnonzero(~covered)
    if lost.size:
        from scipy.spatial import cKDTree

        _, near = cKDTree(xyz_um[pre_idx]).query(xyz_um[post_idx[lost]])
        pi = np.concatenate([pi, near.astype(np.int32)])
        qi = np.concatenate([qi, lost.astype(np.int32)])
    # and every proofread cell makes at least one
    idle = np.setdiff1d(np.arange(len(pre_idx)), pi)
    if idle.size:
        from scipy.spatial import cKDTree

        _, near = cKDTree(xyz_um[post_idx]).query(xyz_um[pre_idx[idle]])
        pi = np.concatenate([pi, idle.astype(np.int32)])
        qi = np.concatenate([qi, near.astype(np.int32)])
    o = np.lexsort((qi, pi))
    pi, qi = pi[o], qi[o]
    # synapses per connection: 1 + a multinomial share of the rest, heavier for basket cells
    pre_type = cells["cell_type"].to_numpy()[pre_idx]
    lam = np.where(
        pre_type[pi] == "BC", 4.0, np.where(np.isin(pre_type[pi], INHIBITORY_TYPES), 2.0, 1.0)
    )
    lam = lam * rng.lognormal(0.0, 0.8, pi.size)
    extra = n_synapses - pi.size
    if extra < 0:
        raise InvalidParameterError(
            f"{n_synapses} synapses are fewer than the {pi.size} connected pairs needed"
        )
    mult = 1 + rng.multinomial(extra, lam / lam.sum())
    return {
        "cells": cells,
        "pre_idx": pre_idx,
        "post_idx": post_idx,
        "pair_pre": pi,
        "pair_post": qi,
        "mult": mult,
        "xyz_um": xyz_um,
        "inhib": inhib,
    }


def _microns_rows(plan: dict[str, Any], a: int, b: int, rng: np.random.Generator) -> pd.DataFrame:
    """Synapse rows of pairs ``a..b``."""
    cells = plan["cells"]
    pi, qi, mult = plan["pair_pre"][a:b], plan["pair_post"][a:b], plan["mult"][a:b]
    pre_c = plan["pre_idx"][pi]
    post_c = plan["post_idx"][qi]
    ids = cells["pt_root_id"].to_numpy()
    ctype = cells["cell_type"].to_numpy()
    inhib = plan["inhib"]
    rep = np.repeat(np.arange(pi.size), mult)
    n = rep.size
    pre_s, post_s = pre_c[rep], post_c[rep]
    # tags by presynaptic type and postsynaptic class
    kind = np.where(inhib[pre_s], ctype[pre_s], "E")
    u = rng.random(n)
    tag = np.empty(n, np.int8)
    for k, (p_exc, p_inh) in _TAG_P.items():
        m = kind == k
        if not m.any():
            continue
        pe = np.where(inhib[post_s[m]], 1, 0)
        cum0 = np.where(pe == 1, p_inh[0], p_exc[0])
        cum1 = cum0 + np.where(pe == 1, p_inh[1], p_exc[1])
        tag[m] = np.where(u[m] < cum0, 0, np.where(u[m] < cum1, 1, 2))
    tags = np.array(TAGS, dtype=object)[tag]
    # sizes: log-normal per tag, with a shared factor per connection
    med = np.array([_SIZE_MEDIAN[t] for t in TAGS])[tag]
    pair_f = rng.normal(0.0, 0.45, pi.size)[rep]
    size = np.maximum(30, np.round(med * np.exp(pair_f + rng.normal(0.0, 0.6, n)))).astype(np.int64)
    # positions: soma synapses on a 6 um sphere, others on the dendrites around the soma
    c = plan["xyz_um"][post_s]
    d = rng.normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    r = np.where(tag == 2, 6.0, 8.0 + rng.gamma(2.0, 30.0, n))
    pos_um = np.clip(c + d * r[:, None], 0.0, np.asarray(_EXTENT_UM))  # inside the volume
    vox = np.round(pos_um * 1000.0 / np.asarray(MICRONS_VOXEL_NM)).astype(np.int64)
    return pd.DataFrame(
        {
            "pre_pt_root_id": ids[pre_s].astype(np.int64),
            "post_pt_root_id": ids[post_s].astype(np.int64),
            "size": size,
            "ctr_pt_position_x": vox[:, 0],
            "ctr_pt_position_y": vox[:, 1],
            "ctr_pt_position_z": vox[:, 2],
            "tag": pd.Series(tags, dtype=object),
        }
    )


#: Connected pairs per chunk of generated rows (each chunk its own random stream, so the
#: rows do not depend on how they are written).
PAIRS_PER_CHUNK = 131_072


def _pair_chunks(plan: dict[str, Any]) -> list[tuple[int, int]]:
    n = len(plan["mult"])
    bounds = [*range(0, n, PAIRS_PER_CHUNK), n]
    return list(itertools.pairwise(bounds))


def synthetic_microns(
    n_synapses: int = MICRONS_SHAPE["n_synapses"],
    n_pre: int = MICRONS_SHAPE["n_pre"],
    n_post: int = MICRONS_SHAPE["n_post"],
    *,
    n_cells: int = 80_000,
    n_pairs: int | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A MICrONS-shaped connectome in memory: ``(synapses, cells)``.

    The default is the MICrONS tutorial's "proofread axons to all targets" table: exactly
    ``n_synapses`` synapses from exactly ``n_pre`` proofread cells (``status_axon``) onto
    exactly ``n_post`` cells, in about ``n_synapses * 0.6`` connected pairs, among
    ``n_cells`` neurons. See :func:`write_microns_connectome` for every column.

    Returns
    -------
    synapses : pandas.DataFrame
        ``id``, ``pre_pt_root_id``, ``post_pt_root_id`` (int64, above 2**53), ``size``
        (int64 voxels), ``ctr_pt_position_x/y/z`` (int64, 4 x 4 x 40 nm voxels), ``tag``
        (``spine``, ``shaft`` or ``soma``).
    cells : pandas.DataFrame
        One row per neuron (columns in :func:`write_microns_connectome`).
    """
    plan = _microns_plan(n_synapses, n_pre, n_post, n_cells, n_pairs, seed)
    parts = [
        _microns_rows(plan, a, b, np.random.default_rng([seed, 102, i]))
        for i, (a, b) in enumerate(_pair_chunks(plan))
    ]
    syn = pd.concat(parts, ignore_index=True)
    syn.insert(0, "id", np.arange(1, len(syn) + 1, dtype=np.int64))
    return syn, plan["cells"]


def microns_shape(n_synapses: int) -> dict[str, int]:
    """Cell counts for ``n_synapses`` synapses: the MICrONS tutorial's (2,275 proofread x
    63,718 cells among 80,000) scaled down in proportion below 2,088,830 synapses (at least
    10 presynaptic cells)."""
    f = min(1.0, n_synapses / MICRONS_SHAPE["n_synapses"])
    n_pre = max(10, round(MICRONS_SHAPE["n_pre"] * f))
    n_post = max(n_pre, round(MICRONS_SHAPE["n_post"] * f))
    return {"n_pre": n_pre, "n_post": n_post, "n_cells": max(n_post, round(80_000 * f))}


def write_microns_connectome(
    out: str | os.PathLike[str],
    *,
    n_synapses: int = MICRONS_SHAPE["n_synapses"],
    n_pre: int | None = None,
    n_post: int | None = None,
    n_cells: int | None = None,
    n_pairs: int | None = None,
    seed: int = 0,
    rows_per_group: int = 262_144,
) -> dict[str, Any]:
    """Write a MICrONS-shaped connectome: ``OUT/synapses.parquet``, ``OUT/cells.parquet``
    and ``OUT/connectome.json``, streaming the synapses in row groups (the whole synapse
    table is never held in memory).

    Cells (one row per neuron): ``id`` (nucleus id), ``pt_root_id`` (int64 above 2**53),
    ``cell_type`` (23P, 4P, 5P-IT, 5P-ET, 5P-NP, 6P-IT, 6P-CT, BC, MC, BPC, NGC in the
    proportions of :data:`MICRONS_CELL_TYPES`, excitatory somata in their layer's depth),
    ``broad_type`` (``excitatory``/``inhibitory``), ``classification_system``
    (``excitatory_neuron``/``inhibitory_neuron``), ``pt_position_x/y/z`` (int64 voxels of
    4 x 4 x 40 nm; y is cortical depth, the pia near y = 15,000), ``status_axon``,
    ``status_dendrite`` (proofread), ``strategy_axon`` (``axon_fully_extended`` for the
    column, ``axon_partially_extended``, ``none``), ``is_column``.

    Synapses: see :func:`synthetic_microns`. Connection probability falls off with lateral
    and depth distance; basket cells make more synapses per connection and target somata;
    excitatory axons mostly target spines. Sizes are log-normal with a factor shared by
    the synapses of one connection.

    ``n_pre``, ``n_post`` and ``n_cells`` default to :func:`microns_shape` of
    ``n_synapses`` (the tutorial's counts at 2,088,830 synapses).

    Returns
    -------
    dict
        Counts: ``n_synapses``, ``n_pre``, ``n_post``, ``n_cells``, ``n_pairs``, ``seed``,
        ``voxel_size_nm``.
    """
    import pyarrow as pa

    shape = microns_shape(int(n_synapses))
    n_pre = shape["n_pre"] if n_pre is None else int(n_pre)
    n_post = shape["n_post"] if n_post is None else int(n_post)
    n_cells = shape["n_cells"] if n_cells is None else int(n_cells)
    import pyarrow.parquet as pq

    plan = _microns_plan(n_synapses, n_pre, n_post, n_cells, n_pairs, seed)
    p = Path(out)
    p.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(plan["cells"], p / "cells.parquet")
    first = 1
    with atomic_path(p / "synapses.parquet") as tmp:
        writer = None
        try:
            for i, (a, b) in enumerate(_pair_chunks(plan)):
                df = _microns_rows(plan, a, b, np.random.default_rng([seed, 102, i]))
                df.insert(0, "id", np.arange(first, first + len(df), dtype=np.int64))
                first += len(df)
                t = pa.Table.from_pandas(df, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, t.schema)
                writer.write_table(t, row_group_size=rows_per_group)
        finally:
            if writer is not None:
                writer.close()
    info = {
        "n_synapses": int(first - 1),
        "n_pre": int(n_pre),
        "n_post": int(n_post),
        "n_cells": int(n_cells),
        "n_pairs": len(plan["pair_pre"]),
        "seed": int(seed),
        "voxel_size_nm": list(MICRONS_VOXEL_NM),
    }
    write_json_atomic(p / "connectome.json", info)
    return info
