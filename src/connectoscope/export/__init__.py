"""Exports for other tools: ChimeraX ``.cmap`` + ``.cxc``; Neuroglancer precomputed files."""

from __future__ import annotations

from ._cmap import export_chimerax, write_cxc

__all__ = ["export_chimerax", "write_cxc"]
