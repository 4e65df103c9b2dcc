"""Pictures: coloured EM planes in true aspect, 3-D renders of surfaces, movies; each with a
scale bar and a legend (see ``docs/render.md``)."""

from __future__ import annotations

from ..colors import group_colors, id_colors, parse_color
from ._annotate import Picture, nice_scale_bar, save_png
from ._plane import (
    apply_levels,
    auto_levels,
    dataset_levels,
    parse_levels,
    plane_picture,
    render_dataset_plane,
    render_plane,
    segment_colors,
)
from ._scene import (
    default_legend,
    mesh_colors,
    render_meshes,
    surface_picture,
    turn_frames,
    write_movie,
)

__all__ = [
    "Picture",
    "apply_levels",
    "auto_levels",
    "dataset_levels",
    "default_legend",
    "group_colors",
    "id_colors",
    "mesh_colors",
    "nice_scale_bar",
    "parse_color",
    "parse_levels",
    "plane_picture",
    "render_dataset_plane",
    "render_meshes",
    "render_plane",
    "save_png",
    "segment_colors",
    "surface_picture",
    "turn_frames",
    "write_movie",
]
