"""Colours: names (CSS/X11, as ChimeraX accepts) and hex, and stable colours per id."""

from __future__ import annotations

import difflib

import numpy as np

from .errors import InvalidParameterError

__all__ = ["id_colors", "parse_color"]


def parse_color(text: str) -> tuple[float, float, float]:
    """``"yellow"``, ``"lime"``, ``"#ff0"``, ``"#00ff00"`` -> ``(r, g, b)`` floats in 0-1.

    Raises
    ------
    InvalidParameterError
        Unknown names, with the closest known names.
    """
    from matplotlib import colors as mcolors

    t = text.strip().lower()
    if t.startswith("#") and len(t) == 4:
        t = "#" + "".join(c * 2 for c in t[1:])
    names = mcolors.CSS4_COLORS
    if t in names or t.startswith("#"):
        try:
            r, g, b = mcolors.to_rgb(names.get(t, t))
            return (float(r), float(g), float(b))
        except ValueError:
            pass
    close = difflib.get_close_matches(t, list(names), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise InvalidParameterError(
        f"unknown colour {text!r}{hint} Use a CSS colour name (yellow, lime, red, blue, grey...) "
        "or hex such as #ff8800"
    )


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def id_colors(ids: np.ndarray) -> np.ndarray:
    """A stable, saturated colour per id: ``(N, 3)`` uint8, identical across runs/platforms.

    >>> id_colors(np.array([1, 1, 2]))[0].tolist() == id_colors(np.array([1]))[0].tolist()
    True
    """
    h = _splitmix64(np.asarray(ids).reshape(-1))
    hue = (h & np.uint64(0xFFFF)).astype(np.float64) / 65536.0
    sat = 0.55 + 0.45 * ((h >> np.uint64(16)) & np.uint64(0xFF)).astype(np.float64) / 255.0
    val = 0.75 + 0.25 * ((h >> np.uint64(24)) & np.uint64(0xFF)).astype(np.float64) / 255.0
    from matplotlib.colors import hsv_to_rgb

    rgb = hsv_to_rgb(np.stack([hue, sat, val], axis=-1))
    return np.round(rgb * 255).astype(np.uint8)
