"""Reading precomputed layers from any writer, local or remote: ``info``, plain keys with a
``.gz`` fallback, and sharded keys through byte-range reads.

:class:`PrecomputedLayer` is a folder (path or URL, see :mod:`connectoscope._kvstore`) with
its parsed ``info``. :meth:`~PrecomputedLayer.get` reads one key: the plain key, else
``key.gz`` gunzipped (how some writers store legacy mesh fragments and skeletons on disk);
gzip data under the plain key is gunzipped too. :class:`ShardedReader` reads
``neuroglancer_uint64_sharded_v1`` values with byte-range requests (shard index, minishard
index, value), caching the indices, and can say where a value sits in its shard file (the
multi-resolution mesh format stores fragment data just before the manifest).
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._kvstore import Location, parse_location, ts_error
from ..errors import DataFormatError, SourceNotFoundError
from ._sharding import shard_file_name, shard_of

__all__ = ["PrecomputedLayer", "ShardedReader", "open_layer"]

_GZIP_MAGIC = b"\x1f\x8b\x08"


def _maybe_gunzip(raw: bytes, where: str) -> bytes:
    if raw[:3] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DataFormatError(f"{where}: corrupt gzip data ({err})") from None
    return raw


def _read_range(loc: Location, key: str, start: int, stop: int) -> bytes:
    if stop <= start:
        return b""
    try:
        r = loc.kvstore().read(key, byte_range=slice(start, stop)).result()
    except Exception as err:
        raise ts_error(err, f"{loc.url}/{key}") from None
    if r.state != "value":
        raise DataFormatError(f"{loc.url}/{key}: missing (expected bytes {start}-{stop})")
    data = bytes(r.value)
    if len(data) != stop - start:
        raise DataFormatError(
            f"{loc.url}/{key}: truncated ({len(data)} bytes at {start}, expected {stop - start})"
        )
    return data


@dataclass
class ShardedReader:
    """Values of a sharded folder, by uint64 key (local or remote, byte-range reads)."""

    loc: Location
    spec: dict[str, Any]
    _index: dict[str, np.ndarray | None] = field(default_factory=dict, repr=False)
    _mini: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _shard_index(self, name: str) -> np.ndarray | None:
        with self._lock:
            if name in self._index:
                return self._index[name]
        n = 16 << int(self.spec["minishard_bits"])
        try:
            r = self.loc.kvstore().read(name, byte_range=slice(0, n)).result()
        except Exception as err:
            raise ts_error(err, f"{self.loc.url}/{name}") from None
        idx = None
        if r.state == "value":
            if len(r.value) != n:
                raise DataFormatError(f"{self.loc.url}/{name}: truncated shard index")
            idx = np.frombuffer(bytes(r.value), "<u8").reshape(-1, 2)
        with self._lock:
            self._index[name] = idx
        return idx

    def _minishard(self, name: str, mini: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        with self._lock:
            hit = self._mini.get((name, mini))
        if hit is not None:
            return hit
        idx = self._shard_index(name)
        if idx is None:
            return None
        start, end = (int(v) for v in idx[mini])
        if end == start:
            return None
        base = 16 << int(self.spec["minishard_bits"])
        enc = _read_range(self.loc, name, base + start, base + end)
        if self.spec.get("minishard_index_encoding", "raw") == "gzip":
            try:
                enc = gzip.decompress(enc)
            except (OSError, EOFError) as err:
                raise DataFormatError(
                    f"{self.loc.url}/{name}: corrupt minishard index ({err})"
                ) from None
        arr = np.frombuffer(enc, "<u8").reshape(3, -1)
        keys = np.cumsum(arr[0], dtype=np.uint64)
        starts = np.cumsum(arr[1] + np.r_[np.uint64(0), arr[2][:-1]], dtype=np.uint64) + np.uint64(
            base
        )
        out = (keys, starts, arr[2].astype(np.uint64))
        with self._lock:
            self._mini[(name, mini)] = out
        return out

    def locate(self, key: int) -> tuple[str, int, int] | None:
        """(shard file name, start, stop) of ``key``'s stored bytes, or None when absent."""
        shard, mini = shard_of(int(key), self.spec)
        name = shard_file_name(shard, self.spec)
        m = self._minishard(name, mini)
        if m is None:
            return None
        keys, starts, sizes = m
        hit = np.flatnonzero(keys == np.uint64(key))
        if not hit.size:
            return None
        i = int(hit[0])
        return name, int(starts[i]), int(starts[i] + sizes[i])

    def get(self, key: int) -> bytes | None:
        """The value of ``key`` (decoded per ``data_encoding``), or None when absent."""
        where = self.locate(key)
        if where is None:
            return None
        name, a, b = where
        raw = _read_range(self.loc, name, a, b)
        if self.spec.get("data_encoding", "raw") == "gzip":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError) as err:
                raise DataFormatError(
                    f"{self.loc.url}/{name}: corrupt gzip data for key {key} ({err})"
                ) from None
        return raw

    def read_range(self, name: str, start: int, stop: int) -> bytes:
        return _read_range(self.loc, name, start, stop)

    def items(self) -> Any:
        """Every (key, value) of every shard: each shard file is read whole, once."""
        n_shards = 1 << int(self.spec["shard_bits"])
        n_mini = 1 << int(self.spec["minishard_bits"])
        base = 16 * n_mini
        for shard in range(n_shards):
            name = shard_file_name(shard, self.spec)
            blob = self.loc.read(name)
            if blob is None:
                continue
            if len(blob) < base:
                raise DataFormatError(f"{self.loc.url}/{name}: truncated shard index")
            idx = np.frombuffer(blob[:base], "<u8").reshape(-1, 2)
            for mini in range(n_mini):
                a, b = (int(v) for v in idx[mini])
                if a == b:
                    continue
                enc = blob[base + a : base + b]
                if self.spec.get("minishard_index_encoding", "raw") == "gzip":
                    enc = _maybe_gunzip(enc, f"{self.loc.url}/{name}")
                arr = np.frombuffer(enc, "<u8").reshape(3, -1)
                keys = np.cumsum(arr[0], dtype=np.uint64)
                starts = np.cumsum(arr[1] + np.r_[np.uint64(0), arr[2][:-1]], dtype=np.uint64)
                for k, st, sz in zip(keys.tolist(), starts.tolist(), arr[2].tolist()):
                    raw = blob[base + st : base + st + sz]
                    if len(raw) != sz:
                        raise DataFormatError(f"{self.loc.url}/{name}: truncated data for key {k}")
                    if self.spec.get("data_encoding", "raw") == "gzip":
                        raw = _maybe_gunzip(raw, f"{self.loc.url}/{name}")
                    yield int(k), raw


