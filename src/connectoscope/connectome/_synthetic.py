"""Seeded synthetic synapse tables with the MICrONS shape, for benchmarks, tests and the demo.

:func:`synthetic_microns` / :func:`write_microns_connectome` (defined with the synthetic
data, :mod:`connectoscope.sources.synthetic._microns`, and re-exported here) make a whole
MICrONS-like connectome: a cell table (cell types in the proportions of the MICrONS cell-type
table, by cortical depth, excitatory/inhibitory, proofreading status, a proofread column) and
the "proofread axons to all targets" synapse table (positions in 4 x 4 x 40 nm voxels,
log-normal sizes, spine/shaft/soma tags), so every figure of the MICrONS tutorial can be
drawn from it. :func:`synthetic_synapses` and :func:`write_synthetic_dataset` make bare
tables (ids and sizes) for benchmarks.

The default is the "proofread axons to all targets" table of the MICrONS tutorial: 2,088,830
synapses from 2,275 presynaptic to 63,718 postsynaptic root ids drawn in the uint64 range
above 2**53 (where float64 cannot hold them), about 1.26 million connected pairs.

Pairs are numbered 0..n_pairs-1 and mapped to distinct (pre, post) positions by an affine
bijection of ``Z_(n_pre * n_post)``, so a partitioned dataset can be generated piece by
piece, each piece drawing pair numbers, with repeated pairs across pieces and no table of
all pairs in memory.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidParameterError
from ..parallel import run_tasks
from ..sources.synthetic._microns import (
    ID_BASE,
    MICRONS_CELL_TYPES,
    MICRONS_SHAPE,
    MICRONS_VOXEL_NM,
    microns_shape,
    random_root_ids,
    synthetic_microns,
    write_microns_connectome,
)

__all__ = [
    "ID_BASE",
    "MICRONS_CELL_TYPES",
    "MICRONS_SHAPE",
    "MICRONS_VOXEL_NM",
    "microns_shape",
    "synthetic_microns",
    "synthetic_synapses",
    "write_microns_connectome",
    "write_synthetic_dataset",
]


def _ids(rng: np.random.Generator, n: int, span: int, dtype: str) -> np.ndarray:
    return random_root_ids(rng, n, span, dtype)


def _pair_map(n_pre: int, n_post: int) -> tuple[int, int]:
    n = n_pre * n_post
    a = 2_654_435_761 % n or 1
    while math.gcd(a, n) != 1:
        a += 1
    return a, n


def _columns(
    rng: np.random.Generator,
    pair: np.ndarray,
    pre_ids: np.ndarray,
    post_ids: np.ndarray,
    a: int,
    n: int,
    positions: bool,
) -> pd.DataFrame:
    top = int(pair.max()) if pair.size else 0
    if top * a < 2**63:
        key = (pair.astype(np.int64) * np.int64(a)) % np.int64(n)
    else:  # pragma: no cover - only for pair spaces beyond 2**63 / a
        key = np.array([(int(q) * a) % n for q in pair], np.int64)
    n_post = post_ids.size
    df = pd.DataFrame(
        {
            "pre_pt_root_id": pre_ids[key // n_post],
            "post_pt_root_id": post_ids[key % n_post],
            "size": np.maximum(1, rng.lognormal(5.5, 0.9, pair.size)).astype(np.int64),
        }
    )
    if positions:
        for ax, hi in zip("xyz", (250_000, 200_000, 25_000)):
            df[f"ctr_pt_position_{ax}"] = rng.integers(0, hi, pair.size, dtype=np.int64)
    return df


def synthetic_synapses(
    n_synapses: int = MICRONS_SHAPE["n_synapses"],
    n_pre: int = MICRONS_SHAPE["n_pre"],
    n_post: int = MICRONS_SHAPE["n_post"],
    n_pairs: int = MICRONS_SHAPE["n_pairs"],
    *,
    seed: int = 0,
    id_dtype: str = "uint64",
    positions: bool = False,
) -> pd.DataFrame:
    """A seeded MICrONS-shaped synapse table (MICrONS column names).

    Every one of the ``n_pairs`` pairs gets one synapse, the rest are drawn uniformly among
    the pairs, so the table has exactly ``n_pairs`` pairs (when ``n_synapses >= n_pairs``).

    Parameters
    ----------
    n_synapses, n_pre, n_post, n_pairs : int
        Shape (defaults: the MICrONS tutorial's proofread-to-all table).
    seed : int
        Same seed, same table.
    id_dtype : {"uint64", "int64"}
        dtype of the root id columns (values are above 2**53 either way).
    positions : bool
        Add ``ctr_pt_position_x/y/z`` (voxels).

    Returns
    -------
    pandas.DataFrame
        ``pre_pt_root_id``, ``post_pt_root_id``, ``size`` (int64) [, positions].
    """
    if n_pairs > n_pre * n_post or n_pairs > n_synapses:
        raise InvalidParameterError("n_pairs must be at most n_pre * n_post and at most n_synapses")
    rng = np.random.default_rng(seed)
    pre_ids = _ids(rng, n_pre, 10**9, id_dtype)
    post_ids = _ids(rng, n_post, 10**10, id_dtype)
    a, n = _pair_map(n_pre, n_post)
    pair = np.concatenate(
        [np.arange(n_pairs, dtype=np.int64), rng.integers(0, n_pairs, n_synapses - n_pairs)]
    )
    rng.shuffle(pair)
    return _columns(rng, pair, pre_ids, post_ids, a, n, positions)


def _write_part(args: tuple[Any, ...]) -> str:
    out, i, rows, n_pairs, pre_ids, post_ids, a, n, seed = args
    rng = np.random.default_rng([seed, i])
    pair = rng.integers(0, n_pairs, rows)
    df = _columns(rng, pair, pre_ids, post_ids, a, n, False)
    p = Path(out) / f"part-{i:05d}.parquet"
    df.to_parquet(p, index=False)
    return str(p)


def write_synthetic_dataset(
    out: str | os.PathLike[str],
    n_synapses: int,
    *,
    n_partitions: int | None = None,
    n_pre: int = 20_000,
    n_post: int = 500_000,
    n_pairs: int | None = None,
    seed: int = 0,
    id_dtype: str = "uint64",
    workers: int | None = None,
) -> Path:
    """Write a partitioned Parquet dataset of ``n_synapses`` synthetic synapses (a folder of
    ``part-NNNNN.parquet`` files, about 2 million rows each by default) without ever
    holding the whole table: for out-of-core benchmarks (100 million synapses).

    Pair numbers are drawn uniformly in ``0..n_pairs-1`` (default ``0.6 * n_synapses``)
    in every partition, so pairs repeat across partitions.
    """

    n_pairs = n_pairs or max(1, int(0.6 * n_synapses))
    if n_pairs > n_pre * n_post:
        raise InvalidParameterError("n_pairs must be at most n_pre * n_post")
    n_partitions = n_partitions or max(1, math.ceil(n_synapses / 2_000_000))
    rng = np.random.default_rng(seed)
    pre_ids = _ids(rng, n_pre, 10**9, id_dtype)
    post_ids = _ids(rng, n_post, 10**10, id_dtype)
    a, n = _pair_map(n_pre, n_post)
    p = Path(out)
    p.mkdir(parents=True, exist_ok=True)
    sizes = np.full(n_partitions, n_synapses // n_partitions)
    sizes[: n_synapses % n_partitions] += 1
    items = [
        (str(p), i, int(r), n_pairs, pre_ids, post_ids, a, n, seed) for i, r in enumerate(sizes)
    ]
    run_tasks(_write_part, items, workers=workers, desc="synthetic synapses", unit="part")
    (p / "_synthetic.json").write_text(
        json.dumps(
            {
                "n_synapses": n_synapses,
                "n_partitions": n_partitions,
                "n_pre": n_pre,
                "n_post": n_post,
                "n_pairs_drawn_from": n_pairs,
                "seed": seed,
            },
            indent=1,
        )
    )
    return p
