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

from .._atomic import write_with
from ..errors import InvalidParameterError
from ._neuron import _mesh_vertices
from ._skeleton import COMPARTMENTS, Skeleton

if TYPE_CHECKING:  # pragma: no cover
    from ._neuron import Neuron

__all__ = ["FIGURES", "plot_neuron", "plot_skeleton"]

_AXES = {"xy": (0, 1), "xz": (0, 2), "zy": (2, 1), "yz": (1, 2), "zx": (2, 0), "yx": (1, 0)}
# fixed colours per SWC compartment so every figure reads the same
_COMP_COLORS = {
    0: "#9e9e9e",
    1: "#000000",
    2: "#d62728",
    3: "#1f77b4",
    4: "#9467bd",
    5: "#2ca02c",
    6: "#ff7f0e",
}
FIGURES = ("compartments", "synapses", "dendrite_distance")


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
        ax.scatter(v[soma, a], v[soma, b], s=30, color="black", zorder=4, label="_soma")
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
    fmt = p.suffix[1:].lower() or "png"
    try:  # a temporary name renamed when complete: never half a figure under the name
        write_with(p, lambda tmp: fig.savefig(tmp, format=fmt, dpi=110, bbox_inches="tight"))
    finally:
        plt.close(fig)
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
    ybar = y0 + 0.05 * (y1 - y0)
    ax.plot([x0 + 0.05 * width, x0 + 0.05 * width + bar], [ybar, ybar], "k-", lw=3, zorder=4)
    ax.text(x0 + 0.05 * width, y0 + 0.09 * (y1 - y0), f"{bar:g} {uname}", fontsize=8)


def plot_neuron(
    neuron: Neuron,
    out: str | os.PathLike[str],
    *,
    figure: str = "compartments",
    views: Sequence[str] = ("xy", "zy", "xz"),
    invert_y: bool = False,
    frame: Any = None,
    mask: str = "compartment != axon",
    show_mesh: bool = True,
) -> Path:
    """The tutorial's figures for one neuron, one panel per view.

    Parameters
    ----------
    figure : {"compartments", "synapses", "dendrite_distance"}
        ``compartments``: skeleton coloured by compartment. ``synapses``: outputs (red)
        and inputs (blue) overlaid on the grey skeleton. ``dendrite_distance``: the
        dendrite-only mask (``mask``, default ``compartment != axon``) coloured by path
        distance to the soma, its inputs coloured on the same scale.
    frame : FrameTransform, optional
        Draw in this frame (e.g. :func:`connectoscope.transform.minnie65_transform`, with
        ``invert_y=True`` for depth down).
    mask : str
        :meth:`Neuron.vertex_mask` expression for ``dendrite_distance``.
    show_mesh : bool
        Draw the neuron's mesh (masked like the skeleton) as a light grey silhouette.
    """
    plt = _plt()
    if figure not in FIGURES:
        raise InvalidParameterError(f"figure must be one of {', '.join(FIGURES)}, got {figure!r}")
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
    tf = (lambda p: frame.apply(p)) if frame is not None else (lambda p: p)
    if frame is not None:
        sk = frame.apply_skeleton(sk)
    fig, axes = plt.subplots(1, len(views), figsize=(5.2 * len(views), 5.2), squeeze=False)
    for ax, view in zip(axes[0], views):
        common = {"ax": ax, "view": view, "invert_y": invert_y, "title": f"{nrn.name} {view}"}
        if show_mesh and nrn.mesh is not None:
            _draw_mesh(ax, nrn.mesh, view, tf, _unit(sk)[0])
        if figure == "compartments":
            plot_skeleton(sk, **common)
        elif figure == "synapses":
            sk_grey = _with_compartment(sk, 0)
            plot_skeleton(sk_grey, linewidth=0.6, legend=False, **common)
            for kind, color in (("inputs", "#1f77b4"), ("outputs", "#d62728")):
                t = getattr(nrn, kind)
                if len(t):
                    plot_skeleton_points(
                        ax,
                        sk,
                        tf(t[["x_nm", "y_nm", "z_nm"]].to_numpy()),
                        view,
                        color,
                        f"{kind} ({len(t)})",
                    )
            ax.legend(loc="best", fontsize=7, markerscale=2)
        else:
            d = sk.features["distance_to_soma"]
            t = nrn.inputs
            plot_skeleton(
                sk,
                color_by="distance_to_soma",
                synapses_nm=tf(t[["x_nm", "y_nm", "z_nm"]].to_numpy()) if len(t) else None,
                synapse_values=t["distance_to_root_nm"].to_numpy() / 1000.0 if len(t) else None,
                vmin=0.0,
                vmax=float(np.max(d)) / 1000.0,
                **common,
            )
    p = Path(out)
    fig.tight_layout()
    fmt = p.suffix[1:].lower() or "png"
    try:
        write_with(p, lambda tmp: fig.savefig(tmp, format=fmt, dpi=100, bbox_inches="tight"))
    finally:
        plt.close(fig)
    return p


def plot_skeleton_points(
    ax: Any, skel: Skeleton, pts: np.ndarray, view: str, color: str, label: str
) -> None:
    """Scatter points (skeleton coordinates) onto an axes drawn by :func:`plot_skeleton`."""
    a, b = _AXES[view]
    f, _ = _unit(skel)
    s = np.asarray(pts, float) * f
    ax.scatter(s[:, a], s[:, b], s=5, color=color, label=label, zorder=3, edgecolors="none")


def _draw_mesh(ax: Any, mesh: Any, view: str, tf: Any, f: float) -> None:
    from matplotlib.collections import PolyCollection

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
