"""Downloads of public datasets: a registry with URLs, sizes and checksums; resumable,
verified downloads over HTTP(S) with the standard library."""

from __future__ import annotations

from ._download import Checksum, download, file_digest
from ._registry import DatasetEntry, FetchReport, FileEntry, fetch, fetch_url, load_registry

__all__ = [
    "Checksum",
    "DatasetEntry",
    "FetchReport",
    "FileEntry",
    "download",
    "fetch",
    "fetch_url",
    "file_digest",
    "load_registry",
]
