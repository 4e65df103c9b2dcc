"""Spatial, compartment and target queries on synapse tables, vectorised over millions of rows.

Filters, each optional, combine with AND:

* ``box_nm``: a half-open box ``[min, max)`` in nm on ``x_nm, y_nm, z_nm`` (the convention of
  :class:`connectoscope.geometry.Bbox`: boxes that share a face split the points between them);
* ``center_nm`` + ``radius_nm``: within ``radius_nm`` (inclusive) of a centre, or of any of
  several centres (a KD-tree on the centres);
* ``skeleton`` + ``compartment`` / ``max_dist_nm``: the compartment (SWC code) of the nearest
  skeleton vertex (a KD-tree on the vertices), and at most ``max_dist_nm`` from it;
* ``target``: the value of a ``target`` column (spine / shaft / soma; MICrONS'
  ``synapse_target_predictions`` calls it ``tag``);
* ``where``: ``(column, op, value)`` filters on any column (``("size", "gt", 100)``).

Positions are the table's ``x_nm, y_nm, z_nm``, which :class:`SynapseTable` makes from voxel
positions through :class:`connectoscope.geometry.LevelFrame` (voxel centres at
``index * voxel_size``), so a box in nm and a skeleton in nm meet the synapses in one frame.
Rows with a missing (NaN) position match no spatial filter.

The filters run cheapest first (box, target, where, radius, skeleton), each on the rows the
previous ones kept, in blocks that stay in the CPU cache; the result counts the rows left
after every step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..errors import DataFormatError, InvalidParameterError
from ..geometry import parse_xyz
from ._synapses import SynapseTable

__all__ = [
    "KNOWN_TARGETS",
    "POSITION_COLUMNS",
    "SWC_COMPARTMENTS",
    "TARGET_COLUMNS",
    "QueryResult",
    "StreamedQuery",
    "box_mask",
    "nearest_skeleton_vertex",
    "parse_box",
    "query_synapses",
    "query_table_file",
    "radius_mask",
]

#: Position columns of a synapse table, nm.
POSITION_COLUMNS = ("x_nm", "y_nm", "z_nm")
#: SWC compartment codes and names (the same as ``connectoscope.morphology.COMPARTMENTS``).
SWC_COMPARTMENTS = {0: "undefined", 1: "soma", 2: "axon", 3: "dendrite", 4: "apical dendrite"}
#: Columns that name the postsynaptic target structure, first found wins (as morphology's
#: ``Neuron.build``): ours, MICrONS ``synapse_target_predictions``, others.
TARGET_COLUMNS = ("target", "tag", "target_structure", "post_target")
#: Target values accepted even when absent from a (sub)table.
KNOWN_TARGETS = ("spine", "shaft", "soma")
#: Rows per block of the vectorised kernels (three float64 blocks and a mask fit in L2).
_BLOCK = 1 << 15
_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "isin", "between", "notna")


class SkeletonLike(Protocol):
    """A skeleton in nm: ``vertices`` ``(N, 3)`` float x, y, z and ``features`` with an
    ``(N,)`` int ``compartment`` array (SWC codes), as
    :class:`connectoscope.morphology.Skeleton`; a :class:`~connectoscope.morphology.Neuron`
    (anything with a ``skeleton``) is taken too."""

    vertices: np.ndarray
    features: dict[str, np.ndarray]


Points = np.ndarray | Sequence[np.ndarray]


# ---------------------------------------------------------------------------- kernels
def _xyz(points: Points) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three contiguous float64 ``(N,)`` coordinate arrays from ``(N, 3)`` or three arrays."""
    if isinstance(points, np.ndarray) and points.ndim == 2:
        if points.shape[1] != 3:
            raise InvalidParameterError(f"points must be (N, 3) x, y, z nm, got {points.shape}")
        cols = [points[:, i] for i in range(3)]
    else:
        cols = list(points)
        if len(cols) != 3:
            raise InvalidParameterError("points must be (N, 3) or three (N,) arrays x, y, z nm")
    x, y, z = (np.ascontiguousarray(c, dtype=np.float64).reshape(-1) for c in cols)
    if not x.size == y.size == z.size:
        raise InvalidParameterError(f"x, y, z lengths differ: {x.size}, {y.size}, {z.size}")
    return x, y, z


