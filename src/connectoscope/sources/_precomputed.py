"""Neuroglancer precomputed volumes as a source, local or remote.

A precomputed layer is a folder (or URL) with an ``info`` JSON file listing scales; each
scale is a grid of chunks, unsharded (one file per chunk, ``x0-x1_y0-y1_z0-z1``) or sharded
(``neuroglancer_uint64_sharded_v1``, keyed by the compressed Morton code of the chunk's grid
position). Chunks are ``raw``, ``jpeg``, ``png``, ``compressed_segmentation`` (read through
tensorstore's ``neuroglancer_precomputed`` driver), ``compresso`` or ``crackle`` (tensorstore
cannot decode these: their chunks are fetched through tensorstore's kvstores, the sharded
one included, and decoded with the ``compresso`` / ``crackle-codec`` packages).

Coordinates: ``--bbox`` and ``offset_vx`` are in voxels of the chosen scale, in the layer's
own frame (``voxel_offset`` included, as Neuroglancer shows them), ``(x, y, z)``; reads are
relative to the reader's box, ``[z, y, x]``. Missing chunks are an error unless
``fill_missing=True`` (then they read as 0, as Neuroglancer shows them).
"""

from __future__ import annotations

import json
import math
import os
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._kvstore import Location, parse_location, ts_context, ts_error
from ..errors import (
    DataFormatError,
    DependencyMissingError,
    InvalidParameterError,
    SourceNotFoundError,
)
from ..geometry import Bbox, float3, int3
from ._base import BaseSource

__all__ = [
    "PrecomputedSource",
    "describe_precomputed",
    "looks_like_precomputed",
    "open_precomputed",
    "read_precomputed_info",
]

TS_ENCODINGS = ("raw", "jpeg", "png", "compressed_segmentation")
OWN_ENCODINGS = ("compresso", "crackle")

# what else a folder may be, by the files in it (said when there is no precomputed info)
_OTHER_FORMATS = (
    ("zarr.json", "a Zarr v3 array or group (OME-Zarr)"),
    (".zarray", "a Zarr v2 array"),
    (".zgroup", "a Zarr v2 group"),
    ("attributes.json", "an N5 dataset"),
    ("datasource-properties.json", "a webKnossos dataset"),
    ("connectoscope.json", "a connectoscope dataset"),
)
_NON_VOLUME_TYPES = {
    "neuroglancer_legacy_mesh": "mesh",
    "neuroglancer_multilod_draco": "mesh",
    "neuroglancer_skeletons": "skeleton",
    "neuroglancer_annotations_v1": "annotations",
    "neuroglancer_segment_properties": "segment-properties",
}


def looks_like_precomputed(text: str | os.PathLike[str]) -> bool:
    """True when ``text`` names a precomputed layer: a ``precomputed://`` or remote URL, or
    a local folder with an ``info`` file."""
    t = os.fspath(text)
    low = t.lower()
    if low.startswith("precomputed://"):
        return True
    if low.startswith(("http://", "https://", "gs://", "s3://")):
        return True
    if low.startswith("file://"):
        t = t[len("file://") :]
    p = Path(t)
    return p.is_dir() and (p / "info").is_file()


def _what_is_there(loc: Location) -> str:
    found = []
    for name, what in _OTHER_FORMATS:
        try:
            if loc.exists(name):
                found.append(f"{name} ({what})")
        except Exception:
            continue
    if found:
        return "found " + ", ".join(found)
    lp = loc.local_path
    if lp is not None:
        if not lp.exists():
            return "no such folder"
        names = sorted(p.name for p in lp.iterdir())[:8]
        return "found " + (", ".join(names) if names else "an empty folder")
    return "found nothing known there"


def read_precomputed_info(
    location: str | os.PathLike[str] | Location,
) -> tuple[dict[str, Any], Location]:
    """Read and check a precomputed layer's ``info``.

    Returns
    -------
    (info, location)

    Raises
    ------
    SourceNotFoundError
        No ``info`` at the location (the message says what is there instead).
    DataFormatError
        ``info`` is not JSON or not a precomputed volume.
    """
    loc = location if isinstance(location, Location) else parse_location(location)
    raw = loc.read("info")
    if raw is None:
        raise SourceNotFoundError(
            f"{loc.url}: not a Neuroglancer precomputed layer (no `info` file; "
            f"{_what_is_there(loc)})"
        )
    try:
        info = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise DataFormatError(f"{loc.url}/info: not JSON ({err})") from None
    if not isinstance(info, dict):
        raise DataFormatError(f"{loc.url}/info: expected a JSON object")
    return info, loc


