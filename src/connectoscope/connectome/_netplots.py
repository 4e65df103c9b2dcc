"""Figures of the network analyses (:mod:`._network`), in the look of the MICrONS
connectomics tutorial's figures (:mod:`._plots`): white background, no top/right spines,
every axis labelled with its unit, every colour in a legend, the counts behind each point
given (n), PNG / SVG / PDF by the file suffix, written atomically.

* :func:`plot_distance_probability`: connection probability against soma distance, one
  panel per presynaptic group, one line per postsynaptic group, the confidence interval as
  a band;
* :func:`plot_motifs`: the triad census observed vs the null model (mean and standard
  deviation), and the z-scores, with the reciprocity;
* :func:`plot_common_neighbours`: connection probability against the number of common
  neighbours, observed (with its interval) and in the null model, above the tested pairs.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InvalidParameterError
from ._plots import _despine, _integer_axis, _plt, _save, _tab20

__all__ = ["plot_common_neighbours", "plot_distance_probability", "plot_motifs"]

OBSERVED = "black"
NULL = "darkgrey"


def plot_distance_probability(
    table: pd.DataFrame,
    out: str | os.PathLike[str],
    *,
    max_groups: int = 8,
    title: str | None = None,
) -> Path:
    """Connection probability against soma-soma distance (a table of
    :func:`~connectoscope.connectome.distance_probability`): one panel per presynaptic
    group, a line per postsynaptic group with its confidence band; at most ``max_groups``
    groups per side (the most tested ones), the others named in the title.

    Returns
    -------
    Path
        The figure.
    """
    need = {"pre", "post", "distance_low", "distance_high", "tested", "probability"}
    if not need <= set(table.columns):
        raise InvalidParameterError(
            f"expected a distance_probability table with {sorted(need)}, got {list(table.columns)}"
        )
    plt = _plt()
    t = table.copy()
    t["mid_um"] = (t["distance_low"] + t["distance_high"]) / 2 / 1000.0
    pre_rank = t.groupby("pre")["tested"].sum().sort_values(ascending=False)
    post_rank = t.groupby("post")["tested"].sum().sort_values(ascending=False)
    pres = list(pre_rank.index[:max_groups])
    posts = list(post_rank.index[:max_groups])
    colors = _tab20(sorted(posts, key=str))
    ncol = min(4, len(pres)) or 1
    nrow = max(1, math.ceil(len(pres) / ncol))
    fig, axes = plt.subplots(
        nrow,
        ncol,
        figsize=(3.4 * ncol + 1.6, 2.9 * nrow + 0.6),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    top = 0.0
    for ax, pre in zip(axes.flat, pres):
        for post in posts:
            s = t[(t["pre"] == pre) & (t["post"] == post)].sort_values("mid_um")
            if s.empty:
                continue
            c = colors[post]
            ax.plot(s["mid_um"], s["probability"], "-o", color=c, ms=2.5, lw=1.2, label=str(post))
            if "ci_low" in s:
                ax.fill_between(s["mid_um"], s["ci_low"], s["ci_high"], color=c, alpha=0.18, lw=0)
                top = max(top, float(np.nanmax(s["ci_high"])))
            else:
                top = max(top, float(s["probability"].max()))
        n = int(t.loc[t["pre"] == pre, "tested"].sum())
        ax.set_title(f"from {pre} (n = {n:,} pairs)", fontsize=9, loc="left")
        _despine(ax)
    for ax in axes.flat[len(pres) :]:
        ax.set_visible(False)
    for ax in axes[-1, :]:
        ax.set_xlabel("soma distance (µm)")
    for ax in axes[:, 0]:
        ax.set_ylabel("connection probability")
    axes[0, 0].set_ylim(0, top * 1.05 if top > 0 else 1)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    conf = table.attrs.get("confidence", 0.95)
    fig.legend(
        handles,
        labels,
        title=f"to (band: {conf:.0%} Wilson interval)",
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        frameon=False,
        fontsize=8,
        title_fontsize=8,
    )
    left_out = sorted(set(t["pre"]) - set(pres), key=str)
    heading = title or (
        f"connection probability by soma distance ({table.attrs.get('axes', 'xyz')})"
        + (f"; not shown: from {', '.join(map(str, left_out))}" if left_out else "")
    )
    fig.suptitle(heading, fontsize=10, x=0.02, ha="left")
    fig.tight_layout()
    return _save(fig, out)


def plot_motifs(
    table: pd.DataFrame, out: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """The triad census (a table of :func:`~connectoscope.connectome.motif_significance`):
    observed counts as bars, the null model's mean and standard deviation as points with
    error bars (log scale; the empty triad 003 left out), and the z-scores below.

    Returns
    -------
    Path
        The figure.
    """
    from ._netkernels import TRIAD_NAMES

    if not {"observed", "null_mean", "null_std", "z"} <= set(table.columns):
        raise InvalidParameterError("expected a motif_significance table")
    plt = _plt()
    names = [n for n in TRIAD_NAMES if n != "003"]
    t = table.loc[names]
    x = np.arange(len(names))
    fig, (ax, az) = plt.subplots(
        2, 1, figsize=(9.0, 6.2), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    obs = t["observed"].to_numpy(np.float64)
    ax.bar(x, np.where(obs > 0, obs, np.nan), color="steelblue", width=0.7, label="observed")
    ax.errorbar(
        x,
        t["null_mean"],
        yerr=t["null_std"],
        fmt="o",
        color=OBSERVED,
        ms=3.5,
        capsize=3,
        label=f"null model: mean ± sd of {table.attrs.get('n_null', '?')} graphs",
    )
    ax.set_yscale("log")
    ax.set_ylabel("triads")
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    rec = table.loc["reciprocity"] if "reciprocity" in table.index else None
    heading = title or "triad census"
    if rec is not None:
        heading += (
            f"; reciprocity {rec['observed']:.4f} (null {rec['null_mean']:.4f} ± "
            f"{rec['null_std']:.4f}, z = {rec['z']:.1f})"
        )
    attrs = table.attrs
    if "n_vertices" in attrs:
        heading += f"\n{attrs['n_vertices']:,} cells, {attrs['n_edges']:,} connections"
        heading += f", {attrs.get('null', 'configuration')} null model, seed {attrs['seed']}"
    ax.set_title(heading, fontsize=9, loc="left")
    z = t["z"].to_numpy(np.float64)
    az.bar(x, np.nan_to_num(z), color=np.where(z > 0, "firebrick", "royalblue"), width=0.7)
    for lim in (-2, 2):
        az.axhline(lim, color=NULL, lw=0.8, ls="--")
    az.axhline(0, color="black", lw=0.6)
    az.set_yscale("symlog", linthresh=2.0, linscale=0.5)
    top = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 2.0
    ticks = [v for v in (2, 10, 100, 1000, 10_000, 100_000, 1_000_000) if v <= max(top, 2) * 1.01]
    az.set_yticks([-v for v in ticks[::-1]] + [0] + ticks)
    az.set_yticklabels([f"{-v:,}" for v in ticks[::-1]] + ["0"] + [f"{v:,}" for v in ticks])
    for xi in x[~np.isfinite(z)]:
        az.text(xi, 0, "no null\nspread", ha="center", va="bottom", fontsize=7, color="dimgrey")
    az.set_ylabel("z-score (symmetric log)")
    az.set_xticks(x, names, rotation=45)
    az.set_xlabel(
        "triad type (Holland & Leinhardt); z = (observed - null mean) / null sd, dashed: |z| = 2"
    )
    _despine(ax, az)
    fig.tight_layout()
    return _save(fig, out)


def plot_common_neighbours(
    table: pd.DataFrame,
    out: str | os.PathLike[str],
    *,
    min_pairs: int = 20,
    title: str | None = None,
) -> Path:
    """Connection probability against common neighbours (a table of
    :func:`~connectoscope.connectome.common_neighbour_bias`): observed with its interval,
    the null model's mean ± sd as a band (points with fewer than ``min_pairs`` tested pairs
    left out of the top panel); the tested pairs below (log scale).

    Returns
    -------
    Path
        The figure.
    """
    if not {"tested", "probability", "null_probability"} <= set(table.columns):
        raise InvalidParameterError("expected a common_neighbour_bias table")
    plt = _plt()
    full = table
    table = table[table["tested"] >= min_pairs]
    k = table.index.to_numpy()
    fig, (ax, an) = plt.subplots(
        2, 1, figsize=(7.0, 5.8), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}
    )
    mean = table["null_probability"].to_numpy(np.float64)
    sd = np.nan_to_num(table["null_std"].to_numpy(np.float64))
    ax.fill_between(k, mean - sd, mean + sd, color=NULL, alpha=0.35, lw=0, label="null model ± sd")
    ax.plot(k, mean, color=NULL, lw=1.2)
    ax.errorbar(
        k,
        table["probability"],
        yerr=[table["probability"] - table["ci_low"], table["ci_high"] - table["probability"]],
        fmt="o-",
        color=OBSERVED,
        ms=3,
        lw=1,
        capsize=2,
        label=f"observed (95 % Wilson interval; points of >= {min_pairs} pairs)",
    )
    ax.set_ylabel("connection probability")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    attrs = full.attrs
    heading = title or "common-neighbour bias"
    if "population" in attrs:
        heading += (
            f": ordered pairs of {attrs['population']:,} cells, neighbours among "
            f"{attrs['n_vertices']:,}; {attrs['n_null']} null graphs ({attrs.get('null', '')})"
        )
    ax.set_title(heading, fontsize=9, loc="left")
    an.bar(full.index.to_numpy(), full["tested"], color="steelblue", width=0.8)
    an.set_yscale("log")
    an.set_ylabel("pairs")
    an.set_xlabel("common neighbours (cells connected to both, either direction)")
    _integer_axis(an.xaxis)
    _despine(ax, an)
    fig.tight_layout()
    return _save(fig, out)
