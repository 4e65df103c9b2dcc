"""``ConnectivityMatrix``: rectangular, sparse, exact 64-bit ids; full and condensed forms.

* **full**: one edge per synapse (``edges``: ``pre_idx``, ``post_idx`` + synapse columns).
* **condensed**: one edge per (pre, post) pair with ``count``, ``size_sum``, ``size_mean``
  and named vectorised aggregations (``min``, ``max``, ``any``, ``log_sum``).
* :meth:`compress` = full -> condensed and :meth:`condense` = quotient graph over vertex
  groups, with the Connectome-Utilities meanings.

Pairs are found once, without JIT: ids are factorized by pandas' hash table, and one
``np.sort`` of a 64-bit (row, column) code groups the pairs; integer sizes ride in the code's
low bits, so the same sort sums them. Every other aggregation is one ``np.bincount`` or one
``reduceat`` over the synapses' pair numbers, and each weight of :meth:`matrix` is computed
on its own (the condensed table is built only when asked for). A 2,088,830-synapse,
2,275 x 63,718 matrix and its four weights build in about a quarter of a second where
``pivot_table`` takes minutes, and a one-shot script pays no compilation.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import ConnectoscopeWarning, DataFormatError, InvalidParameterError
from . import _analysis, _select
from ._cells import CellTable
from ._ids import as_id_array, common_id_dtype, to_id_dtype
from ._kernels import factorize_ids, group_pairs
from ._synapses import SynapseTable

__all__ = ["AGG_FUNCS", "WEIGHTS", "ConnectivityMatrix"]

#: Weights available as sparse matrices.
WEIGHTS = ("binary", "count", "sum", "mean", "log_sum", "min", "max")
#: Named vectorised aggregations of a per-synapse column (``log_sum`` = log10 of the sum).
AGG_FUNCS = ("sum", "mean", "min", "max", "any", "log_sum")
#: Default condensed columns.
DEFAULT_AGGS = ("count", "size_sum", "size_mean")

AggSpec = Sequence[str] | Mapping[str, tuple[str, str | Callable[[np.ndarray], Any]]]


def _vertex_table(ids: np.ndarray, cells: CellTable | None) -> pd.DataFrame:
    df = pd.DataFrame(index=pd.Index(ids, name="id", dtype=ids.dtype))
    if cells is not None and len(cells.df.columns):
        cdf = cells.df
        cid = to_id_dtype(cdf.index.to_numpy(), ids.dtype)
        pos = pd.Index(cid).get_indexer(ids)
        hit = pos >= 0
        for c in cdf.columns:
            col = cdf[c]
            if hit.all():
                df[c] = col.to_numpy()[pos]
            else:  # ids missing from the cell table get missing properties
                df[c] = col.reset_index(drop=True).reindex(pos).to_numpy()
    return df


def _parse_aggs(aggs: AggSpec, column: str) -> list[tuple[str, str | None, Any]]:
    """-> [(output name, input column or None, function name or callable)]."""
    if isinstance(aggs, Mapping):
        out = []
        for name, spec in aggs.items():
            if not (isinstance(spec, tuple) and len(spec) == 2):
                raise InvalidParameterError(
                    f"aggregation {name!r}: expected (column, function) such as ('size', 'sum')"
                )
            col, fn = spec
            if isinstance(fn, str) and fn not in (*AGG_FUNCS, "count"):
                raise InvalidParameterError(
                    f"aggregation {name!r}: unknown function {fn!r}; use one of "
                    f"{', '.join(AGG_FUNCS)}, count, or a callable (slow)"
                )
            out.append((str(name), None if fn == "count" else col, fn))
        return out
    if isinstance(aggs, str):
        aggs = (aggs,)
    parsed: list[tuple[str, str | None, Any]] = []
    for a in aggs:
        if a == "count":
            parsed.append(("count", None, "count"))
        elif a in AGG_FUNCS:
            parsed.append((a, column, a))
        else:
            suffix = next(
                (f for f in sorted(AGG_FUNCS, key=len, reverse=True) if a.endswith("_" + f)), None
            )
            if suffix is None:
                raise InvalidParameterError(
                    f"unknown aggregation {a!r}; use count, one of {', '.join(AGG_FUNCS)} (of "
                    f"{column!r}) or COLUMN_FUNCTION such as size_sum, size_max, size_log_sum"
                )
            parsed.append((a, a[: -len(suffix) - 1], suffix))
    return parsed


class ConnectivityMatrix:
    """A (pre x post) connectivity matrix with vertex properties; full and/or condensed.

    Rows are presynaptic vertices (:attr:`pre_vertices`, index ``id`` = exact 64-bit id),
    columns postsynaptic ones (:attr:`post_vertices`). Build with :meth:`from_synapses`,
    or :meth:`from_condensed` when only one row per pair is known.

    Parameters
    ----------
    pre_vertices, post_vertices : pandas.DataFrame
        Index ``id`` (int64 or uint64, unique) and property columns.
    edges : pandas.DataFrame, optional
        Full form: ``pre_idx``, ``post_idx`` (row / column positions, int64) and per-synapse
        columns (``size``, ``x_nm`` ...).
    condensed : pandas.DataFrame, optional
        Condensed form: ``pre_idx``, ``post_idx`` and per-pair columns (``count`` ...);
        required when ``edges`` is None.

    Examples
    --------
    >>> import pandas as pd
    >>> m = ConnectivityMatrix.from_synapses(pd.DataFrame({"pre": [1, 1, 2],
    ...     "post": [2, 2, 1], "size": [10, 30, 5]}))
    >>> m.shape, m.n_synapses, m.n_pairs
    ((2, 2), 3, 2)
    >>> m.matrix("count").toarray().tolist()
    [[0, 2], [1, 0]]
    """

    dropped: int = 0
    unmatched_synapses: int = 0

    def __init__(
        self,
        pre_vertices: pd.DataFrame,
        post_vertices: pd.DataFrame,
        edges: pd.DataFrame | None = None,
        *,
        condensed: pd.DataFrame | None = None,
    ) -> None:
        for side, v in (("pre", pre_vertices), ("post", post_vertices)):
            if v.index.dtype not in (np.int64, np.uint64):
                v.index = pd.Index(as_id_array(v.index.to_numpy(), name=f"{side} vertex id"))
            if not v.index.is_unique:
                dup = v.index[v.index.duplicated()].unique()
                raise DataFormatError(
                    f"{side} vertices: {len(dup)} duplicate vertex ids "
                    f"({', '.join(map(str, dup[:5]))}); vertex ids must be unique"
                )
            v.index.name = "id"
        if edges is None and condensed is None:
            raise InvalidParameterError("pass edges (full form) or condensed (one row per pair)")
        for name, t in (("edges", edges), ("condensed", condensed)):
            if t is not None:
                miss = [c for c in ("pre_idx", "post_idx") if c not in t]
                if miss:
                    raise DataFormatError(f"{name}: missing columns {miss}")
                for c, n in (("pre_idx", len(pre_vertices)), ("post_idx", len(post_vertices))):
                    a = t[c].to_numpy()
                    if a.size and (a.min() < 0 or a.max() >= n):
                        raise DataFormatError(f"{name}: {c} out of range 0..{n - 1}")
        self.pre_vertices = pre_vertices
        self.post_vertices = post_vertices
        self.edges = edges
        self._condensed = condensed
        self._inv: np.ndarray | None = None
        self._view: pd.DataFrame | None = None
        self._size_sum: np.ndarray | None = None
        self._pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._indptr: np.ndarray | None = None
        self._indices: np.ndarray | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_synapses(
        cls,
        synapses: SynapseTable | pd.DataFrame,
        cells: CellTable | pd.DataFrame | None = None,
        *,
        pre_ids: Iterable[int] | None = None,
        post_ids: Iterable[int] | None = None,
        missing_cells: str = "keep",
    ) -> ConnectivityMatrix:
        """Build the full form from a synapse table.

        Parameters
        ----------
        synapses : SynapseTable or DataFrame (MICrONS names accepted)
        cells : CellTable or DataFrame, optional
            Vertex properties, joined on id.
        pre_ids, post_ids : iterable of int, optional
            The row / column vertices (default: every id seen on that side). Synapses whose
            partner is not a vertex are dropped; :attr:`dropped` says how many.
        missing_cells : {"keep", "drop", "error"}
            Synapses with a partner absent from ``cells``: keep them (the vertex gets missing
            properties), drop them, or refuse. Either way :attr:`unmatched_synapses` holds
            the count and a warning reports it.

        Returns
        -------
        ConnectivityMatrix
        """
        syn = synapses if isinstance(synapses, SynapseTable) else SynapseTable.from_frame(synapses)
        cell = cells if (cells is None or isinstance(cells, CellTable)) else CellTable(cells)
        if missing_cells not in ("keep", "drop", "error"):
            raise InvalidParameterError(
                f"missing_cells must be keep, drop or error, got {missing_cells!r}"
            )
        pre, post = syn.pre, syn.post
        arrays = [pre, post] + ([cell.ids] if cell is not None else [])
        lists = {}
        for side, given in (("pre", pre_ids), ("post", post_ids)):
            if given is not None:
                ids = as_id_array(np.asarray(list(given)), name=f"{side}_ids")
                if pd.Index(ids).has_duplicates:
                    raise DataFormatError(f"{side}_ids: duplicate vertex ids")
                lists[side] = ids
                arrays.append(ids)
        dt = common_id_dtype(*arrays)
        pre, post = to_id_dtype(pre, dt), to_id_dtype(post, dt)
        keep = np.ones(pre.size, bool)
        unmatched = 0
        if cell is not None:
            known = to_id_dtype(cell.ids, dt)
            in_pre = pd.Index(known).get_indexer(pre) >= 0
            in_post = pd.Index(known).get_indexer(post) >= 0
            bad = ~(in_pre & in_post)
            unmatched = int(bad.sum())
            if unmatched:
                msg = (
                    f"{unmatched} of {pre.size} synapses have a partner missing from the cell "
                    f"table ({int((~in_pre).sum())} pre, {int((~in_post).sum())} post; "
                    f"{np.unique(pre[~in_pre]).size} pre ids, {np.unique(post[~in_post]).size} "
                    "post ids)"
                )
                if missing_cells == "error":
                    raise DataFormatError(msg + "; pass missing_cells='keep' or 'drop'")
                warnings.warn(
                    msg
                    + (
                        "; dropped"
                        if missing_cells == "drop"
                        else "; kept with missing properties (missing_cells='drop' drops them)"
                    ),
                    ConnectoscopeWarning,
                    stacklevel=2,
                )
                if missing_cells == "drop":
                    keep &= ~bad
        sides = {}
        for side, ids in (("pre", pre), ("post", post)):
            if side in lists:
                v = np.sort(to_id_dtype(lists[side], dt))
                idx = np.minimum(np.searchsorted(v, ids), max(v.size - 1, 0))
                keep &= (v[idx] == ids) if v.size else np.zeros(ids.size, bool)
                sides[side] = (idx, v)
            else:
                if keep.all():
                    codes, uniq = factorize_ids(ids)
                else:
                    codes = np.zeros(ids.size, np.int64)
                    codes[keep], uniq = factorize_ids(ids[keep])
                sides[side] = (codes, np.asarray(uniq, dtype=dt))
        pi, pre_v = sides["pre"]
        qi, post_v = sides["post"]
        kept = bool(keep.all())
        if not kept:
            pi, qi = pi[keep], qi[keep]
        cols: dict[str, np.ndarray] = {
            "pre_idx": pi.astype(np.int64, copy=False),
            "post_idx": qi.astype(np.int64, copy=False),
        }
        for c in syn.df.columns:
            if c not in ("pre", "post"):
                a = syn.df[c].to_numpy()
                cols[str(c)] = a if kept else a[keep]
        # one block per column, no copy of the synapse table's columns (the matrix never
        # writes into them; selections make new frames)
        edges = pd.DataFrame(cols, copy=False)
        m = cls(_vertex_table(pre_v, cell), _vertex_table(post_v, cell), edges)
        m.dropped = int((~keep).sum())
        m.unmatched_synapses = unmatched
        return m

    @classmethod
    def from_condensed(
        cls,
        table: pd.DataFrame,
        cells: CellTable | pd.DataFrame | None = None,
        *,
        pre: str = "pre",
        post: str = "post",
    ) -> ConnectivityMatrix:
        """A condensed-form matrix from one row per pair (``pre``, ``post``, ``count`` ...)."""
        a = as_id_array(table[pre], name=pre)
        b = as_id_array(table[post], name=post)
        cell = cells if (cells is None or isinstance(cells, CellTable)) else CellTable(cells)
        dt = common_id_dtype(a, b, *([cell.ids] if cell is not None else []))
        a, b = to_id_dtype(a, dt), to_id_dtype(b, dt)
        pi, pv = factorize_ids(a)
        qi, qv = factorize_ids(b)
        c = table.drop(columns=[pre, post]).reset_index(drop=True)
        c.insert(0, "post_idx", qi.astype(np.int64))
        c.insert(0, "pre_idx", pi.astype(np.int64))
        if pd.Series(pi.astype(np.int64) * len(qv) + qi).duplicated().any():
            raise DataFormatError("condensed table: a (pre, post) pair is listed more than once")
        return cls(
            _vertex_table(np.asarray(pv, dt), cell),
            _vertex_table(np.asarray(qv, dt), cell),
            condensed=c,
        )

    # ------------------------------------------------------------------ basics
    @property
    def shape(self) -> tuple[int, int]:
        """(number of pre vertices, number of post vertices)."""
        return (len(self.pre_vertices), len(self.post_vertices))

    @property
    def pre_ids(self) -> np.ndarray:
        """Row vertex ids (int64, or uint64 above 2**63 - 1)."""
        return self.pre_vertices.index.to_numpy()

    @property
    def post_ids(self) -> np.ndarray:
        """Column vertex ids."""
        return self.post_vertices.index.to_numpy()

    @property
    def is_full(self) -> bool:
        """True when per-synapse edges are held (else only the condensed form)."""
        return self.edges is not None

    @property
    def n_synapses(self) -> int:
        """Synapses (the condensed ``count`` sum when only the condensed form is held)."""
        if self.edges is not None:
            return len(self.edges)
        c = self.condensed
        return int(c["count"].sum()) if "count" in c else len(c)

    @property
    def n_pairs(self) -> int:
        """Connected (pre, post) pairs."""
        return len(self.condensed)

    def _pair_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pre_idx, post_idx, count) of each connected pair, sorted by row then column."""
        if self._pairs is None:
            if self.edges is None:
                c = self._condensed
                assert c is not None
                order = np.lexsort((c["post_idx"].to_numpy(), c["pre_idx"].to_numpy()))
                cnt = c["count"].to_numpy() if "count" in c else np.ones(len(c), np.int64)
                self._pairs = (
                    c["pre_idx"].to_numpy()[order].astype(np.int64),
                    c["post_idx"].to_numpy()[order].astype(np.int64),
                    np.asarray(cnt)[order].astype(np.int64),
                )
            else:
                e = self.edges
                size = e["size"].to_numpy() if "size" in e else None
                rows, cols, cnt, sums, _ = group_pairs(
                    e["pre_idx"].to_numpy(),
                    e["post_idx"].to_numpy(),
                    self.shape[0],
                    self.shape[1],
                    weights=size if size is not None and size.dtype.kind in "iuf" else None,
                )
                self._pairs = (rows, cols, cnt)
                self._size_sum = sums
        return self._pairs

    def _synapse_pair(self) -> np.ndarray:
        """Pair number (row of the condensed table) of every synapse."""
        if self._inv is None:
            assert self.edges is not None
            *_, inv = group_pairs(
                self.edges["pre_idx"].to_numpy(),
                self.edges["post_idx"].to_numpy(),
                self.shape[0],
                self.shape[1],
                with_inverse=True,
            )
            self._inv = inv
        assert self._inv is not None
        return self._inv

    def _pair_values(self, name: str, col: str | None, fn: Any) -> np.ndarray:
        """One aggregation as an array, one value per pair in :meth:`_pair_index` order
        (row, then column); nothing else is built."""
        counts = self._pair_index()[2]
        if fn == "count":
            return counts
        if self.edges is None:
            return self._condensed_values(name, col, fn, counts)
        if col not in self.edges:
            raise DataFormatError(
                f"aggregation {name!r}: no per-synapse column {col!r} (columns: "
                f"{', '.join(c for c in self.edges.columns if not c.endswith('_idx'))})"
            )
        vals = self.edges[col].to_numpy()
        if fn in ("sum", "mean", "log_sum"):
            if col == "size" and self._size_sum is not None:
                s = self._size_sum  # summed with the pairs, in the same sort
            else:
                inv = self._synapse_pair()
                s = np.bincount(inv, weights=vals.astype(np.float64), minlength=len(counts))
                if vals.dtype.kind in "iub" and s.size and np.abs(s).max() < 2**53:
                    s = s.astype(np.int64)
            if fn == "sum":
                return s
            if fn == "mean":
                return s / counts
            with np.errstate(divide="ignore"):
                return np.log10(s.astype(np.float64))
        inv = self._synapse_pair()
        if fn == "any":
            return np.bincount(inv, weights=(vals != 0), minlength=len(counts)) > 0
        order = np.argsort(inv, kind="stable")
        starts = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64)
        if callable(fn):
            warnings.warn(
                f"aggregation {name!r}: a Python callable runs once per pair "
                f"({len(counts)} calls) and is slow; use a named vectorised aggregation "
                f"instead: ('{col}', 'sum' | 'mean' | 'min' | 'max' | 'any' | 'log_sum')",
                ConnectoscopeWarning,
                stacklevel=3,
            )
            groups = np.split(vals[order], starts[1:])
            return np.asarray([fn(g) for g in groups])
        red = np.minimum if fn == "min" else np.maximum  # min / max
        return red.reduceat(vals[order], starts) if len(starts) else vals[:0]

    def _condensed_values(
        self, name: str, col: str | None, fn: Any, counts: np.ndarray
    ) -> np.ndarray:
        c = self._condensed
        assert c is not None
        order = np.lexsort((c["post_idx"].to_numpy(), c["pre_idx"].to_numpy()))
        if name in c:
            return np.asarray(c[name].to_numpy()[order])
        if fn == "mean" and f"{col}_sum" in c:
            return np.asarray(c[f"{col}_sum"].to_numpy()[order] / counts)
        if fn == "log_sum" and f"{col}_sum" in c:
            with np.errstate(divide="ignore"):
                return np.log10(c[f"{col}_sum"].to_numpy(np.float64)[order])
        if fn == "any":
            return np.ones(len(counts), bool)
        raise DataFormatError(
            f"aggregation {name!r}: this matrix holds only the condensed form (columns "
            f"{', '.join(x for x in c.columns if not x.endswith('_idx'))}); build it "
            "from the synapse table to aggregate other columns"
        )

    # ------------------------------------------------------------------ condensed form
    def aggregate(self, aggs: AggSpec = DEFAULT_AGGS, *, column: str = "size") -> pd.DataFrame:
        """One row per connected pair with the requested aggregations (vectorised).

        Parameters
        ----------
        aggs : sequence of str, or mapping
            Names: ``count``; ``sum``, ``mean``, ``min``, ``max``, ``any``, ``log_sum`` (of
            ``column``; ``log_sum`` is log10 of the summed size); ``COLUMN_FUNCTION`` such as
            ``size_sum``, ``size_max``, ``size_log_sum`` for any per-synapse column. Or a
            Connectome-Utilities style mapping ``{"total_size": ("size", "sum")}``; a Python
            callable as the function works but warns (it runs once per pair).
        column : str
            The column the bare function names use.

        Returns
        -------
        pandas.DataFrame
            ``pre``, ``post`` (ids), ``pre_idx``, ``post_idx`` and one column per aggregation.
        """
        parsed = _parse_aggs(aggs, column)
        rows, cols, counts = self._pair_index()
        columns: dict[str, np.ndarray] = {
            "pre": self.pre_ids[rows],
            "post": self.post_ids[cols],
            "pre_idx": rows.copy(),
            "post_idx": cols.copy(),
        }
        for name, col, fn in parsed:
            v = self._pair_values(name, col, fn)
            columns[name] = v.copy() if v is self._size_sum or v is counts else v
        # one block per column: no consolidation copy of a table this size
        return pd.DataFrame(columns, copy=False)

    @property
    def condensed(self) -> pd.DataFrame:
        """The condensed table: one row per pair with ``count``, ``size_sum``, ``size_mean``
        (when sizes are known) and ids (cached)."""
        if self.edges is None:
            if self._view is None:
                c = self._condensed
                assert c is not None
                order = np.lexsort((c["post_idx"].to_numpy(), c["pre_idx"].to_numpy()))
                view = c.iloc[order].drop(columns=["pre", "post"], errors="ignore")
                view = view.reset_index(drop=True)
                view.insert(0, "post", self.post_ids[view["post_idx"].to_numpy()])
                view.insert(0, "pre", self.pre_ids[view["pre_idx"].to_numpy()])
                if "count" not in view:
                    view["count"] = np.ones(len(view), np.int64)
                self._view = view
            return self._view
        if self._condensed is None:
            aggs = DEFAULT_AGGS if "size" in self.edges else ("count",)
            self._condensed = self.aggregate(aggs)
        return self._condensed

    def compress(self, aggs: AggSpec = DEFAULT_AGGS, *, column: str = "size") -> ConnectivityMatrix:
        """Full -> condensed (Connectome-Utilities ``compress``): a new matrix with one edge
        per pair carrying ``count`` and the requested aggregations (see :meth:`aggregate`)."""
        table = self.aggregate(aggs, column=column)
        if "count" not in table:
            table["count"] = self._pair_index()[2]
        return ConnectivityMatrix(
            self.pre_vertices, self.post_vertices, condensed=table.drop(columns=["pre", "post"])
        )

    def condense(self, by: str | Sequence[str]) -> ConnectivityMatrix:
        """Quotient graph (Connectome-Utilities ``condense``): one vertex per group of the
        vertex property(ies) ``by`` over both sides, edges = synapses between groups.

        Vertices whose property is missing belong to no group (their edges are left out).
        The result's vertex ids are group numbers 0..n-1 with the group value(s) in the
        ``by`` column(s) and ``n_pre``/``n_post`` (members on each side).
        """
        cols = [by] if isinstance(by, str) else list(by)
        for c in cols:
            for side, v in (("pre", self.pre_vertices), ("post", self.post_vertices)):
                if c not in v:
                    raise InvalidParameterError(
                        f"condense: no {side} vertex property {c!r}; properties: "
                        f"{', '.join(map(str, v.columns)) or 'none (pass cells=...)'}"
                    )
        pre_keys = _group_keys(self.pre_vertices, cols)
        post_keys = _group_keys(self.post_vertices, cols)
        groups = sorted(set(pre_keys.dropna()) | set(post_keys.dropna()), key=str)
        gindex = pd.Index(groups, dtype=object)
        pre_code = gindex.get_indexer(pre_keys)
        post_code = gindex.get_indexer(post_keys)
        vt = pd.DataFrame(index=pd.Index(np.arange(len(groups), dtype=np.int64), name="id"))
        for j, c in enumerate(cols):
            vt[c] = [g[j] if len(cols) > 1 else g for g in groups]
        vt["n_pre"] = np.bincount(pre_code[pre_code >= 0], minlength=len(groups))
        vt["n_post"] = np.bincount(post_code[post_code >= 0], minlength=len(groups))
        if self.edges is not None:
            e = self.edges
            a = pre_code[e["pre_idx"].to_numpy()]
            b = post_code[e["post_idx"].to_numpy()]
            ok = (a >= 0) & (b >= 0)
            edges = e[ok].reset_index(drop=True)
            edges["pre_idx"] = a[ok].astype(np.int64)
            edges["post_idx"] = b[ok].astype(np.int64)
            return ConnectivityMatrix(vt, vt.copy(), edges)
        c = self.condensed
        a = pre_code[c["pre_idx"].to_numpy()]
        b = post_code[c["post_idx"].to_numpy()]
        ok = (a >= 0) & (b >= 0)
        key = a[ok].astype(np.int64) * max(len(groups), 1) + b[ok]
        uniq, inv = np.unique(key, return_inverse=True)
        table = pd.DataFrame(
            {"pre_idx": uniq // max(len(groups), 1), "post_idx": uniq % max(len(groups), 1)}
        )
        for col in c.columns:
            if col in ("count",) or col.endswith("_sum"):
                table[col] = np.bincount(inv, weights=c[col].to_numpy()[ok], minlength=uniq.size)
        table["pairs"] = np.bincount(inv, minlength=uniq.size)
        return ConnectivityMatrix(vt, vt.copy(), condensed=table)

    # ------------------------------------------------------------------ sparse matrices
    def matrix(self, weight: str = "count", *, column: str = "size") -> sp.csr_matrix:
        """A sparse (n_pre x n_post) CSR matrix.

        Parameters
        ----------
        weight : {"binary", "count", "sum", "mean", "log_sum", "min", "max"}
            ``sum``/``mean``/``log_sum``/``min``/``max`` aggregate ``column`` per pair;
            ``log_sum`` is log10 of the summed size.
        column : str
            Per-synapse column for the size weights.
        """
        if weight not in WEIGHTS:
            raise InvalidParameterError(
                f"weight must be one of {', '.join(WEIGHTS)}, got {weight!r}"
            )
        rows, cols, counts = self._pair_index()
        if weight == "binary":
            data: np.ndarray = np.ones(rows.size, np.int8)
        elif weight == "count":
            data = counts.copy()
        else:  # one per-pair array, computed directly (never the whole condensed table)
            name = f"{column}_{weight}"
            data = self._pair_values(name, column, weight)
            if data is self._size_sum:
                data = data.copy()
        if self._indptr is None:
            indptr = np.zeros(self.shape[0] + 1, np.int64)
            np.cumsum(np.bincount(rows, minlength=self.shape[0]), out=indptr[1:])
            small = rows.size < 2**31 and self.shape[1] < 2**31
            self._indptr = indptr.astype(np.int32) if small else indptr
            self._indices = cols.astype(np.int32) if small else cols
        assert self._indices is not None
        # each matrix owns its index arrays (in-place scipy methods must not touch the others)
        return sp.csr_matrix(
            (data, self._indices.copy(), self._indptr.copy()), shape=self.shape, copy=False
        )

    def dense(self, weight: str = "count", *, max_cells: int = 50_000_000) -> np.ndarray:
        """A dense numpy view (refused above ``max_cells`` entries: select first)."""
        if self.shape[0] * self.shape[1] > max_cells:
            raise InvalidParameterError(
                f"a dense {self.shape[0]} x {self.shape[1]} matrix is too large (max_cells="
                f"{max_cells}); use .matrix() (sparse) or select a sub-population first"
            )
        return self.matrix(weight).toarray()

    # ------------------------------------------------------------------ views
    def _restrict(self, pre_keep: np.ndarray, post_keep: np.ndarray) -> ConnectivityMatrix:
        """Keep the given rows and columns (and the edges between them)."""
        pre_new = np.cumsum(pre_keep) - 1
        post_new = np.cumsum(post_keep) - 1
        pv = self.pre_vertices[pre_keep]
        qv = self.post_vertices[post_keep]
        if self.edges is not None:
            return ConnectivityMatrix(
                pv, qv, _remap(self.edges, pre_keep, post_keep, pre_new, post_new)
            )
        assert self._condensed is not None
        return ConnectivityMatrix(
            pv, qv, condensed=_remap(self._condensed, pre_keep, post_keep, pre_new, post_new)
        )

    def _keep_edges(self, keep: np.ndarray) -> ConnectivityMatrix:
        """Same vertices, only the synapses (full form) or pairs (condensed) in ``keep``."""
        if self.edges is not None:
            return ConnectivityMatrix(
                self.pre_vertices, self.post_vertices, self.edges[keep].reset_index(drop=True)
            )
        assert self._condensed is not None
        return ConnectivityMatrix(
            self.pre_vertices,
            self.post_vertices,
            condensed=self._condensed[keep].reset_index(drop=True),
        )

    def square(self) -> ConnectivityMatrix:
        """The square view over the union of pre and post ids (rows = columns)."""
        ids = np.union1d(self.pre_ids, self.post_ids)
        props = pd.concat([self.pre_vertices, self.post_vertices])
        props = props[~props.index.duplicated(keep="first")].reindex(pd.Index(ids, name="id"))
        props["is_pre"] = np.isin(ids, self.pre_ids)
        props["is_post"] = np.isin(ids, self.post_ids)
        rp = np.searchsorted(ids, self.pre_ids)
        rq = np.searchsorted(ids, self.post_ids)
        src = self.edges if self.edges is not None else self._condensed
        assert src is not None
        t = src.copy()
        t["pre_idx"] = rp[t["pre_idx"].to_numpy()]
        t["post_idx"] = rq[t["post_idx"].to_numpy()]
        if self.edges is not None:
            return ConnectivityMatrix(props, props.copy(), t)
        return ConnectivityMatrix(props, props.copy(), condensed=t)

    # ------------------------------------------------------------------ selections
    def index(self, prop: str) -> _select.VertexIndexer:
        """Select vertices on both sides by a property:
        ``m.index("broad_type").eq("excitatory")`` (also ``ne, lt, le, gt, ge, isin,
        between, notna``)."""
        return _select.VertexIndexer(self, prop, "both")

    @property
    def pre(self) -> _select.Side:
        """Presynaptic side only: ``m.pre.index("status_axon").eq(True)``,
        ``m.pre.filter("broad_type").eq("inhibitory")``."""
        return _select.Side(self, "pre")

    @property
    def post(self) -> _select.Side:
        """Postsynaptic side only: ``m.post.index("broad_type").eq("excitatory")``."""
        return _select.Side(self, "post")

    def filter(self, prop: str, side: str = "both") -> _select.EdgeFilter:
        """Keep every vertex but only the edges whose ``side`` vertex matches:
        ``m.filter("broad_type", "pre").eq("inhibitory")`` (I -> anything)."""
        return _select.EdgeFilter(self, prop, side)

    def filter_synapses(self, column: str) -> _select.SynapseFilter:
        """Keep the synapses (or pairs) whose own column matches: ``m.filter_synapses("size").gt(100)``."""
        return _select.SynapseFilter(self, column)

    def subpopulation(
        self, *, pre: Iterable[int] | None = None, post: Iterable[int] | None = None
    ) -> ConnectivityMatrix:
        """Restrict to the given pre and/or post ids (exact 64-bit)."""
        return _select.subpopulation(self, pre=pre, post=post)

    def proofread_outputs(
        self, *, status: str = "status_axon", known: str = "cell_type"
    ) -> ConnectivityMatrix:
        """The tutorial's "outputs of proofread cells onto known neurons": rows with
        ``status`` true, columns with a known ``known`` property, in one call."""
        return _select.proofread_outputs(self, status=status, known=known)

    # ------------------------------------------------------------------ analyses
    def synapses_per_connection(self) -> pd.Series:
        """Histogram: number of pairs (value) with each synapse count (index)."""
        return _analysis.synapses_per_connection(self)

    def degree(self) -> tuple[pd.Series, pd.Series]:
        """(out-degree per pre id, in-degree per post id): numbers of distinct partners."""
        return _analysis.degree(self)

    def reciprocal_pairs(self) -> int:
        """Unordered pairs {a, b}, a != b, connected both ways."""
        return _analysis.reciprocal_pairs(self)

    def connection_probability(self, *, exclude_self: bool = True) -> float:
        """Connected pairs / possible pairs."""
        return _analysis.connection_probability(self, exclude_self=exclude_self)

    def type_by_type(self, prop: str, *, weight: str = "count") -> pd.DataFrame:
        """Aggregate between groups of a vertex property (see
        :func:`connectoscope.connectome.type_by_type`)."""
        return _analysis.type_by_type(self, prop, weight=weight)

    def sort_by(
        self, prop: str, side: str = "pre", *, order: Sequence[Any] | None = None
    ) -> tuple[np.ndarray, list[Any]]:
        """(permutation sorting one side by ``prop``, the labels in that order)."""
        return _analysis.sort_by(self, prop, side, order=order)

    def stats(self) -> dict[str, Any]:
        """Summary: synapses, pairs, vertices, degree and multiplicity summaries."""
        return _analysis.stats(self)

    def __repr__(self) -> str:
        form = "full" if self.is_full else "condensed"
        return (
            f"ConnectivityMatrix({self.shape[0]} x {self.shape[1]}, {self.n_synapses} synapses, "
            f"{form})"
        )


def _group_keys(v: pd.DataFrame, cols: list[str]) -> pd.Series:
    if len(cols) == 1:
        s = v[cols[0]]
        return pd.Series(s.to_numpy(dtype=object), index=v.index).where(s.notna().to_numpy(), None)
    ok = v[cols].notna().all(axis=1).to_numpy()
    keys = [tuple(r) if k else None for r, k in zip(v[cols].itertuples(index=False), ok)]
    return pd.Series(keys, index=v.index, dtype=object)


def _remap(
    t: pd.DataFrame,
    pre_keep: np.ndarray,
    post_keep: np.ndarray,
    pre_new: np.ndarray,
    post_new: np.ndarray,
) -> pd.DataFrame:
    pi = t["pre_idx"].to_numpy()
    qi = t["post_idx"].to_numpy()
    ok = pre_keep[pi] & post_keep[qi]
    out = t[ok].reset_index(drop=True)
    out["pre_idx"] = pre_new[pi[ok]].astype(np.int64)
    out["post_idx"] = post_new[qi[ok]].astype(np.int64)
    return out
