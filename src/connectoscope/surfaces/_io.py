"""Mesh files: PLY, OBJ and GLB through trimesh (vertex colours kept where the format can)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DataFormatError, InvalidParameterError, SourceNotFoundError
from ._mesh import MESH_FORMATS, Mesh

__all__ = ["FORMATS", "load_mesh", "save_mesh"]

#: Mesh file formats written by :func:`save_mesh` (by suffix).
FORMATS = MESH_FORMATS


def _format(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InvalidParameterError(
            f"{path}: unsupported mesh format {fmt!r}; use one of .ply, .obj, .glb"
        )
    return fmt


def save_mesh(mesh: Mesh, path: str | os.PathLike[str]) -> Path:
    """Write ``mesh`` to ``path`` (PLY, OBJ or GLB by suffix); coordinates are nm.

    Same as :meth:`Mesh.save`.
    """
    return mesh.save(path)


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
