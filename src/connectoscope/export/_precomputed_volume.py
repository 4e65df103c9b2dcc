"""Export a layer as a Neuroglancer precomputed volume (what Neuroglancer and cloud-volume open).

One scale per pyramid level (key ``"{x}_{y}_{z}"`` nm), chunks of ``chunk_xyz`` voxels,
sharded (``neuroglancer_uint64_sharded_v1``, identity hash on the compressed Morton code,
about 64 chunks per shard file) or one file per chunk. Encodings: images ``raw`` (gzip'd in
the shards) or ``jpeg``; labels ``crackle`` (default: the smallest), ``compresso``,
``compressed_segmentation`` or ``raw``. raw/jpeg/compressed_segmentation go through
tensorstore's ``neuroglancer_precomputed`` driver; compresso and crackle chunks are encoded
with their packages and stored through tensorstore's kvstores (the sharded one included).

The output folder is written under a hidden ``.part`` name and renamed when complete, so an
interrupted export leaves nothing that looks finished.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._store import Store
from ..errors import DatasetExistsError, DependencyMissingError, InvalidParameterError
from ..precomputed import compressed_morton_code

__all__ = ["PrecomputedExport", "export_precomputed"]

IMAGE_ENCODINGS = ("raw", "jpeg")
LABEL_ENCODINGS = ("crackle", "compresso", "compressed_segmentation", "raw")
_TS_ENCODINGS = ("raw", "jpeg", "compressed_segmentation")


@dataclass(frozen=True)
class PrecomputedExport:
    """What :func:`export_precomputed` wrote.

    Attributes
    ----------
    path : Path
    encoding : str
    sharded : bool
    scales : list of str
        Scale keys, finest first.
    raw_bytes, stored_bytes : list of int
        Per scale: uncompressed voxel bytes and bytes on disk.
    """

    path: Path
    encoding: str
    sharded: bool
    scales: list[str]
    raw_bytes: list[int]
    stored_bytes: list[int]

    @property
    def ratio(self) -> float:
        """Compression ratio of the finest scale (raw bytes / bytes on disk)."""
        return self.raw_bytes[0] / max(self.stored_bytes[0], 1)

    def __str__(self) -> str:
        mb = sum(self.stored_bytes) / 1e6
        return (
            f"{self.path}: {len(self.scales)} scales ({', '.join(self.scales)}), {self.encoding}"
            f"{', sharded' if self.sharded else ''}, {mb:.1f} MB; finest scale "
            f"{self.raw_bytes[0] / 1e6:.1f} MB raw -> {self.stored_bytes[0] / 1e6:.2f} MB "
            f"({self.ratio:.1f}x)"
        )


def _volume_sharding(n_chunks: int, data_encoding: str) -> dict[str, Any]:
    bits = max(0, math.ceil(math.log2(max(n_chunks, 1))))
    preshift = min(bits, 3)
    mini = min(bits - preshift, 3)
    return {
        "@type": "neuroglancer_uint64_sharded_v1",
        "hash": "identity",
        "preshift_bits": preshift,
        "minishard_bits": mini,
        "shard_bits": max(0, bits - preshift - mini),
        "minishard_index_encoding": "gzip",
        "data_encoding": data_encoding,
    }


def _dir_bytes(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def export_precomputed(
    dataset: Store | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    layer: str = "segmentation",
    encoding: str | None = None,
    sharded: bool = True,
    chunk_xyz: tuple[int, int, int] = (64, 64, 64),
    levels: int | None = None,
    jpeg_quality: int = 90,
    overwrite: bool = False,
    workers: int | None = None,
) -> PrecomputedExport:
    """Write one layer of a dataset as a Neuroglancer precomputed volume.

    Parameters
    ----------
    dataset : Store or path
    out : path-like
        The layer folder to create (``info`` + one folder per scale).
    layer : str
        ``image``, ``segmentation`` or another label layer.
    encoding : str, optional
        Images: ``raw`` (default) or ``jpeg`` (uint8 only). Labels: ``crackle`` (default),
        ``compresso``, ``compressed_segmentation`` or ``raw``.
    sharded : bool
        Shard files (default) or one file per chunk.
    chunk_xyz : (x, y, z) int
        Chunk shape in voxels (clipped to each scale's size).
    levels : int, optional
        Export only the finest ``levels`` pyramid levels (default: all).
    jpeg_quality : int
    overwrite : bool
        Replace an existing ``out``.
    workers : int, optional
        Threads encoding compresso/crackle chunks (default: all cores).

    Returns
    -------
    PrecomputedExport
    """
    from ..volume import VolumeLayer

    store = dataset if isinstance(dataset, Store) else Store(dataset)
    vol = VolumeLayer(store, layer)
    label = vol.kind != "image"
    allowed = LABEL_ENCODINGS if label else IMAGE_ENCODINGS
    enc = encoding or ("crackle" if label else "raw")
    if enc not in allowed:
        raise InvalidParameterError(
            f"encoding {enc!r} is not available for a{' label' if label else 'n image'} layer; "
            f"use one of {', '.join(allowed)} (--encoding)"
        )
    if enc == "jpeg" and vol.dtype != np.uint8:
        raise InvalidParameterError(f"jpeg needs uint8 images; layer {layer!r} is {vol.dtype}")
    if enc in ("compresso", "crackle"):
        _codec(enc)
    dst = Path(out)
    if dst.exists():
        if not overwrite:
            raise DatasetExistsError(f"{dst}: exists; pass --overwrite to replace it")
        if not (dst / "info").is_file():
            raise DatasetExistsError(
                f"{dst}: exists and is not a precomputed layer (no info); not replacing it"
            )
    part = dst.with_name(f".{dst.name}.part")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    n_levels = vol.num_levels if levels is None else max(1, min(levels, vol.num_levels))
    ox, oy, oz = store.offset_vx
    scales = []
    for li in range(n_levels):
        vs = vol.voxel_size(li).xyz
        z, y, x = vol.shape_zyx(li)
        f = tuple(int(v) for v in vol.levels[li].factor_xyz)
        chunk = [min(c, s) for c, s in zip(chunk_xyz, (x, y, z))]
        n_chunks = math.prod(math.ceil(s / c) for s, c in zip((x, y, z), chunk))
        sc: dict[str, Any] = {
            "key": "_".join(f"{v:g}" for v in vs),
            "size": [x, y, z],
            "voxel_offset": [ox // f[0], oy // f[1], oz // f[2]],
            "resolution": list(vs),
            "chunk_sizes": [chunk],
            "encoding": enc,
        }
        if enc == "compressed_segmentation":
            sc["compressed_segmentation_block_size"] = [8, 8, 8]
        if enc == "jpeg":
            sc["jpeg_quality"] = int(jpeg_quality)
        if sharded:
            sc["sharding"] = _volume_sharding(
                n_chunks, "gzip" if enc in ("raw", "compressed_segmentation") else "raw"
            )
        scales.append(sc)
    info = {
        "@type": "neuroglancer_multiscale_volume",
        "type": "segmentation" if label else "image",
        "data_type": vol.dtype.name,
        "num_channels": 1,
        "scales": scales,
    }
    (part / "info").write_text(json.dumps(info, indent=1))
    raw_b, stored_b = [], []
    from ..parallel import default_workers

    nthreads = workers or default_workers()
    for li, sc in enumerate(scales):
        arr_zyx = vol.read(level=li)
        if enc in _TS_ENCODINGS:
            _write_ts(part, info, li, arr_zyx)
        else:
            _write_chunks(part, sc, arr_zyx, enc, nthreads)
        raw_b.append(int(arr_zyx.nbytes))
        stored_b.append(_dir_bytes(part / sc["key"]))
    if dst.exists():
        shutil.rmtree(dst)
    os.replace(part, dst)
    return PrecomputedExport(dst, enc, sharded, [s["key"] for s in scales], raw_b, stored_b)


def _codec(enc: str) -> Any:
    try:
        if enc == "compresso":
            import compresso

            return compresso.compress
        import crackle

        return crackle.compress
    except ImportError:
        pkg = "compresso" if enc == "compresso" else "crackle-codec"
        raise DependencyMissingError(f"{enc} encoding needs the {pkg} package") from None


def _write_ts(root: Path, info: dict[str, Any], li: int, arr_zyx: np.ndarray) -> None:
    import tensorstore as ts

    sc = dict(info["scales"][li])
    sm = {k: v for k, v in sc.items() if k != "chunk_sizes"}
    sm["chunk_size"] = sc["chunk_sizes"][0]
    t = ts.open(
        {
            "driver": "neuroglancer_precomputed",
            "kvstore": {"driver": "file", "path": str(root) + "/"},
            "scale_metadata": sm,
            "open": True,
            "create": True,
        }
    ).result()
    o = sc["voxel_offset"]
    x, y, z = sc["size"]
    t[o[0] : o[0] + x, o[1] : o[1] + y, o[2] : o[2] + z, 0].T.write(arr_zyx).result()


def _write_chunks(root: Path, sc: dict[str, Any], arr_zyx: np.ndarray, enc: str, n: int) -> None:
    import tensorstore as ts

    compress = _codec(enc)
    size = sc["size"]
    chunk = sc["chunk_sizes"][0]
    off = sc["voxel_offset"]
    grid = [math.ceil(s / c) for s, c in zip(size, chunk)]
    base = {"driver": "file", "path": f"{root}/{sc['key']}/"}
    spec = sc.get("sharding")
    kv = ts.KvStore.open(
        {"driver": "neuroglancer_uint64_sharded", "base": base, "metadata": spec} if spec else base
    ).result()
    cells = [
        (gx, gy, gz) for gz in range(grid[2]) for gy in range(grid[1]) for gx in range(grid[0])
    ]
    codes = compressed_morton_code(np.asarray(cells, np.uint64), grid) if spec else None

    def encode(i: int) -> tuple[bytes | str, bytes]:
        g = cells[i]
        lo = [g[k] * chunk[k] for k in range(3)]
        hi = [min(lo[k] + chunk[k], size[k]) for k in range(3)]
        block = arr_zyx[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]].T  # x, y, z (F order)
        data = compress(np.asfortranarray(block))
        if codes is not None:
            return struct.pack(">Q", int(codes[i])), data
        a = [lo[k] + off[k] for k in range(3)]
        b = [hi[k] + off[k] for k in range(3)]
        return f"{a[0]}-{b[0]}_{a[1]}-{b[1]}_{a[2]}-{b[2]}", data

    txn = ts.Transaction()
    tkv = kv.with_transaction(txn)
    with ThreadPoolExecutor(max(1, n)) as pool:
        for key, data in pool.map(encode, range(len(cells))):
            tkv[key] = data
    txn.commit_async().result()
