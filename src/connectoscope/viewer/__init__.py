"""The local viewer: Neuroglancer (bundled web client) serving a dataset on 127.0.0.1."""

from __future__ import annotations

from ._server import ViewerServer, client_dir
from ._state import viewer_state, viewer_url
from ._view import CHROMIUM_ARGS, find_chromium, screenshot, view

__all__ = [
    "CHROMIUM_ARGS",
    "ViewerServer",
    "client_dir",
    "find_chromium",
    "screenshot",
    "view",
    "viewer_state",
    "viewer_url",
]
