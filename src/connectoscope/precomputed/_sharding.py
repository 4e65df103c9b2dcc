"""Neuroglancer's ``neuroglancer_uint64_sharded_v1`` format: hashing, keys, shard files.

A sharded folder holds a few ``<shard>.shard`` files instead of one file per key. Each key
(uint64: a segment id, an annotation id, a compressed Morton code of a spatial cell) is
hashed (identity or MurmurHash3 x86-128), split into minishard and shard numbers; a shard
file is a fixed-size shard index (one ``[start, end)`` per minishard), the data, then
gzip'd minishard indices (delta-coded keys, offsets, sizes). Write with
:func:`write_sharded`, read one key back with :func:`read_sharded`.
"""

from __future__ import annotations

import gzip
import itertools
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_path
from ..errors import DataFormatError, InvalidParameterError

__all__ = [
    "compressed_morton_code",
    "list_sharded_keys",
    "locate_sharded",
    "murmurhash3_x86_128_uint64",
    "read_sharded",
    "shard_file_name",
    "shard_of",
    "sharding_spec",
    "write_sharded",
]

_U64 = np.uint64
_M32 = np.uint64(0xFFFFFFFF)


# --------------------------------------------------------------------------- hashing, keys
def _rotl32(x: np.ndarray, r: int) -> np.ndarray:
    return ((x << _U64(r)) | (x >> _U64(32 - r))) & _M32


def _mul32(a: np.ndarray, c: int) -> np.ndarray:
    return (a * _U64(c)) & _M32


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _U64(16))
    h = _mul32(h, 0x85EBCA6B)
    h = h ^ (h >> _U64(13))
    h = _mul32(h, 0xC2B2AE35)
    return h ^ (h >> _U64(16))


def murmurhash3_x86_128_uint64(keys: np.ndarray) -> np.ndarray:
    """Low 64 bits of MurmurHash3_x86_128 (seed 0) of each key's 8 little-endian bytes.

    This is the ``murmurhash3_x86_128`` hash of the Neuroglancer sharded format, vectorised.

    Parameters
    ----------
    keys : ndarray of uint64, shape (n,)

    Returns
    -------
    ndarray of uint64, shape (n,)
    """
    k = np.asarray(keys, dtype=np.uint64)
    with np.errstate(over="ignore"):
        k1 = k & _M32  # bytes 0-3
        k2 = k >> _U64(32)  # bytes 4-7
        zero = np.zeros_like(k)
        k2 = _mul32(_rotl32(_mul32(k2, 0xAB0E9789), 16), 0x38B34AE5)
        h2 = zero ^ k2
        k1 = _mul32(_rotl32(_mul32(k1, 0x239B961B), 15), 0xAB0E9789)
        h1 = zero ^ k1
        h3 = zero.copy()
        h4 = zero.copy()
        n = _U64(8)
        h1, h2, h3, h4 = h1 ^ n, h2 ^ n, h3 ^ n, h4 ^ n
        h1 = (h1 + h2 + h3 + h4) & _M32
        h2 = (h2 + h1) & _M32
        h3 = (h3 + h1) & _M32
        h4 = (h4 + h1) & _M32
        h1, h2, h3, h4 = _fmix32(h1), _fmix32(h2), _fmix32(h3), _fmix32(h4)
        h1 = (h1 + h2 + h3 + h4) & _M32
        h2 = (h2 + h1) & _M32
    return h1 | (h2 << _U64(32))


