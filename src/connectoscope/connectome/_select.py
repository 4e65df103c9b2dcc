"""Selections that return new matrices.

* vertex selection: ``m.index("broad_type").eq("excitatory")`` keeps matching vertices on
  both sides (``m.pre.index`` / ``m.post.index``: one side) and the edges among them;
* edge filters: ``m.filter("broad_type", "pre").eq("inhibitory")`` keeps every vertex but
  only the edges whose presynaptic vertex matches (E -> E, I -> E ...);
* synapse filters on per-synapse columns: ``m.filter_synapses("size").gt(100)``;
* sub-populations by id list; the tutorial's "outputs of proofread cells onto known neurons"
  as one call: ``m.proofread_outputs()``.

Vertices whose property is missing (ids absent from the cell table) never match.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InvalidParameterError
from ._ids import as_id_array, to_id_dtype

if TYPE_CHECKING:  # pragma: no cover
    from ._matrix import ConnectivityMatrix

__all__ = [
    "EdgeFilter",
    "Side",
    "SynapseFilter",
    "VertexIndexer",
    "proofread_outputs",
    "subpopulation",
]

_SIDES = ("pre", "post", "both")


def _coerce(values: pd.Series, x: Any) -> Any:
    """Make a CLI string comparable with the column (bool / number)."""
    if not isinstance(x, str):
        return x
    low = x.lower()
    try:
        boolish = pd.api.types.is_bool_dtype(values.dtype) or set(values.dropna().unique()) <= {
            True,
            False,
        }
    except TypeError:  # unhashable values
        boolish = False
    if boolish:
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        try:
            return int(x) if pd.api.types.is_integer_dtype(values.dtype) else float(x)
        except ValueError:
            return x
    return x


def _mask(values: pd.Series, op: str, x: Any) -> np.ndarray:
    if op == "isin":
        xs = [_coerce(values, v) for v in x]
        m = values.isin(xs)
    elif op == "notna":
        m = values.notna()
    elif op == "between":
        lo, hi = (_coerce(values, v) for v in x)
        m = (values >= lo) & (values <= hi)
    else:
        x = _coerce(values, x)
        with np.errstate(invalid="ignore"):
            m = {
                "eq": lambda: values == x,
                "ne": lambda: (values != x) & values.notna(),
                "lt": lambda: values < x,
                "le": lambda: values <= x,
                "gt": lambda: values > x,
                "ge": lambda: values >= x,
            }[op]()
    return np.asarray(pd.Series(m).fillna(False), dtype=bool)


class _Ops:
    """Comparison methods shared by the selectors; each returns a new matrix."""

    def _apply(self, op: str, x: Any) -> ConnectivityMatrix:  # pragma: no cover - abstract
        raise NotImplementedError

    def eq(self, x: Any) -> ConnectivityMatrix:
        """Equal to ``x``."""
        return self._apply("eq", x)

    def ne(self, x: Any) -> ConnectivityMatrix:
        """Not equal to ``x`` (missing values never match)."""
        return self._apply("ne", x)

    def lt(self, x: Any) -> ConnectivityMatrix:
        """Less than ``x``."""
        return self._apply("lt", x)

    def le(self, x: Any) -> ConnectivityMatrix:
        """Less than or equal to ``x``."""
        return self._apply("le", x)

    def gt(self, x: Any) -> ConnectivityMatrix:
        """Greater than ``x``."""
        return self._apply("gt", x)

    def ge(self, x: Any) -> ConnectivityMatrix:
        """Greater than or equal to ``x``."""
        return self._apply("ge", x)

    def isin(self, values: Iterable[Any]) -> ConnectivityMatrix:
        """One of ``values``."""
        return self._apply("isin", list(values))

    def between(self, lo: Any, hi: Any) -> ConnectivityMatrix:
        """``lo <= value <= hi``."""
        return self._apply("between", (lo, hi))

    def notna(self) -> ConnectivityMatrix:
        """Property known (vertex present in the cell table with a value)."""
        return self._apply("notna", None)


def _check_prop(m: ConnectivityMatrix, prop: str, side: str) -> None:
    if side not in _SIDES:
        raise InvalidParameterError(f"side must be pre, post or both, got {side!r}")
    tables = {"pre": [m.pre_vertices], "post": [m.post_vertices]}.get(
        side, [m.pre_vertices, m.post_vertices]
    )
    for v in tables:
        if prop not in v.columns:
            raise InvalidParameterError(
                f"no vertex property {prop!r}; properties: "
                f"{', '.join(map(str, v.columns)) or 'none (pass cells=...)'}"
            )


class VertexIndexer(_Ops):
    """Vertex selection by a property on one or both sides (see the module docstring)."""

    def __init__(self, m: ConnectivityMatrix, prop: str, side: str) -> None:
        _check_prop(m, prop, side)
        self.m, self.prop, self.side = m, prop, side

    def _apply(self, op: str, x: Any) -> ConnectivityMatrix:
        m = self.m
        pre_keep = np.ones(m.shape[0], bool)
        post_keep = np.ones(m.shape[1], bool)
        if self.side in ("pre", "both"):
            pre_keep = _mask(m.pre_vertices[self.prop], op, x)
        if self.side in ("post", "both"):
            post_keep = _mask(m.post_vertices[self.prop], op, x)
        return m._restrict(pre_keep, post_keep)


class EdgeFilter(_Ops):
    """Edge filter by the property of the edge's pre- or post-synaptic vertex."""

    def __init__(self, m: ConnectivityMatrix, prop: str, side: str) -> None:
        _check_prop(m, prop, side)
        self.m, self.prop, self.side = m, prop, side

    def _apply(self, op: str, x: Any) -> ConnectivityMatrix:
        m = self.m
        t = m.edges if m.edges is not None else m._condensed
        assert t is not None
        keep = np.ones(len(t), bool)
        if self.side in ("pre", "both"):
            keep &= _mask(m.pre_vertices[self.prop], op, x)[t["pre_idx"].to_numpy()]
        if self.side in ("post", "both"):
            keep &= _mask(m.post_vertices[self.prop], op, x)[t["post_idx"].to_numpy()]
        return m._keep_edges(keep)


