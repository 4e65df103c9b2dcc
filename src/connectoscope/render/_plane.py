"""Coloured EM planes: grey through a level curve, segment colours modulating the grey."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._atomic import write_with
from .._store import Store
from ..colors import id_colors, parse_color
from ..errors import InvalidParameterError
from ..segmentation import ObjectMaps
from ..volume import VolumeLayer

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


def _palette_index(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, index)``: the distinct ids (uint64; ``ids[0]`` is 0, present or not) and,
    per pixel, the position of its id in ``ids`` (same shape as ``labels``)."""
    import fastremap

    lab = np.ascontiguousarray(labels)
    index, mapping = fastremap.renumber(lab, preserve_zero=True, in_place=False)
    ids = np.zeros(int(max(mapping.values(), default=0)) + 1, np.uint64)
    for orig, new in mapping.items():
        ids[int(new)] = orig
    return ids, np.asarray(index)


#: Largest (grey value x palette entry) table built for uint8 EM (bytes).
_LUT_BYTES = 2**26


def _shade(
    grey: np.ndarray,
    levels: Sequence[tuple[float, float]] | None,
    pal: np.ndarray | None = None,
    has: np.ndarray | None = None,
    index: np.ndarray | None = None,
) -> np.ndarray:
    """Plain pixels ``round(b * 255)``, coloured ones ``round(b * colour)``, with ``b`` the
    brightness of each grey value.

    ``pal`` ``(n, 3)`` uint8 colours, ``has`` ``(n,)`` which entries colour, ``index``
    ``(H, W)`` palette entry per pixel. uint8 EM goes through one ``[grey, entry]`` table.
    """
    if grey.dtype == np.uint8:
        b = np.clip(apply_levels(np.arange(256, dtype=np.uint8), levels), 0, 1)
        plain = np.round(b * 255).astype(np.uint8)
        if pal is None or has is None or index is None:
            return np.repeat(plain[grey][..., None], 3, axis=-1)
        if 256 * len(pal) * 3 <= _LUT_BYTES:
            shaded = np.round(b[:, None, None] * pal[None].astype(np.float32)).astype(np.uint8)
            lut = np.where(has[None, :, None], shaded, plain[:, None, None])
            return lut[grey, index]  # type: ignore[no-any-return]
        table = np.round(b[:, None] * np.arange(256, dtype=np.float32)[None, :]).astype(np.uint8)
        cols = pal[index]
        out = table.ravel()[(grey.astype(np.intp) << 8)[..., None] | cols]
        return np.where(has[index][..., None], out, plain[grey][..., None])
    bf = apply_levels(grey, levels)[..., None]
    rgb = np.repeat(bf, 3, axis=-1)
    if pal is not None and has is not None and index is not None:
        cols = pal[index].astype(np.float32) / 255.0
        rgb = np.where(has[index][..., None], bf * cols, rgb)
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


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
        Segment (or object) ids; 0 stays plain grey. Each id gets its stable colour
        (:func:`~connectoscope.render.id_colors`).
    colors : (H, W, 3) uint8, optional
        Colour per pixel (overrides the per-id colours of ``labels``); black = none.
    levels : list of (level, brightness), optional
        ChimeraX ``volume level`` nodes (see :func:`apply_levels`).

    Returns
    -------
    (H, W, 3) uint8
        Plain pixels ``round(b * 255)`` grey, coloured ones ``round(b * colour)``, with
        ``b`` the brightness (0-1) of the grey value.
    """
    grey = np.asarray(grey)
    if colors is not None:
        c = np.ascontiguousarray(colors, np.uint8)
        flat = c.reshape(-1, 3)
        code = (
            (flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2]
        )
        uniq, inv = np.unique(code, return_inverse=True)
        pal = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=1)
        return _shade(grey, levels, pal.astype(np.uint8), uniq != 0, inv.reshape(grey.shape))
    if labels is None:
        return _shade(grey, levels)
    ids, index = _palette_index(labels)
    pal = id_colors(ids)
    return _shade(grey, levels, pal, ids != 0, index)


def render_dataset_plane(
    dataset: Store,
    axis: str,
    index: int,
    *,
    level: int = 0,
    by: Sequence[tuple[str, str]] | None = None,
    levels: Sequence[tuple[float, float]] | None = None,
) -> np.ndarray:
    """Render plane ``axis=index`` of a dataset at ``level``.

    Parameters
    ----------
    dataset : Store
    axis : {"z", "y", "x"}
    index : int
        Plane index, voxels of ``level``.
    level : int
    by : list of (kind, colour), optional
        ``[("axon", "lime"), ("dendrite", "red"), ("spinehead", "blue")]`` colours segments
        by object kind (later entries win); without it each segment gets its stable colour;
        with no segmentation layer, plain grey.
    levels : list of (level, brightness), optional

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` uint8: ``z`` -> ``[y, x]``, ``y`` -> ``[z, x]``, ``x`` -> ``[z, y]``.
    """
    grey = VolumeLayer(dataset, "image").read_plane(axis, index, level=level)
    labels = (
        VolumeLayer(dataset, "segmentation").read_plane(axis, index, level=level)
        if dataset.has_layer("segmentation")
        else None
    )
    if not by or labels is None:
        return render_plane(grey, labels, levels=levels)
    rgbs = [
        (kind, np.round(np.array(parse_color(colour)) * 255).astype(np.uint8))
        for kind, colour in by
    ]
    maps = ObjectMaps.from_store(dataset)
    ids, idx = _palette_index(labels)
    pal = np.zeros((len(ids), 3), np.uint8)
    hit = np.zeros(len(ids), bool)
    for kind, rgb in rgbs:
        h = (maps.lookup(kind, ids) != 0) & (ids != 0)
        pal[h] = rgb
        hit |= h
    return _shade(np.asarray(grey), levels, pal, hit, idx)


def save_png(rgb: np.ndarray, out: str | os.PathLike[str]) -> Path:
    """Write an ``(H, W, 3)`` uint8 image as PNG."""
    from PIL import Image

    p = Path(out)
    fmt = Image.registered_extensions().get(p.suffix.lower(), "PNG")
    return write_with(p, lambda tmp: Image.fromarray(rgb).save(tmp, format=fmt))