def compressed_morton_code(cells: np.ndarray, grid_shape: Sequence[int]) -> np.ndarray:
    """Neuroglancer's compressed Morton code of grid cells.

    Bit ``i`` of dimension ``d`` is used only where ``2**i < grid_shape[d]``; bits interleave
    with the first dimension (x) fastest.

    Parameters
    ----------
    cells : ndarray of int, shape (n, rank)
        Cell coordinates in the annotation dimension order (x, y, z).
    grid_shape : sequence of int, length rank

    Returns
    -------
    ndarray of uint64, shape (n,)

    Examples
    --------
    >>> compressed_morton_code(np.array([[1, 0, 0], [0, 1, 0], [1, 1, 1]]), [2, 2, 2]).tolist()
    [1, 2, 7]
    >>> compressed_morton_code(np.array([[0, 3, 0]]), [1, 4, 1]).tolist()
    [3]
    """
    c = np.asarray(cells, dtype=np.uint64).reshape(-1, len(grid_shape))
    out = np.zeros(len(c), np.uint64)
    bit_out = 0
    for bit in range(64):
        for d, size in enumerate(grid_shape):
            if (int(size) - 1) >> bit:
                out |= ((c[:, d] >> _U64(bit)) & _U64(1)) << _U64(bit_out)
                bit_out += 1
    if bit_out > 64:
        raise InvalidParameterError(f"grid {list(grid_shape)} needs {bit_out} > 64 Morton bits")
    return out


# --------------------------------------------------------------------------- sharded format
def sharding_spec(
    n_keys: int,
    *,
    hash: str = "murmurhash3_x86_128",
    keys_per_minishard: int = 64,
    max_minishard_bits: int = 8,
    max_shard_bits: int = 12,
    data_encoding: str = "gzip",
) -> dict[str, Any]:
    """Sharding parameters (``neuroglancer_uint64_sharded_v1``) for about ``n_keys`` keys.

    About ``keys_per_minishard`` keys per minishard, up to ``2**max_minishard_bits``
    minishards per shard, then more shard files (up to ``2**max_shard_bits``).
    """
    if hash not in ("identity", "murmurhash3_x86_128"):
        raise InvalidParameterError(f"hash must be identity or murmurhash3_x86_128, got {hash!r}")
    bits = max(0, math.ceil(math.log2(max(1.0, n_keys / max(1, keys_per_minishard)))))
    minishard_bits = min(bits, max_minishard_bits)
    shard_bits = min(bits - minishard_bits, max_shard_bits)
    return {
        "@type": "neuroglancer_uint64_sharded_v1",
        "hash": hash,
        "preshift_bits": 0,
        "minishard_bits": int(minishard_bits),
        "shard_bits": int(shard_bits),
        "minishard_index_encoding": "gzip",
        "data_encoding": data_encoding,
    }


