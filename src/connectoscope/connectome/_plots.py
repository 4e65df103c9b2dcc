"""Connectome figures (matplotlib, Agg): heatmaps sorted by type with side bars, histograms.

Large matrices are rasterised by binning pairs into at most ``max_pixels`` rows and columns
(a 2,275 x 63,718 matrix renders in about a second).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ._matrix import ConnectivityMatrix

__all__ = ["plot_heatmap", "plot_size_histograms", "plot_synapses_per_connection"]


def _figure(**kw: Any) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(**kw)


def _save(fig: Any, out: str | os.PathLike[str]) -> Path:
    import matplotlib.pyplot as plt

    p = Path(out)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return p


def plot_heatmap(
    m: ConnectivityMatrix,
    out: str | os.PathLike[str],
    *,
    weight: str = "binary",
    sort_by: str | None = None,
    max_pixels: int = 1200,
) -> Path:
    """Matrix heatmap (rows pre, columns post), optionally sorted by a vertex property with
    coloured side bars and a legend. ``weight``: ``binary``, ``count``, ``sum`` or ``log_sum``."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    c = (
        m.condensed
        if weight in ("binary", "count")
        else m.compress(("log_sum", "size_sum", "count"))
    )
    pi = c["pre_idx"].to_numpy()
    qi = c["post_idx"].to_numpy()
    vals = {
        "binary": np.ones(len(c)),
        "count": c["count"].to_numpy(np.float64),
    }.get(weight)
    if vals is None:
        vals = (
            c["log_sum"].to_numpy() if weight == "log_sum" else c["size_sum"].to_numpy(np.float64)
        )
    n_pre, n_post = m.shape
    pre_rank = np.arange(n_pre)
    post_rank = np.arange(n_post)
    pre_labels = post_labels = None
    if sort_by is not None:
        perm, pre_labels = m.sort_by(sort_by, "pre")
        pre_rank[perm] = np.arange(n_pre)
        perm2, post_labels = m.sort_by(sort_by, "post")
        post_rank[perm2] = np.arange(n_post)
    rows = min(n_pre, max_pixels)
    cols = min(n_post, max_pixels)
    r = (pre_rank[pi] * rows) // max(n_pre, 1)
    k = (post_rank[qi] * cols) // max(n_post, 1)
    img = np.zeros((rows, cols))
    np.maximum.at(img, (r, k), vals)
    fig = plt.figure(figsize=(8, 7))
    ax = fig.add_axes((0.12, 0.08, 0.72, 0.8))
    im = ax.imshow(
        np.ma.masked_equal(img, 0),
        aspect="auto",
        interpolation="nearest",
        cmap="Greys" if weight == "binary" else "viridis",
    )
    ax.set_xlabel(f"postsynaptic ({n_post})")
    ax.set_ylabel(f"presynaptic ({n_pre})")
    fig.suptitle(
        f"connectivity ({weight}){'' if sort_by is None else f', sorted by {sort_by}'}", y=0.97
    )
    if weight != "binary":
        fig.colorbar(
            im, ax=ax, fraction=0.04, label={"log_sum": "log10 summed size"}.get(weight, weight)
        )
    if sort_by is not None and pre_labels is not None and post_labels is not None:
        cats = sorted(set(pre_labels) | set(post_labels))
        cmap = plt.get_cmap("tab20", max(len(cats), 1))
        color = {cat: cmap(i) for i, cat in enumerate(cats)}
        left = fig.add_axes((0.09, 0.08, 0.02, 0.8), sharey=ax)
        top = fig.add_axes((0.12, 0.89, 0.72, 0.02), sharex=ax)
        lbar = np.array([color[pre_labels[int(i * n_pre / rows)]] for i in range(rows)])[:, None, :]
        tbar = np.array([color[post_labels[int(j * n_post / cols)]] for j in range(cols)])[
            None, :, :
        ]
        left.imshow(lbar, aspect="auto", interpolation="nearest")
        top.imshow(tbar, aspect="auto", interpolation="nearest")
        for a in (left, top):
            a.set_xticks([])
            a.set_yticks([])
        left.set_ylabel(f"presynaptic ({n_pre})")
        ax.set_ylabel("")
        ax.tick_params(labelleft=False)
        ax.legend(
            handles=[Patch(color=color[cat], label=cat) for cat in cats],
            loc="upper left",
            bbox_to_anchor=(1.12, 1.0),
            fontsize=7,
            title=sort_by,
        )
    return _save(fig, out)


def plot_synapses_per_connection(
    m: ConnectivityMatrix, out: str | os.PathLike[str], *, split_by: str | None = None
) -> Path:
    """Histogram of synapses per connection; ``split_by="broad_type"`` draws E->E and I->E
    (pre type -> excitatory targets) side by side, as in the MICrONS tutorial."""
    c = m.condensed
    fig, ax = _figure(figsize=(6, 4))
    if split_by is None:
        counts = c["count"].to_numpy()
        ax.hist(counts, bins=np.arange(1, counts.max() + 2) - 0.5, color="0.3")
    else:
        pre_t = m.pre_vertices[split_by].astype(str).to_numpy()[c["pre_idx"].to_numpy()]
        post_t = m.post_vertices[split_by].astype(str).to_numpy()[c["post_idx"].to_numpy()]
        target = sorted(set(post_t))[0] if "excitatory" not in set(post_t) else "excitatory"
        series = []
        for t in sorted(set(pre_t)):
            sel = (pre_t == t) & (post_t == target)
            if sel.any():
                series.append((f"{t} -> {target}", c["count"].to_numpy()[sel]))
        top = max((s.max() for _, s in series), default=1)
        ax.hist(
            [s for _, s in series],
            bins=np.arange(1, top + 2) - 0.5,
            label=[n for n, _ in series],
            density=True,
        )
        ax.legend()
    ax.set_xlabel("synapses per connection")
    ax.set_ylabel("connections" if split_by is None else "fraction of connections")
    return _save(fig, out)


def plot_size_histograms(m: ConnectivityMatrix, out: str | os.PathLike[str]) -> Path:
    """Summed synapse size per connection on linear and log axes."""
    c = m.compress(("size_sum",))
    s = c["size_sum"].to_numpy()
    fig, (a, b) = _figure(ncols=2, figsize=(9, 3.5))
    a.hist(s, bins=50, color="0.3")
    a.set_xlabel("summed size per connection")
    a.set_ylabel("connections")
    pos = s[s > 0]
    if pos.size:
        b.hist(
            pos, bins=np.logspace(np.log10(pos.min()), np.log10(pos.max()) + 1e-9, 50), color="0.3"
        )
        b.set_xscale("log")
    b.set_xlabel("summed size per connection (log)")
    return _save(fig, out)
