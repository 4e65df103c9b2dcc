"""Writing whole Zarr v3 shards (``sharding_indexed``) directly: encode, index, rename.

A shard task owns its shard file, so it can build the file itself instead of going through
a general-purpose store: each inner chunk is encoded with ``bytes`` (little endian) +
``zstd`` (the ``zstandard`` package, which releases the GIL, about twice as fast here as
the same codec through tensorstore's write path), chunks equal to the fill value (0) are
left out of the file as the format allows, the index ``[offset, nbytes]`` per chunk (C
order, ``2**64 - 1`` for absent chunks) is appended with its CRC32C, and the file is
written to a temporary name and renamed, so a killed run never leaves half a shard. The
layout is exactly what the array metadata written by :func:`._omezarr.create_level`
declares; tensorstore, zarr-python and Neuroglancer read it (tested). The same input gives
the same bytes.

With ``record``, the writer also leaves the shard's completion record: a small JSON file
``{"bytes": N, "crc32c": C}`` (``N = 0``: every chunk was background, so no file exists).
That record is how a store knows its own completeness (:mod:`._verify`): a shard file that
is missing or truncated later (an interrupted copy) is told apart from a background shard,
and a read of it is an error instead of zeros.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DependencyMissingError
from ._omezarr import LevelSpec, zstd_level

__all__ = ["read_record", "shard_path", "write_record", "write_shard"]

_EMPTY = np.uint64(2**64 - 1)
_LOCAL = threading.local()


def _compressor(level: int) -> Any:
    cache = getattr(_LOCAL, "zstd", None)
    if cache is None:
        cache = _LOCAL.zstd = {}
    comp = cache.get(level)
    if comp is None:
        zstandard = _require("zstandard")
        comp = cache[level] = zstandard.ZstdCompressor(level=level, write_content_size=True)
    return comp


def _require(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as err:
        pip = {"google_crc32c": "google-crc32c"}.get(name, name)
        raise DependencyMissingError(
            f"writing volume shards needs the {pip!r} package; install it with "
            f"`pip install {pip}` (it is a dependency of connectoscope)"
        ) from err


def _crc32c(data: bytes) -> int:
    return int(_require("google_crc32c").value(data))


def shard_path(level_dir: Path, shard_index_zyx: tuple[int, int, int]) -> Path:
    """File of one shard under the ``default`` chunk key encoding (``c/z/y/x``)."""
    z, y, x = shard_index_zyx
    return level_dir / "c" / str(z) / str(y) / str(x)


def write_shard(
    level_dir: Path,
    level: LevelSpec,
    start_zyx: tuple[int, int, int],
    data: np.ndarray,
    *,
    label: bool,
    record: Path | None = None,
) -> int:
    """Write the shard whose region starts at ``start_zyx`` from ``data`` (its whole region).

    Parameters
    ----------
    level_dir : Path
        The level's array folder (holding ``zarr.json``).
    level : LevelSpec
        Shapes of the level (array, shard, inner chunk; ``[z, y, x]``).
    start_zyx : tuple of int
        First voxel of the shard, a multiple of the shard shape.
    data : numpy.ndarray
        ``[z, y, x]`` values of the shard region clipped to the array.
    label : bool
        Label layer (zstd level of labels) or image.
    record : Path, optional
        Completion record to write once the shard is in place (size and CRC32C).

    Returns
    -------
    int
        Bytes written to disk (0 when every chunk equals the fill value: no file).
    """
    chunk = level.chunk_zyx
    shard = level.shard_zyx
    grid = tuple(s // c for s, c in zip(shard, chunk))
    comp = _compressor(zstd_level(label))
    dtype = data.dtype.newbyteorder("<")
    index = np.full((*grid, 2), _EMPTY, dtype="<u8")
    parts: list[bytes] = []
    offset = 0
    for k in range(grid[0]):
        z0 = k * chunk[0]
        if z0 >= data.shape[0]:
            break
        for j in range(grid[1]):
            y0 = j * chunk[1]
            if y0 >= data.shape[1]:
                break
            for i in range(grid[2]):
                x0 = i * chunk[2]
                if x0 >= data.shape[2]:
                    break
                block = data[z0 : z0 + chunk[0], y0 : y0 + chunk[1], x0 : x0 + chunk[2]]
                if block.shape != chunk:  # edge chunk: stored full size, padded with 0
                    full = np.zeros(chunk, dtype)
                    full[: block.shape[0], : block.shape[1], : block.shape[2]] = block
                    block = full
                raw = np.ascontiguousarray(block, dtype=dtype)
                enc = comp.compress(raw.data)
                if len(enc) < 256 and not raw.any():
                    continue  # equal to the fill value: absent from the shard
                index[k, j, i] = (offset, len(enc))
                parts.append(enc)
                offset += len(enc)
    sid = tuple(s // n for s, n in zip(start_zyx, shard))
    path = shard_path(level_dir, (sid[0], sid[1], sid[2]))
    if not parts:
        if path.exists():
            path.unlink()
        if record is not None:
            write_record(record, 0, 0)
        return 0
    idx = index.tobytes()
    parts.append(idx)
    parts.append(_crc32c(idx).to_bytes(4, "little"))
    path.parent.mkdir(parents=True, exist_ok=True)
    # ``.NAME.t<thread>.<pid>.part``: the pid last, as clean_stale_parts reads it
    tmp = path.with_name(f".{path.name}.t{threading.get_ident()}.{os.getpid()}.part")
    crc = 0
    crc32c = _require("google_crc32c")
    with open(tmp, "wb") as f:
        for p in parts:
            f.write(p)
            crc = int(crc32c.extend(crc, p))
    os.replace(tmp, path)
    size = offset + len(idx) + 4
    if record is not None:
        write_record(record, size, crc)
    return size


def write_record(record: Path, nbytes: int, crc: int) -> None:
    """The completion record of a shard: ``{"bytes": nbytes, "crc32c": crc}`` (atomic)."""
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp = record.with_name(f".{record.name}.t{threading.get_ident()}.{os.getpid()}.part")
    tmp.write_text(json.dumps({"bytes": int(nbytes), "crc32c": int(crc)}))
    os.replace(tmp, record)


def read_record(record: Path) -> dict[str, int] | None:
    """A completion record: ``{"bytes", "crc32c"}``; ``{}`` for an old empty record (no size
    known); None when there is none (the shard was never finished)."""
    try:
        text = record.read_text()
    except FileNotFoundError:
        return None
    if not text.strip():
        return {}
    try:
        d = json.loads(text)
        return {"bytes": int(d["bytes"]), "crc32c": int(d["crc32c"])}
    except (ValueError, KeyError, TypeError):
        return {}
