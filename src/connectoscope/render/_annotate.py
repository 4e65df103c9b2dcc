"""Pictures with what a reader needs: a scale bar in nm or µm, a legend of the colours and a
caption, drawn in a white band under the image so that no data is hidden.

:class:`Picture` carries the image with its pixel size and legend; :meth:`Picture.annotated`
draws the band. Every plane, 3-D picture and movie frame of the CLI goes through it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["LegendEntry", "Picture", "nice_scale_bar", "save_png"]

#: A legend entry: label and uint8 RGB colour (None: a text-only line).
LegendEntry = tuple[str, tuple[int, int, int] | None]


def nice_scale_bar(width_nm: float, fraction: float = 0.2) -> tuple[float, str]:
    """A round scale-bar length (1, 2 or 5 times a power of ten, nm) of about ``fraction`` of
    ``width_nm``, and its label (``"500 nm"``, ``"2 µm"``).

    >>> nice_scale_bar(5120.0)
    (1000.0, '1 µm')
    >>> nice_scale_bar(1800.0)
    (200.0, '200 nm')
    """
    target = max(float(width_nm) * fraction, 1e-9)
    k = 10 ** math.floor(math.log10(target))
    length = max(m * k for m in (1, 2, 5) if m * k <= target * 1.0000001)
    if length >= 1000:
        return float(length), f"{length / 1000:g} µm"
    return float(length), f"{length:g} nm"


@lru_cache(maxsize=16)
def _font(size: int) -> Any:
    """DejaVu Sans (shipped with matplotlib) at ``size`` pixels, else Pillow's own font."""
    from PIL import ImageFont

    try:
        from matplotlib import font_manager

        return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)
    except ImportError:
        return ImageFont.load_default(size=size)


@dataclass
class Picture:
    """An image with what its annotations need.

    Attributes
    ----------
    rgb : (H, W, 3) uint8
        The image itself (no annotations).
    pixel_nm : float, optional
        Size of one pixel in nm (square pixels: true aspect); None when unknown (then no
        scale bar).
    legend : list of (label, (r, g, b) or None)
        Colour swatches with their meaning; ``None`` colour gives a text-only entry.
    caption : str
        One line under the legend (what the picture shows: plane, level, orientation).
    """

    rgb: np.ndarray
    pixel_nm: float | None = None
    legend: list[LegendEntry] = field(default_factory=list)
    caption: str = ""

    @property
    def scale_bar(self) -> tuple[float, str, int] | None:
        """``(length_nm, label, length_px)`` of the scale bar drawn, or None."""
        if not self.pixel_nm or self.pixel_nm <= 0:
            return None
        width_nm = self.rgb.shape[1] * self.pixel_nm
        length, label = nice_scale_bar(width_nm)
        return length, label, round(length / self.pixel_nm)

    def annotated(self, *, scale_bar: bool = True, legend: bool = True) -> np.ndarray:
        """The image with a white band below: legend swatches on the left, the scale bar (a
        black bar exactly ``length_nm / pixel_nm`` pixels long, label above it) on the
        right, the caption underneath. ``(H + band, W, 3)`` uint8."""
        from PIL import Image, ImageDraw

        h, w = self.rgb.shape[:2]
        fs = int(min(28, max(11, round(w / 60))))
        font = _font(fs)
        small = _font(max(9, int(fs * 0.8)))
        pad = max(4, fs // 2)
        sw = fs  # swatch edge
        bar = self.scale_bar if scale_bar else None
        bar_w = 0
        if bar is not None:
            bar_w = max(bar[2], int(font.getlength(bar[1]))) + 2 * pad
        # legend layout: rows of entries, wrapping before the scale bar's column
        entries = list(self.legend) if legend else []
        avail = max(w - bar_w - pad, w // 3)
        rows: list[list[tuple[int, LegendEntry]]] = [[]]
        x = pad
        for e in entries:
            ew = (sw + pad // 2 if e[1] is not None else 0) + int(font.getlength(e[0])) + 2 * pad
            if rows[-1] and x + ew > avail:
                rows.append([])
                x = pad
            rows[-1].append((x, e))
            x += ew
        n_rows = len(rows) if entries else 0
        line = fs + pad
        top = pad
        legend_h = n_rows * line
        bar_h = (fs + pad + max(3, fs // 3)) if bar is not None else 0
        cap_lines = _wrap(self.caption, small, w - 2 * pad) if self.caption else []
        cap_h = len(cap_lines) * (small.size + pad // 2) + (pad // 2 if cap_lines else 0)
        band = top + max(legend_h, bar_h) + cap_h + pad
        if band <= top + pad:
            return self.rgb.copy()
        img = Image.new("RGB", (w, h + band), "white")
        img.paste(Image.fromarray(np.ascontiguousarray(self.rgb[..., :3])), (0, 0))
        d = ImageDraw.Draw(img)
        y0 = h + top
        for r, row in enumerate(rows if entries else []):
            yy = y0 + r * line
            for xx, (label, rgb) in row:
                tx = xx
                if rgb is not None:
                    d.rectangle(
                        (xx, yy, xx + sw - 1, yy + sw - 1),
                        fill=tuple(int(v) for v in rgb),
                        outline=(60, 60, 60),
                    )
                    tx = xx + sw + pad // 2
                d.text((tx, yy + sw // 2), label, fill=(0, 0, 0), font=font, anchor="lm")
        if bar is not None:
            _, label, px = bar
            thick = max(3, fs // 3)
            bx1 = w - pad
            bx0 = bx1 - px
            by = y0 + fs + pad // 2
            d.rectangle((bx0, by, bx1 - 1, by + thick - 1), fill=(0, 0, 0))
            d.text(((bx0 + bx1) // 2, by - pad // 2), label, fill=(0, 0, 0), font=font, anchor="mb")
        cy = y0 + max(legend_h, bar_h) + pad // 2
        for text in cap_lines:
            d.text((pad, cy), text, fill=(70, 70, 70), font=small, anchor="lt")
            cy += small.size + pad // 2
        return np.asarray(img)

    def save(
        self, out: str | os.PathLike[str], *, annotate: bool = True, scale_bar: bool = True
    ) -> Path:
        """Write a PNG, annotated unless ``annotate`` is False."""
        return save_png(self.annotated(scale_bar=scale_bar) if annotate else self.rgb, out)


def _wrap(text: str, font: Any, width: int) -> list[str]:
    """Lines of ``text`` no wider than ``width`` pixels (breaking at spaces)."""
    lines: list[str] = []
    cur = ""
    for word in text.replace(" ", " \0").split("\0"):
        if cur and font.getlength(cur + word) > width:
            lines.append(cur.rstrip())
            cur = word
        else:
            cur += word
    if cur.strip():
        lines.append(cur.rstrip())
    return lines


def save_png(rgb: np.ndarray, out: str | os.PathLike[str]) -> Path:
    """Write an ``(H, W, 3)`` uint8 image, PNG unless the suffix names another format Pillow
    writes (``.jpg``, ``.tif``...); written to a temporary name, then renamed."""
    import io

    from PIL import Image

    from .._atomic import write_bytes_atomic

    p = Path(out)
    p.parent.mkdir(parents=True, exist_ok=True)
    fmt = Image.registered_extensions().get(p.suffix.lower(), "PNG")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format=fmt)
    write_bytes_atomic(p, buf.getvalue())
    return p
