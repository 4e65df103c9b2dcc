"""Coloured EM planes: grey through a level curve, segment colours tinting the grey, true
aspect in nm.

Shading (ChimeraX ``volume level`` + ``seg color ... map``): each EM value gets a brightness
``b`` (0-1) from the level curve; plain pixels are ``round(b * 255)`` grey; a coloured pixel
is ``round(b * (255 * (1 - opacity) + opacity * colour))``: the colour tints the EM, whose
texture stays visible. ``opacity=1`` is ChimeraX's own ``b * colour``.

Aspect: a plane through anisotropic voxels (``y`` and ``x`` planes of 11.24 x 11.24 x 28 nm
data) is resampled to square pixels of the finer axis (EM bilinear, labels nearest), so
every picture shows true proportions and a scale bar can be drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._store import Store
from ..colors import id_colors, neighbour_colors, parse_color
from ..errors import InvalidParameterError
from ..segmentation import ObjectMaps
from ..volume import VolumeLayer
from ._annotate import LegendEntry, Picture, save_png

__all__ = [
    "SegmentColors",
    "apply_levels",
    "auto_levels",
    "dataset_levels",
    "parse_levels",
    "plane_picture",
    "render_dataset_plane",
    "render_plane",
    "save_png",
    "segment_colors",
]

#: Default overlay opacity of segment colours over the EM.
DEFAULT_OPACITY = 0.5

#: ``(ids, colours)``: sorted uint64 segment ids and their ``(N, 3)`` uint8 colours.
SegmentColors = tuple[np.ndarray, np.ndarray]


def parse_levels(items: Sequence[str]) -> list[tuple[float, float]]:
    """``["95,0", "120,0.9", "234,1"]`` -> ``[(95, 0), (120, 0.9), (234, 1)]``."""
    out = []
    for it in items:
        try:
            a, b = (float(v) for v in it.split(","))
        except ValueError:
            raise InvalidParameterError(
                f"--levels {it!r}: expected LEVEL,BRIGHTNESS pairs such as 95,0 120,0.9 234,1 "
                "(or --levels auto)"
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
    node's brightness, above the last node the last one's. Without nodes: grey / 255
    (uint8) or grey / max.
    """
    g = grey.astype(np.float32)
    if not levels:
        hi = 255.0 if grey.dtype == np.uint8 else float(max(1, grey.max()))
        return np.clip(g / hi, 0, 1)
    xs = np.array([p[0] for p in levels], np.float32)
    ys = np.array([p[1] for p in levels], np.float32)
    return np.interp(g, xs, ys).astype(np.float32)


def auto_levels(
    values: np.ndarray, low: float = 0.5, high: float = 99.5
) -> list[tuple[float, float]]:
    """A contrast stretch: the ``low`` percentile black, the ``high`` percentile white.

    >>> auto_levels(np.arange(1001))
    [(5.0, 0.0), (995.0, 1.0)]
    """
    v = np.asarray(values).ravel()
    if v.size == 0:
        return [(0.0, 0.0), (255.0, 1.0)]
    lo, hi = (float(x) for x in np.percentile(v, [low, high]))
    if hi <= lo:
        hi = lo + 1.0
    return [(lo, 0.0), (hi, 1.0)]


#: :func:`dataset_levels` samples planes of the finest level with at most this many pixels.
_SAMPLE_PIXELS = 4_000_000


def dataset_levels(dataset: Store) -> list[tuple[float, float]]:
    """:func:`auto_levels` of the dataset's EM (the same curve for every plane and movie
    frame), measured on three z planes (at 1/4, 1/2 and 3/4 of the depth) of the finest level
    whose planes have at most 4 million pixels (a coarser level's averaging would narrow the
    histogram)."""
    img = VolumeLayer(dataset, "image")
    level = img.num_levels - 1
    for i in range(img.num_levels):
        _z, y, x = img.shape_zyx(i)
        if y * x <= _SAMPLE_PIXELS:
            level = i
            break
    nz = img.shape_zyx(level)[0]
    picks = sorted({min(nz - 1, max(0, round(nz * f))) for f in (0.25, 0.5, 0.75)})
    return auto_levels(np.stack([img.read_plane("z", int(k), level=level) for k in picks]))


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


