"""Connectome figures (matplotlib, Agg; PNG or SVG by the file suffix).

* :func:`plot_heatmap`: the matrix (binary, count, sum or log-sum weights), optionally sorted
  by a vertex property with coloured side bars and a legend. Large matrices are rasterised
  by binning the pairs into at most ``max_pixels`` rows and columns (each pixel shows the
  largest weight in it), so a 2,275 x 63,718 matrix renders in about a second.
* :func:`plot_synapses_per_connection`: the multiplicity histogram, or E -> E vs I -> E.
* :func:`plot_size_histograms`: summed size per connection on linear and log axes.
* :func:`plot_somas`: soma positions coloured by a status, top and side views.
* :func:`plot_type_by_type`: the type-by-type matrix with the values written in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._atomic import write_with
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


def _plt() -> Any:
    import matplotlib

    if matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: str | os.PathLike[str]) -> Path:
    plt = _plt()
    p = Path(out)
    fmt = p.suffix[1:].lower() or "png"
    try:  # a temporary name renamed when complete: never half a figure under the name
        write_with(p, lambda tmp: fig.savefig(tmp, format=fmt, dpi=110, bbox_inches="tight"))
    finally:
        plt.close(fig)
    return p


def _colors(cats: list[Any]) -> dict[Any, Any]:
    plt = _plt()
    cmap = plt.get_cmap("tab10" if len(cats) <= 10 else "tab20")
    return {c: cmap(i % cmap.N) for i, c in enumerate(cats)}


def plot_heatmap(
    m: ConnectivityMatrix,
    out: str | os.PathLike[str],
    *,
    weight: str = "binary",
    sort_by: str | None = None,
    max_pixels: int = 1000,
    title: str | None = None,
) -> Path:
    """Matrix heatmap (rows pre, columns post).

    Parameters
    ----------
    m : ConnectivityMatrix
    out : path
        ``.png`` or ``.svg``.
    weight : {"binary", "count", "sum", "log_sum"}
        ``log_sum`` is log10 of the summed synapse size per pair.
    sort_by : str, optional
        Vertex property: rows and columns sorted by it, coloured side bars and a legend.
    max_pixels : int
        Rows and columns beyond this are binned (each pixel shows its largest weight).
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
        name = "size_sum" if weight == "sum" else "size_log_sum"
        c = m.condensed if (name in m.condensed) else m.aggregate((name,))
        vals = c[name].to_numpy(np.float64)
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
    masked = np.ma.masked_invalid(np.where(np.isneginf(grid), np.nan, grid))
    fig = plt.figure(figsize=(8.5, 7))
    ax = fig.add_axes((0.12, 0.08, 0.68, 0.8))
    im = ax.imshow(
        masked,
        aspect="auto",
        interpolation="nearest",
        cmap="Greys" if weight == "binary" else "viridis",
        vmin=0 if weight == "binary" else None,
        vmax=1 if weight == "binary" else None,
        extent=(0, n_post, n_pre, 0),
    )
    ax.set_xlabel(f"postsynaptic ({n_post})")
    ax.set_ylabel(f"presynaptic ({n_pre})")
    binned = "" if (nr == n_pre and nc == n_post) else f"; binned to {nr} x {nc} pixels"
    fig.suptitle(
        title
        or f"connectivity ({weight}){'' if sort_by is None else f', sorted by {sort_by}'}{binned}",
        y=0.97,
        fontsize=10,
    )
    if weight != "binary":
        label = {"log_sum": "log10 summed size", "sum": "summed size", "count": "synapses"}[weight]
        fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label=label)
    if sort_by is not None and pre_labels is not None and post_labels is not None:
        cats = sorted(set(pre_labels) | set(post_labels), key=str)
        color = _colors(cats)
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
        left.set_ylabel(f"presynaptic ({n_pre})")
        ax.set_ylabel("")
        ax.tick_params(labelleft=False)
        fig.legend(
            handles=[Patch(color=color[c], label=str(c)) for c in cats],
            loc="upper left",
            bbox_to_anchor=(0.86, 0.88),
            fontsize=7,
            title=sort_by,
        )
    return _save(fig, out)


