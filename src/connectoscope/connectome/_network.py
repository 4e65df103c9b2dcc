"""Network analyses that follow a connectivity matrix, on sparse structures only (never a
dense matrix of the full shape):

* :func:`distance_probability`: connection probability against soma-soma distance, binned,
  per (pre, post) cell-type pair, with the tested and connected pair counts and Wilson
  confidence intervals;
* :func:`triad_census`: the 16 triad types of the directed graph (Holland & Leinhardt),
  counted with Batagelj & Mrvar's algorithm (time: sum over edges of the end degrees);
* :func:`motif_significance`: the triad census and the reciprocity against a null model
  that keeps every vertex's in- and out-degree (double edge swaps, seeded), with z-scores;
* :func:`common_neighbour_bias`: connection probability of a pair against its number of
  common neighbours (Perin et al. 2011), observed and in the same null model.

The graph of a rectangular matrix is its square view over the union of pre and post ids
(``vertices="union"``), or the vertices that are both pre and post (``vertices="both"``,
e.g. proofread cells among themselves). Self-loops (autapses) are left out of these
analyses; ids stay exact (positions in the sorted id union).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InvalidParameterError
from ._netkernels import (
    _CODE_TYPE,
    TRIAD_NAMES,
    configuration_null,
    distance_counts,
    swap_edges,
    typed_neighbours,
)
from ._netkernels import triad_census as _census_kernel

if TYPE_CHECKING:  # pragma: no cover
    from ._matrix import ConnectivityMatrix

__all__ = [
    "TRIAD_NAMES",
    "common_neighbour_bias",
    "distance_probability",
    "motif_significance",
    "square_graph",
    "triad_census",
    "wilson_interval",
]

_VERTICES = ("union", "both")


# ---------------------------------------------------------------------------- graph
def square_graph(
    m: ConnectivityMatrix, vertices: str = "union"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The directed graph of ``m`` without self-loops: (src, dst, ids), ``src``/``dst``
    int64 positions in ``ids`` (sorted exact root ids), one edge per connected pair.

    Parameters
    ----------
    vertices : {"union", "both"}
        Every id of either side, or only the ids that are both pre and post.
    """
    if vertices not in _VERTICES:
        raise InvalidParameterError(f"vertices must be union or both, got {vertices!r}")
    rows, cols, _ = m._pair_index()
    pre, post = m.pre_ids, m.post_ids
    ids = np.union1d(pre, post) if vertices == "union" else np.intersect1d(pre, post)
    a = np.searchsorted(ids, pre)
    b = np.searchsorted(ids, post)
    if vertices == "both":
        keep = np.isin(pre, ids)[rows] & np.isin(post, ids)[cols]
        rows, cols = rows[keep], cols[keep]
    src = a[rows].astype(np.int64)
    dst = b[cols].astype(np.int64)
    loop = src == dst
    return src[~loop], dst[~loop], ids