def _check_volume(info: dict[str, Any], loc: Location) -> None:
    t = info.get("@type")
    if t in _NON_VOLUME_TYPES or ("scales" not in info and "mip" not in info):
        kind = _NON_VOLUME_TYPES.get(str(t), "non-volume")
        cmd = {
            "mesh": "connectoscope mesh info",
            "skeleton": "connectoscope skeletons info",
            "annotations": "connectoscope annotations info",
        }.get(kind)
        hint = f"; read it with `{cmd} {loc.url}`" if cmd else ""
        raise DataFormatError(
            f"{loc.url}: a precomputed {kind} layer (@type {t}), not a volume{hint}"
        )
    if not info.get("scales"):
        raise DataFormatError(f"{loc.url}/info: no scales listed")


def _scale_label(s: dict[str, Any]) -> str:
    res = "x".join(f"{float(r):g}" for r in s.get("resolution", []))
    size = "x".join(str(int(v)) for v in s.get("size", []))
    return f"{s.get('key')} ({res} nm, {size} voxels, {s.get('encoding')})"


def _pick_scale(info: dict[str, Any], scale: str | int | None, loc: Location) -> int:
    scales = info["scales"]
    if scale is None:
        return 0
    text = str(scale).strip()
    for i, s in enumerate(scales):
        if str(s.get("key")).strip("/") == text.strip("/"):
            return i
    norm = text.replace(",", "_").replace("x", "_")
    for i, s in enumerate(scales):
        res = "_".join(f"{float(r):g}" for r in s.get("resolution", []))
        if res == "_".join(f"{float(v):g}" for v in norm.split("_") if _is_number(v)):
            return i
    if text.isdigit() and int(text) < len(scales):
        return int(text)
    listing = "; ".join(_scale_label(s) for s in scales)
    raise InvalidParameterError(
        f"{loc.url}: no scale {scale!r}; pass --scale with one of the keys: {listing}"
    )


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


_TS_CACHE: dict[str, Any] = {}
_TS_LOCK = threading.Lock()


