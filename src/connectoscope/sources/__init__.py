"""Readers of foreign volumes, behind one public contract.

* :class:`SourceReader` (protocol), :class:`BaseSource` (a base class to subclass),
  :class:`ArraySource` (an in-memory array);
* :func:`open_source` opens a path (an L4dense cube folder, ``file.h5[:/path]``, a folder
  of PNG/TIFF planes, ``.npy``, ``.npz[:key]``) and :func:`register_opener` teaches it new
  kinds;
* the L4dense cube layout (:class:`CubeFolder`) and the synthetic data generator
  (:mod:`connectoscope.sources.synthetic`).
"""

from __future__ import annotations

from ._base import ArraySource, BaseSource, SourceReader
from ._readers import open_source, register_opener
from .l4dense import CubeFile, CubeFolder, parse_cube_name

__all__ = [
    "ArraySource",
    "BaseSource",
    "CubeFile",
    "CubeFolder",
    "SourceReader",
    "open_source",
    "parse_cube_name",
    "register_opener",
]