def _hashed(keys: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    k = np.asarray(keys, np.uint64) >> _U64(spec["preshift_bits"])
    return murmurhash3_x86_128_uint64(k) if spec["hash"] == "murmurhash3_x86_128" else k


def _gzip_all(items: list[bytes]) -> list[bytes]:
    return [gzip.compress(d, compresslevel=1, mtime=0) for d in items]


_POOL: list[Any] = []


def _pool() -> Any:
    """A shared thread pool (one thread per core) for compression."""
    if not _POOL:
        from concurrent.futures import ThreadPoolExecutor

        _POOL.append(ThreadPoolExecutor(max(1, os.cpu_count() or 1)))
    return _POOL[0]


def shard_file_name(shard: int, spec: dict[str, Any]) -> str:
    """``<shard>.shard``: lowercase hex, zero-padded to ``ceil(shard_bits / 4)`` digits."""
    digits = math.ceil(spec["shard_bits"] / 4)
    return f"{shard:0{digits}x}.shard"


def write_sharded(
    folder: Path,
    keys: np.ndarray,
    buffer: np.ndarray,
    offsets: np.ndarray,
    spec: dict[str, Any],
    *,
    unindexed_prefix: np.ndarray | None = None,
) -> list[Path]:
    """Write key -> bytes pairs as Neuroglancer sharded files in ``folder``.

    Parameters
    ----------
    folder : Path
        Created if needed; one ``<shard>.shard`` file per non-empty shard.
    keys : ndarray of uint64, shape (n,)
        Distinct chunk ids (annotation ids, segment ids or compressed Morton codes).
    buffer : ndarray of uint8
        All values concatenated; value ``i`` is ``buffer[offsets[i]:offsets[i + 1]]``.
    offsets : ndarray of int64, shape (n + 1,)
    spec : dict
        From :func:`sharding_spec`.
    unindexed_prefix : ndarray of int64, shape (n,), optional
        Per value, how many of its leading bytes are written just before the indexed data
        but not indexed (the multi-resolution mesh format stores a segment's fragment data
        immediately before its manifest). Needs ``data_encoding`` ``raw``.

    Returns
    -------
    list of Path
        The shard files written (each written to a temporary name, then renamed).
    """
    keys = np.asarray(keys, np.uint64)
    offsets = np.asarray(offsets, np.int64)
    folder.mkdir(parents=True, exist_ok=True)
    if not len(keys):
        return []
    h = _hashed(keys, spec)
    mbits, sbits = int(spec["minishard_bits"]), int(spec["shard_bits"])
    minishard = (h & _U64((1 << mbits) - 1)).astype(np.int64)
    shard = ((h >> _U64(mbits)) & _U64((1 << sbits) - 1)).astype(np.int64)
    order = np.lexsort((keys, minishard, shard))
    if len(keys) > 1 and (keys[order][1:] == keys[order][:-1]).any():
        raise InvalidParameterError("sharded keys must be distinct")
    bounds = np.flatnonzero(np.r_[True, shard[order][1:] != shard[order][:-1], True])
    gz = spec["data_encoding"] == "gzip"
    if unindexed_prefix is not None and gz:
        raise InvalidParameterError("unindexed prefixes need data_encoding raw")
    skip = None if unindexed_prefix is None else np.asarray(unindexed_prefix, np.int64)
    written = []
    n_mini = 1 << mbits
    for a, b in itertools.pairwise(bounds.tolist()):
        idx = order[a:b]
        if gz:  # zlib releases the GIL: compress on every core
            raw = [bytes(buffer[offsets[i] : offsets[i + 1]]) for i in idx.tolist()]
            step = max(1, -(-len(raw) // (4 * (os.cpu_count() or 1))))
            parts_in = [raw[i : i + step] for i in range(0, len(raw), step)]
            chunks = [c for part in _pool().map(_gzip_all, parts_in) for c in part]
            sizes = np.fromiter((len(c) for c in chunks), np.int64, count=len(chunks))
            data = b"".join(chunks)
        else:  # one vectorised gather
            sizes = offsets[idx + 1] - offsets[idx]
            begin = np.repeat(offsets[idx] - np.r_[0, np.cumsum(sizes)[:-1]], sizes)
            data = buffer[begin + np.arange(int(sizes.sum()))].tobytes()
        starts = np.r_[0, np.cumsum(sizes)[:-1]]  # relative to the end of the shard index
        if skip is not None:  # index only what follows each value's prefix
            starts = starts + skip[idx]
            sizes = sizes - skip[idx]
        mini = minishard[idx]
        parts: list[bytes] = []
        index = np.zeros((n_mini, 2), "<u8")
        pos = len(data)
        mb = np.flatnonzero(np.r_[True, mini[1:] != mini[:-1], True])
        for s0, s1 in zip(mb[:-1].tolist(), mb[1:].tolist()):
            sel = np.arange(s0, s1)
            m = int(mini[s0])
            k = keys[idx[sel]]
            st, sz = starts[sel], sizes[sel]
            arr = np.empty((3, len(sel)), "<u8")
            arr[0] = np.diff(k, prepend=_U64(0))
            prev_end = np.r_[0, st[:-1] + sz[:-1]]
            arr[1] = (st - prev_end).astype(np.uint64)
            arr[2] = sz.astype(np.uint64)
            enc = gzip.compress(arr.tobytes(), compresslevel=6, mtime=0)
            index[m] = (pos, pos + len(enc))
            pos += len(enc)
            parts.append(enc)
        out = folder / shard_file_name(int(shard[idx[0]]), spec)
        with atomic_path(out) as tmp, open(tmp, "wb") as f:
            f.write(index.tobytes())
            f.write(data)
            for p in parts:
                f.write(p)
        written.append(out)
    return written


def shard_of(key: int, spec: dict[str, Any]) -> tuple[int, int]:
    """``(shard, minishard)`` numbers of one key under ``spec``."""
    h = int(_hashed(np.array([key], np.uint64), spec)[0])
    mbits, sbits = int(spec["minishard_bits"]), int(spec["shard_bits"])
    return (h >> mbits) & ((1 << sbits) - 1), h & ((1 << mbits) - 1)


def _decode_data(raw: bytes, spec: dict[str, Any], where: str) -> bytes:
    if spec.get("data_encoding", "raw") == "gzip":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DataFormatError(f"{where}: corrupt gzip data ({e})") from e
    return raw


def list_sharded_keys(folder: str | os.PathLike[str], spec: dict[str, Any]) -> np.ndarray:
    """Every key stored in a sharded folder (sorted uint64), read from the minishard indices."""
    n_mini = 1 << int(spec["minishard_bits"])
    out = []
    for path in sorted(Path(folder).glob("*.shard")):
        with open(path, "rb") as f:
            head = np.frombuffer(f.read(16 * n_mini), "<u8").reshape(n_mini, 2)
            for start, end in head.tolist():
                if end == start:
                    continue
                f.seek(16 * n_mini + start)
                enc = f.read(end - start)
                if spec.get("minishard_index_encoding", "raw") == "gzip":
                    enc = gzip.decompress(enc)
                out.append(np.cumsum(np.frombuffer(enc, "<u8").reshape(3, -1)[0], dtype=np.uint64))
    return np.sort(np.concatenate(out)) if out else np.zeros(0, np.uint64)


def locate_sharded(
    folder: str | os.PathLike[str], key: int, spec: dict[str, Any]
) -> tuple[Path, int, int] | None:
    """Where ``key``'s value lies: ``(shard file, byte offset in it, byte size)``, or None.

    Raises
    ------
    DataFormatError
        A truncated or corrupt shard file (names the file).
    """
    shard, mini = shard_of(int(key), spec)
    path = Path(folder) / shard_file_name(shard, spec)
    if not path.is_file():
        return None
    n_mini = 1 << int(spec["minishard_bits"])
    index_bytes = 16 * n_mini
    with open(path, "rb") as f:
        head = f.read(index_bytes)
        if len(head) != index_bytes:
            raise DataFormatError(f"{path}: truncated shard index")
        start, end = (int(v) for v in np.frombuffer(head, "<u8").reshape(n_mini, 2)[mini])
        if end == start:
            return None
        f.seek(index_bytes + start)
        enc = f.read(end - start)
        if len(enc) != end - start:
            raise DataFormatError(f"{path}: truncated minishard index")
    if spec.get("minishard_index_encoding", "raw") == "gzip":
        try:
            enc = gzip.decompress(enc)
        except (OSError, EOFError) as e:
            raise DataFormatError(f"{path}: corrupt minishard index ({e})") from e
    arr = np.frombuffer(enc, "<u8").reshape(3, -1)
    keys = np.cumsum(arr[0], dtype=np.uint64)
    starts = np.cumsum(arr[1] + np.r_[np.uint64(0), arr[2][:-1]], dtype=np.uint64)
    hit = np.flatnonzero(keys == np.uint64(key))
    if not len(hit):
        return None
    i = int(hit[0])
    return path, index_bytes + int(starts[i]), int(arr[2][i])


def read_sharded(folder: str | os.PathLike[str], key: int, spec: dict[str, Any]) -> bytes | None:
    """The value stored under ``key`` in a sharded folder, or None when absent.

    Parameters
    ----------
    folder : path-like
        The folder holding ``<shard>.shard`` files.
    key : int
        uint64 key (segment id, annotation id, compressed Morton code).
    spec : dict
        The ``sharding`` object of the ``info`` file.

    Raises
    ------
    DataFormatError
        A truncated or corrupt shard file (names the file).
    """
    where = locate_sharded(folder, key, spec)
    if where is None:
        return None
    path, offset, size = where
    with open(path, "rb") as f:
        f.seek(offset)
        raw = f.read(size)
    if len(raw) != size:
        raise DataFormatError(f"{path}: truncated data for key {key}")
    return _decode_data(raw, spec, str(path))
