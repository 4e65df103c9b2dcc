"""Analyses of a connectivity matrix: multiplicity histogram, degrees, reciprocity, connection
probability, type-by-type aggregation, sorting by type, summary statistics. All vectorised."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InvalidParameterError

if TYPE_CHECKING:  # pragma: no cover
    from ._matrix import ConnectivityMatrix

__all__ = [
    "connection_probability",
    "degree",
    "reciprocal_pairs",
    "sort_by",
    "stats",
    "synapses_per_connection",
    "type_by_type",
]

TYPE_WEIGHTS = ("count", "pairs", "sum", "probability", "mean_count")


def synapses_per_connection(m: ConnectivityMatrix) -> pd.Series:
    """Histogram: number of connected pairs (value) with each synapse count (index)."""
    counts = m._pair_index()[2]
    h = np.bincount(counts) if counts.size else np.zeros(1, np.int64)
    k = np.flatnonzero(h)
    return pd.Series(h[k], index=pd.Index(k, name="synapses"), name="pairs")


def degree(m: ConnectivityMatrix) -> tuple[pd.Series, pd.Series]:
    """(out-degree per pre id, in-degree per post id): numbers of distinct partners."""
    rows, cols, _ = m._pair_index()
    out = np.bincount(rows, minlength=m.shape[0])
    inn = np.bincount(cols, minlength=m.shape[1])
    return (
        pd.Series(out, index=m.pre_vertices.index, name="out_degree"),
        pd.Series(inn, index=m.post_vertices.index, name="in_degree"),
    )


def _union_pairs(m: ConnectivityMatrix) -> tuple[np.ndarray, np.ndarray, int]:
    """Pairs as positions in the union of pre and post ids (exact, no float)."""
    rows, cols, _ = m._pair_index()
    ids = np.union1d(m.pre_ids, m.post_ids)
    a = np.searchsorted(ids, m.pre_ids)[rows]
    b = np.searchsorted(ids, m.post_ids)[cols]
    return a.astype(np.int64), b.astype(np.int64), int(ids.size)


def reciprocal_pairs(m: ConnectivityMatrix) -> int:
    """Unordered pairs {a, b}, a != b, connected both ways (a -> b and b -> a)."""
    a, b, n = _union_pairs(m)
    off = a != b
    fwd = a[off] * n + b[off]
    back = b[off] * n + a[off]
    return int(np.isin(fwd, back).sum()) // 2


def connection_probability(m: ConnectivityMatrix, *, exclude_self: bool = True) -> float:
    """Connected pairs / possible pairs (pairs of a vertex with itself excluded by default)."""
    n_pairs = m.n_pairs
    possible = m.shape[0] * m.shape[1]
    if exclude_self:
        possible -= np.intersect1d(m.pre_ids, m.post_ids).size
        a, b, _ = _union_pairs(m)
        n_pairs -= int((a == b).sum())
    return n_pairs / possible if possible else float("nan")


def type_by_type(m: ConnectivityMatrix, prop: str, *, weight: str = "count") -> pd.DataFrame:
    """Aggregate between groups of a vertex property (rows: pre groups, columns: post groups).

    Parameters
    ----------
    prop : str
        Vertex property (``cell_type``, ``broad_type``).
    weight : {"count", "pairs", "sum", "probability", "mean_count"}
        Synapses, connected pairs, summed size, connection probability (connected pairs /
        possible pairs, self pairs excluded), or synapses per connected pair.

    Returns
    -------
    pandas.DataFrame
        Groups sorted by name; vertices with a missing property are left out.
    """
    if weight not in TYPE_WEIGHTS:
        raise InvalidParameterError(
            f"weight must be one of {', '.join(TYPE_WEIGHTS)}, got {weight!r}"
        )
    for v in (m.pre_vertices, m.post_vertices):
        if prop not in v:
            raise InvalidParameterError(
                f"no vertex property {prop!r}; properties: "
                f"{', '.join(map(str, v.columns)) or 'none (pass cells=...)'}"
            )
    pre_lab = m.pre_vertices[prop]
    post_lab = m.post_vertices[prop]
    rows_g = sorted(pre_lab.dropna().unique().tolist(), key=str)
    cols_g = sorted(post_lab.dropna().unique().tolist(), key=str)
    pre_code = pd.Index(rows_g, dtype=object).get_indexer(pre_lab.astype(object))
    post_code = pd.Index(cols_g, dtype=object).get_indexer(post_lab.astype(object))
    nr, nc = len(rows_g), len(cols_g)
    rows, cols, counts = m._pair_index()
    a, b = pre_code[rows], post_code[cols]
    ok = (a >= 0) & (b >= 0)
    key = a[ok] * max(nc, 1) + b[ok]

    def grid(w: np.ndarray | None) -> np.ndarray:
        return np.bincount(key, weights=w, minlength=nr * nc).reshape(nr, nc)

    if weight == "count":
        vals: np.ndarray = grid(counts[ok].astype(np.float64)).astype(np.int64)
    elif weight == "pairs":
        vals = grid(None).astype(np.int64)
    elif weight == "mean_count":
        with np.errstate(invalid="ignore", divide="ignore"):
            vals = grid(counts[ok].astype(np.float64)) / grid(None)
    elif weight == "sum":
        c = m.condensed
        if "size_sum" not in c:
            raise InvalidParameterError("weight='sum' needs synapse sizes")
        vals = grid(c["size_sum"].to_numpy(np.float64)[ok])
    else:
        pairs = grid(None)
        n_pre = np.bincount(pre_code[pre_code >= 0], minlength=nr).astype(np.float64)
        n_post = np.bincount(post_code[post_code >= 0], minlength=nc).astype(np.float64)
        possible = np.outer(n_pre, n_post)
        # vertices on both sides in both groups: their self pairs are not possible pairs
        both = np.intersect1d(m.pre_ids, m.post_ids)
        if both.size:
            pa = pre_code[pd.Index(m.pre_ids).get_indexer(both)]
            pb = post_code[pd.Index(m.post_ids).get_indexer(both)]
            okb = (pa >= 0) & (pb >= 0)
            np.subtract.at(possible, (pa[okb], pb[okb]), 1)
            au, bu, _ = _union_pairs(m)
            selfp = (au == bu) & ok
            np.subtract.at(pairs, (a[selfp], b[selfp]), 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            vals = pairs / possible
    out = pd.DataFrame(
        vals,
        index=pd.Index(rows_g, name=f"pre {prop}"),
        columns=pd.Index(cols_g, name=f"post {prop}"),
    )
    return out


def sort_by(
    m: ConnectivityMatrix, prop: str, side: str = "pre", *, order: Sequence[Any] | None = None
) -> tuple[np.ndarray, list[Any]]:
    """Permutation that sorts one side by a property, and the labels in that order.

    ``order`` gives the group order (default: sorted names; missing values last). The sort
    is stable, so vertices keep their id order within a group.
    """
    if side not in ("pre", "post"):
        raise InvalidParameterError(f"side must be pre or post, got {side!r}")
    v = m.pre_vertices if side == "pre" else m.post_vertices
    if prop not in v:
        raise InvalidParameterError(
            f"no vertex property {prop!r}; properties: "
            f"{', '.join(map(str, v.columns)) or 'none (pass cells=...)'}"
        )
    labels = v[prop].astype(object).where(v[prop].notna(), None)
    groups = (
        list(order) if order is not None else sorted(labels.dropna().unique().tolist(), key=str)
    )
    code = pd.Index(groups, dtype=object).get_indexer(labels)
    code = np.where(code < 0, len(groups), code)
    perm = np.argsort(code, kind="stable")
    lab = labels.to_numpy()[perm]
    return perm, ["missing" if x is None else x for x in lab.tolist()]


def stats(m: ConnectivityMatrix) -> dict[str, Any]:
    """Summary figures: synapses, pairs, vertices, degree and multiplicity summaries."""
    out_deg, in_deg = degree(m)
    spc = synapses_per_connection(m)
    rows, _cols, counts = m._pair_index()
    a, b, _ = _union_pairs(m)
    res: dict[str, Any] = {
        "synapses": m.n_synapses,
        "connected_pairs": int(rows.size),
        "pre_vertices": m.shape[0],
        "post_vertices": m.shape[1],
        "autapses": int(counts[a == b].sum()),
        "max_synapses_per_pair": int(counts.max()) if counts.size else 0,
        "synapses_per_connection": {int(k): int(v) for k, v in spc.items()},
        "max_out_degree": [int(out_deg.max()), str(out_deg.idxmax())] if len(out_deg) else None,
        "max_in_degree": [int(in_deg.max()), str(in_deg.idxmax())] if len(in_deg) else None,
        "mean_out_degree": float(out_deg.mean()) if len(out_deg) else 0.0,
        "mean_in_degree": float(in_deg.mean()) if len(in_deg) else 0.0,
        "reciprocal_pairs": reciprocal_pairs(m),
        "connection_probability": connection_probability(m),
    }
    c = m.condensed
    if "size_sum" in c:
        res["size_sum"] = float(c["size_sum"].sum())
    return res