def _touching(index: np.ndarray, n: int) -> np.ndarray:
    """Pairs ``(a, b)`` of palette entries whose pixels touch (4-neighbours, 0 left out)."""
    out = []
    for a, b in ((index[:, :-1], index[:, 1:]), (index[:-1, :], index[1:, :])):
        m = (a != b) & (a != 0) & (b != 0)
        if m.any():
            lo = np.minimum(a[m], b[m]).astype(np.int64)
            hi = np.maximum(a[m], b[m]).astype(np.int64)
            out.append(np.unique(lo * n + hi))
    if not out:
        return np.zeros((0, 2), np.int64)
    code = np.unique(np.concatenate(out))
    return np.stack([code // n, code % n], axis=1)


def segment_colors(planes: Sequence[np.ndarray]) -> SegmentColors:
    """Colours for every segment of ``planes`` (label images), no two touching segments (in
    any plane) alike: see :func:`connectoscope.colors.neighbour_colors`.

    Returns
    -------
    (ids, colours)
        Sorted uint64 ids (0 included) and ``(N, 3)`` uint8 colours.
    """
    uniq = np.unique(np.concatenate([np.unique(np.asarray(p)) for p in planes])).astype(np.uint64)
    if uniq.size == 0 or uniq[0] != 0:
        uniq = np.concatenate([np.zeros(1, np.uint64), uniq])
    n = len(uniq)
    pairs = []
    for p in planes:
        idx = np.searchsorted(uniq, np.asarray(p).astype(np.uint64))
        pairs.append(_touching(idx, n))
    return uniq, neighbour_colors(uniq, np.concatenate(pairs) if pairs else np.zeros((0, 2)))


def _lookup(table: SegmentColors, ids: np.ndarray) -> np.ndarray:
    tids, tcols = table
    pos = np.clip(np.searchsorted(tids, ids), 0, max(len(tids) - 1, 0))
    found = (tids[pos] == ids) if len(tids) else np.zeros(ids.shape, bool)
    out = id_colors(ids)
    out[found] = tcols[pos[found]]
    return out


#: Largest (grey value x palette entry) table built for uint8 EM (bytes).
_LUT_BYTES = 2**26


def _tint(pal: np.ndarray, opacity: float) -> np.ndarray:
    """Colour of a coloured pixel at full brightness: white mixed with the colour."""
    if not 0 <= opacity <= 1:
        raise InvalidParameterError(f"--opacity must be within 0-1, got {opacity:g}")
    t = 255.0 * (1.0 - opacity) + opacity * pal.astype(np.float32)
    return np.round(t).astype(np.uint8)


def _shade(
    grey: np.ndarray,
    levels: Sequence[tuple[float, float]] | None,
    pal: np.ndarray | None = None,
    has: np.ndarray | None = None,
    index: np.ndarray | None = None,
) -> np.ndarray:
    """Plain pixels ``round(b * 255)``, coloured ones ``round(b * colour)``, with ``b`` the
    brightness of each grey value.

    ``pal`` ``(n, 3)`` uint8 colours (already tinted), ``has`` ``(n,)`` which entries colour,
    ``index`` ``(H, W)`` palette entry per pixel. uint8 EM goes through one ``[grey, entry]``
    table.
    """
    if grey.dtype == np.uint8:
        b = np.clip(apply_levels(np.arange(256, dtype=np.uint8), levels), 0, 1)
        plain = np.round(b * 255).astype(np.uint8)
        if pal is None or has is None or index is None:
            return np.repeat(plain[grey][..., None], 3, axis=-1)
        if 256 * len(pal) * 3 <= _LUT_BYTES:
            shaded = np.round(b[:, None, None] * pal[None].astype(np.float32)).astype(np.uint8)
            lut = np.where(has[None, :, None], shaded, plain[:, None, None])
            return lut[grey, index]
        table = np.round(b[:, None] * np.arange(256, dtype=np.float32)[None, :]).astype(np.uint8)
        cols = pal[index]
        out = table.ravel()[(grey.astype(np.intp) << 8)[..., None] | cols]
        return np.where(has[index][..., None], out, plain[grey][..., None])
    bf = np.clip(apply_levels(grey, levels), 0, 1)[..., None]
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
    opacity: float = DEFAULT_OPACITY,
    segment_table: SegmentColors | None = None,
) -> np.ndarray:
    """Colour one EM plane (pixel for voxel; see :func:`plane_picture` for true aspect).

    Parameters
    ----------
    grey : (H, W) uint8/uint16/float
        EM values.
    labels : (H, W) int, optional
        Segment (or object) ids; 0 stays plain grey. Touching segments get different
        colours of the shared palette (:func:`segment_colors`), unless ``segment_table``
        says otherwise.
    colors : (H, W, 3) uint8, optional
        Colour per pixel (overrides ``labels``); black = none.
    levels : list of (level, brightness), optional
        ChimeraX ``volume level`` nodes (see :func:`apply_levels`).
    opacity : float
        0-1: how strongly colours tint the EM (1: ChimeraX's ``b * colour``).
    segment_table : (ids, colours), optional
        Fixed colours per segment id (a movie keeps them across frames); ids missing from
        it get :func:`~connectoscope.colors.id_colors`.

    Returns
    -------
    (H, W, 3) uint8
        Plain pixels ``round(b * 255)`` grey, coloured ones
        ``round(b * (255 * (1 - opacity) + opacity * colour))``, with ``b`` the brightness
        (0-1) of the grey value.
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
        return _shade(
            grey,
            levels,
            _tint(pal.astype(np.uint8), opacity),
            uniq != 0,
            inv.reshape(grey.shape),
        )
    if labels is None:
        return _shade(grey, levels)
    ids, index = _palette_index(labels)
    if segment_table is None:
        pal = neighbour_colors(ids, _touching(index, len(ids)))
    else:
        pal = _lookup(segment_table, ids)
    return _shade(grey, levels, _tint(pal, opacity), ids != 0, index)


_PLANE_AXES = {"z": ("y", "x"), "y": ("z", "x"), "x": ("z", "y")}


def _resample(arr: np.ndarray, shape: tuple[int, int], *, nearest: bool) -> np.ndarray:
    """``arr`` (H, W) resized to ``shape`` with pixel centres aligned (nearest or bilinear)."""
    if arr.shape == shape:
        return arr
    if nearest:
        r = np.minimum(((np.arange(shape[0]) + 0.5) * arr.shape[0] / shape[0]).astype(np.intp),
                       arr.shape[0] - 1)  # fmt: skip
        c = np.minimum(((np.arange(shape[1]) + 0.5) * arr.shape[1] / shape[1]).astype(np.intp),
                       arr.shape[1] - 1)  # fmt: skip
        return arr[r[:, None], c[None, :]]
    from PIL import Image

    if arr.dtype == np.uint8:
        im = Image.fromarray(np.ascontiguousarray(arr), mode="L")
        return np.asarray(im.resize((shape[1], shape[0]), Image.Resampling.BILINEAR))
    im = Image.fromarray(np.ascontiguousarray(arr, np.float32), mode="F")
    out = np.asarray(im.resize((shape[1], shape[0]), Image.Resampling.BILINEAR))
    return out.astype(np.float32)


def _kind_palette(
    dataset: Store, ids: np.ndarray, by: Sequence[tuple[str, str]]
) -> tuple[np.ndarray, np.ndarray, list[LegendEntry]]:
    rgbs = [
        (kind, np.round(np.array(parse_color(colour)) * 255).astype(np.uint8))
        for kind, colour in by
    ]
    maps = ObjectMaps.from_store(dataset)
    pal = np.zeros((len(ids), 3), np.uint8)
    hit = np.zeros(len(ids), bool)
    for kind, rgb in rgbs:
        h = (maps.lookup(kind, ids) != 0) & (ids != 0)
        pal[h] = rgb
        hit |= h
    legend: list[LegendEntry] = [(k, (int(c[0]), int(c[1]), int(c[2]))) for k, c in rgbs]
    return pal, hit, legend


def plane_picture(
    dataset: Store,
    axis: str,
    index: int,
    *,
    level: int = 0,
    by: Sequence[tuple[str, str]] | None = None,
    levels: Sequence[tuple[float, float]] | str | None = "auto",
    opacity: float = DEFAULT_OPACITY,
    true_aspect: bool = True,
    min_size: int = 0,
    segment_table: SegmentColors | None = None,
    segments: bool = True,
) -> Picture:
    """Plane ``axis=index`` of a dataset at ``level``, in true aspect, with its legend.

    Parameters
    ----------
    dataset : Store
    axis : {"z", "y", "x"}
    index : int
        Plane index, voxels of ``level``.
    level : int
    by : list of (kind, colour), optional
        ``[("axon", "lime"), ("dendrite", "red"), ("spinehead", "blue")]`` colours segments
        by object kind (later entries win); without it each segment gets a palette colour
        (touching segments differ); with no segmentation layer, plain grey.
    levels : list of (level, brightness), "auto" or None
        Brightness curve of the EM; ``"auto"``: :func:`dataset_levels` (0.5-99.5 percentile
        stretch of the whole volume); None: grey / 255.
    opacity : float
        How strongly colours tint the EM (0-1).
    true_aspect : bool
        Resample to square pixels of the finer of the plane's two voxel sizes.
    min_size : int
        Upsample (bilinear EM, nearest labels) until the longer side has this many pixels.
    segment_table : (ids, colours), optional
        Fixed segment colours (see :func:`segment_colors`).
    segments : bool
        False: the EM alone.

    Returns
    -------
    Picture
        ``rgb``: ``z`` -> rows y, columns x; ``y`` -> rows z, columns x; ``x`` -> rows z,
        columns y. ``pixel_nm`` is set when ``true_aspect`` (else None).
    """
    if axis not in _PLANE_AXES:
        raise InvalidParameterError(f"axis must be x, y or z, got {axis!r}")
    img_layer = VolumeLayer(dataset, "image")
    if not 0 <= level < img_layer.num_levels:
        raise InvalidParameterError(
            f"--level {level}: the image has levels 0-{img_layer.num_levels - 1}"
        )
    grey = np.asarray(img_layer.read_plane(axis, index, level=level))
    lv: Sequence[tuple[float, float]] | None
    if isinstance(levels, str):
        if levels != "auto":
            raise InvalidParameterError(f"levels must be nodes, 'auto' or None, got {levels!r}")
        lv = dataset_levels(dataset)
    else:
        lv = levels
    labels = None
    if segments and dataset.has_layer("segmentation"):
        labels = _segmentation_plane(dataset, img_layer, axis, index, level, grey.shape)
    vs = img_layer.voxel_size(level)
    rows_ax, cols_ax = _PLANE_AXES[axis]
    v_r, v_c = getattr(vs, rows_ax), getattr(vs, cols_ax)
    h, w = grey.shape
    pixel = min(v_r, v_c) if true_aspect else None
    shape = (h, w)
    if pixel is not None:
        shape = (max(1, round(h * v_r / pixel)), max(1, round(w * v_c / pixel)))
    if min_size and max(shape) < min_size:
        f = min_size / max(shape)
        shape = (max(1, round(shape[0] * f)), max(1, round(shape[1] * f)))
        if pixel is not None:
            pixel = pixel / f
    legend: list[LegendEntry] = []
    if labels is None:
        rgb = _shade(_resample(grey, shape, nearest=False), lv)
    elif by:
        ids, idx = _palette_index(labels)
        pal, hit, legend = _kind_palette(dataset, ids, by)
        # swatches as the overlay shows them (the tint at full EM brightness)
        legend = [
            (k, tuple(int(v) for v in _tint(np.array([c], np.uint8), opacity)[0]))  # type: ignore[misc]
            for k, c in legend
        ]
        rgb = _shade(
            _resample(grey, shape, nearest=False),
            lv,
            _tint(pal, opacity),
            hit,
            _resample(idx, shape, nearest=True),
        )
        legend.append(("other segments: EM grey", None))
    else:
        ids, idx = _palette_index(labels)
        if segment_table is None:
            pal = neighbour_colors(ids, _touching(idx, len(ids)))
        else:
            pal = _lookup(segment_table, ids)
        rgb = _shade(
            _resample(grey, shape, nearest=False),
            lv,
            _tint(pal, opacity),
            ids != 0,
            _resample(idx, shape, nearest=True),
        )
        legend.append(("one colour per segment (touching segments differ)", None))
    if pixel is not None:
        # the actual nm per output pixel along the columns (rounding of the shape)
        pixel = w * v_c / shape[1]
    frame = img_layer.frame(level)
    pos = float(frame.origin_nm["xyz".index(axis)] + index * getattr(vs, axis))
    lo = f"{lv[0][0]:g}-{lv[-1][0]:g}" if lv else "0-255"
    caption = (
        f"{axis} = {index} ({pos:,.0f} nm), level {level} ({vs.x:g} x {vs.y:g} x {vs.z:g} nm); "
        f"right: +{cols_ax}, down: +{rows_ax}; EM levels {lo}"
        + (f"; overlay opacity {opacity:g}" if labels is not None else "")
    )
    return Picture(rgb, pixel, legend, caption)


def _segmentation_plane(
    dataset: Store,
    img_layer: VolumeLayer,
    axis: str,
    index: int,
    level: int,
    shape: tuple[int, ...],
) -> np.ndarray:
    """The segmentation plane matching the image plane (the segmentation level with the same
    voxel size, else the closest, resampled onto the image plane)."""
    seg = VolumeLayer(dataset, "segmentation")
    want = img_layer.voxel_size(level)
    best = min(
        range(seg.num_levels),
        key=lambda i: sum(abs(a - b) for a, b in zip(seg.voxel_size(i).xyz, want.xyz)),
    )
    if seg.voxel_size(best).xyz == want.xyz and seg.shape_zyx(best) == img_layer.shape_zyx(level):
        return np.asarray(seg.read_plane(axis, index, level=best))
    a = "xyz".index(axis)
    pos = img_layer.frame(level).origin_nm[a] + index * want.xyz[a]
    sf = seg.frame(best)
    n = seg.shape_zyx(best)["zyx".index(axis)]
    sidx = int(np.clip(round((pos - sf.origin_nm[a]) / seg.voxel_size(best).xyz[a]), 0, n - 1))
    plane = np.asarray(seg.read_plane(axis, sidx, level=best))
    return _resample(plane, (int(shape[0]), int(shape[1])), nearest=True)


def render_dataset_plane(
    dataset: Store,
    axis: str,
    index: int,
    *,
    level: int = 0,
    by: Sequence[tuple[str, str]] | None = None,
    levels: Sequence[tuple[float, float]] | str | None = "auto",
    opacity: float = DEFAULT_OPACITY,
    true_aspect: bool = True,
) -> np.ndarray:
    """The image of :func:`plane_picture` without annotations: ``(H, W, 3)`` uint8."""
    return plane_picture(
        dataset,
        axis,
        index,
        level=level,
        by=by,
        levels=levels,
        opacity=opacity,
        true_aspect=true_aspect,
    ).rgb
