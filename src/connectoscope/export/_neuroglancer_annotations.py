"""Neuroglancer precomputed annotations (``neuroglancer_annotations_v1``) for synapses.

Layout of an annotation folder (``DS/annotations/synapses/``)::

    info             {"@type": "neuroglancer_annotations_v1", "annotation_type": "point",
                      "dimensions": {"x": [1e-9, "m"], ...}, "lower_bound", "upper_bound",
                      "properties": [{"id": "size", "type": "float32"}],
                      "relationships": [{"id": "pre_segment", ...}, {"id": "post_segment", ...}],
                      "by_id": {...}, "spatial": [{level 0}, {level 1}, ...]}
    by_id/           annotation id -> one annotation (position, properties, related ids)
    pre_segment/     presynaptic root id -> the synapses it makes
    post_segment/    postsynaptic root id -> the synapses it receives
    spatial0/ ...    one folder per spatial index level, coarsest first

Every index is stored in the ``neuroglancer_uint64_sharded_v1`` format (a few shard files
instead of one file per key): uint64 ids hashed with MurmurHash3 x86-128, spatial cells keyed
by their compressed Morton code (identity hash). Positions are nm, ``x, y, z``.

The spatial index follows the Neuroglancer specification: level 0 is one cell covering the
bounds; each finer level halves the longest cell edges (towards isotropic cells); every level
emits a uniform random subsample of the remaining annotations, at most ``limit`` per cell,
the same fraction in every cell, and passes the rest down. So every synapse appears in exactly
one cell of exactly one level, and a viewer that stops at a coarse level still shows a
spatially uniform sample: a million synapses load progressively.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataFormatError, DatasetExistsError, InvalidParameterError

if TYPE_CHECKING:  # pragma: no cover
    from ..connectome import SynapseTable
    from ..dataset import Dataset

__all__ = [
    "compressed_morton_code",
    "murmurhash3_x86_128_uint64",
    "sharding_spec",
    "write_dataset_annotations",
    "write_sharded",
    "write_synapse_annotations",
]

_U64 = np.uint64
_M32 = np.uint64(0xFFFFFFFF)
#: Relationship names, as Neuroglancer shows them.
RELATIONSHIPS = ("pre_segment", "post_segment")


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
        tmp = out.with_name(out.name + ".part")
        with open(tmp, "wb") as f:
            f.write(index.tobytes())
            f.write(data)
            for p in parts:
                f.write(p)
        os.replace(tmp, out)
        written.append(out)
    return written


# --------------------------------------------------------------------------- encoding
def _record_dtype(n_props: int) -> np.dtype:
    """Position (3 float32) + ``n_props`` float32 properties: a multiple of 4 bytes."""
    fields = [("xyz", "<f4", (3,))] + [(f"p{i}", "<f4") for i in range(n_props)]
    return np.dtype(fields)


def _spatial_levels(
    lower: np.ndarray, upper: np.ndarray, max_levels: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(grid_shape, chunk_size) per level: level 0 one cell; halve the long edges each step."""
    extent = upper - lower
    grid = np.ones(3, np.int64)
    out = []
    for _ in range(max_levels):
        chunk = extent / grid
        out.append((grid.copy(), chunk))
        halve = chunk > chunk.max() / 2  # the edges at least half the longest one
        grid = np.where(halve, grid * 2, grid)
    return out


