"""Downloads of public datasets: a registry with URLs, sizes and checksums; resumable,
verified downloads over HTTP(S) with the standard library."""

from __future__ import annotations

from ._download import Checksum, download, file_digest
from ._extract import extract_archive
from ._names import content_disposition_filename, safe_basename, safe_relpath, safe_target
from ._registry import DatasetEntry, FetchReport, FileEntry, fetch, fetch_url, load_registry

__all__ = [
    "Checksum",
    "DatasetEntry",
    "FetchReport",
    "FileEntry",
    "content_disposition_filename",
    "download",
    "extract_archive",
    "fetch",
    "fetch_url",
    "file_digest",
    "load_registry",
    "safe_basename",
    "safe_relpath",
    "safe_target",
]
