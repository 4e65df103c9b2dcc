"""``connectoscope info`` for data in other tools' formats: which reader describes a path/URL.

:func:`describe_foreign` returns ``None`` when none of them recognises the location (the
caller then tries its own kinds), else a JSON-ready dict with ``"foreign": True``.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["describe_foreign", "format_foreign", "open_foreign"]


def open_foreign(
    text: str,
    *,
    scale: str | int | None = None,
    bbox: Any = None,
    fill_missing: bool = False,
) -> Any:
    """A reader for a remote dataset (``URL#LAYER``), a precomputed layer or a webKnossos
    dataset/annotation; None when ``text`` is none of them."""
    from .._kvstore import is_url
    from ..errors import InvalidParameterError
    from ._precomputed import looks_like_precomputed

    if is_url(text) and not text.lower().startswith(("precomputed://", "file://")):
        from ._remote_dataset import is_remote_dataset, open_remote_dataset

        if "#" in text or is_remote_dataset(text):
            base, _, layer = text.partition("#")
            rd = open_remote_dataset(base)
            if not layer:
                raise InvalidParameterError(
                    f"{rd.url}: a connectoscope dataset; name the layer as {rd.url}#LAYER "
                    f"(layers: {', '.join(rd.layers)})"
                )
            return rd.source(layer, level=int(scale or 0), bbox=bbox)
    if looks_like_precomputed(text):
        from ._precomputed import open_precomputed

        return open_precomputed(text, scale=scale, bbox=bbox, fill_missing=fill_missing)
    from ._webknossos import is_webknossos

    if is_webknossos(text):
        from ._webknossos import open_webknossos

        return open_webknossos(text, mag=scale, bbox=bbox)
    return None


def describe_foreign(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Describe a precomputed layer (path or URL) or a webKnossos dataset/annotation zip;
    None when it is none of them."""
    from ._precomputed import describe_precomputed, looks_like_precomputed

    text = os.fspath(path)
    from .._kvstore import is_url

    if is_url(text) and not text.lower().startswith(("precomputed://", "file://")):
        from ._remote_dataset import describe_remote_dataset, is_remote_dataset

        if is_remote_dataset(text):
            d = describe_remote_dataset(text)
            d["foreign"] = True
            return d
    if looks_like_precomputed(text):
        d = describe_precomputed(text)
        d["foreign"] = True
        return d
    from ._webknossos import describe_webknossos, is_webknossos

    if is_webknossos(text):
        d = describe_webknossos(text)
        d["foreign"] = True
        return d
    return None


def format_foreign(d: dict[str, Any]) -> str:
    """Text for a :func:`describe_foreign` dict."""
    from ._precomputed import format_precomputed
    from ._webknossos import format_webknossos

    if str(d.get("type", "")).startswith("webknossos"):
        return format_webknossos(d)
    if d.get("type") == "remote-dataset":
        from ._remote_dataset import format_remote_dataset

        return format_remote_dataset(d)
    return format_precomputed(d)
