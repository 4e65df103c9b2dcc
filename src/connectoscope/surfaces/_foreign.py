"""Adapter: meshes of foreign precomputed layers as surfaces :class:`Mesh` objects."""

from __future__ import annotations

import os

from ._mesh import Mesh

__all__ = ["read_precomputed_mesh"]


def read_precomputed_mesh(url: str | os.PathLike[str], segment_id: int, *, lod: int = 0) -> Mesh:
    """One segment's mesh from a Neuroglancer precomputed mesh layer, local or remote
    (legacy or multi-resolution Draco; see :func:`connectoscope.precomputed.read_mesh`).

    Returns
    -------
    Mesh
        ``id`` = ``segment_id``, vertices float32 (the layer's model space, nm for most
        writers), faces uint32.
    """
    from ..precomputed import read_mesh

    m = read_mesh(url, segment_id, lod=lod)
    return Mesh(int(segment_id), m.vertices, m.faces)
