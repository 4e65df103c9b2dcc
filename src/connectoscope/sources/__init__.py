"""Readers of foreign layouts: L4dense cube folders, single HDF5 datasets, image stacks,
NumPy files; and the synthetic L4dense-style data generator."""

from __future__ import annotations

from .l4dense import CubeFile, CubeFolder, parse_cube_name

__all__ = ["CubeFile", "CubeFolder", "parse_cube_name"]
