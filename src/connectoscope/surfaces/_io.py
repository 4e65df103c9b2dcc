"""Mesh files: PLY, OBJ and GLB through trimesh (vertex colours kept where the format can)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DataFormatError, InvalidParameterError, SourceNotFoundError
from ._mesh import Mesh

__all__ = ["FORMATS", "load_mesh", "save_mesh"]

#: Mesh file formats written by :func:`save_mesh` (by suffix).
FORMATS = ("ply", "obj", "glb")


def _format(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InvalidParameterError(
            f"{path}: unsupported mesh format {fmt!r}; use one of .ply, .obj, .glb"
        )
    return fmt


def save_mesh(mesh: Mesh, path: str | os.PathLike[str]) -> Path:
    """Write ``mesh`` to ``path`` (PLY, OBJ or GLB by suffix); coordinates are nm.

    Parameters
    ----------
    mesh : Mesh
    path : path-like
        Ends in ``.ply`` (binary, with vertex colours), ``.obj`` or ``.glb``.

    Returns
    -------
    pathlib.Path
    """
    p = Path(path)
    fmt = _format(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.part")
    data = mesh.to_trimesh().export(file_type=fmt)  # OBJ comes back as text
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, p)
    return p


def load_mesh(path: str | os.PathLike[str], *, id: int = 0) -> Mesh:
    """Read a PLY, OBJ or GLB file into a :class:`Mesh` (vertices as stored, nm expected).

    Raises
    ------
    SourceNotFoundError
        No such file.
    DataFormatError
        The file holds no triangles.
    """
    import trimesh

    p = Path(path)
    if not p.is_file():
        raise SourceNotFoundError(f"{p}: no such mesh file")
    _format(p)
    loaded = trimesh.load(p, process=False, force="mesh")
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise DataFormatError(f"{p}: no triangle mesh inside")
    colors = None
    visual = loaded.visual
    vc = getattr(visual, "vertex_colors", None)
    kind = getattr(visual, "kind", None)
    if kind == "vertex" and vc is not None and len(vc) == len(loaded.vertices):
        colors = np.asarray(vc, np.uint8)
    return Mesh(
        id,
        np.asarray(loaded.vertices, np.float32),
        np.asarray(loaded.faces, np.uint32),
        colors=colors,
    )
