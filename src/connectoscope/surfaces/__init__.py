"""Surfaces: closed meshes per object (block-wise zmesh in worker processes, stitched),
mesh files, Neuroglancer precomputed meshes.

Vertices are x, y, z in nm. See ``docs/surfaces.md``.
"""

from __future__ import annotations

from ._io import load_mesh, save_mesh
from ._mesh import Mesh
from ._mesh_set import MeshSet
from ._mesher import BlockTask, GroupTable, mesh_blocks, mesh_labels, plan_blocks
from ._stitch import stitch_pieces
from ._surfaces import SurfaceResult, choose_level, color_meshes, make_surfaces, mesh_selection

__all__ = [
    "BlockTask",
    "GroupTable",
    "Mesh",
    "MeshSet",
    "SurfaceResult",
    "choose_level",
    "color_meshes",
    "load_mesh",
    "make_surfaces",
    "mesh_blocks",
    "mesh_labels",
    "mesh_selection",
    "plan_blocks",
    "save_mesh",
    "stitch_pieces",
]
