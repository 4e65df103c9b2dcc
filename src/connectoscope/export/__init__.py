"""Exports for other tools: ChimeraX ``.cmap`` + ``.cxc``; Neuroglancer precomputed files."""

from __future__ import annotations

from ._cmap import export_chimerax, write_cxc
from ._precomputed_volume import PrecomputedExport, export_precomputed

__all__ = ["PrecomputedExport", "export_chimerax", "export_precomputed", "write_cxc"]
