"""The local viewer: Neuroglancer (bundled web client) serving a dataset on 127.0.0.1."""

from __future__ import annotations

from ..connectome import write_dataset_annotations
from ..precomputed import write_synapse_annotations
from ._annotations import ensure_annotations
from ._server import ViewerServer, client_dir
from ._state import annotation_layer, viewer_state, viewer_url
from ._view import CHROMIUM_ARGS, find_chromium, screenshot, view

__all__ = [
    "CHROMIUM_ARGS",
    "ViewerServer",
    "annotation_layer",
    "client_dir",
    "ensure_annotations",
    "find_chromium",
    "screenshot",
    "view",
    "viewer_state",
    "viewer_url",
    "write_dataset_annotations",
    "write_synapse_annotations",
]