@dataclass
class PrecomputedSource(BaseSource):
    """A box of one scale of a precomputed layer (picklable: specs only).

    Attributes beyond :class:`SourceReader`: ``url`` (shown to users), ``kvstore`` (the
    layer's tensorstore kvstore spec), ``scale_index``/``scale_key``, ``encoding``,
    ``chunk_size`` and ``layer_offset``/``layer_size`` (x, y, z voxels of the whole scale),
    ``sharding`` (the spec, or None), ``voxel_size_nm`` (x, y, z), ``fill_missing``.
    ``offset_vx`` is the box's start in the layer's frame.
    """

    url: str = ""
    kvstore: dict[str, Any] = field(default_factory=dict)
    scale_index: int = 0
    scale_key: str = ""
    encoding: str = "raw"
    chunk_size: tuple[int, int, int] = (64, 64, 64)
    layer_offset: tuple[int, int, int] = (0, 0, 0)
    layer_size: tuple[int, int, int] = (0, 0, 0)
    sharding: dict[str, Any] | None = None
    voxel_size_nm: tuple[float, float, float] = (1.0, 1.0, 1.0)
    layer_type: str = "image"
    fill_missing: bool = False

    @property
    def description(self) -> str:
        z, y, x = self.shape_zyx
        ox, oy, oz = self.offset_vx
        box = Bbox((ox, oy, oz), (ox + x, oy + y, oz + z))
        whole = box.start == self.layer_offset and box.size == self.layer_size
        where = (
            ""
            if whole
            else f", bbox {','.join(map(str, box.start))}:{','.join(map(str, box.stop))}"
        )
        return f"precomputed {self.url} [scale {self.scale_key}{where}]"

    def files(self) -> int:
        g = [math.ceil(s / c) for s, c in zip(self.shape_zyx[::-1], self.chunk_size)]
        return int(np.prod(g))

    # ------------------------------------------------------------------ reading
    def read(self, start_zyx: tuple[int, int, int], stop_zyx: tuple[int, int, int]) -> np.ndarray:
        """Read ``[start, stop)`` (z, y, x voxels relative to the box) as a ``[z, y, x]`` array."""
        ox, oy, oz = self.offset_vx
        lo = (start_zyx[2] + ox, start_zyx[1] + oy, start_zyx[0] + oz)
        hi = (stop_zyx[2] + ox, stop_zyx[1] + oy, stop_zyx[0] + oz)
        if self.encoding in OWN_ENCODINGS:
            return self._read_chunks(lo, hi)
        return self._read_ts(lo, hi)

    def _tensorstore(self) -> Any:
        import tensorstore as ts

        spec = {
            "driver": "neuroglancer_precomputed",
            "kvstore": self.kvstore,
            "scale_index": self.scale_index,
            "fill_missing_data_reads": self.fill_missing,
            "recheck_cached_data": False,
            "recheck_cached_metadata": False,
        }
        key = f"{os.getpid()}:{id(ts_context())}:{json.dumps(spec, sort_keys=True)}"
        with _TS_LOCK:
            t = _TS_CACHE.get(key)
        if t is None:
            try:
                t = ts.open(spec, read=True, context=ts_context()).result()
            except Exception as err:
                raise ts_error(err, self.url) from None
            with _TS_LOCK:
                _TS_CACHE[key] = t
        return t

    def _read_ts(self, lo: Sequence[int], hi: Sequence[int]) -> np.ndarray:
        t = self._tensorstore()
        view = t[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2], 0].T  # -> [z, y, x]
        try:
            arr = view.read().result()
        except Exception as err:
            raise self._missing_error(err) from None
        return np.asarray(arr)

    def _missing_error(self, err: BaseException) -> Exception:
        text = str(err)
        if "is missing" in text:
            return DataFormatError(
                f"{self.url}: {text.splitlines()[0]}; pass --fill-missing (fill_missing=True) "
                "to read missing chunks as 0, as Neuroglancer shows them"
            )
        return ts_error(err, self.url)

    def _chunk_store(self) -> Any:
        import tensorstore as ts

        base = dict(self.kvstore)
        base["path"] = base.get("path", "") + self.scale_key.strip("/") + "/"
        if self.sharding is None:
            spec: dict[str, Any] = base
        else:
            spec = {
                "driver": "neuroglancer_uint64_sharded",
                "base": base,
                "metadata": self.sharding,
            }
        key = f"kv:{os.getpid()}:{id(ts_context())}:{json.dumps(spec, sort_keys=True)}"
        with _TS_LOCK:
            kv = _TS_CACHE.get(key)
        if kv is None:
            try:
                kv = ts.KvStore.open(spec, context=ts_context()).result()
            except Exception as err:
                raise ts_error(err, self.url) from None
            with _TS_LOCK:
                _TS_CACHE[key] = kv
        return kv

    def _chunk_key(self, g: Sequence[int]) -> bytes | str:
        c, o, s = self.chunk_size, self.layer_offset, self.layer_size
        if self.sharding is None:
            lo = [o[i] + g[i] * c[i] for i in range(3)]
            hi = [min(lo[i] + c[i], o[i] + s[i]) for i in range(3)]
            return f"{lo[0]}-{hi[0]}_{lo[1]}-{hi[1]}_{lo[2]}-{hi[2]}"
        from ..precomputed import compressed_morton_code

        grid = [math.ceil(s[i] / c[i]) for i in range(3)]
        code = compressed_morton_code(np.asarray([g], dtype=np.uint64), grid)
        return struct.pack(">Q", int(code[0]))

    def _read_chunks(self, lo: Sequence[int], hi: Sequence[int]) -> np.ndarray:
        decode = _decoder(self.encoding)
        kv = self._chunk_store()
        c, o, s = self.chunk_size, self.layer_offset, self.layer_size
        g0 = [(lo[i] - o[i]) // c[i] for i in range(3)]
        g1 = [(hi[i] - o[i] - 1) // c[i] + 1 for i in range(3)]
        out = np.zeros((hi[2] - lo[2], hi[1] - lo[1], hi[0] - lo[0]), dtype=self.dtype)
        grids = [
            (gx, gy, gz)
            for gz in range(g0[2], g1[2])
            for gy in range(g0[1], g1[1])
            for gx in range(g0[0], g1[0])
        ]
        import tensorstore as ts

        with ts.Batch() as batch:  # lets the sharded kvstore coalesce index and chunk reads
            futures = [(g, kv.read(self._chunk_key(g), batch=batch)) for g in grids]
        for g, fut in futures:
            key = self._chunk_key(g)
            name = key if isinstance(key, str) else f"chunk {tuple(g)} (shard key {key.hex()})"
            try:
                r = fut.result()
            except Exception as err:
                raise ts_error(err, f"{self.url}/{self.scale_key}/{name}") from None
            clo = [o[i] + g[i] * c[i] for i in range(3)]
            chi = [min(clo[i] + c[i], o[i] + s[i]) for i in range(3)]
            if r.state != "value":
                if self.fill_missing:
                    continue
                raise DataFormatError(
                    f"{self.url}/{self.scale_key}: chunk {name} is missing; pass --fill-missing "
                    "(fill_missing=True) to read missing chunks as 0, as Neuroglancer shows them"
                )
            try:
                arr_xyz = decode(bytes(r.value))
            except Exception as err:
                raise DataFormatError(
                    f"{self.url}/{self.scale_key}/{name}: cannot decode {self.encoding} chunk ({err})"
                ) from None
            want = tuple(chi[i] - clo[i] for i in range(3))
            if arr_xyz.ndim == 4:
                arr_xyz = arr_xyz[..., 0]
            if tuple(arr_xyz.shape) != want:
                raise DataFormatError(
                    f"{self.url}/{self.scale_key}/{name}: {self.encoding} chunk has shape "
                    f"{tuple(arr_xyz.shape)} (x, y, z), expected {want}"
                )
            a = [max(lo[i], clo[i]) for i in range(3)]
            b = [min(hi[i], chi[i]) for i in range(3)]
            out[
                a[2] - lo[2] : b[2] - lo[2],
                a[1] - lo[1] : b[1] - lo[1],
                a[0] - lo[0] : b[0] - lo[0],
            ] = arr_xyz[
                a[0] - clo[0] : b[0] - clo[0],
                a[1] - clo[1] : b[1] - clo[1],
                a[2] - clo[2] : b[2] - clo[2],
            ].T
        return out


def _decoder(encoding: str) -> Any:
    if encoding == "compresso":
        try:
            import compresso
        except ImportError:
            raise DependencyMissingError(
                "compresso-encoded precomputed chunks need the `compresso` package: "
                "pip install compresso"
            ) from None
        return compresso.decompress
    try:
        import crackle
    except ImportError:
        raise DependencyMissingError(
            "crackle-encoded precomputed chunks need the `crackle-codec` package: "
            "pip install crackle-codec"
        ) from None
    return crackle.decompress


def open_precomputed(
    url: str | os.PathLike[str],
    *,
    scale: str | int | None = None,
    bbox: Bbox | str | None = None,
    fill_missing: bool = False,
) -> PrecomputedSource:
    """Open one scale of a precomputed volume (a box of it) as a source.

    Parameters
    ----------
    url : str or path-like
        ``PATH``, ``precomputed://file://PATH``, ``precomputed://http(s)://...``,
        ``gs://...``, ``s3://...`` (the ``precomputed://`` prefix is optional).
    scale : str or int, optional
        A scale key (``"16_16_40"``), a resolution (``"16,16,40"`` nm) or an index into
        ``info["scales"]``. Default: the first (finest) scale.
    bbox : Bbox or str, optional
        ``x0,y0,z0:x1,y1,z1`` half-open, voxels of that scale in the layer's frame
        (``voxel_offset`` included). Default: the whole scale.
    fill_missing : bool
        Read missing chunks as 0 instead of raising.

    Returns
    -------
    PrecomputedSource
        ``shape_zyx`` of the box, ``dtype``, ``offset_vx`` (x, y, z: the box start),
        ``voxel_size_nm`` (x, y, z).

    Raises
    ------
    SourceNotFoundError, DataFormatError, InvalidParameterError, RemoteAccessError
    """
    info, loc = read_precomputed_info(url)
    _check_volume(info, loc)
    i = _pick_scale(info, scale, loc)
    s = info["scales"][i]
    try:
        dtype = np.dtype(str(info["data_type"]))
        size = int3(s["size"])
        offset = int3(s.get("voxel_offset", (0, 0, 0)))
        chunk = int3(s["chunk_sizes"][0])
        res = float3(s["resolution"])
        key = str(s["key"])
        encoding = str(s.get("encoding", "raw"))
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise DataFormatError(f"{loc.url}/info: scale {i} is incomplete ({err})") from None
    nch = int(info.get("num_channels", 1))
    if nch != 1:
        raise DataFormatError(
            f"{loc.url}: {nch} channels; only single-channel volumes can be read as a source"
        )
    if encoding not in TS_ENCODINGS + OWN_ENCODINGS:
        raise DataFormatError(
            f"{loc.url}: scale {key} has encoding {encoding!r}; readable encodings are "
            + ", ".join(TS_ENCODINGS + OWN_ENCODINGS)
        )
    whole = Bbox(offset, int3(o + n for o, n in zip(offset, size)))
    box = whole
    if bbox is not None:
        box = Bbox.parse(bbox) if isinstance(bbox, str) else bbox
        if box.empty:
            raise InvalidParameterError(f"bbox {box.start}:{box.stop} is empty")
        if not whole.contains(box):
            raise InvalidParameterError(
                f"{loc.url}: bbox {','.join(map(str, box.start))}:{','.join(map(str, box.stop))} "
                f"is outside scale {key}, which covers {','.join(map(str, whole.start))}:"
                f"{','.join(map(str, whole.stop))} (x, y, z voxels)"
            )
    sharding = s.get("sharding")
    return PrecomputedSource(
        Path(loc.local_path or loc.url),
        box.shape_zyx,
        dtype,
        offset_vx=box.start,
        url=loc.url,
        kvstore=loc.spec,
        scale_index=i,
        scale_key=key,
        encoding=encoding,
        chunk_size=chunk,
        layer_offset=offset,
        layer_size=size,
        sharding=sharding if isinstance(sharding, dict) else None,
        voxel_size_nm=res,
        layer_type=str(info.get("type", "image")),
        fill_missing=fill_missing,
    )


def describe_precomputed(url: str | os.PathLike[str]) -> dict[str, Any]:
    """What ``connectoscope info`` prints for a precomputed layer (JSON-ready)."""
    info, loc = read_precomputed_info(url)
    t = info.get("@type")
    if t in _NON_VOLUME_TYPES:
        out = {"type": f"precomputed-{_NON_VOLUME_TYPES[t]}", "url": loc.url, "info": info}
        return out
    _check_volume(info, loc)
    scales = []
    for s in info["scales"]:
        scales.append(
            {
                "key": s.get("key"),
                "resolution_nm": s.get("resolution"),
                "size_xyz": s.get("size"),
                "voxel_offset": s.get("voxel_offset", [0, 0, 0]),
                "chunk_size": (s.get("chunk_sizes") or [None])[0],
                "encoding": s.get("encoding"),
                "sharded": bool(s.get("sharding")),
            }
        )
    return {
        "type": "precomputed",
        "url": loc.url,
        "layer_type": info.get("type"),
        "data_type": info.get("data_type"),
        "num_channels": info.get("num_channels", 1),
        "mesh": info.get("mesh"),
        "skeletons": info.get("skeletons"),
        "segment_properties": info.get("segment_properties"),
        "scales": scales,
    }


def format_precomputed(d: dict[str, Any]) -> str:
    """Text for :func:`describe_precomputed`'s dict."""
    if d["type"] != "precomputed":
        return f"{d['url']}: {d['type']} ({d['info'].get('@type')})"
    lines = [
        f"{d['url']}: Neuroglancer precomputed {d['layer_type']} volume, {d['data_type']}, "
        f"{d['num_channels']} channel(s), {len(d['scales'])} scales"
    ]
    for s in d["scales"]:
        res = "x".join(f"{float(r):g}" for r in s["resolution_nm"])
        size = " x ".join(str(v) for v in s["size_xyz"])
        chunk = "x".join(str(v) for v in s["chunk_size"] or [])
        lines.append(
            f"  scale {s['key']}: {size} voxels (x, y, z) at {res} nm, offset "
            f"{','.join(map(str, s['voxel_offset']))}, chunks {chunk}, {s['encoding']}"
            + (", sharded" if s["sharded"] else "")
        )
    for k in ("mesh", "skeletons", "segment_properties"):
        if d.get(k):
            lines.append(f"  {k}: {d[k]}")
    return "\n".join(lines)
