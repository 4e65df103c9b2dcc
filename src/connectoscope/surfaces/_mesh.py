"""The :class:`Mesh` value: a triangle surface in nm with optional per-vertex data."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import write_bytes_atomic
from ..errors import InvalidParameterError

__all__ = ["MESH_FORMATS", "Mesh"]

#: Mesh file formats :meth:`Mesh.save` writes (by suffix).
MESH_FORMATS = ("ply", "obj", "glb")


@dataclass
class Mesh:
    """A triangle mesh of one object (or segment).

    Attributes
    ----------
    id : int
        The group id: object id of the selection's kind, or the segment id for plain
        ``--where 3,7,8-10`` selections.
    vertices : numpy.ndarray
        ``(N, 3)`` float32, x, y, z in nm (dataset offset and the level's voxel size
        included: a voxel centre ``(i, j, k)`` of level 0 sits at
        ``(offset + (i, j, k)) * voxel_size``).
    faces : numpy.ndarray
        ``(M, 3)`` uint32 vertex indices, counter-clockwise seen from outside.
    colors : numpy.ndarray, optional
        ``(N, 4)`` uint8 RGBA per vertex.
    segments : numpy.ndarray, optional
        ``(N,)`` uint64: the segment id of the voxel under each vertex (used to colour by
        another kind and to split the surface per segment for Neuroglancer).
    """

    id: int
    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray | None = None
    segments: np.ndarray | None = None

    def to_trimesh(self) -> Any:
        """A ``trimesh.Trimesh`` view (no processing, vertex colours kept)."""
        import trimesh

        return trimesh.Trimesh(
            self.vertices, self.faces, vertex_colors=self.colors, process=False, validate=False
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write PLY (binary, vertex colours), OBJ or GLB, chosen by the suffix; nm.

        Written to a temporary name and renamed, so an interrupted write leaves nothing
        under ``path``.

        Raises
        ------
        InvalidParameterError
            Another suffix.
        """
        p = Path(path)
        fmt = p.suffix.lower().lstrip(".")
        if fmt not in MESH_FORMATS:
            raise InvalidParameterError(
                f"{p}: unsupported mesh format {fmt!r}; use one of .ply, .obj, .glb"
            )
        data = self.to_trimesh().export(file_type=fmt)  # OBJ comes back as text
        return write_bytes_atomic(p, data.encode() if isinstance(data, str) else data)

    @property
    def is_closed(self) -> bool:
        """True when every edge is shared by exactly two consistently oriented faces."""
        return bool(self.to_trimesh().is_watertight)

    @property
    def volume_nm3(self) -> float:
        """Enclosed volume in nm^3 (meaningful for closed meshes)."""
        return float(abs(self.to_trimesh().volume))

    @property
    def bounds_nm(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """``((x0, y0, z0), (x1, y1, z1))`` in nm."""
        lo = self.vertices.min(axis=0)
        hi = self.vertices.max(axis=0)
        return (
            (float(lo[0]), float(lo[1]), float(lo[2])),
            (float(hi[0]), float(hi[1]), float(hi[2])),
        )

    def __repr__(self) -> str:
        return f"Mesh(id={self.id}, vertices={len(self.vertices)}, faces={len(self.faces)})"
