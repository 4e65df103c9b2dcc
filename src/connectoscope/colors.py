"""Colours: names (CSS/X11, as ChimeraX accepts) and hex, and one perceptual palette shared by
the pictures, movies and the viewer.

:data:`PALETTE` is 64 sRGB colours picked greedily so that each new colour is as far as
possible (CIEDE2000) from every earlier one and from white, black and greys (the picture
backgrounds and the EM), among colours of CIELAB lightness 35-80 and chroma of at least 30.
The first twelve differ pairwise by more than 25 units, the first 32 by more than 14 (a
just-noticeable difference is about 2). Three ways to use it:

* :func:`id_colors`: a colour per id, ``PALETTE[(id - 1) % 64]``: stable across runs and
  machines; ids 1-64 (neurons of a synthetic or small dataset) all differ.
* :func:`group_colors`: colours for a set of objects shown together (``--each neuron``):
  ids up to 64 keep their :func:`id_colors` colour; larger ids (segment ids of real data) take
  the palette in the order of the sorted ids, so up to 64 objects always get 64 different
  colours. The pictures and the viewer call it with the same ids and so agree.
* :func:`neighbour_colors`: thousands of segments in a plane: a greedy colouring of the
  touching pairs from the first 32 palette colours, each segment trying its own
  :func:`id_colors` colour first, so that no two touching segments share a colour.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np

from .errors import InvalidParameterError

__all__ = [
    "GREY",
    "PALETTE",
    "color_difference",
    "group_colors",
    "id_colors",
    "neighbour_colors",
    "parse_color",
    "to_hex",
]

# fmt: off
_PALETTE_HEX = (
    "#3c0fff", "#b40000", "#ff3cff", "#00e100", "#006900", "#ff7800", "#e1c300", "#a51e69",
    "#6987ff", "#f06978", "#785a00", "#00a587", "#00d2f0", "#f0b4e1", "#789600", "#005a96",
    "#8769a5", "#0087a5", "#b4872d", "#a5694b", "#b4c387", "#ffb496", "#b4c3ff", "#ff1e00",
    "#b40fd2", "#0fe1a5", "#4bb4ff", "#f01e96", "#007869", "#d21e4b", "#ffb44b", "#0f963c",
    "#b487f0", "#873c3c", "#785af0", "#b4d21e", "#78783c", "#c378a5", "#783c87", "#e1785a",
    "#4b4ba5", "#784b2d", "#78d2c3", "#0f87d2", "#4b5a00", "#78a578", "#4b784b", "#a55a69",
    "#ffa5b4", "#c36900", "#b4a54b", "#d2a578", "#0069f0", "#a54b00", "#5ab42d", "#2d9696",
    "#ff78d2", "#c34b3c", "#8787c3", "#c35ac3", "#96d2a5", "#ff003c", "#d2b4ff", "#e1c378",
)
# fmt: on

#: ``(64, 3)`` uint8: the shared categorical palette (see the module docstring).
PALETTE = np.array([[int(h[i : i + 2], 16) for i in (1, 3, 5)] for h in _PALETTE_HEX], np.uint8)
PALETTE.setflags(write=False)

#: Colour of id 0 and of "no object" (uint8 RGB).
GREY = (160, 160, 160)

#: :func:`neighbour_colors` draws from this many palette entries.
NEIGHBOUR_COLORS = 32


def parse_color(text: str) -> tuple[float, float, float]:
    """``"yellow"``, ``"lime"``, ``"#ff0"``, ``"#00ff00"`` -> ``(r, g, b)`` floats in 0-1.

    Raises
    ------
    InvalidParameterError
        Unknown names, with the closest known names.
    """
    from PIL import ImageColor  # the 148 CSS4 names, as ChimeraX and matplotlib know them

    t = text.strip().lower()
    if t.startswith("#") and len(t) == 4:
        t = "#" + "".join(c * 2 for c in t[1:])
    names = ImageColor.colormap
    if t in names or (t.startswith("#") and len(t) == 7):
        try:
            r, g, b = ImageColor.getrgb(t)[:3]
            return (r / 255.0, g / 255.0, b / 255.0)
        except ValueError:
            pass
    close = difflib.get_close_matches(t, list(names), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise InvalidParameterError(
        f"unknown colour {text!r}{hint} Use a CSS colour name (yellow, lime, red, blue, grey...) "
        "or hex such as #ff8800"
    )


def to_hex(rgb: Sequence[int] | np.ndarray) -> str:
    """``(r, g, b)`` uint8 -> ``"#rrggbb"``."""
    r, g, b = (int(v) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def id_colors(ids: np.ndarray) -> np.ndarray:
    """A stable colour per id: ``(N, 3)`` uint8, ``PALETTE[(id - 1) % 64]``; id 0 is grey.

    >>> id_colors(np.array([1, 1, 2]))[0].tolist() == id_colors(np.array([1]))[0].tolist()
    True
    >>> id_colors(np.array([1, 2])).tolist()
    [[60, 15, 255], [180, 0, 0]]
    """
    a = np.asarray(ids).reshape(-1).astype(np.uint64)
    idx = ((a - np.uint64(1)) % np.uint64(len(PALETTE))).astype(np.intp)
    out = PALETTE[idx]
    out[a == 0] = GREY
    return out


def group_colors(ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """Colours of objects shown together, in the order given: ``(N, 3)`` uint8.

    When every id is 1-64 each keeps its :func:`id_colors` colour (so "neuron 3" is the same
    colour in every picture); otherwise the palette is dealt out in the order of the sorted
    distinct ids, so up to 64 objects are all different.
    """
    a = np.asarray(ids).reshape(-1).astype(np.uint64)
    if a.size == 0:
        return np.zeros((0, 3), np.uint8)
    if int(a.max()) <= len(PALETTE) and int(a.min()) >= 1:
        return id_colors(a)
    uniq, inv = np.unique(a, return_inverse=True)
    return PALETTE[np.arange(len(uniq)) % len(PALETTE)][inv]


def neighbour_colors(ids: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Colours such that no two touching segments share one: ``(N, 3)`` uint8.

    Parameters
    ----------
    ids : (N,) int
        Segment ids (0 gets grey).
    pairs : (P, 2) int
        Indices into ``ids`` of touching segments (either order, repeats allowed).

    Notes
    -----
    Segments are coloured in id order; each takes its own :func:`id_colors` entry of the
    first 32 palette colours when no coloured neighbour has it, else the next free entry. A
    segment with 32 or more coloured neighbours reuses its own entry.
    """
    ids = np.asarray(ids).reshape(-1).astype(np.uint64)
    n = ids.size
    k = NEIGHBOUR_COLORS
    pref = ((ids - np.uint64(1)) % np.uint64(k)).astype(np.int64)
    p = np.asarray(pairs, np.int64).reshape(-1, 2)
    p = p[p[:, 0] != p[:, 1]]
    both = np.concatenate([p, p[:, ::-1]])
    both = both[np.lexsort((both[:, 1], both[:, 0]))] if both.size else both.reshape(0, 2)
    starts = np.searchsorted(both[:, 0], np.arange(n + 1)) if n else np.zeros(1, np.int64)
    choice = _greedy(np.argsort(ids, kind="stable"), pref, starts, both[:, 1].copy(), k)
    out = PALETTE[choice]
    out[ids == 0] = GREY
    return out


def _greedy(
    order: np.ndarray, pref: np.ndarray, starts: np.ndarray, nbrs: np.ndarray, k: int
) -> np.ndarray:
    choice = np.full(pref.size, -1, np.int64)
    for i in order.tolist():
        taken = {int(c) for c in choice[nbrs[starts[i] : starts[i + 1]]].tolist() if c >= 0}
        c = int(pref[i])
        for step in range(k):
            cand = (c + step) % k
            if cand not in taken:
                c = cand
                break
        choice[i] = c
    return choice


def color_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between uint8 sRGB colours ``a`` and ``b`` (``(..., 3)``).

    About 2 is just noticeable; categorical palettes aim for 20 or more between neighbours.
    """
    from skimage.color import deltaE_ciede2000, rgb2lab

    a8, b8 = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    shape = a8.shape[:-1]
    la = rgb2lab(a8.reshape(-1, 1, 3) / 255.0)[:, 0]
    lb = rgb2lab(b8.reshape(-1, 1, 3) / 255.0)[:, 0]
    return np.asarray(deltaE_ciede2000(la, lb)).reshape(shape)