class SynapseFilter(_Ops):
    """Filter on a per-synapse column (full form) or a per-pair column (condensed form)."""

    def __init__(self, m: ConnectivityMatrix, column: str) -> None:
        t = m.edges if m.edges is not None else m._condensed
        assert t is not None
        if column not in t:
            raise InvalidParameterError(
                f"no synapse column {column!r}; columns: "
                f"{', '.join(c for c in t.columns if not c.endswith('_idx'))}"
            )
        self.m, self.column, self.table = m, column, t

    def _apply(self, op: str, x: Any) -> ConnectivityMatrix:
        return self.m._keep_edges(_mask(self.table[self.column], op, x))


class Side:
    """One side of a matrix: ``m.pre.index(prop)``, ``m.pre.filter(prop)``."""

    def __init__(self, m: ConnectivityMatrix, side: str) -> None:
        self.m, self.side = m, side

    def index(self, prop: str) -> VertexIndexer:
        """Select vertices of this side by ``prop`` (the other side is kept whole)."""
        return VertexIndexer(self.m, prop, self.side)

    def filter(self, prop: str) -> EdgeFilter:
        """Keep all vertices; keep edges whose vertex on this side matches."""
        return EdgeFilter(self.m, prop, self.side)

    def ids(self, ids: Iterable[int]) -> ConnectivityMatrix:
        """Keep the listed ids on this side."""
        return subpopulation(self.m, **{self.side: ids})


def _id_mask(have: np.ndarray, ids: Iterable[int]) -> np.ndarray:
    want = as_id_array(
        np.asarray(list(ids)) if not isinstance(ids, np.ndarray) else ids, name="ids"
    )
    if want.dtype != have.dtype:
        if want.dtype == np.uint64:
            have = have.astype(np.uint64)
        else:
            want = to_id_dtype(want, have.dtype)
    return pd.Index(want).get_indexer(have) >= 0 if want.size else np.zeros(have.size, bool)


def subpopulation(
    m: ConnectivityMatrix,
    *,
    pre: Iterable[int] | None = None,
    post: Iterable[int] | None = None,
) -> ConnectivityMatrix:
    """A new matrix restricted to the given pre and/or post ids (edges among them)."""
    pre_keep = np.ones(m.shape[0], bool) if pre is None else _id_mask(m.pre_ids, pre)
    post_keep = np.ones(m.shape[1], bool) if post is None else _id_mask(m.post_ids, post)
    return m._restrict(pre_keep, post_keep)


def proofread_outputs(
    m: ConnectivityMatrix, *, status: str = "status_axon", known: str = "cell_type"
) -> ConnectivityMatrix:
    """Outputs of proofread cells (``status`` true) onto known neurons (``known`` set)."""
    return m.pre.index(status).eq(True).post.index(known).notna()
