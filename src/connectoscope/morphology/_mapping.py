"""Synapses onto skeleton vertices: nearest vertex (KD-tree) with a distance cap and an
explicit policy for misses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InvalidParameterError, MissingDataError
from ._skeleton import Skeleton

__all__ = ["map_synapses"]


def map_synapses(
    skel: Skeleton,
    points_nm: np.ndarray,
    *,
    max_dist: float = np.inf,
    policy: str = "drop",
) -> pd.DataFrame:
    """Nearest vertex of every point.

    Parameters
    ----------
    points_nm : (N, 3) float, x, y, z nm
    max_dist : float
        Points farther than this from every vertex (nm) are misses.
    policy : {"drop", "keep", "raise"}
        Misses are dropped, kept with ``vertex = -1`` (``distance_nm`` is then inf when
        ``max_dist`` is finite), or raise MissingDataError (with the count).

    Returns
    -------
    pandas.DataFrame
        ``point`` (row of the input), ``vertex``, ``node_id``, ``distance_nm``,
        ``distance_to_root_nm`` (path distance of the vertex), ``compartment``.
    """
    if policy not in ("drop", "keep", "raise"):
        raise InvalidParameterError(f"policy must be drop, keep or raise, got {policy!r}")
    pts = np.asarray(points_nm, np.float64).reshape(-1, 3)
    if not len(skel):
        raise InvalidParameterError("the skeleton has no vertices to map synapses onto")
    # a finite max_dist bounds the search (misses come back as inf)
    bound = float(max_dist) if np.isfinite(max_dist) else np.inf
    d, j = skel.kdtree.query(pts, distance_upper_bound=bound)
    j = np.minimum(j, len(skel) - 1)
    miss = d > max_dist
    if miss.any() and policy == "raise":
        raise MissingDataError(
            f"{int(miss.sum())} of {len(pts)} synapses lie farther than max_dist={max_dist:g} nm from "
            "the skeleton; use policy='drop' or 'keep', or raise max_dist"
        )
    j = np.where(miss, -1, j)
    out = pd.DataFrame(
        {
            "point": np.arange(len(pts)),
            "vertex": j,
            "node_id": np.where(miss, -1, skel.node_ids[np.maximum(j, 0)]),
            "distance_nm": d,
            "distance_to_root_nm": np.where(miss, np.nan, skel.distance_to_root[np.maximum(j, 0)]),
            "compartment": np.where(miss, -1, skel.features["compartment"][np.maximum(j, 0)]),
        }
    )
    return out[~miss].reset_index(drop=True) if policy == "drop" else out