def parse_box(box_nm: Any, *, name: str = "box_nm") -> tuple[np.ndarray, np.ndarray]:
    """A box as ``(min (3,), max (3,))`` float64 nm.

    Parameters
    ----------
    box_nm : str or pair of 3-sequences
        ``"x0,y0,z0:x1,y1,z1"`` or ``((x0, y0, z0), (x1, y1, z1))``, nm; ``inf`` / ``-inf``
        leave a side open.
    name : str
        Names the value in error messages (``--box`` on the command line).

    Raises
    ------
    InvalidParameterError
        Not two triples of numbers, a NaN, or a minimum above the maximum.

    Examples
    --------
    >>> lo, hi = parse_box("0,0,0:100,200,inf")
    >>> hi.tolist()
    [100.0, 200.0, inf]
    """
    if isinstance(box_nm, str):
        if box_nm.count(":") != 1:
            raise InvalidParameterError(
                f"{name}: expected 'x0,y0,z0:x1,y1,z1' (nm, half-open), got {box_nm!r}"
            )
        parts: Sequence[Any] = [[p for p in s.split(",") if p.strip()] for s in box_nm.split(":")]
    else:
        parts = list(box_nm)
    if len(parts) != 2:
        raise InvalidParameterError(
            f"{name}: expected (min x, y, z) and (max x, y, z) in nm, got {box_nm!r}"
        )
    lo_hi = []
    for p in parts:
        try:
            v = np.asarray([float(t) for t in p], np.float64)
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"{name}: {p!r} is not three numbers; expected 'x0,y0,z0:x1,y1,z1' in nm"
            ) from None
        if v.shape != (3,) or np.isnan(v).any():
            raise InvalidParameterError(
                f"{name}: {p!r} is not three numbers; expected 'x0,y0,z0:x1,y1,z1' in nm"
            )
        lo_hi.append(v)
    lo, hi = lo_hi
    bad = np.flatnonzero(lo > hi)
    if bad.size:
        a = int(bad[0])
        raise InvalidParameterError(
            f"{name}: min {lo[a]:g} > max {hi[a]:g} on {'xyz'[a]}; give the smaller corner "
            "first (x0,y0,z0:x1,y1,z1 with x0 <= x1 ...)"
        )
    return lo, hi


