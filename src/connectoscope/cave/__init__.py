"""Optional CAVE adapter (extra ``cave``): batched synapse and cell queries for given root ids
through caveclient, one pinned materialization version, results as connectome tables."""

from __future__ import annotations

from ._cache import BatchCache
from ._cell import (
    TARGET_TABLE,
    cell_files,
    load_cell,
    partner_cells,
    save_cell,
    skeleton_from_service,
)
from ._session import TOKEN_ENV, CaveError, CaveSession, id_list

__all__ = [
    "TARGET_TABLE",
    "TOKEN_ENV",
    "BatchCache",
    "CaveError",
    "CaveSession",
    "cell_files",
    "id_list",
    "load_cell",
    "partner_cells",
    "save_cell",
    "skeleton_from_service",
]