@dataclass
class PrecomputedLayer:
    """A precomputed folder (local or remote) and its ``info``."""

    loc: Location
    info: dict[str, Any]

    @property
    def url(self) -> str:
        return self.loc.url

    @property
    def type(self) -> str:
        return str(self.info.get("@type", ""))

    def get(self, key: str) -> bytes | None:
        """The bytes of ``key`` (``key.gz`` gunzipped when only that exists), or None."""
        raw = self.loc.read(key)
        if raw is None:
            raw = self.loc.read(key + ".gz")
            if raw is None:
                return None
        return _maybe_gunzip(raw, f"{self.url}/{key}")

    def sharded(self, sub: str = "") -> ShardedReader | None:
        """A reader of the sharded index of this folder (or of ``sub``), if ``sharding``."""
        spec = self.info.get("sharding")
        if not isinstance(spec, dict):
            return None
        return ShardedReader(self.loc.child(sub) if sub else self.loc, spec)


def open_layer(
    url: str | os.PathLike[str] | Location, *, expect: tuple[str, ...] = ()
) -> PrecomputedLayer:
    """Open a precomputed folder and read its ``info``.

    Parameters
    ----------
    url : path, URL or Location
    expect : tuple of str
        Accepted ``@type`` values (empty: any).

    Raises
    ------
    SourceNotFoundError
        No ``info`` there.
    DataFormatError
        ``info`` is not JSON, or of another ``@type`` (named in the message).
    """
    loc = url if isinstance(url, Location) else parse_location(url)
    raw = loc.read("info")
    if raw is None:
        raise SourceNotFoundError(f"{loc.url}: not a Neuroglancer precomputed folder (no `info`)")
    try:
        info = json.loads(_maybe_gunzip(raw, f"{loc.url}/info"))
    except (ValueError, UnicodeDecodeError) as err:
        raise DataFormatError(f"{loc.url}/info: not JSON ({err})") from None
    if not isinstance(info, dict):
        raise DataFormatError(f"{loc.url}/info: expected a JSON object")
    t = info.get("@type")
    if expect and t not in expect:
        hint = ""
        if t == "neuroglancer_multiscale_volume" or "scales" in info:
            for k in ("mesh", "skeletons"):
                if info.get(k):
                    hint += f"; its {k} are at {loc.url}/{info[k]}"
        raise DataFormatError(f"{loc.url}: @type {t!r}, expected {' or '.join(expect)}{hint}")
    return PrecomputedLayer(loc, info)
