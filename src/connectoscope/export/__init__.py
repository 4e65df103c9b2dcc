"""Exports for other tools: ChimeraX ``.cmap`` + ``.cxc``; Neuroglancer precomputed volumes."""

from __future__ import annotations

from ._cmap import MAX_ATTRIBUTE_ID, export_chimerax, lookup_table_path, write_cxc
from ._precomputed_volume import PrecomputedExport, export_precomputed

__all__ = [
    "MAX_ATTRIBUTE_ID",
    "PrecomputedExport",
    "export_chimerax",
    "export_precomputed",
    "lookup_table_path",
    "write_cxc",
]