def plot_synapses_per_connection(
    m: ConnectivityMatrix,
    out: str | os.PathLike[str],
    *,
    split_by: str | None = None,
    target: Any = None,
) -> Path:
    """Histogram of synapses per connection.

    ``split_by="broad_type"`` draws one normalised histogram per presynaptic group onto
    ``target`` postsynaptic cells (default ``excitatory``): E -> E and I -> E, as in the
    MICrONS tutorial.
    """
    plt = _plt()
    _, cols, counts = m._pair_index()
    fig, ax = plt.subplots(figsize=(6, 4))
    if split_by is None:
        top = int(counts.max()) if counts.size else 1
        ax.hist(counts, bins=np.arange(1, top + 2) - 0.5, color="0.3")
        ax.set_ylabel("connections")
        ax.set_yscale("log")
    else:
        rows = m._pair_index()[0]
        pre_t = m.pre_vertices[split_by].astype(object).to_numpy()[rows]
        post_t = m.post_vertices[split_by].astype(object).to_numpy()[cols]
        present = {x for x in post_t if x is not None and x == x}
        tgt = (
            target
            if target is not None
            else (
                "excitatory" if "excitatory" in present else (sorted(present, key=str) or [None])[0]
            )
        )
        series = []
        for t in sorted({x for x in pre_t if x is not None and x == x}, key=str):
            sel = (pre_t == t) & (post_t == tgt)
            if sel.any():
                series.append((f"{t} -> {tgt} ({int(sel.sum())} pairs)", counts[sel]))
        if not series:
            raise InvalidParameterError(f"no connections onto {split_by} = {tgt!r} to plot")
        top = max(int(s.max()) for _, s in series)
        ax.hist(
            [s for _, s in series],
            bins=np.arange(1, top + 2) - 0.5,
            label=[n for n, _ in series],
            density=True,
        )
        ax.set_yscale("log")
        ax.legend(fontsize=8)
        ax.set_ylabel("fraction of connections")
    ax.set_xlabel("synapses per connection")
    return _save(fig, out)


def plot_size_histograms(
    m: ConnectivityMatrix, out: str | os.PathLike[str], *, bins: int = 60
) -> Path:
    """Summed synapse size per connection, linear (left) and log (right) axes."""
    plt = _plt()
    c = m.condensed if "size_sum" in m.condensed else m.aggregate(("size_sum",))
    s = c["size_sum"].to_numpy(np.float64)
    fig, (a, b) = plt.subplots(ncols=2, figsize=(9, 3.5))
    a.hist(s, bins=bins, color="0.3")
    a.set_xlabel("summed size per connection")
    a.set_ylabel("connections")
    pos = s[s > 0]
    if pos.size:
        lo, hi = np.log10(pos.min()), np.log10(pos.max())
        b.hist(pos, bins=np.logspace(lo, hi + 1e-9, bins), color="0.3")
        b.set_xscale("log")
    b.set_xlabel("summed size per connection (log axis)")
    return _save(fig, out)


def _cell_frame(cells: ConnectivityMatrix | CellTable | pd.DataFrame) -> pd.DataFrame:
    if isinstance(cells, pd.DataFrame):
        return cells
    if hasattr(cells, "pre_vertices"):
        sq = cells.square()  # type: ignore[union-attr]
        return sq.pre_vertices
    return cells.df  # type: ignore[union-attr]


def plot_somas(
    cells: ConnectivityMatrix | CellTable | pd.DataFrame,
    out: str | os.PathLike[str],
    *,
    status: str = "status_axon",
) -> Path:
    """Soma positions coloured by ``status`` (for example proofreading), top view (x, z) and
    side view (x, y; y is cortical depth in MICrONS). Positions: ``x_nm, y_nm, z_nm``, or
    ``pt_position_x/y/z`` voxels."""
    plt = _plt()
    df = _cell_frame(cells)
    if all(f"{a}_nm" in df for a in "xyz"):
        pos, unit = df[["x_nm", "y_nm", "z_nm"]].to_numpy(np.float64) / 1000, "um"
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
    cats = sorted(set(lab[ok].tolist()))
    color = _colors(cats)
    fig, (top, side) = plt.subplots(ncols=2, figsize=(10, 4.5))
    for c in cats:
        sel = ok & (lab == c)
        top.scatter(pos[sel, 0], pos[sel, 2], s=4, color=color[c], label=f"{c} ({int(sel.sum())})")
        side.scatter(pos[sel, 0], pos[sel, 1], s=4, color=color[c])
    top.set_title("top view")
    top.set_xlabel(f"x ({unit})")
    top.set_ylabel(f"z ({unit})")
    side.set_title("side view")
    side.set_xlabel(f"x ({unit})")
    side.set_ylabel(f"y ({unit})")
    side.invert_yaxis()
    top.legend(title=status, fontsize=8, markerscale=3)
    return _save(fig, out)


def plot_type_by_type(
    m: ConnectivityMatrix,
    out: str | os.PathLike[str],
    *,
    prop: str = "cell_type",
    weight: str = "probability",
) -> Path:
    """The type-by-type matrix (see :func:`connectoscope.connectome.type_by_type`) with the
    values written in the cells."""
    plt = _plt()
    t = m.type_by_type(prop, weight=weight)
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * t.shape[1], 1.0 + 0.5 * t.shape[0]))
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
    fig.colorbar(im, ax=ax, label=weight)
    return _save(fig, out)
