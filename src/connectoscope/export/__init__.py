"""Exports for other tools: ChimeraX ``.cmap`` + ``.cxc``; Neuroglancer precomputed files."""

from __future__ import annotations

from ._cmap import MAX_ATTRIBUTE_ID, export_chimerax, lookup_table_path, write_cxc

__all__ = ["MAX_ATTRIBUTE_ID", "export_chimerax", "lookup_table_path", "write_cxc"]
