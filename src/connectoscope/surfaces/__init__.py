"""Surfaces: per-object meshes (zmesh), mesh files, Neuroglancer precomputed meshes."""

from __future__ import annotations

from ._mesh import Mesh, choose_level, mesh_labels, mesh_selection
from ._precomputed import write_legacy_meshes, write_segment_properties
from ._surfaces import make_surfaces

__all__ = [
    "Mesh",
    "choose_level",
    "make_surfaces",
    "mesh_labels",
    "mesh_selection",
    "write_legacy_meshes",
    "write_segment_properties",
]