def write_synapse_annotations(
    synapses: SynapseTable,
    out: str | os.PathLike[str],
    *,
    properties: Sequence[str] = ("size",),
    limit: int = 2000,
    max_levels: int = 20,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a synapse table as Neuroglancer precomputed point annotations.

    Parameters
    ----------
    synapses : SynapseTable
        Needs positions ``x_nm, y_nm, z_nm`` (nm) and ``pre``/``post`` ids (non-negative,
        64-bit exact). The ``pre_segment``/``post_segment`` relationships hold the ids of the
        segmentation: the ``pre_segment_id``/``post_segment_id`` columns when the table has
        both (segments grouped into objects, as in L4dense and the synthetic data), else
        ``pre``/``post`` (MICrONS root ids are segmentation ids). An integer ``id`` column, when present and unique, gives the annotation
        ids; otherwise the row numbers do.
    out : path-like
        Annotation folder to create.
    properties : sequence of str
        Numeric columns stored as float32 properties (``size`` by default; missing ones are
        skipped only when they are the default ``size``).
    limit : int
        Most annotations in one spatial cell of one level.
    max_levels : int
        Most spatial index levels; the last one takes every remaining synapse.
    seed : int
        Seed of the random subsampling (the output is deterministic for a given seed).
    overwrite : bool
        Replace an existing folder.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    DataFormatError
        No positions, negative ids, non-numeric or missing properties.
    DatasetExistsError
        ``out`` exists and ``overwrite`` is False.
    """
    out = Path(out)
    df = synapses.df
    need = ["x_nm", "y_nm", "z_nm"]
    if any(c not in df.columns for c in need):
        raise DataFormatError(
            f"synapse annotations need positions x_nm, y_nm, z_nm (nm); the table has "
            f"{list(df.columns)}. Read the table with its voxel size so positions become nm "
            "(SynapseTable.read(path, voxel_size=(4, 4, 40)); CLI: --voxel-size 4,4,40)"
        )
    if limit < 1:
        raise InvalidParameterError(f"limit must be >= 1, got {limit}")
    props = [p for p in properties if not (p == "size" and "size" not in df.columns)]
    for p in props:
        if p not in df.columns or not np.issubdtype(df[p].dtype, np.number):
            raise DataFormatError(
                f"property {p!r}: not a numeric column of the synapse table {list(df.columns)}"
            )
    if out.exists():
        if not overwrite:
            raise DatasetExistsError(f"{out}: already exists; pass overwrite=True (--overwrite)")
        shutil.rmtree(out)
    n = len(df)
    if n == 0:
        raise DataFormatError("the synapse table is empty: no annotations to write")
    xyz = df[need].to_numpy(np.float64)
    if n and not np.isfinite(xyz).all():
        raise DataFormatError(
            f"synapse positions: {int((~np.isfinite(xyz)).any(1).sum())} rows "
            "have missing or infinite coordinates"
        )
    seg_cols = ("pre_segment_id", "post_segment_id")
    rel_cols = seg_cols if all(c in df.columns for c in seg_cols) else ("pre", "post")
    related = []
    for col in rel_cols:
        ids = df[col].to_numpy()
        if ids.dtype.kind == "i" and n and ids.min() < 0:
            raise DataFormatError(f"{col} ids must be >= 0 for annotations, got {ids.min()}")
        related.append(ids.astype(np.uint64))
    if "id" in df.columns and df["id"].dtype.kind in "iu" and df["id"].is_unique:
        ann_ids = df["id"].to_numpy().astype(np.uint64)
    else:
        ann_ids = np.arange(n, dtype=np.uint64)

    rec = np.zeros(n, _record_dtype(len(props)))
    rec["xyz"] = xyz.astype(np.float32)
    for i, p in enumerate(props):
        rec[f"p{i}"] = df[p].to_numpy(np.float64).astype(np.float32)
    rec_bytes = (
        rec.view(np.uint8).reshape(n, rec.dtype.itemsize) if n else np.zeros((0, 1), np.uint8)
    )

    if n:
        lower = xyz.min(0)
        upper = xyz.max(0)
    else:
        lower = upper = np.zeros(3)
    upper = np.maximum(upper, lower + 1.0)  # a non-empty box even for one synapse
    out.mkdir(parents=True)
    info: dict[str, Any] = {
        "@type": "neuroglancer_annotations_v1",
        "dimensions": {"x": [1e-9, "m"], "y": [1e-9, "m"], "z": [1e-9, "m"]},
        "lower_bound": [float(v) for v in lower],
        "upper_bound": [float(v) for v in upper],
        "annotation_type": "point",
        "properties": [{"id": p, "type": "float32", "description": p} for p in props],
        "relationships": [],
        "by_id": {},
        "spatial": [],
    }

    # by_id: record + for each relationship (count=1, id)
    single = np.zeros(
        n,
        [
            ("r", f"V{rec.dtype.itemsize}"),
            ("c0", "<u4"),
            ("s0", "<u8"),
            ("c1", "<u4"),
            ("s1", "<u8"),
        ],
    )
    if n:
        single["r"] = rec.view(f"V{rec.dtype.itemsize}")
    single["c0"] = 1
    single["s0"] = related[0]
    single["c1"] = 1
    single["s1"] = related[1]
    w = single.dtype.itemsize
    spec = sharding_spec(n, data_encoding="raw")
    write_sharded(out / "by_id", ann_ids, single.view(np.uint8), np.arange(n + 1) * w, spec)
    info["by_id"] = {"key": "by_id", "sharding": spec}

    # relationship indices: segment -> all its synapses (multiple annotation encoding)
    for name, seg in zip(RELATIONSHIPS, related):
        keys, buf, offs = _group_encode(seg, np.arange(n), rec_bytes, ann_ids)
        spec = sharding_spec(len(keys))
        write_sharded(out / name, keys, buf, offs, spec)
        info["relationships"].append({"id": name, "key": name, "sharding": spec})

    # spatial index
    rng = np.random.default_rng(seed)
    priority = rng.permutation(n)
    remaining = np.arange(n)
    levels = _spatial_levels(lower, upper, max_levels)
    for li, (grid, chunk) in enumerate(levels):
        if not len(remaining) and li > 0:
            break
        cells = np.floor((xyz[remaining] - lower) / chunk).astype(np.int64)
        cells = np.clip(cells, 0, grid - 1)
        code = compressed_morton_code(cells, grid.tolist())
        order = np.lexsort((priority[remaining], code))
        code_s = code[order]
        first = np.r_[True, code_s[1:] != code_s[:-1]]
        starts = np.flatnonzero(first)
        counts = np.diff(np.r_[starts, len(code_s)])
        last = li == len(levels) - 1
        max_count = int(counts.max()) if len(counts) else 0
        frac = 1.0 if last or max_count <= limit else limit / max_count
        # the same fraction in every cell, rounded at random (unbiased), never above limit
        take = np.floor(counts * frac + rng.random(len(counts))).astype(np.int64)
        take = np.minimum(take, counts)
        if not last:
            take = np.minimum(take, limit)
        rank = np.arange(len(code_s)) - np.repeat(starts, counts)
        emit = rank < np.repeat(take, counts)
        emitted = remaining[order[emit]]  # grouped by cell, random order within a cell
        cell_of = code_s[emit]
        keys, buf, offs = _group_encode(cell_of, emitted, rec_bytes, ann_ids, presorted=True)
        spec = sharding_spec(len(keys), hash="identity")
        key = f"spatial{li}"
        write_sharded(out / key, keys, buf, offs, spec)
        info["spatial"].append(
            {
                "key": key,
                "grid_shape": [int(g) for g in grid],
                "chunk_size": [float(c) for c in chunk],
                "limit": int(take.max()) if len(take) and last else int(limit),
                "sharding": spec,
            }
        )
        remaining = np.sort(remaining[order[~emit]])
    (out / "info").write_text(json.dumps(info, indent=1))
    return out


def _group_encode(
    group: np.ndarray,
    rows: np.ndarray,
    rec_bytes: np.ndarray,
    ann_ids: np.ndarray,
    *,
    presorted: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Multiple-annotation encoding per group key: uint64 count, the records, uint64 ids.

    Returns the distinct keys, the concatenated values and their offsets (n + 1).
    """
    group = np.asarray(group, np.uint64)
    if not presorted:
        order = np.argsort(group, kind="stable")
        group, rows = group[order], rows[order]
    if not len(group):
        return np.zeros(0, np.uint64), np.zeros(0, np.uint8), np.zeros(1, np.int64)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    counts = np.diff(np.r_[starts, len(group)])
    w = rec_bytes.shape[1]
    sizes = 8 + counts * (w + 8)
    offs = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    buf = np.empty(int(offs[-1]), np.uint8)
    recs = rec_bytes[rows]
    ids = ann_ids[rows].astype("<u8").view(np.uint8).reshape(-1, 8)
    for s, c, o in zip(starts.tolist(), counts.tolist(), offs[:-1].tolist()):
        buf[o : o + 8] = np.frombuffer(np.uint64(c).astype("<u8").tobytes(), np.uint8)
        buf[o + 8 : o + 8 + c * w] = recs[s : s + c].reshape(-1)
        buf[o + 8 + c * w : o + 8 + c * (w + 8)] = ids[s : s + c].reshape(-1)
    return group[starts], buf, offs


def write_dataset_annotations(
    dataset: Dataset,
    synapses: SynapseTable | None = None,
    *,
    limit: int = 2000,
    seed: int = 0,
) -> Path:
    """Write the dataset's synapses (or ``synapses``) as annotations.

    Writes ``annotations/synapses`` (see :func:`write_synapse_annotations`), replacing earlier
    annotations, and records the ``annotations`` layer and a provenance step.

    Returns
    -------
    Path
        The annotation folder.
    """
    syn = synapses if synapses is not None else dataset.synapses
    out = dataset.folder("annotations", create=True) / "synapses"
    write_synapse_annotations(syn, out, limit=limit, seed=seed, overwrite=True)
    dataset.set_layer(
        "annotations",
        {
            "kind": "annotations",
            "format": "neuroglancer_annotations_v1",
            "path": "annotations/synapses",
            "n_synapses": len(syn),
        },
    )
    dataset.record_step("annotations", n_synapses=len(syn), limit=limit, seed=seed)
    return out
