"""Pictures: colours, coloured EM planes, 3-D renders of surfaces."""

from __future__ import annotations

from ..colors import id_colors, parse_color
from ._plane import apply_levels, parse_levels, render_dataset_plane, render_plane, save_png
from ._scene import render_meshes, turn_frames, write_movie

__all__ = [
    "apply_levels",
    "id_colors",
    "parse_color",
    "parse_levels",
    "render_dataset_plane",
    "render_meshes",
    "render_plane",
    "save_png",
    "turn_frames",
    "write_movie",
]
