"""Optional CAVE adapter (extra ``cave``): batched synapse and cell queries for given root ids
through caveclient, one pinned materialization version, results as connectome tables."""

from __future__ import annotations

from ._cache import BatchCache
from ._session import TOKEN_ENV, CaveError, CaveSession, id_list

__all__ = ["TOKEN_ENV", "BatchCache", "CaveError", "CaveSession", "id_list"]