def box_mask(
    points_nm: Points, lo: Sequence[float] | np.ndarray, hi: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Points inside the half-open box ``lo <= p < hi`` on every axis.

    Parameters
    ----------
    points_nm : (N, 3) float array, or three (N,) arrays
        x, y, z in nm.
    lo, hi : (3,) float
        Corners in nm (``-inf`` / ``inf`` for an open side).

    Returns
    -------
    (N,) bool
        NaN positions are outside.
    """
    x, y, z = _xyz(points_nm)
    lo_, hi_ = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    out = np.empty(x.size, bool)
    tmp = np.empty(min(_BLOCK, x.size), bool)
    for s in range(0, x.size, _BLOCK):
        e = min(s + _BLOCK, x.size)
        o, t = out[s:e], tmp[: e - s]
        np.greater_equal(x[s:e], lo_[0], out=o)
        for axis, a in enumerate((x, y, z)):
            if axis:
                np.greater_equal(a[s:e], lo_[axis], out=t)
                o &= t
            np.less(a[s:e], hi_[axis], out=t)
            o &= t
    return out


def _check_radius(radius_nm: Any, name: str) -> float:
    try:
        r = float(radius_nm)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"{name}: expected a distance in nm, got {radius_nm!r}"
        ) from None
    if not r >= 0:  # NaN too
        raise InvalidParameterError(f"{name}: must be >= 0 nm, got {radius_nm!r}")
    return r


def _centres(center_nm: Any) -> np.ndarray:
    if isinstance(center_nm, str):
        return np.asarray(
            [parse_xyz(c, name="center_nm") for c in center_nm.split(";") if c.strip()],
            np.float64,
        ).reshape(-1, 3)
    try:
        c = np.asarray(center_nm, np.float64)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"center_nm: expected (x, y, z) nm or (K, 3), got {center_nm!r}"
        ) from None
    if c.ndim not in (1, 2) or c.shape[-1] != 3 or not np.isfinite(c).all():
        raise InvalidParameterError(
            f"center_nm: expected finite (x, y, z) nm or a (K, 3) array, got shape {c.shape}"
        )
    return c.reshape(-1, 3)


def _sq_dist_le(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, c: np.ndarray, r2: float, out: np.ndarray
) -> None:
    """``out = (x-cx)^2 + (y-cy)^2 + (z-cz)^2 <= r2`` blockwise (c: (3,) or (N, 3))."""
    per_row = c.ndim == 2
    buf = np.empty((2, min(_BLOCK, x.size)), np.float64)
    for s in range(0, x.size, _BLOCK):
        e = min(s + _BLOCK, x.size)
        d, t = buf[0, : e - s], buf[1, : e - s]
        for axis, a in enumerate((x, y, z)):
            ca = c[s:e, axis] if per_row else c[axis]
            dst = d if axis == 0 else t
            np.subtract(a[s:e], ca, out=dst)
            np.multiply(dst, dst, out=dst)
            if axis:
                d += t
        np.less_equal(d, r2, out=out[s:e])


def radius_mask(points_nm: Points, center_nm: Any, radius_nm: float) -> np.ndarray:
    """Points within ``radius_nm`` (inclusive) of a centre, or of any of several.

    Parameters
    ----------
    points_nm : (N, 3) float array, or three (N,) arrays
        x, y, z in nm.
    center_nm : (3,) or (K, 3) float
        Centre(s) in nm. With several, a KD-tree on the centres finds each point's nearest.
    radius_nm : float
        Inclusive: ``(x-cx)^2 + (y-cy)^2 + (z-cz)^2 <= radius_nm^2`` in float64.

    Returns
    -------
    (N,) bool
    """
    x, y, z = _xyz(points_nm)
    r = _check_radius(radius_nm, "radius_nm")
    c = _centres(center_nm)
    out = np.zeros(x.size, bool)
    if not x.size or not c.shape[0]:
        return out
    if c.shape[0] == 1:
        _sq_dist_le(x, y, z, c[0], r * r, out)
        return out
    from scipy.spatial import cKDTree

    tree = cKDTree(c)
    finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y) & np.isfinite(z))  # NaN: outside
    for s in range(0, finite.size, 1 << 20):  # bounded temporaries
        i = finite[s : s + (1 << 20)]
        # a slightly larger bound finds the candidates; the float64 test above decides, so
        # one centre and many give the same answer at the boundary
        d, j = tree.query(
            np.column_stack((x[i], y[i], z[i])), distance_upper_bound=r * (1 + 1e-9) + 1e-9
        )
        hit = np.isfinite(d)
        i, j = i[hit], j[hit]
        sub = np.zeros(i.size, bool)
        _sq_dist_le(x[i], y[i], z[i], c[j], r * r, sub)
        out[i[sub]] = True
    return out


def _skeleton_of(skeleton: Any) -> Any:
    sk = getattr(skeleton, "skeleton", skeleton)  # a Neuron
    if not hasattr(sk, "vertices"):
        raise InvalidParameterError(
            f"skeleton: expected a Skeleton or Neuron (connectoscope.morphology), got "
            f"{type(skeleton).__name__}"
        )
    unit = getattr(sk, "meta", {}).get("unit")
    if unit not in (None, "nm"):
        raise InvalidParameterError(
            f"skeleton {getattr(sk, 'name', '')!r}: vertices are in {unit!r}, not nm; query "
            "with the skeleton in nm (as read from its file)"
        )
    v = np.asarray(sk.vertices, np.float64)
    if v.ndim != 2 or v.shape[1] != 3 or not v.shape[0]:
        raise InvalidParameterError(f"skeleton: needs (N, 3) vertices in nm, got {v.shape}")
    return sk


def nearest_skeleton_vertex(
    points_nm: Points, skeleton: Any, max_dist_nm: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The nearest skeleton vertex of every point (a KD-tree on the vertices).

    Parameters
    ----------
    points_nm : (N, 3) float array, or three (N,) arrays
        x, y, z in nm.
    skeleton : Skeleton or Neuron
        Vertices in nm.
    max_dist_nm : float, optional
        Points farther than this from every vertex get vertex -1 (inclusive; float64
        ``dx^2 + dy^2 + dz^2 <= max_dist_nm^2``). Points outside the skeleton's bounding box
        grown by this distance are never searched.

    Returns
    -------
    vertex : (N,) int64
        Vertex index, -1 when none is within ``max_dist_nm`` (or the position is NaN).
    distance_nm : (N,) float64
        Distance to that vertex, inf for -1.
    """
    x, y, z = _xyz(points_nm)
    sk = _skeleton_of(skeleton)
    v = np.asarray(sk.vertices, np.float64)
    cap = None if max_dist_nm is None else _check_radius(max_dist_nm, "max_dist_nm")
    vertex = np.full(x.size, -1, np.int64)
    dist = np.full(x.size, np.inf)
    cand = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
    if cap is not None:
        cand &= box_mask((x, y, z), v.min(axis=0) - cap, v.max(axis=0) + cap + 1e-9 * (1 + cap))
    idx = np.flatnonzero(cand)
    if not idx.size:
        return vertex, dist
    tree = getattr(sk, "kdtree", None)
    if tree is None or not hasattr(tree, "query"):
        from scipy.spatial import cKDTree

        tree = cKDTree(v)
    bound = np.inf if cap is None else cap * (1 + 1e-9) + 1e-9
    for s in range(0, idx.size, 1 << 20):
        i = idx[s : s + (1 << 20)]
        d, j = tree.query(np.column_stack((x[i], y[i], z[i])), distance_upper_bound=bound)
        found = np.isfinite(d)
        i, j = i[found], j[found]
        if cap is not None:  # the same float64 test as the radius filter decides
            ok = np.zeros(i.size, bool)
            _sq_dist_le(x[i], y[i], z[i], v[j], cap * cap, ok)
            i, j = i[ok], j[ok]
        vertex[i] = j
        dist[i] = np.sqrt((x[i] - v[j, 0]) ** 2 + (y[i] - v[j, 1]) ** 2 + (z[i] - v[j, 2]) ** 2)
    return vertex, dist


def _compartment_codes(compartment: Any) -> list[int]:
    """``"axon"``, ``"dendrite,apical dendrite"``, ``2``, ``["soma", 3]`` -> SWC codes."""
    items: list[Any]
    if isinstance(compartment, str):
        items = [c.strip() for c in compartment.split(",") if c.strip()]
    elif isinstance(compartment, (int, np.integer)):
        items = [int(compartment)]
    else:
        items = list(compartment)
    by_name = {v: k for k, v in SWC_COMPARTMENTS.items()}
    codes = []
    for c in items:
        if isinstance(c, str) and c.strip().lower() in by_name:
            codes.append(by_name[c.strip().lower()])
            continue
        try:
            code = int(c)
        except (TypeError, ValueError):
            code = -1
        if code < 0 or (isinstance(c, float) and c != code):
            raise InvalidParameterError(
                f"compartment {c!r}: unknown; use {', '.join(SWC_COMPARTMENTS.values())} or "
                "an SWC code (5+ custom)"
            )
        codes.append(code)
    if not codes:
        raise InvalidParameterError(f"compartment: no compartment given in {compartment!r}")
    return sorted(set(codes))


def _compartment_names(codes: Sequence[int]) -> str:
    return ",".join(SWC_COMPARTMENTS.get(c, f"custom {c}") for c in codes)


# ---------------------------------------------------------------------------- the query
@dataclass
class QueryResult:
    """The rows a query kept, and how many each filter left.

    Attributes
    ----------
    df : pandas.DataFrame
        The kept rows, the table's columns in order (index 0..K-1); with a skeleton also
        ``skeleton_vertex`` (int64 vertex index), ``skeleton_distance_nm`` (float64) and
        ``skeleton_compartment`` (int32 SWC code).
    rows : (K,) int64
        Row numbers of the kept rows in the input table, ascending.
    n_total : int
        Rows of the input table.
    steps : list of (str, int)
        Each filter as applied (``"box [0,0,0 : 1000,1000,500) nm"``) and the rows left
        after it, in the order applied.
    """

    df: pd.DataFrame
    rows: np.ndarray
    n_total: int
    steps: list[tuple[str, int]] = field(default_factory=list)

    @property
    def mask(self) -> np.ndarray:
        """``(N,)`` bool over the input table's rows."""
        m = np.zeros(self.n_total, bool)
        m[self.rows] = True
        return m

    @property
    def table(self) -> SynapseTable:
        """The kept rows as a :class:`SynapseTable` (the input needs ``pre`` and ``post``)."""
        return SynapseTable(self.df)

    def __len__(self) -> int:
        return len(self.df)

    def counts(self) -> dict[str, Any]:
        """``{"total": N, "kept": K, "steps": [{"filter": text, "rows": n}, ...]}``."""
        return {
            "total": self.n_total,
            "kept": len(self.df),
            "steps": [{"filter": f, "rows": n} for f, n in self.steps],
        }

    def summary(self) -> str:
        """One line: ``kept of total synapses (filter -> rows, ...)``."""
        chain = "; ".join(f"{f}: {n:,}" for f, n in self.steps) or "no filter"
        return f"{len(self.df):,} of {self.n_total:,} synapses kept ({chain})"

    def __repr__(self) -> str:
        return f"QueryResult({self.summary()})"


def _positions(df: pd.DataFrame, source: str, why: str) -> tuple[np.ndarray, ...]:
    missing = [c for c in POSITION_COLUMNS if c not in df.columns]
    if missing:
        voxel = [c for c in df.columns if str(c).startswith("ctr_pt_position")]
        hint = (
            f" (it has voxel positions {voxel}: read it with a voxel size, e.g. "
            "--voxel-size 4,4,40 / SynapseTable.read(path, voxel_size=(4, 4, 40)))"
            if voxel
            else "; read it with a voxel size (--voxel-size 4,4,40) or name its position "
            "columns (--columns x=...,y=...,z=...)"
        )
        raise DataFormatError(
            f"{source}: no synapse positions x_nm, y_nm, z_nm for the {why} filter{hint}"
        )
    return tuple(df[c].to_numpy(np.float64) for c in POSITION_COLUMNS)


def _target_column(df: pd.DataFrame, target_column: str | None, source: str) -> str:
    if target_column is not None:
        if target_column not in df.columns:
            raise DataFormatError(
                f"{source}: no column {target_column!r} for the target filter; columns: "
                f"{list(df.columns)}"
            )
        return target_column
    found = next((c for c in TARGET_COLUMNS if c in df.columns), None)
    if found is None:
        raise DataFormatError(
            f"{source}: no target column (looked for {', '.join(TARGET_COLUMNS)}); name it "
            "with target_column= (CLI --target-column), or join the synapse-target table first"
        )
    return found


def _target_values(target: Any) -> list[str]:
    items = target.split(",") if isinstance(target, str) else list(target)
    vals = [str(t).strip().lower() for t in items if str(t).strip()]
    if not vals:
        raise InvalidParameterError(f"target: no value given in {target!r}")
    return vals


def _target_mask(series: pd.Series, rows: np.ndarray | None, wanted: list[str]) -> np.ndarray:
    """Rows (of ``rows``, None: all) whose value as a lower-case string is one of ``wanted``;
    each row is hashed once (categorical columns: not at all)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = np.asarray(series.cat.codes)
        codes = codes if rows is None else codes[rows]
        uniques = np.asarray(series.cat.categories, dtype=object)
    else:
        values = series.to_numpy() if rows is None else series.to_numpy()[rows]
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        uniques = np.asarray(uniques, dtype=object)
    # a lookup table over the codes, one gather per row; code -1 (missing) reads the last
    # entry, which stays False
    lut = np.zeros(len(uniques) + 1, bool)
    lut[:-1] = [str(u).strip().lower() in wanted for u in uniques]
    return lut[np.asarray(codes)]


def _check_where(df: pd.DataFrame, flt: Any, source: str) -> tuple[Any, str, Any]:
    """``(column, op, value)`` checked against the table (``(column, "notna")`` too)."""
    if isinstance(flt, (tuple, list)) and len(flt) == 2 and flt[1] == "notna":
        flt = (flt[0], "notna", None)
    if not isinstance(flt, (tuple, list)) or len(flt) != 3:
        raise InvalidParameterError(
            f"where: expected (column, op, value) such as ('size', 'gt', 100), got {flt!r}"
        )
    col, op, value = flt
    if col not in df.columns:
        raise DataFormatError(
            f"{source}: no column {col!r} to filter on; columns: {list(df.columns)}"
        )
    if op not in _OPS:
        raise InvalidParameterError(f"where {col}: unknown op {op!r}; use {', '.join(_OPS)}")
    return col, str(op), value


def _where_mask(df: pd.DataFrame, flt: Any, source: str) -> tuple[str, np.ndarray]:
    from ._select import _mask

    col, op, value = _check_where(df, flt, source)
    sym = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
    text = f"{col} {sym.get(op, op)} {value}" if op != "notna" else f"{col} not missing"
    try:
        m = np.asarray(_mask(df[col], op, value), bool)
    except TypeError as e:
        raise InvalidParameterError(
            f"where {text}: cannot compare column {col!r} ({df[col].dtype}) with {value!r}"
        ) from e
    return text, m


def query_synapses(
    table: SynapseTable | pd.DataFrame,
    *,
    box_nm: Any = None,
    center_nm: Any = None,
    radius_nm: float | None = None,
    skeleton: Any = None,
    compartment: Any = None,
    max_dist_nm: float | None = None,
    target: Any = None,
    target_column: str | None = None,
    where: Sequence[Sequence[Any]] = (),
    source: str = "synapse table",
) -> QueryResult:
    """Synapses in a box, near a point, on a skeleton's compartment, onto a target (AND).

    Parameters
    ----------
    table : SynapseTable or pandas.DataFrame
        Spatial filters need ``x_nm, y_nm, z_nm`` (float, nm); read voxel positions with a
        voxel size (:meth:`SynapseTable.read`) to get them.
    box_nm : ``"x0,y0,z0:x1,y1,z1"`` or ((x0, y0, z0), (x1, y1, z1)), optional
        Half-open box in nm: ``x0 <= x < x1`` on every axis (``inf`` leaves a side open).
    center_nm : (3,) or (K, 3) float, optional
        With ``radius_nm``: keep synapses within ``radius_nm`` (inclusive) of the centre or
        of any of the K centres.
    radius_nm : float, optional
    skeleton : Skeleton or Neuron, optional
        Vertices in nm; each synapse is assigned its nearest vertex (KD-tree).
    compartment : str, int or sequence, optional
        Keep synapses whose nearest vertex has this compartment: names ``soma``, ``axon``,
        ``dendrite``, ``apical dendrite``, ``undefined`` or SWC codes; several as
        ``"dendrite,apical dendrite"`` or a list. Needs ``skeleton`` with compartment labels.
    max_dist_nm : float, optional
        With ``skeleton``: keep only synapses within this distance of their nearest vertex
        (inclusive). Default: no cap (every synapse is labelled by its nearest vertex, right
        for a table of the skeleton's own synapses).
    target : str or sequence, optional
        Keep synapses whose target column is one of these values (``"spine"``,
        ``"spine,shaft"``; case-insensitive).
    target_column : str, optional
        Default: the first of ``target``, ``tag``, ``target_structure``, ``post_target``.
    where : sequence of (column, op, value)
        More filters on any column; op is ``eq, ne, lt, le, gt, ge, isin, between, notna``
        (``("size", "gt", 100)``, ``("pre", "isin", [id1, id2])``).
    source : str
        Names the table in error messages (its path).

    Returns
    -------
    QueryResult
        ``.df`` (kept rows), ``.rows`` (their row numbers), ``.mask``, ``.table``,
        ``.counts()`` and ``.summary()``.

    Raises
    ------
    DataFormatError
        A spatial filter on a table without positions; an unknown column; a skeleton without
        compartment labels for a compartment filter.
    InvalidParameterError
        A box with min > max, a negative radius, a centre without a radius (or the reverse),
        an unknown compartment or target value, ``compartment``/``max_dist_nm`` without a
        skeleton.

    Examples
    --------
    >>> import pandas as pd
    >>> t = SynapseTable(pd.DataFrame({"pre": [1, 1, 2], "post": [3, 4, 3],
    ...     "x_nm": [0.0, 500.0, 900.0], "y_nm": [0.0, 0.0, 0.0], "z_nm": [0.0, 0.0, 40.0],
    ...     "target": ["spine", "shaft", "spine"]}))
    >>> r = query_synapses(t, box_nm="0,0,0:1000,1000,100", target="spine")
    >>> r.rows.tolist(), r.summary()
    ([0, 2], '2 of 3 synapses kept (box [0,0,0 : 1000,1000,100) nm: 3; target spine: 2)')
    """
    return _query(
        table,
        box_nm=box_nm,
        center_nm=center_nm,
        radius_nm=radius_nm,
        skeleton=skeleton,
        compartment=compartment,
        max_dist_nm=max_dist_nm,
        target=target,
        target_column=target_column,
        where=where,
        source=source,
        check_values=True,
    )


def _query(
    table: SynapseTable | pd.DataFrame,
    *,
    box_nm: Any = None,
    center_nm: Any = None,
    radius_nm: float | None = None,
    skeleton: Any = None,
    compartment: Any = None,
    max_dist_nm: float | None = None,
    target: Any = None,
    target_column: str | None = None,
    where: Sequence[Sequence[Any]] = (),
    source: str = "synapse table",
    check_values: bool = True,
) -> QueryResult:
    """:func:`query_synapses`; ``check_values=False`` skips the check that a target value
    occurs in the column (a batch of a streamed table need not hold every value)."""
    df = table.df if isinstance(table, SynapseTable) else table
    if not isinstance(df, pd.DataFrame):
        raise InvalidParameterError(
            f"table: expected a SynapseTable or a DataFrame, got {type(table).__name__}"
        )
    n = len(df)
    # ---- validate every argument before any work
    if (center_nm is None) != (radius_nm is None):
        raise InvalidParameterError(
            "center_nm and radius_nm go together (CLI --center X,Y,Z --radius NM)"
        )
    if skeleton is None and (compartment is not None or max_dist_nm is not None):
        raise InvalidParameterError(
            "compartment and max_dist_nm need a skeleton (CLI --skeleton FILE): the "
            "compartment of a synapse is that of its nearest skeleton vertex"
        )
    box = parse_box(box_nm) if box_nm is not None else None
    centres = _centres(center_nm) if center_nm is not None else None
    radius = _check_radius(radius_nm, "radius_nm") if radius_nm is not None else None
    cap = _check_radius(max_dist_nm, "max_dist_nm") if max_dist_nm is not None else None
    sk = _skeleton_of(skeleton) if skeleton is not None else None
    codes = _compartment_codes(compartment) if compartment is not None else None
    if sk is not None and codes is not None:
        labels = sk.features.get("compartment") if hasattr(sk, "features") else None
        if labels is None or not np.any(np.asarray(labels) != 0):
            raise DataFormatError(
                f"skeleton {getattr(sk, 'name', '') or ''!r}: no compartment labels (every "
                "vertex is 0, undefined); read an SWC with type codes, or label it with "
                "morphology's label_axon_dendrite and Neuron.with_compartments"
            )
        present = np.unique(np.asarray(labels)).tolist()
        if not set(codes) & set(present):
            raise InvalidParameterError(
                f"compartment {_compartment_names(codes)}: no vertex of skeleton "
                f"{getattr(sk, 'name', '') or ''!r} has it; its labels are "
                f"{_compartment_names(present)}"
            )
    tcol = wanted = None
    if target is not None:
        tcol = _target_column(df, target_column, source)
        wanted = _target_values(target)
        unknown = [w for w in wanted if w not in KNOWN_TARGETS]
        if unknown and check_values:
            present = sorted({str(u).strip().lower() for u in pd.unique(df[tcol].dropna())})
            bad = [w for w in unknown if w not in present]
            if bad:
                raise InvalidParameterError(
                    f"target {bad[0]!r}: not a value of column {tcol!r}; it has "
                    f"{', '.join(present[:12]) or 'no values'}"
                )
    elif target_column is not None:
        _target_column(df, target_column, source)
    for flt in where:
        _check_where(df, flt, source)
    spatial = [
        w for w, on in (("box", box), ("radius", centres), ("skeleton", sk)) if on is not None
    ]
    xyz = _positions(df, source, spatial[0]) if spatial else None

    # ---- filters, cheapest first, each on the rows kept so far (None: every row)
    rows: np.ndarray | None = None
    steps: list[tuple[str, int]] = []
    extra: dict[str, np.ndarray] = {}

    def keep(m: np.ndarray, label: str) -> None:
        nonlocal rows
        rows = np.flatnonzero(m) if rows is None else rows[m]
        for k in extra:
            extra[k] = extra[k][m]
        steps.append((label, int(rows.size)))

    def sub(a: np.ndarray) -> np.ndarray:
        return a if rows is None else a[rows]

    def fmt(v: np.ndarray) -> str:
        return ",".join(f"{t:g}" for t in v.tolist())

    if box is not None and xyz is not None:
        keep(box_mask(tuple(sub(a) for a in xyz), *box), f"box [{fmt(box[0])} : {fmt(box[1])}) nm")
    if tcol is not None and wanted is not None:
        keep(_target_mask(df[tcol], rows, wanted), f"{tcol} {','.join(wanted)}")
    for flt in where:
        text, m = _where_mask(df if rows is None else df.iloc[rows], flt, source)
        keep(m, text)
    if centres is not None and radius is not None and xyz is not None:
        where_c = fmt(centres[0]) if len(centres) == 1 else f"{len(centres)} centres"
        keep(
            radius_mask(tuple(sub(a) for a in xyz), centres, radius),
            f"within {radius:g} nm of {where_c}",
        )
    if sk is not None and xyz is not None:
        vert, dist = nearest_skeleton_vertex(tuple(sub(a) for a in xyz), sk, cap)
        labels = np.asarray(sk.features.get("compartment", np.zeros(len(sk.vertices))), np.int32)
        comp = np.where(vert >= 0, labels[np.maximum(vert, 0)], -1).astype(np.int32)
        extra.update(skeleton_vertex=vert, skeleton_distance_nm=dist, skeleton_compartment=comp)
        m = vert >= 0
        label = "skeleton" + (f" within {cap:g} nm" if cap is not None else "")
        if codes is not None:
            m &= np.isin(comp, codes)
            label = f"{_compartment_names(codes)} ({label})"
        keep(m, label)
    if rows is None:
        rows = np.arange(n, dtype=np.int64)
        out = df.reset_index(drop=True)
        if extra:
            out = out.copy()
    else:
        out = df.take(rows).reset_index(drop=True)
    for k, v in extra.items():
        out[k] = v
    return QueryResult(out, rows, n, steps)


# ---------------------------------------------------------------------------- streamed
@dataclass
class StreamedQuery:
    """What :func:`query_table_file` kept: counts only (the rows went to ``output``).

    Attributes
    ----------
    n_total, n_kept : int
    steps : list of (str, int)
        Each filter and the rows left after it, summed over the batches.
    output : Path or None
    batches : int
    """

    n_total: int
    n_kept: int
    steps: list[tuple[str, int]]
    output: Path | None
    batches: int

    def counts(self) -> dict[str, Any]:
        """``{"total": N, "kept": K, "steps": [{"filter": text, "rows": n}, ...]}``."""
        return {
            "total": self.n_total,
            "kept": self.n_kept,
            "steps": [{"filter": f, "rows": n} for f, n in self.steps],
        }

    def summary(self) -> str:
        """One line, as :meth:`QueryResult.summary`."""
        chain = "; ".join(f"{f}: {n:,}" for f, n in self.steps) or "no filter"
        return f"{self.n_kept:,} of {self.n_total:,} synapses kept ({chain})"


def query_table_file(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    voxel_size: Any = None,
    batch_rows: int = 1 << 20,
    overwrite: bool = False,
    **filters: Any,
) -> StreamedQuery:
    """:func:`query_synapses` on a Parquet or Feather table of any size, batch by batch.

    Memory is bounded by ``batch_rows`` (and the kept rows of one batch), whatever the input
    size; the kept rows go to ``output`` as they are found.

    Parameters
    ----------
    source : path
        A Parquet file, a folder of Parquet files (every file with the same columns) or a
        Feather file; a ``synth.json`` beside it gives the voxel size of synthetic tables.
    output : path, optional
        ``.parquet`` or ``.csv``, written under a temporary name and renamed when complete
        (an interrupted or failed run leaves no output). None: count only.
    columns, voxel_size
        As :meth:`SynapseTable.read` (MICrONS names by default; positions in voxels of
        ``voxel_size`` become ``x_nm, y_nm, z_nm``).
    batch_rows : int
        Rows per batch.
    overwrite : bool
        Replace an existing ``output``.
    **filters
        The keywords of :func:`query_synapses` (``box_nm``, ``center_nm``, ``radius_nm``,
        ``skeleton``, ``compartment``, ``max_dist_nm``, ``target``, ``target_column``,
        ``where``).

    Returns
    -------
    StreamedQuery
        Counts (summed over batches) and the output path.

    Raises
    ------
    DataFormatError
        Files of a folder whose columns differ (the file and column are named), a table that
        cannot be read, and every error of :func:`query_synapses`.
    """
    import pyarrow as pa

    from .._atomic import atomic_path
    from .._progress import progress
    from ..errors import DatasetExistsError
    from ._synapses import synth_voxel_size
    from ._tablesource import inspect_file, iter_batches, table_files, table_format

    unknown = set(filters) - _FILTERS
    if unknown:
        raise InvalidParameterError(
            f"query_table_file: unknown filters {sorted(unknown)}; use {', '.join(sorted(_FILTERS))}"
        )
    src = Path(source)
    files = table_files(src)
    if any(table_format(f) == "csv" for f in files):
        raise InvalidParameterError(
            f"{src}: CSV is read whole (SynapseTable.read + query_synapses); stream Parquet or "
            "Feather"
        )
    if voxel_size is None:
        voxel_size = synth_voxel_size(src)
    out = Path(output) if output is not None else None
    if out is not None:
        if out.suffix.lower() not in (".parquet", ".csv"):
            raise InvalidParameterError(f"output {out}: use a .parquet or .csv file name")
        if out.exists() and not overwrite:
            raise DatasetExistsError(f"{out}: exists; pass overwrite=True to replace it")
    schemas = [(f, inspect_file(f)) for f in files]
    names = list(schemas[0][1][0].names)
    for f, (schema, _, _) in schemas[1:]:
        if list(schema.names) != names:
            extra = sorted(set(schema.names) ^ set(names)) or list(schema.names)
            raise DataFormatError(
                f"{f}: columns differ from {files[0].name} ({', '.join(map(str, extra[:5]))}); "
                "every file of a table folder needs the same columns"
            )
    n_rows = sum(sum(rows) for _, (_, rows, _) in schemas)
    wanted = _target_values(filters["target"]) if filters.get("target") is not None else []
    check = [w for w in wanted if w not in KNOWN_TARGETS]
    seen: set[str] = set()
    tcol: str | None = None
    totals: list[tuple[str, int]] = []
    n_total = n_kept = n_batches = 0
    schema_out: Any = None
    src_schema = schemas[0][1][0]
    last = pd.DataFrame()
    ids_uint64 = False
    for ours, theirs in (("pre", "pre_pt_root_id"), ("post", "post_pt_root_id")):
        # the id columns as from_frame picks them; uint64 in any file: uint64 out (a batch
        # with small ids alone would come out int64)
        c = (columns or {}).get(ours, ours if ours in names else theirs)
        for _, (schema, _, _) in schemas:
            if c in schema.names and pa.types.is_uint64(schema.field(c).type):
                ids_uint64 = True

    pre = (
        _prefilter(names, columns, voxel_size, parse_box(filters["box_nm"]))
        if filters.get("box_nm") is not None
        else None
    )

    def batches() -> Any:
        for f in files:
            for b in iter_batches(f, names, batch_rows):
                yield f, b

    with ExitStack() as stack:
        tmp = stack.enter_context(atomic_path(out)) if out is not None else None
        writer: Any = None
        bar = stack.enter_context(
            progress(total=n_rows, desc="query", unit=" synapses", unit_scale=True)
        )
        for f, b in batches():
            n_batch = b.num_rows
            if check:
                tcol = tcol or _target_column(
                    pd.DataFrame(columns=names), filters.get("target_column"), str(f)
                )
                seen.update(
                    str(v).strip().lower()
                    for v in b.column(tcol).unique().to_pylist()
                    if v is not None
                )
            if pre is not None:  # Arrow drops rows far outside the box before pandas
                b = b.filter(_arrow_box(b, *pre))
            t = SynapseTable.from_frame(
                b.to_pandas(), columns=columns, voxel_size=voxel_size, source=str(f)
            )
            if ids_uint64:
                t.df["pre"] = t.df["pre"].astype(np.uint64)
                t.df["post"] = t.df["post"].astype(np.uint64)
            r = _query(t, source=str(f), check_values=False, **filters)
            r.n_total = n_batch
            if not totals:
                totals = list(r.steps)
            else:
                totals = [(a, n + m) for (a, n), (_, m) in zip(totals, r.steps)]
            n_total += r.n_total
            n_kept += len(r)
            n_batches += 1
            bar.update(r.n_total)
            last = r.df
            if tmp is None or out is None or not len(r.df):
                continue  # empty batches write nothing (their columns may lack types)
            if out.suffix.lower() == ".csv":
                r.df.to_csv(tmp, mode="a", header=writer is None, index=False)
                writer = True
                continue
            at = pa.Table.from_pandas(r.df, preserve_index=False)
            if writer is None:
                import pyarrow.parquet as pq

                # a column of nulls only in this batch takes the file's type
                schema_out = pa.schema(
                    [
                        src_schema.field(fl.name).with_nullable(True)
                        if pa.types.is_null(fl.type) and fl.name in src_schema.names
                        else fl
                        for fl in at.schema
                    ],
                    metadata=at.schema.metadata,
                )
                if schema_out != at.schema:
                    at = at.cast(schema_out)
                writer = stack.enter_context(pq.ParquetWriter(tmp, schema_out))
            elif at.schema != schema_out:
                try:
                    at = at.cast(schema_out)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as e:
                    raise DataFormatError(
                        f"{f}: a batch's column types differ from the first batch's ({e})"
                    ) from e
            writer.write_table(at)
        bad = [w for w in check if w not in seen]
        if bad:
            raise InvalidParameterError(
                f"target {bad[0]!r}: not a value of column {tcol!r}; it has "
                f"{', '.join(sorted(seen)[:12]) or 'no values'}"
            )
        if tmp is not None and out is not None and writer is None:  # nothing kept
            if out.suffix.lower() == ".csv":
                last.to_csv(tmp, index=False)
            else:
                last.to_parquet(tmp, index=False)
    return StreamedQuery(n_total, n_kept, totals, out, n_batches)


def _prefilter(
    names: Sequence[str],
    columns: Mapping[str, str] | None,
    voxel_size: Any,
    box: tuple[np.ndarray, np.ndarray],
) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """The file's position columns and the box in their units, grown by a relative 1e-9 (a
    superset: the exact test runs after :meth:`SynapseTable.from_frame`), or None when the
    positions cannot be told from the names (the exact path then names the problem)."""
    from ..geometry import LevelFrame, VoxelSize
    from ._synapses import _POSITION

    mapping = dict(columns or {})
    pos = [mapping.get(a) for a in "xyz"]
    cols: list[str] = []
    if all(p is not None for p in pos):
        cols = [str(p) for p in pos]
    elif all(c in names for c in _POSITION):
        cols = list(_POSITION)
    lo, hi = box
    if cols and all(c in names for c in cols) and voxel_size is not None:
        frame = LevelFrame(VoxelSize.parse(voxel_size))  # the one voxel <-> nm convention
        lo, hi = frame.from_nm(lo[None])[0], frame.from_nm(hi[None])[0]
    elif cols and all(c in names for c in cols) and all(c.endswith("_nm") for c in cols):
        pass
    elif all(c in names for c in POSITION_COLUMNS):
        cols = list(POSITION_COLUMNS)
    else:
        return None
    with np.errstate(invalid="ignore"):
        tol = 1e-9 * np.maximum(1.0, np.abs(np.where(np.isfinite(lo), lo, 0)))
        lo_w = lo - tol
        tol = 1e-9 * np.maximum(1.0, np.abs(np.where(np.isfinite(hi), hi, 0)))
        hi_w = hi + tol
    return cols, lo_w, hi_w


def _arrow_box(batch: Any, cols: list[str], lo: np.ndarray, hi: np.ndarray) -> Any:
    """Arrow mask ``lo <= col < hi`` on the three position columns (null: dropped)."""
    import pyarrow.compute as pc

    m = None
    for c, a, b in zip(cols, lo.tolist(), hi.tolist()):
        v = pc.cast(batch.column(c), "float64")
        mi = pc.and_(pc.greater_equal(v, a), pc.less(v, b))
        m = mi if m is None else pc.and_(m, mi)
    return m


_FILTERS = {
    "box_nm",
    "center_nm",
    "radius_nm",
    "skeleton",
    "compartment",
    "max_dist_nm",
    "target",
    "target_column",
    "where",
}
