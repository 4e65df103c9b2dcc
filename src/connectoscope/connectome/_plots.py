"""Connectome figures in the look of the MICrONS connectomics tutorial (matplotlib, Agg; PNG,
SVG or PDF by the file suffix). Every axis is labelled with its unit, every colour explained
in a legend or colour bar, counts drawn on integer axes.

* :func:`plot_somas` (tutorial figure 1): soma positions, top view (x, z) above the side
  view (x, depth), by a status such as axon proofreading.
* :func:`plot_heatmap` (figures 2, 6, 7): the matrix, binary, count, summed or log-summed
  size (white = no connection, darker = stronger), optionally sorted by a vertex property
  with coloured side bars and a legend. Large matrices are binned into at most
  ``max_pixels`` rows and columns (each pixel shows the largest weight in it).
* :func:`plot_synapses_per_connection` (figures 3, 4): the multiplicity histogram on
  integer bins; split by a property, one panel per presynaptic group (E -> E, I -> E).
* :func:`plot_size_histograms` (figure 5): summed size per connection, linear and log axes,
  with a density curve; split by a property, one curve per group.
* :func:`plot_type_by_type`: the type-by-type matrix with the values written in.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._atomic import atomic_path
from ..errors import InvalidParameterError

if TYPE_CHECKING:  # pragma: no cover
    from ._cells import CellTable
    from ._matrix import ConnectivityMatrix

__all__ = [
    "plot_heatmap",
    "plot_size_histograms",
    "plot_somas",
    "plot_synapses_per_connection",
    "plot_type_by_type",
]

HEATMAP_WEIGHTS = ("binary", "count", "sum", "log_sum")

#: Colours of the tutorial: E -> E green, I -> E blue; further groups from the palette.
GROUP_COLORS = {"excitatory": "seagreen", "inhibitory": "deepskyblue"}
#: Status colours of the tutorial's soma figure (not proofread light grey).
STATUS_COLORS = {
    "False": "lightgrey",
    "none": "lightgrey",
    "None": "lightgrey",
    "missing": "lightgrey",
    "True": "darkorchid",
    "proofread": "darkorchid",
    "Proofread": "darkorchid",
    "Proofread-column": "indigo",
}


def _plt() -> Any:
    import matplotlib

    if matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: str | os.PathLike[str]) -> Path:
    """Save under a temporary name, then rename (never half a figure under the name)."""

    plt = _plt()
    p = Path(out)
    fmt = p.suffix[1:].lower() or "png"
    try:
        with atomic_path(p) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
    finally:
        plt.close(fig)
    return p


def _despine(*axes: Any) -> None:
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)


def _integer_axis(axis: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _palette(cats: Sequence[Any], fixed: dict[str, str] | None = None) -> dict[Any, Any]:
    """A colour per category: ``fixed`` names first, then the shared palette in order."""
    from ..colors import PALETTE

    out: dict[Any, Any] = {}
    k = 0
    for c in cats:
        if fixed and str(c) in fixed:
            out[c] = fixed[str(c)]
        else:
            out[c] = tuple(PALETTE[k % len(PALETTE)] / 255.0)
            k += 1
    return out


def _tab20(cats: Sequence[Any]) -> dict[Any, Any]:
    """The tutorial's cell-type colours (tab20), ``missing`` grey."""
    plt = _plt()
    cmap = plt.get_cmap("tab20")
    named = [c for c in cats if c != "missing"]
    out = {c: cmap(i % 20) for i, c in enumerate(named)}
    if "missing" in cats:
        out["missing"] = (0.85, 0.85, 0.85, 1.0)
    return out


# ---------------------------------------------------------------- figure 1
def _cell_frame(cells: ConnectivityMatrix | CellTable | pd.DataFrame) -> pd.DataFrame:
    if isinstance(cells, pd.DataFrame):
        return cells
    if hasattr(cells, "pre_vertices"):
        sq = cells.square()  # type: ignore[union-attr]
        return sq.pre_vertices
    return cells.df


