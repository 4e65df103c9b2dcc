"""``ConnectivityMatrix``: rectangular, sparse, exact 64-bit ids; full and condensed forms.

* **full**: one edge per synapse (``edges``: ``pre_idx``, ``post_idx`` + synapse columns).
* **condensed**: one edge per (pre, post) pair with ``count``, ``size_sum``, ``size_mean``
  and named vectorised aggregations (``min``, ``max``, ``any``, ``log_sum``).
* ``compress()``: full -> condensed (Connectome-Utilities meaning).
* ``condense(by)``: quotient graph over groups of vertices (for example cell types).

Everything is computed with integer keys ``pre_idx * n_post + post_idx``, ``np.unique`` and
``np.bincount``, never with pivot tables: a 2,088,830-synapse, 2,275 x 63,718 matrix builds in
well under a second.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import ConnectoscopeWarning, DataFormatError, InvalidParameterError
from ._tables import CellTable, SynapseTable, as_id_array

__all__ = ["WEIGHTS", "ConnectivityMatrix"]

#: Weights available as sparse matrices.
WEIGHTS = ("binary", "count", "sum", "mean", "log_sum", "min", "max")
_AGGS = ("count", "size_sum", "size_mean", "size_min", "size_max", "any", "log_sum")


def _vertex_table(ids: np.ndarray, cells: CellTable | None) -> pd.DataFrame:
    df = pd.DataFrame(index=pd.Index(ids, name="id", dtype=np.int64))
    if cells is not None and len(cells.df.columns):
        props = cells.df.reindex(ids)
        for c in props.columns:
            df[c] = props[c].to_numpy()
    return df


class ConnectivityMatrix:
    """A (pre x post) connectivity matrix with vertex properties and per-synapse edges.

    Build with :meth:`from_synapses`. Rows are presynaptic vertices (``pre_vertices``, index
    = int64 id), columns postsynaptic ones (``post_vertices``).
    """

    def __init__(
        self,
        pre_vertices: pd.DataFrame,
        post_vertices: pd.DataFrame,
        edges: pd.DataFrame,
    ) -> None:
        self.pre_vertices = pre_vertices
        self.post_vertices = post_vertices
        self.edges = edges  # columns pre_idx (int64), post_idx (int64), size?, extras
        self._condensed: pd.DataFrame | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_synapses(
        cls,
        synapses: SynapseTable | pd.DataFrame,
        cells: CellTable | pd.DataFrame | None = None,
        *,
        pre_ids: Iterable[int] | None = None,
        post_ids: Iterable[int] | None = None,
    ) -> ConnectivityMatrix:
        """Build from a synapse table.

        Parameters
        ----------
        synapses : SynapseTable or DataFrame (MICrONS names accepted)
        cells : CellTable or DataFrame, optional
            Vertex properties, joined on id (ids not in the table get missing properties).
        pre_ids, post_ids : iterable of int, optional
            The row / column vertices (default: every id seen on that side). Synapses whose
            partner is not a vertex are dropped; :attr:`dropped` says how many.
        """
        syn = synapses if isinstance(synapses, SynapseTable) else SynapseTable.from_frame(synapses)
        cell = cells if (cells is None or isinstance(cells, CellTable)) else CellTable(cells)
        pre = syn.pre
        post = syn.post
        ok: np.ndarray | None = None
        if pre_ids is None:
            pi, pre_v = pd.factorize(pre, sort=True)  # hash-based: no sort of the synapses
            pre_v = np.asarray(pre_v, np.int64)
        else:
            pre_v = np.unique(as_id_array(np.fromiter(pre_ids, np.int64), name="pre_ids"))
            pi = np.minimum(np.searchsorted(pre_v, pre), max(pre_v.size - 1, 0))
            ok = pre_v[pi] == pre if pre_v.size else np.zeros(pre.size, bool)
        if post_ids is None:
            qi, post_v = pd.factorize(post, sort=True)
            post_v = np.asarray(post_v, np.int64)
        else:
            post_v = np.unique(as_id_array(np.fromiter(post_ids, np.int64), name="post_ids"))
            qi = np.minimum(np.searchsorted(post_v, post), max(post_v.size - 1, 0))
            ok2 = post_v[qi] == post if post_v.size else np.zeros(post.size, bool)
            ok = ok2 if ok is None else ok & ok2
        extra = syn.df.drop(columns=["pre", "post"])
        if ok is not None:
            pi, qi, extra = pi[ok], qi[ok], extra[ok].reset_index(drop=True)
            pre, post = pre[ok], post[ok]
        edges = pd.DataFrame({"pre_idx": pi.astype(np.int64), "post_idx": qi.astype(np.int64)})
        for c in extra.columns:
            edges[c] = extra[c].to_numpy()
        m = cls(_vertex_table(pre_v, cell), _vertex_table(post_v, cell), edges)
        m.dropped = 0 if ok is None else int((~ok).sum())
        if cell is not None:
            known = cell.df.index.to_numpy(np.int64)
            m.unmatched_synapses = int((~np.isin(pre, known) | ~np.isin(post, known)).sum())
        return m

    dropped: int = 0
    unmatched_synapses: int = 0

    # ------------------------------------------------------------------ basics
    @property
    def shape(self) -> tuple[int, int]:
        """(number of pre vertices, number of post vertices)."""
        return (len(self.pre_vertices), len(self.post_vertices))

    @property
    def pre_ids(self) -> np.ndarray:
        return self.pre_vertices.index.to_numpy(np.int64)

    @property
    def post_ids(self) -> np.ndarray:
        return self.post_vertices.index.to_numpy(np.int64)

    @property
    def n_synapses(self) -> int:
        return len(self.edges)

    def _keys(self) -> np.ndarray:
        return (
            self.edges["pre_idx"].to_numpy() * np.int64(self.shape[1])
            + self.edges["post_idx"].to_numpy()
        )

    # ------------------------------------------------------------------ condensed form
    def compress(
        self,
        aggs: Sequence[str] = ("count", "size_sum", "size_mean"),
        *,
        column: str = "size",
        func: Callable[[np.ndarray], Any] | None = None,
    ) -> pd.DataFrame:
        """Full -> condensed: one row per connected (pre, post) pair.

        Parameters
        ----------
        aggs : sequence of str
            Any of ``count``, ``size_sum``, ``size_mean``, ``size_min``, ``size_max``, ``any``,
            ``log_sum`` (log10 of the summed size). All vectorised.
        column : str
            The per-synapse column the ``size_*`` aggregations use.
        func : callable, optional
            A Python function of the per-pair values (slow: warns and names the vectorised
            alternative); its result goes in column ``func``.

        Returns
        -------
        pandas.DataFrame
            ``pre``, ``post`` (int64 ids), ``pre_idx``, ``post_idx`` and the aggregations.
        """
        bad = [a for a in aggs if a not in _AGGS]
        if bad:
            raise InvalidParameterError(
                f"unknown aggregation(s) {bad}; choose from {', '.join(_AGGS)}"
            )
        needs_size = any(a.startswith("size_") or a == "log_sum" for a in aggs) or func is not None
        vals = None
        if needs_size:
            if column not in self.edges:
                raise DataFormatError(
                    f"no per-synapse column {column!r} to aggregate (columns: {list(self.edges.columns)})"
                )
            vals = self.edges[column].to_numpy(np.float64)
        pi = self.edges["pre_idx"].to_numpy()
        qi = self.edges["post_idx"].to_numpy()
        # sums per pair through CSR construction (duplicates are summed in linear time)
        cnt = sp.csr_matrix((np.ones(pi.size, np.int64), (pi, qi)), shape=self.shape)
        cnt.sum_duplicates()
        cnt.sort_indices()
        counts = cnt.data
        pre_idx = np.repeat(np.arange(self.shape[0], dtype=np.int64), np.diff(cnt.indptr))
        post_idx = cnt.indices.astype(np.int64)
        sums = None
        if vals is not None:
            sm = sp.csr_matrix((vals, (pi, qi)), shape=self.shape)
            sm.sum_duplicates()
            sm.sort_indices()
            sums = sm.data
        inv = None
        if any(a in ("size_min", "size_max") for a in aggs) or func is not None:
            keys = pi * np.int64(self.shape[1]) + qi
            uniq = pre_idx * np.int64(self.shape[1]) + post_idx
            inv = np.searchsorted(uniq, keys)
        out = pd.DataFrame(
            {
                "pre": self.pre_ids[pre_idx],
                "post": self.post_ids[post_idx],
                "pre_idx": pre_idx,
                "post_idx": post_idx,
            }
        )
        for a in aggs:
            if a == "count":
                out["count"] = counts.astype(np.int64)
            elif a == "any":
                out["any"] = True
            elif a in ("size_sum", "log_sum", "size_mean"):
                assert sums is not None
                s = sums
                if a == "size_sum":
                    out["size_sum"] = s
                elif a == "size_mean":
                    out["size_mean"] = s / counts
                else:
                    with np.errstate(divide="ignore"):
                        out["log_sum"] = np.log10(s)
            elif a in ("size_min", "size_max"):
                order = np.lexsort((vals, inv))  # type: ignore[arg-type]
                starts = np.r_[0, np.cumsum(counts)[:-1]]
                sorted_vals = vals[order]  # type: ignore[index]
                out[a] = (
                    sorted_vals[starts] if a == "size_min" else sorted_vals[starts + counts - 1]
                )
        if func is not None:
            warnings.warn(
                "a Python callable aggregation runs once per pair and is slow; use a named "
                f"vectorised aggregation instead ({', '.join(_AGGS)})",
                ConnectoscopeWarning,
                stacklevel=2,
            )
            assert inv is not None
            order = np.argsort(inv, kind="stable")
            groups = np.split(vals[order], np.cumsum(counts)[:-1])  # type: ignore[index]
            out["func"] = [func(g) for g in groups]
        return out

    @property
    def condensed(self) -> pd.DataFrame:
        """The condensed table with ``count``, ``size_sum``, ``size_mean`` (cached)."""
        if self._condensed is None:
            aggs = ("count", "size_sum", "size_mean") if "size" in self.edges else ("count",)
            self._condensed = self.compress(aggs)
        return self._condensed

    # ------------------------------------------------------------------ sparse matrices
    def matrix(self, weight: str = "count", *, column: str = "size") -> sp.csr_matrix:
        """A sparse (n_pre x n_post) matrix.

        Parameters
        ----------
        weight : {"binary", "count", "sum", "mean", "log_sum", "min", "max"}
            ``sum``/``mean``/``log_sum``/``min``/``max`` aggregate ``column`` per pair;
            ``log_sum`` is log10 of the summed size.
        """
        if weight not in WEIGHTS:
            raise InvalidParameterError(
                f"weight must be one of {', '.join(WEIGHTS)}, got {weight!r}"
            )
        if weight in ("binary", "count"):
            c = self.condensed
            data = np.ones(len(c), np.int8) if weight == "binary" else c["count"].to_numpy()
        else:
            name = {
                "sum": "size_sum",
                "mean": "size_mean",
                "log_sum": "log_sum",
                "min": "size_min",
                "max": "size_max",
            }[weight]
            c = self.condensed if name in self.condensed else self.compress((name,), column=column)
            data = c[name].to_numpy()
        return sp.csr_matrix(
            (data, (c["pre_idx"].to_numpy(), c["post_idx"].to_numpy())), shape=self.shape
        )

    def dense(self, weight: str = "count", *, max_cells: int = 50_000_000) -> np.ndarray:
        """A dense numpy view (refused above ``max_cells`` entries)."""
        if self.shape[0] * self.shape[1] > max_cells:
            raise InvalidParameterError(
                f"a dense {self.shape[0]} x {self.shape[1]} matrix is too large; use .matrix() "
                "(sparse) or select a sub-population first"
            )
        return self.matrix(weight).toarray()

    # ------------------------------------------------------------------ selections
    def subpopulation(
        self,
        *,
        pre: Iterable[int] | np.ndarray | None = None,
        post: Iterable[int] | np.ndarray | None = None,
    ) -> ConnectivityMatrix:
        """A new matrix restricted to the given pre and/or post ids (edges between them)."""
        pre_keep = (
            np.ones(self.shape[0], bool)
            if pre is None
            else np.isin(self.pre_ids, np.asarray(list(pre), np.int64))
        )
        post_keep = (
            np.ones(self.shape[1], bool)
            if post is None
            else np.isin(self.post_ids, np.asarray(list(post), np.int64))
        )
        return self._restrict(pre_keep, post_keep)

    def _restrict(self, pre_keep: np.ndarray, post_keep: np.ndarray) -> ConnectivityMatrix:
        pre_new = np.cumsum(pre_keep) - 1
        post_new = np.cumsum(post_keep) - 1
        pi = self.edges["pre_idx"].to_numpy()
        qi = self.edges["post_idx"].to_numpy()
        ok = pre_keep[pi] & post_keep[qi]
        edges = self.edges[ok].reset_index(drop=True)
        edges["pre_idx"] = pre_new[pi[ok]]
        edges["post_idx"] = post_new[qi[ok]]
        return ConnectivityMatrix(self.pre_vertices[pre_keep], self.post_vertices[post_keep], edges)

    def index(self, prop: str) -> _Indexer:
        """Select vertices on both sides by a property: ``m.index("broad_type").eq("excitatory")``."""
        return _Indexer(self, prop, "both")

    @property
    def pre(self) -> _Side:
        """Filters on the presynaptic side only: ``m.pre.index("status_axon").eq(True)``."""
        return _Side(self, "pre")

    @property
    def post(self) -> _Side:
        """Filters on the postsynaptic side only: ``m.post.index("broad_type").eq("excitatory")``."""
        return _Side(self, "post")

    # ------------------------------------------------------------------ analyses
    def synapses_per_connection(self) -> pd.Series:
        """Histogram: number of pairs (value) with each synapse count (index)."""
        return self.condensed["count"].value_counts().sort_index()

    def degree(self) -> tuple[pd.Series, pd.Series]:
        """(out-degree per pre id, in-degree per post id): number of distinct partners."""
        c = self.condensed
        out = np.bincount(c["pre_idx"].to_numpy(), minlength=self.shape[0])
        inn = np.bincount(c["post_idx"].to_numpy(), minlength=self.shape[1])
        return (
            pd.Series(out, index=self.pre_vertices.index, name="out_degree"),
            pd.Series(inn, index=self.post_vertices.index, name="in_degree"),
        )

    def reciprocal_pairs(self) -> int:
        """Unordered pairs {a, b}, a != b, connected both ways (a->b and b->a)."""
        c = self.condensed
        a = c["pre"].to_numpy()
        b = c["post"].to_numpy()
        off = a != b
        fwd = set(zip(a[off].tolist(), b[off].tolist()))
        return sum(1 for x, y in fwd if (y, x) in fwd) // 2

    def connection_probability(self, *, exclude_self: bool = True) -> float:
        """Connected pairs / possible pairs (pairs of a vertex with itself excluded)."""
        n_pairs = len(self.condensed)
        possible = self.shape[0] * self.shape[1]
        if exclude_self:
            both = np.intersect1d(self.pre_ids, self.post_ids).size
            possible -= both
            c = self.condensed
            n_pairs -= int((c["pre"] == c["post"]).sum())
        return n_pairs / possible if possible else float("nan")

    def type_by_type(self, prop: str, *, weight: str = "count") -> pd.DataFrame:
        """Aggregate between groups of a vertex property: ``count`` (synapses), ``pairs``,
        ``sum`` (size) or ``probability`` (pairs / possible pairs)."""
        c = self.condensed
        pre_g = self.pre_vertices[prop].to_numpy()[c["pre_idx"].to_numpy()]
        post_g = self.post_vertices[prop].to_numpy()[c["post_idx"].to_numpy()]
        df = pd.DataFrame(
            {"pre": pre_g, "post": post_g, "count": c["count"].to_numpy(), "pairs": 1}
        )
        if "size_sum" in c:
            df["sum"] = c["size_sum"].to_numpy()
        col = "pairs" if weight == "probability" else weight
        if col not in df:
            raise InvalidParameterError(
                f"weight must be count, pairs, sum or probability, got {weight!r}"
            )
        table = df.pivot_table(index="pre", columns="post", values=col, aggfunc="sum", fill_value=0)
        if weight == "probability":
            n_pre = self.pre_vertices[prop].value_counts()
            n_post = self.post_vertices[prop].value_counts()
            table = table.astype(float) / np.outer(
                n_pre.reindex(table.index), n_post.reindex(table.columns)
            )
        return table

    def sort_by(self, prop: str, side: str = "pre") -> tuple[np.ndarray, list[Any]]:
        """Permutation sorting one side by a property, and the labels in that order."""
        v = self.pre_vertices if side == "pre" else self.post_vertices
        labels = v[prop].astype(str).to_numpy()
        perm = np.argsort(labels, kind="stable")
        return perm, labels[perm].tolist()

    def condense(self, by: str) -> ConnectivityMatrix:
        """Quotient graph: vertices grouped by property ``by`` (one vertex per group, edges
        are the synapses between groups; vertex ids become group codes 0..n-1 with the group
        label in column ``by``)."""
        groups = pd.Index(
            sorted(set(self.pre_vertices[by].astype(str)) | set(self.post_vertices[by].astype(str)))
        )
        pre_code = groups.get_indexer(self.pre_vertices[by].astype(str))
        post_code = groups.get_indexer(self.post_vertices[by].astype(str))
        edges = self.edges.copy()
        edges["pre_idx"] = pre_code[edges["pre_idx"].to_numpy()]
        edges["post_idx"] = post_code[edges["post_idx"].to_numpy()]
        vt = pd.DataFrame(
            {by: groups.to_numpy()},
            index=pd.Index(np.arange(len(groups), dtype=np.int64), name="id"),
        )
        return ConnectivityMatrix(vt, vt.copy(), edges)

    def square(self) -> ConnectivityMatrix:
        """The square view over the union of pre and post ids."""
        ids = np.union1d(self.pre_ids, self.post_ids)
        props = pd.concat([self.pre_vertices, self.post_vertices])
        props = props[~props.index.duplicated(keep="first")].reindex(ids)
        edges = self.edges.copy()
        edges["pre_idx"] = np.searchsorted(ids, self.pre_ids[edges["pre_idx"].to_numpy()])
        edges["post_idx"] = np.searchsorted(ids, self.post_ids[edges["post_idx"].to_numpy()])
        return ConnectivityMatrix(props, props.copy(), edges)

    def stats(self) -> dict[str, Any]:
        """Summary figures: synapses, pairs, vertices, degree and multiplicity summaries."""
        out_deg, in_deg = self.degree()
        spc = self.synapses_per_connection()
        c = self.condensed
        return {
            "synapses": self.n_synapses,
            "connected_pairs": len(c),
            "pre_vertices": self.shape[0],
            "post_vertices": self.shape[1],
            "autapses": int((c["pre"] == c["post"]).sum()),
            "max_synapses_per_pair": int(c["count"].max()) if len(c) else 0,
            "synapses_per_connection": {int(k): int(v) for k, v in spc.items()},
            "max_out_degree": [int(out_deg.max()), str(out_deg.idxmax())] if len(out_deg) else None,
            "max_in_degree": [int(in_deg.max()), str(in_deg.idxmax())] if len(in_deg) else None,
            "mean_out_degree": float(out_deg.mean()) if len(out_deg) else 0.0,
            "reciprocal_pairs": self.reciprocal_pairs(),
        }

    def __repr__(self) -> str:
        return f"ConnectivityMatrix({self.shape[0]} x {self.shape[1]}, {self.n_synapses} synapses)"


class _Indexer:
    _OPS = {
        "eq": lambda v, x: v == x,
        "ne": lambda v, x: v != x,
        "lt": lambda v, x: v < x,
        "le": lambda v, x: v <= x,
        "gt": lambda v, x: v > x,
        "ge": lambda v, x: v >= x,
        "isin": lambda v, x: v.isin(list(x)),
    }

    def __init__(self, m: ConnectivityMatrix, prop: str, side: str) -> None:
        for v in (
            [m.pre_vertices]
            if side == "pre"
            else [m.post_vertices]
            if side == "post"
            else [m.pre_vertices, m.post_vertices]
        ):
            if prop not in v.columns:
                raise InvalidParameterError(
                    f"no vertex property {prop!r}; properties: {', '.join(map(str, v.columns)) or 'none (pass cells=...)'}"
                )
        self.m, self.prop, self.side = m, prop, side

    def _apply(self, op: str, x: Any) -> ConnectivityMatrix:
        f = self._OPS[op]
        m = self.m
        pre_keep = np.ones(m.shape[0], bool)
        post_keep = np.ones(m.shape[1], bool)
        if self.side in ("pre", "both"):
            pre_keep = np.asarray(f(m.pre_vertices[self.prop], x).fillna(False), bool)
        if self.side in ("post", "both"):
            post_keep = np.asarray(f(m.post_vertices[self.prop], x).fillna(False), bool)
        return m._restrict(pre_keep, post_keep)

    def eq(self, x: Any) -> ConnectivityMatrix:
        return self._apply("eq", x)

    def ne(self, x: Any) -> ConnectivityMatrix:
        return self._apply("ne", x)

    def lt(self, x: Any) -> ConnectivityMatrix:
        return self._apply("lt", x)

    def le(self, x: Any) -> ConnectivityMatrix:
        return self._apply("le", x)

    def gt(self, x: Any) -> ConnectivityMatrix:
        return self._apply("gt", x)

    def ge(self, x: Any) -> ConnectivityMatrix:
        return self._apply("ge", x)

    def isin(self, values: Iterable[Any]) -> ConnectivityMatrix:
        return self._apply("isin", values)


class _Side:
    def __init__(self, m: ConnectivityMatrix, side: str) -> None:
        self.m, self.side = m, side

    def index(self, prop: str) -> _Indexer:
        return _Indexer(self.m, prop, self.side)
