"""Write precomputed volumes for the tests, independently of connectoscope's own writers.

raw / jpeg / png / compressed_segmentation go through tensorstore's
``neuroglancer_precomputed`` driver. compresso and crackle (which tensorstore cannot encode)
are written chunk by chunk with the codec packages, through tensorstore's kvstores (the
``neuroglancer_uint64_sharded`` one for sharded layers), keyed by a compressed Morton code
computed here bit by bit (not with connectoscope's implementation).
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import tensorstore as ts

SHARDING = {
    "@type": "neuroglancer_uint64_sharded_v1",
    "preshift_bits": 1,
    "hash": "identity",
    "minishard_bits": 2,
    "shard_bits": 1,
    "minishard_index_encoding": "gzip",
    "data_encoding": "gzip",
}


def morton(g: tuple[int, int, int], grid: list[int]) -> int:
    """Neuroglancer's compressed Morton code, one bit at a time (reference implementation)."""
    bits = [max(math.ceil(math.log2(n)), 0) for n in grid]
    code, out_bit = 0, 0
    for b in range(max(bits)):
        for d in range(3):
            if b < bits[d]:
                code |= ((g[d] >> b) & 1) << out_bit
                out_bit += 1
    return code


def write_layer(
    path: Path,
    arr_zyx: np.ndarray,
    *,
    encoding: str = "raw",
    sharded: bool = False,
    chunk=(64, 64, 32),
    offset=(0, 0, 0),
    resolution=(16, 16, 40),
    layer_type: str = "segmentation",
) -> Path:
    """Write ``arr_zyx`` as scale ``16_16_40`` of a precomputed layer at ``path``."""
    arr_xyz = np.asarray(arr_zyx).T
    size = list(arr_xyz.shape)
    scale = {
        "key": "_".join(str(r) for r in resolution),
        "size": size,
        "voxel_offset": list(offset),
        "resolution": list(resolution),
        "chunk_sizes": [list(chunk)],
        "encoding": encoding,
    }
    if sharded:
        scale["sharding"] = SHARDING
    info = {
        "@type": "neuroglancer_multiscale_volume",
        "type": layer_type,
        "data_type": str(arr_xyz.dtype),
        "num_channels": 1,
        "scales": [scale],
    }
    kv_root = {"driver": "file", "path": str(path) + "/"}
    if encoding in ("raw", "jpeg", "png", "compressed_segmentation"):
        sm = {k: v for k, v in scale.items() if k not in ("chunk_sizes",)}
        sm["chunk_size"] = list(chunk)
        if encoding == "compressed_segmentation":
            sm["compressed_segmentation_block_size"] = [8, 8, 8]
        if encoding == "jpeg":
            sm["jpeg_quality"] = 95
        t = ts.open(
            {
                "driver": "neuroglancer_precomputed",
                "kvstore": kv_root,
                "multiscale_metadata": {k: info[k] for k in ("type", "data_type", "num_channels")},
                "scale_metadata": sm,
                "create": True,
                "delete_existing": True,
            }
        ).result()
        t[...] = arr_xyz[..., None]
        return path
    import compresso
    import crackle

    enc = compresso.compress if encoding == "compresso" else crackle.compress
    path.mkdir(parents=True, exist_ok=True)
    (path / "info").write_text(json.dumps(info))
    base = dict(kv_root)
    base["path"] = base["path"] + scale["key"] + "/"
    kv = ts.KvStore.open(
        base
        if not sharded
        else {"driver": "neuroglancer_uint64_sharded", "base": base, "metadata": SHARDING}
    ).result()
    grid = [math.ceil(s / c) for s, c in zip(size, chunk)]
    txn = ts.Transaction()
    for gz in range(grid[2]):
        for gy in range(grid[1]):
            for gx in range(grid[0]):
                g = (gx, gy, gz)
                lo = [g[i] * chunk[i] for i in range(3)]
                hi = [min(lo[i] + chunk[i], size[i]) for i in range(3)]
                block = np.asfortranarray(arr_xyz[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]])
                data = enc(block)
                if sharded:
                    key: bytes | str = struct.pack(">Q", morton(g, grid))
                else:
                    a = [lo[i] + offset[i] for i in range(3)]
                    b = [hi[i] + offset[i] for i in range(3)]
                    key = f"{a[0]}-{b[0]}_{a[1]}-{b[1]}_{a[2]}-{b[2]}"
                kv.with_transaction(txn)[key] = data
    txn.commit_async().result()
    return path