def plot_somas(
    cells: ConnectivityMatrix | CellTable | pd.DataFrame,
    out: str | os.PathLike[str],
    *,
    status: str = "status_axon",
    title: str | None = None,
) -> Path:
    """Soma positions coloured by ``status``: top view (x, z) above the side view (x, depth y,
    pointing down), equal aspect, shared x axis (tutorial figure 1).

    Positions: ``x_nm, y_nm, z_nm`` (drawn in µm), or ``pt_position_x/y/z`` (voxels). Status
    values ``True``/``False`` read "proofread"/"not proofread" (dark orchid / light grey);
    other values take the shared palette. The legend gives each group's count.
    """
    plt = _plt()
    df = _cell_frame(cells)
    if all(f"{a}_nm" in df for a in "xyz"):
        pos, unit = df[["x_nm", "y_nm", "z_nm"]].to_numpy(np.float64) / 1000, "µm"
    elif all(f"pt_position_{a}" in df for a in "xyz"):
        pos, unit = df[[f"pt_position_{a}" for a in "xyz"]].to_numpy(np.float64), "voxels"
    else:
        raise InvalidParameterError(
            "no soma positions: the cells need x_nm, y_nm, z_nm (or pt_position_x/y/z voxels); "
            "read the cell table with voxel_size=..."
        )
    if status not in df:
        raise InvalidParameterError(
            f"no cell property {status!r}; properties: {', '.join(map(str, df.columns))}"
        )
    lab = df[status].astype(object).where(df[status].notna(), "missing").astype(str).to_numpy()
    ok = np.isfinite(pos).all(axis=1)
    if not ok.any():
        raise InvalidParameterError("no cell has a finite soma position to plot")
    # light (unproofread) groups first so the proofread dots are drawn on top
    cats = sorted(set(lab[ok].tolist()), key=lambda c: (STATUS_COLORS.get(c) != "lightgrey", c))
    color = _palette(cats, STATUS_COLORS)
    names = {"True": "true", "False": "false"}
    span = np.ptp(pos[ok], axis=0) + 1e-9
    ratio = (span[2] + span[1]) / span[0]
    fig, (top, side) = plt.subplots(
        2,
        1,
        figsize=(7.5, min(11.0, max(4.5, 7.5 * ratio * 0.9 + 1.2))),
        sharex=True,
        gridspec_kw={"height_ratios": [max(span[2], 1e-9), max(span[1], 1e-9)]},
    )
    for c in cats:
        sel = ok & (lab == c)
        kw = {"s": 4, "color": color[c], "alpha": 0.7, "linewidths": 0}
        top.scatter(pos[sel, 0], pos[sel, 2], label=f"{names.get(c, c)} ({int(sel.sum()):,})", **kw)
        side.scatter(pos[sel, 0], pos[sel, 1], **kw)
    top.set_ylabel(f"z, posterior-anterior ({unit})")
    top.set_title(
        title or f"soma positions of {int(ok.sum()):,} cells: top view", fontsize=10, loc="left"
    )
    side.set_xlabel(f"x, medial-lateral ({unit})")
    side.set_ylabel(f"y, depth ({unit})")
    side.set_title("side view", fontsize=10, loc="left")
    side.invert_yaxis()
    for ax in (top, side):
        ax.set_aspect("equal", adjustable="datalim")
    _despine(top, side)
    top.legend(
        title=f"{status} (cells)",
        fontsize=8,
        markerscale=3,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
    fig.tight_layout()
    return _save(fig, out)


# ---------------------------------------------------------------- figures 2, 6, 7
def plot_heatmap(
    m: ConnectivityMatrix,
    out: str | os.PathLike[str],
    *,
    weight: str = "binary",
    sort_by: str | None = None,
    max_pixels: int = 1000,
    title: str | None = None,
    size_unit: str = "voxels",
) -> Path:
    """Matrix heatmap, rows presynaptic and columns postsynaptic (tutorial figures 2, 6, 7).

    Parameters
    ----------
    m : ConnectivityMatrix
    out : path
        ``.png``, ``.svg`` or ``.pdf``.
    weight : {"binary", "count", "sum", "log_sum"}
        ``log_sum`` is the natural log of the summed synapse size per pair (as the tutorial);
        white is no connection, darker is stronger (``gray_r``), with a colour bar.
    sort_by : str, optional
        Vertex property: rows and columns sorted by it, coloured side bars (tab20, as the
        tutorial) and a legend.
    max_pixels : int
        Rows and columns beyond this are binned (each pixel shows its largest weight).
    size_unit : str
        Unit of the synapse ``size`` column, for the colour bar (MICrONS: voxels).
    """
    if weight not in HEATMAP_WEIGHTS:
        raise InvalidParameterError(
            f"weight must be one of {', '.join(HEATMAP_WEIGHTS)}, got {weight!r}"
        )
    plt = _plt()
    from matplotlib.patches import Patch

    rows, cols, counts = m._pair_index()
    if weight == "binary":
        vals = np.ones(rows.size)
    elif weight == "count":
        vals = counts.astype(np.float64)
    else:
        c = m.condensed if ("size_sum" in m.condensed) else m.aggregate(("size_sum",))
        vals = c["size_sum"].to_numpy(np.float64)
        if weight == "log_sum":
            vals = np.log(np.maximum(vals, 1e-12))
    n_pre, n_post = m.shape
    pre_rank = np.arange(n_pre)
    post_rank = np.arange(n_post)
    pre_labels: list[Any] | None = None
    post_labels: list[Any] | None = None
    if sort_by is not None:
        perm, pre_labels = m.sort_by(sort_by, "pre")
        pre_rank[perm] = np.arange(n_pre)
        perm2, post_labels = m.sort_by(sort_by, "post")
        post_rank[perm2] = np.arange(n_post)
    nr = max(1, min(n_pre, max_pixels))
    nc = max(1, min(n_post, max_pixels))
    r = (pre_rank[rows] * nr) // max(n_pre, 1)
    k = (post_rank[cols] * nc) // max(n_post, 1)
    img = np.full(nr * nc, -np.inf)
    np.maximum.at(img, r * nc + k, vals)
    grid = img.reshape(nr, nc)
    empty = np.isneginf(grid)
    lo = 0.0 if weight in ("binary", "count", "sum") else float(np.min(vals, initial=0.0))
    hi = float(np.max(vals, initial=1.0))
    shown = np.where(empty, lo, grid)
    aspect = n_post / max(n_pre, 1)
    square = 1 / 3 <= aspect <= 3
    fig = plt.figure(figsize=(8.5, 7.0) if square else (9.5, 6.0))
    ax = fig.add_axes((0.12, 0.08, 0.64, 0.78))
    im = ax.imshow(
        shown,
        aspect="equal" if square and nr == n_pre and nc == n_post else "auto",
        interpolation="nearest",
        cmap="gray_r",
        vmin=lo,
        vmax=hi if hi > lo else lo + 1,
        extent=(0, n_post, n_pre, 0),
    )
    ax.set_xlabel(f"postsynaptic cells ({n_post:,})")
    ax.set_ylabel(f"presynaptic cells ({n_pre:,})")
    ax.set_xticks([])
    ax.set_yticks([])
    n_edges = int(rows.size)
    possible = n_pre * n_post
    binned = "" if (nr == n_pre and nc == n_post) else f"; binned to {nr} x {nc} pixels"
    what = {
        "binary": "binary connectivity",
        "count": "synapse count",
        "sum": "summed synapse size",
        "log_sum": "log summed synapse size",
    }[weight]
    heading = title or (
        f"{what}{'' if sort_by is None else f', sorted by {sort_by}'}: {n_edges:,} of "
        f"{possible:,} possible connections ({n_edges / max(possible, 1):.4f}){binned}"
    )
    cb_label = {
        "binary": "connected (1) or not (0)",
        "count": "synapses per connection",
        "sum": f"summed synapse size ({size_unit})",
        "log_sum": f"ln summed synapse size ({size_unit})",
    }[weight]
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label=cb_label)
    if weight == "binary":
        cb.set_ticks([0, 1])
    elif weight == "count":
        _integer_axis(cb.ax.yaxis)
    ax.apply_aspect()
    top_edge = ax.get_position().y1
    if sort_by is not None and pre_labels is not None and post_labels is not None:
        cats = list(dict.fromkeys(sorted(set(pre_labels) | set(post_labels), key=_sort_key)))
        color = _tab20(cats)
        box = ax.get_position()  # after the colour bar took its share
        left = fig.add_axes((box.x0 - 0.025, box.y0, 0.02, box.height))
        top = fig.add_axes((box.x0, box.y1 + 0.01, box.width, 0.02))
        lbar = np.array([color[pre_labels[min(n_pre - 1, (i * n_pre) // nr)]] for i in range(nr)])
        tbar = np.array(
            [color[post_labels[min(n_post - 1, (j * n_post) // nc)]] for j in range(nc)]
        )
        left.imshow(lbar[:, None, :], aspect="auto", interpolation="nearest")
        top.imshow(tbar[None, :, :], aspect="auto", interpolation="nearest")
        for a in (left, top):
            a.set_xticks([])
            a.set_yticks([])
        left.set_ylabel(f"presynaptic cells ({n_pre:,})")
        top.set_title(f"postsynaptic cells ({n_post:,}) by {sort_by}", fontsize=9)
        top_edge = box.y1 + 0.06
        ax.set_ylabel("")
        ax.set_xlabel("")
        fig.legend(
            handles=[Patch(color=color[c], label=str(c)) for c in cats],
            loc="upper left",
            bbox_to_anchor=(0.87, 0.86),
            fontsize=7,
            title=sort_by,
            frameon=False,
        )
    fig.suptitle(heading, y=min(0.99, top_edge + 0.04), fontsize=10)
    return _save(fig, out)


def _sort_key(x: Any) -> tuple[int, str]:
    return (1 if x == "missing" else 0, str(x))


# ---------------------------------------------------------------- figures 3, 4
def _groups(
    m: ConnectivityMatrix, split_by: str, target: Any
) -> tuple[Any, list[tuple[Any, np.ndarray]]]:
    """``(target, [(pre group, boolean mask over the pairs)])``: pairs from each presynaptic
    group of ``split_by`` onto postsynaptic cells whose ``split_by`` is ``target``."""
    for side, v in (("pre", m.pre_vertices), ("post", m.post_vertices)):
        if split_by not in v:
            raise InvalidParameterError(
                f"--split-by {split_by!r}: no such {side}synaptic property; properties: "
                f"{', '.join(map(str, v.columns)) or 'none (build the matrix with --cells)'}"
            )
    rows, cols, _ = m._pair_index()
    pre_t = m.pre_vertices[split_by].astype(object).to_numpy()[rows]
    post_t = m.post_vertices[split_by].astype(object).to_numpy()[cols]
    present = {x for x in post_t if x is not None and x == x}
    tgt = (
        target
        if target is not None
        else ("excitatory" if "excitatory" in present else (sorted(present, key=str) or [None])[0])
    )
    out = []
    for t in sorted({x for x in pre_t if x is not None and x == x}, key=_group_order):
        sel = (pre_t == t) & (post_t == tgt)
        if sel.any():
            out.append((t, sel))
    if not out:
        raise InvalidParameterError(f"no connections onto {split_by} = {tgt!r} to plot")
    return tgt, out


def _group_order(x: Any) -> tuple[int, str]:
    return ({"excitatory": 0, "inhibitory": 1}.get(str(x), 2), str(x))


def _arrow(a: Any, b: Any) -> str:
    short = {"excitatory": "E", "inhibitory": "I"}
    if str(a) in short and str(b) in short:
        return f"{a}-{b} ({short[str(a)]} \u2192 {short[str(b)]})"
    return f"{a} \u2192 {b}"


def plot_synapses_per_connection(
    m: ConnectivityMatrix,
    out: str | os.PathLike[str],
    *,
    split_by: str | None = None,
    target: Any = None,
    log: bool = False,
) -> Path:
    """Histogram of synapses per connection on integer bins (tutorial figures 3 and 4).

    ``split_by="broad_type"`` draws one panel per presynaptic group onto ``target``
    postsynaptic cells (default ``excitatory``): E -> E (green) and I -> E (blue), as in the
    MICrONS tutorial. ``log`` puts the counts on a log axis.
    """
    plt = _plt()
    _, _, counts = m._pair_index()
    if split_by is None:
        series = [("all connections", np.ones(counts.size, bool), "0.35")]
        tgt = None
    else:
        tgt, groups = _groups(m, split_by, target)
        colors = _palette([g for g, _ in groups], GROUP_COLORS)
        series = [(_arrow(g, tgt), sel, colors[g]) for g, sel in groups]
    top = int(counts.max()) if counts.size else 1
    bins = np.arange(1, top + 2) - 0.5
    n = len(series)
    fig, axes = plt.subplots(
        1, n, figsize=(4.2 * n + 1.2 if n > 1 else 7.0, 4.0), sharex=True, squeeze=False
    )
    for ax, (name, sel, color) in zip(axes[0], series):
        c = counts[sel]
        ax.hist(c, bins=bins, color=color, edgecolor="white", linewidth=0.5)
        ax.set_title(
            f"{int(sel.sum()):,} connections"
            if split_by is None
            else f"{name}: {int(sel.sum()):,} connections",
            fontsize=10,
        )
        ax.set_xlabel("synapses per connection")
        _integer_axis(ax.xaxis)
        ax.set_xlim(0.4, top + 0.6)
        if log:
            ax.set_yscale("log")
        else:
            _integer_axis(ax.yaxis)
        mean = float(c.mean()) if c.size else float("nan")
        ax.axvline(mean, color="black", lw=0.8, ls="--", label=f"mean {mean:.2f}")
        ax.legend(fontsize=8, frameon=False)
    axes[0][0].set_ylabel("connections (pairs of cells)")
    _despine(*axes[0])
    if split_by is not None:
        fig.suptitle(f"synapses per connection onto {split_by} = {tgt}", fontsize=11)
    fig.tight_layout()
    return _save(fig, out)


# ---------------------------------------------------------------- figure 5
def _kde_line(ax: Any, values: np.ndarray, edges: np.ndarray, color: Any, *, log: bool) -> None:
    """A Gaussian density estimate scaled to the histogram's counts (seaborn's ``kde=True``)."""
    from scipy.stats import gaussian_kde

    v = np.log10(values) if log else values
    if v.size < 3 or np.ptp(v) == 0:
        return
    e = np.log10(edges) if log else edges
    xs = np.linspace(e[0], e[-1], 300)
    dens = gaussian_kde(v)(xs) * v.size * (e[1] - e[0])
    ax.plot(10**xs if log else xs, dens, color=color, lw=1.5)


def plot_size_histograms(
    m: ConnectivityMatrix,
    out: str | os.PathLike[str],
    *,
    bins: int = 100,
    split_by: str | None = None,
    target: Any = None,
    size_unit: str = "voxels",
) -> Path:
    """Summed synapse size per connection, linear (left) and log (right) size axes, with a
    density curve (tutorial figure 5).

    ``split_by`` (e.g. ``broad_type``) draws one step histogram per presynaptic group onto
    ``target`` cells (default excitatory), with a legend; ``size_unit`` labels the axes
    (MICrONS: cleft voxels).
    """
    plt = _plt()
    c = m.condensed if "size_sum" in m.condensed else m.aggregate(("size_sum",))
    s = c["size_sum"].to_numpy(np.float64)
    if split_by is None:
        series = [("all connections", np.ones(s.size, bool), "seagreen")]
    else:
        tgt, groups = _groups(m, split_by, target)
        colors = _palette([g for g, _ in groups], GROUP_COLORS)
        series = [(_arrow(g, tgt), sel, colors[g]) for g, sel in groups]
    fig, (a, b) = plt.subplots(ncols=2, figsize=(11, 4.0))
    lin_edges = np.linspace(0, float(s.max()) if s.size else 1.0, bins + 1)
    pos = s[s > 0]
    log_edges = (
        np.logspace(np.log10(pos.min()), np.log10(pos.max()) + 1e-9, bins + 1)
        if pos.size
        else np.array([1.0, 10.0])
    )
    single = len(series) == 1
    for name, sel, color in series:
        v = s[sel]
        label = f"{name} ({int(sel.sum()):,})"
        kw: dict[str, Any] = (
            {"color": color, "alpha": 0.75, "edgecolor": "none"}
            if single
            else {"histtype": "step", "color": color, "lw": 1.3}
        )
        a.hist(v, bins=lin_edges, label=label, **kw)
        b.hist(v[v > 0], bins=log_edges, label=label, **kw)
        _kde_line(a, v, lin_edges, color, log=False)
        _kde_line(b, v[v > 0], log_edges, color, log=True)
    b.set_xscale("log")
    a.set_xlabel(f"summed synapse size per connection ({size_unit})")
    b.set_xlabel(f"summed synapse size per connection ({size_unit}, log scale)")
    for ax in (a, b):
        ax.set_ylabel("connections (pairs of cells)")
        _integer_axis(ax.yaxis)
        ax.legend(fontsize=8, frameon=False, loc="best")
    _despine(a, b)
    fig.tight_layout()
    return _save(fig, out)


# ---------------------------------------------------------------- type x type
def plot_type_by_type(
    m: ConnectivityMatrix,
    out: str | os.PathLike[str],
    *,
    prop: str = "cell_type",
    weight: str = "probability",
) -> Path:
    """The type-by-type matrix (see :func:`connectoscope.connectome.type_by_type`) with the
    values written in the cells and a colour bar naming the weight."""
    plt = _plt()
    t = m.type_by_type(prop, weight=weight)
    fig, ax = plt.subplots(figsize=(1.8 + 0.6 * t.shape[1], 1.2 + 0.5 * t.shape[0]))
    im = ax.imshow(t.to_numpy(np.float64), cmap="magma", aspect="auto")
    ax.set_xticks(range(t.shape[1]), [str(c) for c in t.columns], rotation=45, ha="right")
    ax.set_yticks(range(t.shape[0]), [str(r) for r in t.index])
    ax.set_xlabel(f"postsynaptic {prop}")
    ax.set_ylabel(f"presynaptic {prop}")
    vals = t.to_numpy(np.float64)
    hi = np.nanmax(vals) if np.isfinite(vals).any() else 1.0
    for i in range(t.shape[0]):
        for j in range(t.shape[1]):
            v = vals[i, j]
            txt = f"{v:.3f}" if weight in ("probability", "mean_count") else f"{v:.0f}"
            ax.text(
                j,
                i,
                txt,
                ha="center",
                va="center",
                fontsize=7,
                color="black" if v > 0.6 * hi else "white",
            )
    label = {
        "probability": "connection probability (connected pairs / possible pairs)",
        "count": "synapses",
        "pairs": "connected pairs",
        "sum": "summed synapse size",
        "mean_count": "mean synapses per connected pair",
    }.get(weight, weight)
    fig.colorbar(im, ax=ax, label=label)
    return _save(fig, out)
