"""3-D pictures and movies of meshes, rendered offscreen with VTK (pyvista), no display needed."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._atomic import write_with
from ..colors import id_colors, parse_color
from ..errors import InvalidParameterError

if TYPE_CHECKING:  # pragma: no cover
    from ..surfaces import Mesh

__all__ = ["MOVIE_SUFFIXES", "check_movie_path", "render_meshes", "turn_frames", "write_movie"]

#: Movie file suffixes: GIF, or video through imageio-ffmpeg (H.264).
MOVIE_SUFFIXES = (".mp4", ".gif", ".mov", ".mkv")


def _plotter(size: Sequence[int]) -> Any:
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    pv.OFF_SCREEN = True
    p: Any = pv.Plotter(off_screen=True, window_size=[int(size[0]), int(size[1])])
    p.set_background("white")
    return p


def _add(p: Any, meshes: Iterable[Mesh], color: str | None) -> None:
    import pyvista as pv

    for m in meshes:
        faces = np.hstack(
            [np.full((len(m.faces), 1), 3, np.int64), m.faces.astype(np.int64)]
        ).ravel()
        poly = pv.PolyData(m.vertices.astype(np.float64), faces)
        if m.colors is not None:
            poly.point_data["rgba"] = m.colors
            p.add_mesh(poly, scalars="rgba", rgba=True, smooth_shading=True)
        else:
            rgb = parse_color(color) if color else tuple(id_colors(np.array([m.id]))[0] / 255.0)
            p.add_mesh(poly, color=rgb, smooth_shading=True)


def render_meshes(
    meshes: Sequence[Mesh],
    *,
    size: Sequence[int] = (1024, 768),
    color: str | None = None,
    azimuth: float = 30.0,
    elevation: float = 20.0,
) -> np.ndarray:
    """A lit picture of meshes with the camera fit to them: ``(H, W, 3)`` uint8.

    Each mesh uses its per-vertex ``colors`` when it has them, else ``color``, else its
    stable id colour.
    """
    p = _plotter(size)
    try:
        _add(p, meshes, color)
        p.view_isometric()
        p.camera.azimuth = azimuth
        p.camera.elevation = elevation
        p.reset_camera()
        img = p.screenshot(return_img=True)
    finally:
        p.close()
    return np.asarray(img)[..., :3].copy()


def turn_frames(
    meshes: Sequence[Mesh],
    *,
    degrees: float = 360.0,
    frames: int = 36,
    size: Sequence[int] = (480, 360),
    color: str | None = None,
) -> list[np.ndarray]:
    """Frames of the camera turning ``degrees`` about the vertical axis."""
    p = _plotter(size)
    out = []
    try:
        _add(p, meshes, color)
        p.view_isometric()
        p.reset_camera()
        step = degrees / max(frames, 1)
        for _ in range(frames):
            p.render()
            out.append(np.asarray(p.screenshot(return_img=True))[..., :3].copy())
            p.camera.Azimuth(step)  # VTK's relative turn about the view-up axis
    finally:
        p.close()
    return out


def check_movie_path(out: str | os.PathLike[str]) -> Path:
    """``out`` as a Path when its suffix is a movie format (:data:`MOVIE_SUFFIXES`).

    Raises
    ------
    InvalidParameterError
        Another suffix (checked before any frame is rendered).
    """
    p = Path(out)
    if p.suffix.lower() not in MOVIE_SUFFIXES:
        raise InvalidParameterError(
            f"{p}: movies are written as {', '.join(MOVIE_SUFFIXES)} (by the suffix); "
            f"got {p.suffix or 'no suffix'}"
        )
    return p


def write_movie(
    frames: Sequence[np.ndarray], out: str | os.PathLike[str], *, fps: int = 10
) -> Path:
    """Write frames as MP4 (imageio-ffmpeg) or GIF, by the suffix of ``out``."""
    import imageio.v2 as imageio_v2

    imageio: Any = imageio_v2

    p = check_movie_path(out)
    if not frames:
        raise InvalidParameterError(f"{p}: no frames to write")
    suffix = p.suffix.lower()

    def write(tmp: Path) -> None:  # a temporary name, renamed when the movie is complete
        if suffix == ".gif":
            imageio.mimsave(tmp, list(frames), format="GIF", duration=1.0 / fps, loop=0)
            return
        even = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in frames]
        media = tmp.with_name(tmp.name + suffix)  # imageio picks ffmpeg by the suffix
        try:
            with imageio.get_writer(
                media, fps=fps, codec="libx264", quality=7, macro_block_size=1
            ) as w:
                for f in even:
                    w.append_data(f)
            os.replace(media, tmp)
        finally:
            media.unlink(missing_ok=True)

    return write_with(p, write)
