"""2-D projections of skeletons and neurons (matplotlib): coloured by compartment or any
feature, synapses overlaid, scale bar, equal aspect, depth axis down when asked.

Coordinates are drawn in µm when the skeleton is in nm, or in the skeleton's own unit
(``meta["unit"]``) when it was moved into a frame such as the minnie65 standard transform.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidParameterError
from ._skeleton import COMPARTMENTS, Skeleton

if TYPE_CHECKING:  # pragma: no cover
    from ._neuron import Neuron

__all__ = ["FIGURES", "plot_neuron", "plot_skeleton"]

_AXES = {"xy": (0, 1), "xz": (0, 2), "zy": (2, 1), "yz": (1, 2), "zx": (2, 0), "yx": (1, 0)}
# fixed colours per SWC compartment so every figure reads the same (the MICrONS tutorial's:
# soma navy, axon tomato, dendrite black)
_COMP_COLORS = {
    0: "#b0b0b0",
    1: "navy",
    2: "tomato",
    3: "black",
    4: "darkgoldenrod",
    5: "seagreen",
    6: "darkorange",
}
#: Synapse target structures (tutorial figure 11).
TARGET_COLORS = {"spine": "deeppink", "shaft": "gold", "soma": "cyan"}
#: Outputs and inputs (tutorial figures 9 and 10).
OUTPUT_COLOR, INPUT_COLOR, OTHER_COLOR = "darkviolet", "teal", "lightgrey"
FIGURES = ("compartments", "synapses", "known", "targets", "dendrite_distance")
#: Partner id columns looked for in the input (presynaptic partner) and output tables.
PARTNER_COLUMNS = {
    "inputs": ("pre_pt_root_id", "pre_root_id", "pre", "pre_id", "partner"),
    "outputs": ("post_pt_root_id", "post_root_id", "post", "post_id", "partner"),
}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _unit(skel: Skeleton) -> tuple[float, str]:
    u = str(skel.meta.get("unit", "nm"))
    return (1 / 1000.0, "µm") if u == "nm" else (1.0, u)


def plot_skeleton(
    skel: Skeleton,
    out: str | os.PathLike[str] | None = None,
    *,
    ax: Any = None,
    view: str = "xy",
    color_by: str = "compartment",
    synapses_nm: np.ndarray | None = None,
    synapse_values: np.ndarray | None = None,
    synapse_color: str | None = None,
    synapse_label: str = "",
    invert_y: bool = False,
    scale_bar_um: float | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
    linewidth: float = 0.8,
    legend: bool = True,
) -> Any:
    """Draw one projection with equal aspect and a scale bar.

    Parameters
    ----------
    skel : Skeleton
    out : path, optional
        Write a PNG/SVG/PDF here and return its path; otherwise draw into ``ax`` (or a new
        figure) and return the axes.
    view : {"xy", "xz", "zy", ...}
        Horizontal then vertical axis.
    color_by : str
        ``compartment`` (fixed colours per SWC code, legend), ``distance_to_root`` or any
        per-vertex feature (colour bar, in µm for distances in nm).
    synapses_nm : (S, 3) float, optional
        Points in the skeleton's coordinates, drawn on top.
    synapse_values : (S,) float, optional
        Colour the points by value (shares the skeleton's colour scale when ``color_by``
        is a feature); else ``synapse_color``.
    invert_y : bool
        Vertical axis pointing down (cortical depth).
    scale_bar_um : float, optional
        Length of the scale bar in display units (default: a round tenth of the width).
    """
    plt = _plt()
    from matplotlib.collections import LineCollection

    if view not in _AXES:
        raise InvalidParameterError(f"view must be one of {', '.join(_AXES)}, got {view!r}")
    a, b = _AXES[view]
    f, uname = _unit(skel)
    v = skel.vertices * f
    has = np.flatnonzero(skel.parent >= 0)
    segs = np.stack([v[has][:, [a, b]], v[skel.parent[has]][:, [a, b]]], axis=1)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6, 6))
    fig = ax.figure
    mappable = None
    if color_by == "compartment":
        comp = skel.features["compartment"][has]
        colors = [_COMP_COLORS.get(int(c), "#8c564b") for c in comp]
        lc = LineCollection(list(segs), colors=colors, linewidths=linewidth)
        for c in np.unique(skel.features["compartment"]) if legend else []:
            ax.plot(
                [],
                [],
                color=_COMP_COLORS.get(int(c), "#8c564b"),
                label=COMPARTMENTS.get(int(c), f"custom {int(c)}"),
            )
    else:
        if color_by == "distance_to_root":
            vals = skel.distance_to_root
        elif color_by in skel.features:
            vals = np.asarray(skel.features[color_by], float)
        else:
            raise InvalidParameterError(
                f"no feature {color_by!r}; features: compartment, distance_to_root, {', '.join(skel.features)}"
            )
        # distance_to_root is in vertex units; distance_* features are nm (from Neuron)
        is_dist = color_by.startswith("distance")
        fd, dname = (f, uname) if color_by == "distance_to_root" else (1 / 1000.0, "µm")
        vals = np.asarray(vals, float) * (fd if is_dist else 1.0)
        lc = LineCollection(list(segs), array=vals[has], cmap="viridis", linewidths=linewidth)
        lc.set_clim(
            vmin if vmin is not None else float(np.nanmin(vals)) if vals.size else 0,
            vmax if vmax is not None else float(np.nanmax(vals)) if vals.size else 1,
        )
        mappable = lc
        fig.colorbar(lc, ax=ax, label=f"{color_by} ({dname})" if is_dist else color_by, shrink=0.7)
    ax.add_collection(lc)
    soma = np.flatnonzero(skel.features["compartment"] == 1)
    if soma.size and legend:  # the soma as a dot (a root has no edge to draw)
        ax.scatter(v[soma, a], v[soma, b], s=30, color=_COMP_COLORS[1], zorder=4, label="_soma")
    if synapses_nm is not None and len(synapses_nm):
        s = np.asarray(synapses_nm, float) * f
        if synapse_values is not None:
            sv = np.asarray(synapse_values, float)
            kw: dict[str, Any] = {"c": sv, "cmap": "viridis" if mappable is not None else "plasma"}
            if mappable is not None:
                kw.update(vmin=mappable.get_clim()[0], vmax=mappable.get_clim()[1])
            sc = ax.scatter(s[:, a], s[:, b], s=5, zorder=3, edgecolors="none", **kw)
            if mappable is None:
                fig.colorbar(sc, ax=ax, label=synapse_label, shrink=0.7)
        else:
            ax.scatter(
                s[:, a],
                s[:, b],
                s=5,
                zorder=3,
                color=synapse_color or "#e377c2",
                label=synapse_label or None,
                edgecolors="none",
            )
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=7, markerscale=2)
    ax.autoscale()
    ax.set_aspect("equal")
    ax.set_xlabel(f"{'xyz'[a]} ({uname})")
    ax.set_ylabel(f"{'xyz'[b]} ({uname})")
    if invert_y:
        ax.invert_yaxis()
    _scale_bar(ax, scale_bar_um, uname)
    ax.set_title(skel.name if title is None else title, fontsize=9)
    if out is None:
        return ax
    p = Path(out)
    _save_fig(fig, p, dpi=130)
    return p


def _scale_bar(ax: Any, length: float | None, uname: str) -> None:
    x0, x1 = sorted(ax.get_xlim())
    y0, y1 = ax.get_ylim()
    width = x1 - x0
    if length:
        bar = float(length)
    else:  # 1, 2 or 5 times a power of ten, about a fifth of the width
        target = max(width / 5, 1e-9)
        k = 10 ** np.floor(np.log10(target))
        bar = float(max(m * k for m in (1, 2, 5) if m * k <= target))
    import matplotlib.patheffects as pe

    # bottom right, over a white halo so that it reads on top of the data
    lo, hi = sorted((y0, y1))
    up = 1.0 if y1 > y0 else -1.0  # an inverted axis (depth down) puts "bottom" at y0
    ybar = (lo if up > 0 else hi) + up * 0.04 * (hi - lo)
    xr = x1 - 0.04 * width
    halo = [pe.withStroke(linewidth=6, foreground="white")]
    ax.plot([xr - bar, xr], [ybar, ybar], "k-", lw=3, zorder=7, path_effects=halo)
    ax.text(
        xr - bar / 2,
        ybar + up * 0.025 * (hi - lo),
        f"{bar:g} {uname}",
        fontsize=8,
        ha="center",
        va="bottom",
        zorder=7,
        bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1.0},
    )


def plot_neuron(
    neuron: Neuron,
    out: str | os.PathLike[str],
    *,
    figure: str = "compartments",
    views: Sequence[str] | None = None,
    invert_y: bool = False,
    frame: Any = None,
    mask: str = "compartment != axon",
    show_mesh: bool = True,
    known: Any = None,
) -> Path:
    """The MICrONS tutorial's figures 8-12 for one neuron.

    Parameters
    ----------
    figure : {"compartments", "synapses", "known", "targets", "dendrite_distance"}
        ``compartments`` (figure 8): one panel per view (default ``xy`` and ``zy``), the
        skeleton coloured by compartment (soma navy, axon tomato, dendrite black, legend).
        ``synapses`` (9): outputs (dark violet) and inputs (teal) in two panels over the
        skeleton, with their counts. ``known`` (10): the same, every synapse grey and those
        whose partner is in ``known`` coloured. ``targets`` (11): outputs and inputs coloured
        by target structure (spine deep pink, shaft gold, soma cyan, other light grey).
        ``dendrite_distance`` (12): the dendrite-only skeleton (``mask``, default
        ``compartment != axon``) and, beside it, its inputs coloured by path distance to the
        soma (coolwarm, colour bar in µm).
    views : list of str, optional
        Projections (``xy``, ``zy``, ``xz``...): the panels of ``compartments``; the first
        is used by the two-panel figures. Default ``("xy", "zy")``.
    frame : FrameTransform, optional
        Draw in this frame (e.g. :func:`connectoscope.transform.minnie65_transform`, with
        ``invert_y=True`` for depth down).
    mask : str
        :meth:`Neuron.vertex_mask` expression for ``dendrite_distance``.
    show_mesh : bool
        Draw the neuron's mesh (masked like the skeleton) as a light grey silhouette.
    known : iterable of int, optional
        ``known``: partner ids counted as known cells (a cell table's ids); the partner is
        the first of ``pre_pt_root_id``, ``pre``... (inputs) or ``post_pt_root_id``,
        ``post``... (outputs) in the synapse tables.
    """
    plt = _plt()
    if figure not in FIGURES:
        raise InvalidParameterError(f"figure must be one of {', '.join(FIGURES)}, got {figure!r}")
    views = list(views) if views else ["xy", "zy"]
    for v in views:
        if v not in _AXES:
            raise InvalidParameterError(f"view must be one of {', '.join(_AXES)}, got {v!r}")
    if figure == "known" and known is None:
        raise InvalidParameterError(
            "figure 'known' needs the known cells' ids (known=...; CLI: --known cells.csv)"
        )
    nrn = neuron
    if figure == "dendrite_distance":
        keep = nrn.vertex_mask(mask)
        if not keep.any():
            raise InvalidParameterError(
                f"{nrn.name or 'neuron'}: no vertex satisfies {mask!r}; label compartments "
                "first (label_axon_dendrite, or an SWC with types)"
            )
        nrn = nrn.masked(keep)
    sk = nrn.skeleton

    def tf(p: np.ndarray) -> np.ndarray:
        return frame.apply(p) if frame is not None else p

    if frame is not None:
        sk = frame.apply_skeleton(sk)
    name = nrn.name or "neuron"
    if figure == "compartments":
        panels = [(v, f"{name}: projection {v}") for v in views]
    elif figure == "dendrite_distance":
        panels = [
            (views[0], f"{name}: dendrite only (mask {mask})"),
            (views[0], f"{name}: inputs by distance to the soma"),
        ]
    else:
        panels = [(views[0], f"{name}: output synapses"), (views[0], f"{name}: input synapses")]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.4 * len(panels), 5.4), squeeze=False)
    for i, (ax, (view, title)) in enumerate(zip(axes[0], panels)):
        common = {"ax": ax, "view": view, "invert_y": invert_y, "title": title}
        if show_mesh and nrn.mesh is not None:
            _draw_mesh(ax, nrn.mesh, view, tf, _unit(sk)[0])
        if figure == "compartments":
            plot_skeleton(sk, **common)
            continue
        if figure == "dendrite_distance":
            if i == 0:
                plot_skeleton(sk, **common)
            else:
                _distance_panel(ax, nrn, sk, tf, common)
            continue
        kind = "outputs" if i == 0 else "inputs"
        plot_skeleton(sk, linewidth=0.6, **common)
        t = getattr(nrn, kind)
        pts = tf(t[["x_nm", "y_nm", "z_nm"]].to_numpy()) if len(t) else np.zeros((0, 3))
        colour = OUTPUT_COLOR if kind == "outputs" else INPUT_COLOR
        if figure == "synapses":
            _points(ax, sk, pts, view, colour, f"{kind} ({len(t):,} total)")
        elif figure == "known":
            hit = _known_mask(t, kind, known)
            _points(ax, sk, pts[~hit], view, OTHER_COLOR, f"{kind} ({len(t):,} total)")
            word = "to" if kind == "outputs" else "from"
            _points(ax, sk, pts[hit], view, colour, f"{int(hit.sum()):,} {word} known cells")
        else:
            tg = t["target"].astype(str).str.lower().to_numpy() if len(t) else np.zeros(0, str)
            for label, c in (*TARGET_COLORS.items(), ("other", OTHER_COLOR)):
                sel = (
                    np.isin(tg, list(TARGET_COLORS), invert=True)
                    if label == "other"
                    else tg == label
                )
                if sel.any():
                    _points(ax, sk, pts[sel], view, c, f"{label} ({int(sel.sum()):,})")
        ax.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.1),
            ncol=3,
            fontsize=7,
            markerscale=3,
            title=kind,
            frameon=False,
        )
    p = Path(out)
    fig.tight_layout()
    _save_fig(fig, p, dpi=130)
    return p


def _save_fig(fig: Any, p: Path, *, dpi: int) -> None:
    from .._atomic import atomic_path

    plt = _plt()
    try:
        with atomic_path(p) as tmp:
            fig.savefig(tmp, format=p.suffix[1:].lower() or "png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)


def _points(ax: Any, sk: Skeleton, pts: np.ndarray, view: str, color: str, label: str) -> None:
    a, b = _AXES[view]
    f, _ = _unit(sk)
    s = np.asarray(pts, float).reshape(-1, 3) * f
    ax.scatter(s[:, a], s[:, b], s=6, color=color, label=label, zorder=5, edgecolors="none")


def _known_mask(t: Any, kind: str, known: Any) -> np.ndarray:
    if not len(t):
        return np.zeros(0, bool)
    col = next((c for c in PARTNER_COLUMNS[kind] if c in t.columns), None)
    if col is None:
        raise InvalidParameterError(
            f"figure 'known': the {kind} table has no partner id column (looked for "
            f"{', '.join(PARTNER_COLUMNS[kind])}; columns: {', '.join(map(str, t.columns))})"
        )
    ids = np.asarray(list(known), dtype=np.int64)
    return np.isin(t[col].to_numpy().astype(np.int64), ids)


def _distance_panel(ax: Any, nrn: Neuron, sk: Skeleton, tf: Any, common: dict[str, Any]) -> None:
    """Figure 12 right: the masked skeleton in grey, its inputs coloured by path distance to
    the soma (coolwarm), with a colour bar in µm."""
    view = common["view"]
    plot_skeleton(_with_compartment(sk, 0), linewidth=0.6, legend=False, **common)
    t = nrn.inputs
    if not len(t):
        return
    a, b = _AXES[view]
    f, _ = _unit(sk)
    s = tf(t[["x_nm", "y_nm", "z_nm"]].to_numpy()) * f
    d = t["distance_to_root_nm"].to_numpy(float) / 1000.0
    sc = ax.scatter(
        s[:, a], s[:, b], c=d, cmap="coolwarm", s=8, zorder=5, edgecolors="none", vmin=0
    )
    ax.figure.colorbar(sc, ax=ax, label="path distance to the soma (µm)", shrink=0.7)


def _draw_mesh(ax: Any, mesh: Any, view: str, tf: Any, f: float) -> None:
    from matplotlib.collections import PolyCollection

    from ._neuron import _mesh_vertices

    v = tf(_mesh_vertices(mesh)) * f
    faces = np.asarray(mesh[1] if isinstance(mesh, tuple) else mesh.faces, np.int64)
    a, b = _AXES[view]
    tri = v[faces][:, :, [a, b]]
    ax.add_collection(
        PolyCollection(list(tri), facecolors="#bdbdbd", edgecolors="none", alpha=0.25, zorder=0)
    )


def _with_compartment(sk: Skeleton, code: int) -> Skeleton:
    from dataclasses import replace

    return replace(sk, features={**sk.features, "compartment": np.full(len(sk), code, np.int32)})
