"""connectoscope datasets at a remote location (``http(s)://``, ``s3://``, ``gs://``), read-only.

A dataset we wrote, copied to a web server or a bucket, is read through tensorstore's
kvstores: the metadata file, then each level's sharded Zarr v3 array, one byte range per
chunk (and shard index). Writes stay local: the shard writer writes files, so a dataset is
built on disk and then copied (``aws s3 sync``, ``gsutil rsync``) to be served.

``URL#LAYER`` names one layer as an ingest source (``connectoscope ingest URL#segmentation
local.cscope --layer segmentation`` copies it, pyramid rebuilt locally).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._kvstore import Location, parse_location, ts_context, ts_error
from .._store import METADATA_NAME
from ..errors import (
    DataFormatError,
    IncompleteStoreError,
    InvalidParameterError,
    LayerNotFoundError,
    SourceNotFoundError,
)
from ..geometry import Bbox, float3
from ._base import BaseSource

__all__ = ["RemoteDataset", "RemoteLayerSource", "is_remote_dataset", "open_remote_dataset"]


def is_remote_dataset(url: str | os.PathLike[str]) -> bool:
    """True when a remote URL (without ``#layer``) holds a connectoscope metadata file."""
    text = os.fspath(url).split("#", 1)[0]
    loc = parse_location(text)
    if not loc.is_remote:
        return False
    return loc.read(METADATA_NAME) is not None


@dataclass
class RemoteDataset:
    """A connectoscope dataset read from a URL (read-only)."""

    loc: Location
    meta: dict[str, Any]

    @property
    def url(self) -> str:
        return self.loc.url

    @property
    def layers(self) -> dict[str, Any]:
        return dict(self.meta.get("layers", {}))

    @property
    def voxel_size_nm(self) -> tuple[float, float, float]:
        v = self.meta["voxel_size"]
        return (float(v["x"]), float(v["y"]), float(v["z"]))

    @property
    def offset_vx(self) -> tuple[int, int, int]:
        o = self.meta.get("offset_vx", [0, 0, 0])
        return (int(o[0]), int(o[1]), int(o[2]))

    def _layer(self, name: str) -> dict[str, Any]:
        layers = self.layers
        if name not in layers:
            raise LayerNotFoundError(
                f"{self.url}: no layer {name!r}; layers: {', '.join(layers) or 'none'}"
            )
        d = layers[name]
        if not d.get("complete"):
            raise IncompleteStoreError(
                f"{self.url}: layer {name!r} is incomplete (its ingest did not finish)"
            )
        return dict(d)

    def level_spec(self, name: str, level: int) -> dict[str, Any]:
        levels = self._layer(name)["levels"]
        if not 0 <= level < len(levels):
            raise InvalidParameterError(
                f"{self.url}: layer {name!r} has levels 0-{len(levels) - 1}, not {level}"
            )
        return dict(levels[level])

    def source(
        self, name: str, *, level: int = 0, bbox: Bbox | str | None = None
    ) -> RemoteLayerSource:
        """One level of one layer as a :class:`SourceReader` (a box of it)."""
        d = self._layer(name)
        spec = self.level_spec(name, level)
        shape = tuple(int(v) for v in spec["shape_zyx"])
        whole = Bbox.from_shape_zyx(shape)
        box = whole
        if bbox is not None:
            box = Bbox.parse(bbox) if isinstance(bbox, str) else bbox
            if box.empty or not whole.contains(box):
                raise InvalidParameterError(
                    f"{self.url}: bbox {box.start}:{box.stop} is outside layer {name!r} level "
                    f"{level}, which is {whole.stop} (x, y, z voxels)"
                )
        kv = self.loc.child(str(d["path"])).child(str(level))
        return RemoteLayerSource(
            Path(self.url),
            box.shape_zyx,
            np.dtype(str(d["dtype"])),
            offset_vx=box.start,
            url=f"{self.url}#{name}",
            kvstore=kv.spec,
            level=level,
            voxel_size_nm=float3(spec["voxel_size_nm"]),
        )

    def read(self, name: str, bbox: Bbox | str | None = None, *, level: int = 0) -> np.ndarray:
        """A ``[z, y, x]`` box (voxels of ``level``, relative to the dataset's grid)."""
        src = self.source(name, level=level, bbox=bbox)
        return src.read((0, 0, 0), src.shape_zyx)


def open_remote_dataset(url: str | os.PathLike[str]) -> RemoteDataset:
    """Open a dataset we wrote, served at ``url`` (read-only).

    Raises
    ------
    SourceNotFoundError
        No connectoscope metadata at the URL.
    """
    loc = parse_location(os.fspath(url).split("#", 1)[0])
    raw = loc.read(METADATA_NAME)
    if raw is None:
        raise SourceNotFoundError(f"{loc.url}: not a connectoscope dataset (no {METADATA_NAME})")
    try:
        meta = json.loads(raw)
    except ValueError as err:
        raise DataFormatError(f"{loc.url}/{METADATA_NAME}: not JSON ({err})") from None
    return RemoteDataset(loc, meta)


_TS: dict[str, Any] = {}


@dataclass
class RemoteLayerSource(BaseSource):
    """One level of a layer of a remote dataset (picklable: specs only)."""

    url: str = ""
    kvstore: dict[str, Any] = field(default_factory=dict)
    level: int = 0
    voxel_size_nm: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def description(self) -> str:
        z, y, x = self.shape_zyx
        o = self.offset_vx
        return (
            f"{self.url} level {self.level} [{o[0]},{o[1]},{o[2]}:{o[0] + x},{o[1] + y},{o[2] + z}]"
        )

    def _array(self) -> Any:
        import tensorstore as ts

        key = f"{os.getpid()}:{id(ts_context())}:{json.dumps(self.kvstore, sort_keys=True)}"
        t = _TS.get(key)
        if t is None:
            try:
                t = ts.open(
                    {"driver": "zarr3", "kvstore": self.kvstore, "recheck_cached_data": False},
                    read=True,
                    context=ts_context(),
                ).result()
            except Exception as err:
                raise ts_error(err, self.url) from None
            _TS[key] = t
        return t

    def read(self, start_zyx: tuple[int, int, int], stop_zyx: tuple[int, int, int]) -> np.ndarray:
        ox, oy, oz = self.offset_vx
        t = self._array()
        sl = (
            slice(start_zyx[0] + oz, stop_zyx[0] + oz),
            slice(start_zyx[1] + oy, stop_zyx[1] + oy),
            slice(start_zyx[2] + ox, stop_zyx[2] + ox),
        )
        try:
            return np.asarray(t[sl].read().result())
        except Exception as err:
            raise ts_error(err, self.url) from None


def describe_remote_dataset(url: str | os.PathLike[str]) -> dict[str, Any]:
    """What ``connectoscope info URL`` prints for a remote dataset."""
    rd = open_remote_dataset(url)
    layers = {}
    for name, d in rd.layers.items():
        lv = d.get("levels", [])
        layers[name] = {
            "kind": d.get("kind"),
            "dtype": d.get("dtype"),
            "complete": bool(d.get("complete")),
            "levels": len(lv),
            "shape_zyx": lv[0]["shape_zyx"] if lv else None,
            "downsampling": d.get("downsampling"),
        }
    return {
        "type": "remote-dataset",
        "url": rd.url,
        "voxel_size_nm": list(rd.voxel_size_nm),
        "offset_vx": list(rd.offset_vx),
        "layers": layers,
    }


def format_remote_dataset(d: dict[str, Any]) -> str:
    vs = d["voxel_size_nm"]
    lines = [
        f"{d['url']}: connectoscope dataset (remote, read-only), voxel size {vs[0]:g} x "
        f"{vs[1]:g} x {vs[2]:g} nm, offset {tuple(d['offset_vx'])}"
    ]
    for name, v in d["layers"].items():
        z, y, x = v["shape_zyx"] or (0, 0, 0)
        lines.append(
            f"  layer {name} ({v['kind']}): {x} x {y} x {z} voxels {v['dtype']}, {v['levels']} "
            f"levels{'' if v['complete'] else ', INCOMPLETE'}"
        )
    return "\n".join(lines)
