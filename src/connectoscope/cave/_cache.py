"""Resumable local cache of batched CAVE queries: one Parquet part per batch.

A cache folder belongs to one server, datastack and materialization version, recorded in its
``cache.json`` the first time it is used (the version is resolved once, then reused by every
later run on the folder). Each batch's answer is written atomically as
``<table>-<digest>.parquet``, the digest covering (server, datastack, table, version, the
batch's sorted ids, the filtered column), so a rerun after an interruption finds the batches
already fetched and asks the server only for the missing ones. A temporary file left by a
killed writer is never taken for a part (it has a hidden ``.part`` name and is cleaned up).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .._atomic import clean_stale_parts, write_json_atomic, write_parquet_atomic
from ..errors import DataFormatError, InvalidParameterError

__all__ = ["MANIFEST", "BatchCache", "part_digest"]

MANIFEST = "cache.json"
_FORMAT = 1


def part_digest(
    server: str, datastack: str, table: str, version: int, ids: list[int], column: str
) -> str:
    """Hex digest (32 characters) naming one batch's part file."""
    key = json.dumps(
        [str(server).rstrip("/"), datastack, table, int(version), sorted(ids), column],
        separators=(",", ":"),
    )
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class BatchCache:
    """A cache folder of per-batch Parquet parts, pinned to one materialization version.

    Parameters
    ----------
    folder : path-like
        Created when missing. Holds ``cache.json`` and the parts.

    Attributes
    ----------
    version : int or None
        The materialization version recorded in the folder (None until :meth:`bind`).
    fetched, reused : int
        Batches asked of the server, and batches read back from the folder, so far.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise InvalidParameterError(f"--cache {self.folder}: exists and is not a folder")
        self.meta: dict[str, Any] = {}
        mf = self.folder / MANIFEST
        if mf.exists():
            try:
                self.meta = json.loads(mf.read_text())
                int(self.meta["version"])
            except (ValueError, KeyError, TypeError):
                raise DataFormatError(
                    f"{mf}: not a connectoscope CAVE cache record; remove the folder or pass "
                    "another --cache"
                ) from None
        self.fetched = 0
        self.reused = 0

    @property
    def version(self) -> int | None:
        v = self.meta.get("version")
        return None if v is None else int(v)

    def check_version(self, version: int | None) -> int | None:
        """The version to use: the folder's when ``version`` is None; a different one refused."""
        have = self.version
        if have is None or version is None or int(version) == have:
            return have if version is None else int(version)
        raise InvalidParameterError(
            f"cache {self.folder} holds materialization version {have} of "
            f"{self.meta.get('datastack')}; --version {version} would mix versions: pass "
            f"--version {have} or another --cache folder"
        )

    def bind(self, server: str, datastack: str, version: int) -> None:
        """Record (or check) the server, datastack and version this folder belongs to."""
        want = {"server": str(server).rstrip("/"), "datastack": datastack}
        if self.meta:
            for k, v in want.items():
                if self.meta.get(k) != v:
                    raise InvalidParameterError(
                        f"cache {self.folder} belongs to {k} {self.meta.get(k)!r}, not {v!r}: "
                        "pass another --cache folder"
                    )
            self.check_version(version)
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self.meta = {"format": _FORMAT, **want, "version": int(version)}
        write_json_atomic(self.folder / MANIFEST, self.meta)

    def part_path(self, table: str, column: str, ids: list[int]) -> Path:
        d = part_digest(
            self.meta["server"],
            self.meta["datastack"],
            table,
            int(self.meta["version"]),
            ids,
            column,
        )
        safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in table)
        return self.folder / f"{safe}-{d}.parquet"

    def clean(self) -> None:
        """Remove temporary files of writers killed mid-write."""
        if self.folder.is_dir():
            clean_stale_parts(self.folder, recursive=False)

    def get(self, table: str, column: str, ids: list[int]) -> pd.DataFrame | None:
        """The cached answer of one batch, or None when it was never fetched."""
        p = self.part_path(table, column, ids)
        if not p.exists():
            return None
        try:
            df = pd.read_parquet(p)
        except Exception as e:
            raise DataFormatError(
                f"{p}: unreadable cache part ({type(e).__name__}); delete it and rerun"
            ) from None
        self.reused += 1
        return df

    def write(self, table: str, column: str, ids: list[int], df: pd.DataFrame) -> Path:
        """Write one batch's answer atomically (safe from several threads: one file each)."""
        return write_parquet_atomic(df, self.part_path(table, column, ids))
