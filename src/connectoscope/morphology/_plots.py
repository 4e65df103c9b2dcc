"""2-D projections of skeletons coloured by compartment or any feature, synapses overlaid."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InvalidParameterError
from ._skeleton import COMPARTMENTS, Skeleton

__all__ = ["plot_skeleton"]

_AXES = {"xy": (0, 1), "xz": (0, 2), "zy": (2, 1)}


def plot_skeleton(
    skel: Skeleton,
    out: str | os.PathLike[str],
    *,
    view: str = "xy",
    color_by: str = "compartment",
    synapses_nm: np.ndarray | None = None,
    synapse_values: np.ndarray | None = None,
    synapse_label: str = "",
    invert_y: bool = False,
    scale_bar_um: float | None = None,
) -> Path:
    """Draw one projection (``xy``, ``xz``, ``zy``) with equal aspect and a scale bar.

    ``color_by``: ``compartment`` (categorical) or any per-vertex feature or
    ``distance_to_root``. ``invert_y`` puts depth pointing down.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    if view not in _AXES:
        raise InvalidParameterError(f"view must be xy, xz or zy, got {view!r}")
    a, b = _AXES[view]
    v = skel.vertices / 1000.0  # µm
    has = np.flatnonzero(skel.parent >= 0)
    segs = np.stack([v[has][:, [a, b]], v[skel.parent[has]][:, [a, b]]], axis=1)
    fig, ax = plt.subplots(figsize=(6, 6))
    if color_by == "compartment":
        comp = skel.features["compartment"][has]
        cmap = plt.get_cmap("tab10")
        colors = [cmap(int(c) % 10) for c in comp]
        lc = LineCollection(list(segs), colors=colors, linewidths=0.8)
        for c in np.unique(comp):
            ax.plot(
                [], [], color=cmap(int(c) % 10), label=COMPARTMENTS.get(int(c), f"custom {int(c)}")
            )
        ax.legend(loc="best", fontsize=7)
    else:
        vals = (
            skel.distance_to_root if color_by == "distance_to_root" else skel.features.get(color_by)
        )
        if vals is None:
            raise InvalidParameterError(
                f"no feature {color_by!r}; features: compartment, distance_to_root, {', '.join(skel.features)}"
            )
        lc = LineCollection(
            list(segs), array=np.asarray(vals, float)[has], cmap="viridis", linewidths=0.8
        )
        fig.colorbar(lc, ax=ax, label=color_by)
    ax.add_collection(lc)
    if synapses_nm is not None and len(synapses_nm):
        s = np.asarray(synapses_nm) / 1000.0
        sc = ax.scatter(s[:, a], s[:, b], c=synapse_values, s=4, cmap="plasma", zorder=3)
        if synapse_values is not None:
            fig.colorbar(sc, ax=ax, label=synapse_label)
    ax.autoscale()
    ax.set_aspect("equal")
    ax.set_xlabel(f"{'xyz'[a]} (µm)")
    ax.set_ylabel(f"{'xyz'[b]} (µm)")
    if invert_y:
        ax.invert_yaxis()
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    bar = scale_bar_um or float(10 ** np.floor(np.log10(max((x1 - x0) / 5, 1e-9))))
    ax.plot(
        [x0 + 0.05 * (x1 - x0), x0 + 0.05 * (x1 - x0) + bar],
        [y0 + 0.05 * (y1 - y0)] * 2,
        "k-",
        lw=3,
    )
    ax.text(x0 + 0.05 * (x1 - x0), y0 + 0.08 * (y1 - y0), f"{bar:g} µm", fontsize=8)
    ax.set_title(skel.name)
    p = Path(out)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return p
