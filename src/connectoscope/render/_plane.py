"""Coloured EM planes: grey through a level curve, segment colours modulating the grey."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InvalidParameterError
from .colors import id_colors, parse_color

if TYPE_CHECKING:  # pragma: no cover
    from ..dataset import Dataset

__all__ = ["apply_levels", "parse_levels", "render_dataset_plane", "render_plane", "save_png"]


def parse_levels(items: Sequence[str]) -> list[tuple[float, float]]:
    """``["95,0", "120,0.9", "234,1"]`` -> ``[(95, 0), (120, 0.9), (234, 1)]``."""
    out = []
    for it in items:
        try:
            a, b = (float(v) for v in it.split(","))
        except ValueError:
            raise InvalidParameterError(
                f"--levels {it!r}: expected LEVEL,BRIGHTNESS pairs such as 95,0 120,0.9 234,1"
            ) from None
        if not 0 <= b <= 1:
            raise InvalidParameterError(f"--levels {it!r}: brightness must be within 0-1")
        out.append((a, b))
    if sorted(out) != out:
        raise InvalidParameterError("--levels must be given in increasing level order")
    return out


def apply_levels(grey: np.ndarray, levels: Sequence[tuple[float, float]] | None) -> np.ndarray:
    """Piecewise-linear brightness curve (ChimeraX ``volume level`` nodes), float 0-1.

    Between nodes the brightness is interpolated; below the first node it is the first
    node's brightness, above the last node the last one's. Without nodes: grey / 255.
    """
    g = grey.astype(np.float32)
    if not levels:
        hi = 255.0 if grey.dtype == np.uint8 else float(max(1, grey.max()))
        return np.clip(g / hi, 0, 1)
    xs = np.array([p[0] for p in levels], np.float32)
    ys = np.array([p[1] for p in levels], np.float32)
    return np.interp(g, xs, ys).astype(np.float32)


def render_plane(
    grey: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    colors: np.ndarray | None = None,
    levels: Sequence[tuple[float, float]] | None = None,
) -> np.ndarray:
    """Colour one EM plane.

    Parameters
    ----------
    grey : (H, W) uint8/uint16
        EM values.
    labels : (H, W) int, optional
        Segment (or object) ids; 0 stays plain grey.
    colors : (H, W, 3) uint8, optional
        Colour per pixel (overrides the stable per-id colours of ``labels``); black = none.
    levels : list of (level, brightness), optional

    Returns
    -------
    (H, W, 3) uint8
    """
    b = apply_levels(grey, levels)[..., None]
    if colors is None and labels is not None:
        uniq, inv = np.unique(labels, return_inverse=True)
        pal = id_colors(uniq)
        pal[uniq == 0] = 0
        colors = pal[inv.reshape(labels.shape)]
    rgb = np.repeat(b, 3, axis=-1)
    if colors is not None:
        has = colors.any(axis=-1, keepdims=True)
        rgb = np.where(has, b * colors.astype(np.float32) / 255.0, rgb)
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def render_dataset_plane(
    dataset: Dataset,
    axis: str,
    index: int,
    *,
    level: int = 0,
    by: Sequence[tuple[str, str]] | None = None,
    levels: Sequence[tuple[float, float]] | None = None,
) -> np.ndarray:
    """Render plane ``axis=index`` of a dataset at ``level``.

    ``by``: ``[("axon", "lime"), ("dendrite", "red"), ("spinehead", "blue")]`` colours
    segments by object kind (later entries win); without it each segment gets its stable
    colour; with no segmentation layer, plain grey.
    """
    grey = dataset.image.read_plane(axis, index, level=level)
    labels = (
        dataset.segmentation.read_plane(axis, index, level=level)
        if dataset.has_layer("segmentation")
        else None
    )
    colors = None
    if by and labels is not None:
        maps = dataset.objects
        colors = np.zeros((*labels.shape, 3), np.uint8)
        for kind, colour in by:
            rgb = np.array(parse_color(colour)) * 255
            hit = maps.lookup(kind, labels) != 0
            colors[hit] = np.round(rgb).astype(np.uint8)
    return render_plane(grey, None if by else labels, colors=colors, levels=levels)


def save_png(rgb: np.ndarray, out: str | os.PathLike[str]) -> Path:
    """Write an ``(H, W, 3)`` uint8 image as PNG."""
    from PIL import Image

    p = Path(out)
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(p)
    return p