def _relabel(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertices renumbered by decreasing number of neighbours (the census then costs the
    sum over edges of the smaller end degree; any numbering gives the same counts)."""
    deg = np.bincount(src, minlength=n) + np.bincount(dst, minlength=n)
    rank = np.empty(n, np.int64)
    rank[np.argsort(-deg, kind="stable")] = np.arange(n)
    return rank[src], rank[dst]


def _census(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """(triad census, reciprocal pairs) of a directed graph given as edge arrays (no
    self-loops, no repeated edges), best with vertices numbered by :func:`_relabel`."""
    ptr, col, typ = typed_neighbours(src, dst, np.int64(n))
    census = np.asarray(_census_kernel(ptr, col, typ, np.int64(n), _CODE_TYPE))
    return census, int((typ == 3).sum()) // 2  # a mutual dyad is listed in both rows


# ---------------------------------------------------------------------------- triads
def triad_census(m: ConnectivityMatrix, *, vertices: str = "union") -> pd.Series:
    """The 16-type triad census of the matrix's directed graph.

    Parameters
    ----------
    m : ConnectivityMatrix
    vertices : {"union", "both"}
        See :func:`square_graph`.

    Returns
    -------
    pandas.Series
        int64 counts indexed by the type names (``003`` ... ``300``), summing to C(n, 3).

    Examples
    --------
    >>> import pandas as pd
    >>> from connectoscope.connectome import ConnectivityMatrix
    >>> m = ConnectivityMatrix.from_synapses(pd.DataFrame({"pre": [1, 2, 3], "post": [2, 3, 1]}))
    >>> int(triad_census(m)["030C"])
    1
    """
    src, dst, ids = square_graph(m, vertices)
    src, dst = _relabel(src, dst, ids.size)
    return pd.Series(_census(src, dst, ids.size)[0], index=pd.Index(TRIAD_NAMES, name="triad"))


NULL_MODELS = ("configuration", "swaps")


def _randomise(
    src: np.ndarray,
    dst: np.ndarray,
    n: int,
    child: np.random.SeedSequence,
    null: str,
    swaps_per_edge: float,
) -> tuple[np.ndarray, np.ndarray]:
    """One degree-preserving random graph (every vertex keeps its in- and out-degree; no
    self-loop, no repeated edge)."""
    s, d = src.copy(), dst.copy()
    rng = np.random.default_rng(child)
    if null == "configuration":
        configuration_null(s, d, np.int64(n), rng, max(100 * s.size, 10_000))
    else:
        n_swaps = int(swaps_per_edge * s.size)
        swap_edges(s, d, np.int64(n), n_swaps, rng, max(10 * n_swaps, 1000))
    return s, d


def _null_stats(
    src: np.ndarray,
    dst: np.ndarray,
    n: int,
    n_null: int,
    seed: int,
    null: str,
    swaps_per_edge: float,
    stat: Any,
) -> list[Any]:
    """``stat(src, dst)`` of ``n_null`` null graphs, computed on local threads (the kernels
    release the GIL); seeded per graph, so the results do not depend on the threads."""
    from concurrent.futures import ThreadPoolExecutor

    from ..parallel import default_workers

    if null not in NULL_MODELS:
        raise InvalidParameterError(f"null must be one of {', '.join(NULL_MODELS)}, got {null!r}")
    children = np.random.SeedSequence(seed).spawn(n_null)

    def one(child: np.random.SeedSequence) -> Any:
        return stat(*_randomise(src, dst, n, child, null, swaps_per_edge))

    with ThreadPoolExecutor(max_workers=max(1, min(default_workers(), n_null))) as pool:
        return list(pool.map(one, children))


def _z(obs: np.ndarray, null: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = null.mean(axis=0)
    std = null.std(axis=0, ddof=1) if null.shape[0] > 1 else np.full(mean.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std > 0, (obs - mean) / std, np.nan)
    return mean, std, z


def motif_significance(
    m: ConnectivityMatrix,
    *,
    n_null: int = 10,
    seed: int = 0,
    null: str = "configuration",
    swaps_per_edge: float = 5.0,
    vertices: str = "union",
) -> pd.DataFrame:
    """Triad census and reciprocity against a degree-preserving null model.

    Parameters
    ----------
    m : ConnectivityMatrix
    n_null : int
        Random graphs drawn, each keeping every vertex's in- and out-degree exactly, without
        self-loops or repeated edges.
    seed : int
        Same seed, same null graphs (whatever the number of threads).
    null : {"configuration", "swaps"}
        ``configuration``: the targets shuffled among the edges, then each self-loop or
        repeated edge repaired by a swap with a random edge (fast; default). ``swaps``:
        ``swaps_per_edge`` x edges double edge swaps (a->b, c->d) -> (a->d, c->b) from the
        observed graph (Maslov & Sneppen; slower, the classic choice).
    swaps_per_edge : float
        Successful swaps per edge of each randomisation (``null="swaps"``).
    vertices : {"union", "both"}
        See :func:`square_graph`.

    Returns
    -------
    pandas.DataFrame
        Index: the 16 triad names, then ``reciprocal_pairs`` and ``reciprocity`` (fraction
        of edges whose reverse edge exists). Columns: ``observed``, ``null_mean``,
        ``null_std``, ``z`` (NaN where the null never varies), ``ratio``
        (observed / null mean).
    """
    if n_null < 1:
        raise InvalidParameterError(f"n_null must be >= 1, got {n_null}")
    src, dst, ids = square_graph(m, vertices)
    n = ids.size
    src, dst = _relabel(src, dst, n)

    def stat(s: np.ndarray, d: np.ndarray) -> np.ndarray:
        census, r = _census(s, d, n)
        return np.r_[census, r, 2 * r / s.size if s.size else np.nan]

    obs = stat(src, dst).astype(np.float64)
    null_s = _null_stats(src, dst, n, n_null, seed, null, swaps_per_edge, stat)
    mean, std, z = _z(obs, np.asarray(null_s, np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = obs / mean
    idx = pd.Index([*TRIAD_NAMES, "reciprocal_pairs", "reciprocity"], name="measure")
    out = pd.DataFrame(
        {"observed": obs, "null_mean": mean, "null_std": std, "z": z, "ratio": ratio}, index=idx
    )
    out.attrs.update(n_vertices=int(n), n_edges=int(src.size), n_null=n_null, seed=seed, null=null)
    return out


# ---------------------------------------------------------------------------- common neighbours
def _cn_histogram(
    src: np.ndarray, dst: np.ndarray, n: int, pop: np.ndarray, block: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """(tested, connected) ordered pairs of ``pop`` vertices by their number of common
    (undirected) neighbours; a pair is connected when the first projects to the second.
    Only the rows of ``pop`` are built (a ``|pop| x n`` neighbour matrix, its products in
    blocks of rows), never an ``n x n`` matrix."""
    where = np.full(n, -1, np.int64)
    where[pop] = np.arange(pop.size)
    ps, pd_ = where[src], where[dst]
    rows = np.r_[ps[ps >= 0], pd_[pd_ >= 0]]
    cols = np.r_[dst[ps >= 0], src[pd_ >= 0]]
    r = sp.csr_matrix((np.ones(rows.size, np.int32), (rows, cols)), shape=(pop.size, n))
    r.sum_duplicates()
    r.data[:] = 1  # a neighbour once, whatever the direction
    rt = r.T.tocsc()
    inner = (ps >= 0) & (pd_ >= 0)
    a = sp.csr_matrix(
        (np.ones(int(inner.sum()), bool), (ps[inner], pd_[inner])), shape=(pop.size, pop.size)
    )
    tested = np.zeros(1, np.int64)
    connected = np.zeros(1, np.int64)
    for r0 in range(0, pop.size, block):
        r1 = min(pop.size, r0 + block)
        k = (r[r0:r1] @ rt).toarray().astype(np.int64)  # (block, |pop|)
        conn = a[r0:r1].toarray()
        rr = np.arange(r1 - r0)
        k[rr, rr + r0] = -1  # a vertex is not paired with itself
        valid = k >= 0
        t = np.bincount(k[valid])
        c = np.bincount(k[conn & valid], minlength=t.size)
        size = max(tested.size, t.size)
        tested = np.pad(tested, (0, size - tested.size))
        connected = np.pad(connected, (0, size - connected.size))
        tested[: t.size] += t
        connected[: c.size] += c
    return tested, connected


def common_neighbour_bias(
    m: ConnectivityMatrix,
    *,
    population: str = "auto",
    n_null: int = 10,
    seed: int = 0,
    null: str = "configuration",
    swaps_per_edge: float = 5.0,
) -> pd.DataFrame:
    """Connection probability of a pair against its number of common neighbours, observed
    and in a degree-preserving null model (Perin et al. 2011's common-neighbour bias).

    Parameters
    ----------
    m : ConnectivityMatrix
    population : {"auto", "both", "pre"}
        The vertices whose ordered pairs are tested: those both pre and post (``auto`` when
        there are at least two), else the presynaptic ones. Neighbours are counted over
        every vertex of the union graph, in either direction.
    n_null, seed, null, swaps_per_edge
        The null model (see :func:`motif_significance`).

    Returns
    -------
    pandas.DataFrame
        Index ``common_neighbours`` (0, 1, ...). Columns: ``tested`` and ``connected``
        ordered pairs, ``probability`` with its Wilson 95 % interval ``ci_low``/``ci_high``,
        the null's ``null_probability`` (mean over the null graphs) and ``null_std``, and
        ``z``.
    """
    if population not in ("auto", "both", "pre"):
        raise InvalidParameterError(f"population must be auto, both or pre, got {population!r}")
    src, dst, ids = square_graph(m, "union")
    n = ids.size
    both = np.intersect1d(m.pre_ids, m.post_ids)
    if population == "both" or (population == "auto" and both.size >= 2):
        pop_ids = both
    else:
        pop_ids = m.pre_ids
    pop = np.searchsorted(ids, pop_ids).astype(np.int64)
    tested, connected = _cn_histogram(src, dst, n, pop)

    def stat(s: np.ndarray, d: np.ndarray) -> np.ndarray:
        t, c = _cn_histogram(s, d, n, pop)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(t > 0, c / np.maximum(t, 1), np.nan)

    null_p = _null_stats(src, dst, n, n_null, seed, null, swaps_per_edge, stat)
    size = max([tested.size, *(p.size for p in null_p)])
    tested = np.pad(tested, (0, size - tested.size))
    connected = np.pad(connected, (0, size - connected.size))
    nulls = np.asarray([np.pad(q, (0, size - q.size), constant_values=np.nan) for q in null_p])
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: no null pair there
        p = np.where(tested > 0, connected / np.maximum(tested, 1), np.nan)
        mean = np.nanmean(nulls, axis=0) if nulls.size else np.full(size, np.nan)
        std = np.nanstd(nulls, axis=0, ddof=1) if nulls.shape[0] > 1 else np.full(size, np.nan)
        z = np.where(std > 0, (p - mean) / std, np.nan)
    lo, hi = wilson_interval(connected, tested)
    out = pd.DataFrame(
        {
            "tested": tested,
            "connected": connected,
            "probability": p,
            "ci_low": lo,
            "ci_high": hi,
            "null_probability": mean,
            "null_std": std,
            "z": z,
        },
        index=pd.Index(np.arange(size), name="common_neighbours"),
    )
    out = out[out["tested"] > 0]
    out.attrs.update(
        population=int(pop.size), n_vertices=int(n), n_null=n_null, seed=seed, null=null
    )
    return out


# ---------------------------------------------------------------------------- distance
def wilson_interval(
    k: np.ndarray, n: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion ``k / n`` (NaN where ``n`` is 0)."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    k = np.asarray(k, np.float64)
    n = np.asarray(n, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        den = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
        lo = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
        hi = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return lo, hi


def _codes(v: pd.DataFrame, by: str | None, cats: list[Any]) -> np.ndarray:
    if by is None:
        return np.zeros(len(v), np.int64)
    col = v[by]
    lut = {c: i for i, c in enumerate(cats)}
    return np.array([lut.get(x, -1) if pd.notna(x) else -1 for x in col], np.int64)


def _distance_counts_threads(
    pre_xyz: np.ndarray,
    pre_type: np.ndarray,
    pre_id: np.ndarray,
    *rest: Any,
) -> np.ndarray:
    """:func:`distance_counts` with the presynaptic rows split over local threads."""
    from concurrent.futures import ThreadPoolExecutor

    from ..parallel import default_workers

    k = max(1, min(default_workers(), pre_xyz.shape[0] // 64 or 1))
    cuts = np.linspace(0, pre_xyz.shape[0], k + 1).astype(int)

    def one(i: int) -> np.ndarray:
        a, b = cuts[i], cuts[i + 1]
        return np.asarray(
            distance_counts(np.ascontiguousarray(pre_xyz[a:b]), pre_type[a:b], pre_id[a:b], *rest)
        )

    with ThreadPoolExecutor(max_workers=k) as pool:
        return np.asarray(sum(pool.map(one, range(k))))


def distance_probability(
    m: ConnectivityMatrix,
    *,
    by: str | None = "cell_type",
    bin_width: float = 25_000.0,
    max_distance: float = 500_000.0,
    axes: str = "xyz",
    positions: tuple[str, str, str] = ("x_nm", "y_nm", "z_nm"),
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Connection probability against soma-soma distance, per (pre, post) type pair.

    Every (pre vertex, post vertex) pair with known positions (and types) is tested; it is
    connected when the matrix has at least one synapse from the first to the second. A
    vertex is never paired with itself.

    Parameters
    ----------
    m : ConnectivityMatrix
        With soma positions in nm as vertex properties (a cell table with
        ``pt_position_x/y/z`` read with a voxel size gives ``x_nm, y_nm, z_nm``).
    by : str or None
        Vertex property naming the groups (None: all vertices together).
    bin_width, max_distance : float
        Distance bins in nm: ``0, bin_width, ... , max_distance``.
    axes : {"xyz", "xz", "xy", "yz"}
        The distance's axes ("xz": lateral distance in MICrONS, whose y is depth).
    positions : (str, str, str)
        The x, y, z position properties (nm).
    confidence : float
        Of the Wilson intervals.

    Returns
    -------
    pandas.DataFrame
        One row per (pre group, post group, bin) with tested pairs: ``pre``, ``post`` (the
        groups), ``distance_low``, ``distance_high`` (nm), ``tested``, ``connected``,
        ``probability``, ``ci_low``, ``ci_high``. ``attrs`` hold how many vertices were
        left out for lack of a position or group.
    """
    if bin_width <= 0 or max_distance <= 0:
        raise InvalidParameterError(
            f"bin_width and max_distance must be > 0 nm, got {bin_width} and {max_distance}"
        )
    if not axes or set(axes) - set("xyz"):
        raise InvalidParameterError(f"axes must use x, y, z (e.g. xyz or xz), got {axes!r}")
    pv, qv = m.pre_vertices, m.post_vertices
    for v, side in ((pv, "pre"), (qv, "post")):
        miss = [c for c in positions if c not in v.columns] + (
            [by] if by is not None and by not in v.columns else []
        )
        if miss:
            raise InvalidParameterError(
                f"{side} vertices have no {', '.join(map(repr, miss))}; give a cell table with "
                "soma positions (pt_position_x/y/z and --voxel-size) and the type column"
            )
    use = ["xyz".index(a) for a in axes]

    def xyz(v: pd.DataFrame) -> np.ndarray:
        a = v[list(positions)].to_numpy(np.float64)
        a[:, [i for i in range(3) if i not in use]] = 0.0
        return np.ascontiguousarray(a)

    cats: list[Any] = (
        sorted(set(pv[by].dropna()) | set(qv[by].dropna()), key=str) if by is not None else ["all"]
    )
    pa_, qa_ = xyz(pv), xyz(qv)
    pt, qt = _codes(pv, by, cats), _codes(qv, by, cats)
    pt[np.isnan(pa_).any(axis=1)] = -1
    qt[np.isnan(qa_).any(axis=1)] = -1
    edges = np.arange(0.0, max_distance, bin_width)
    edges = np.r_[edges[edges < max_distance - 1e-9 * bin_width], max_distance]
    nb = edges.size - 1
    sq = edges**2
    tested = distance_counts(
        np.nan_to_num(pa_),
        pt,
        pv.index.to_numpy().view(np.uint64),
        np.nan_to_num(qa_),
        qt,
        qv.index.to_numpy().view(np.uint64),
        len(cats),
        sq,
        nb,
    )
    rows, cols, _ = m._pair_index()
    ok = (
        (pt[rows] >= 0) & (qt[cols] >= 0) & (pv.index.to_numpy()[rows] != qv.index.to_numpy()[cols])
    )
    rows, cols = rows[ok], cols[ok]
    d = np.sqrt(((pa_[rows] - qa_[cols]) ** 2).sum(axis=1))
    inb = d < max_distance
    b = np.clip(np.searchsorted(edges, d[inb], side="right") - 1, 0, nb - 1)
    connected = np.zeros_like(tested)
    np.add.at(connected, (pt[rows][inb], qt[cols][inb], b), 1)
    ti, tj, tb = np.nonzero(tested)
    k, n = connected[ti, tj, tb], tested[ti, tj, tb]
    lo, hi = wilson_interval(k, n, confidence)
    out = pd.DataFrame(
        {
            "pre": [cats[i] for i in ti],
            "post": [cats[j] for j in tj],
            "distance_low": edges[tb],
            "distance_high": edges[tb + 1],
            "tested": n,
            "connected": k,
            "probability": k / n,
            "ci_low": lo,
            "ci_high": hi,
        }
    )
    out.attrs.update(
        pre_left_out=int((pt < 0).sum()),
        post_left_out=int((qt < 0).sum()),
        axes=axes,
        confidence=confidence,
        groups=[str(c) for c in cats],
    )
    return out
