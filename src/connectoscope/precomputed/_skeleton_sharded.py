"""Neuroglancer precomputed skeletons in the sharded format: a few files for any number.

The ``info`` is the skeleton ``info`` (:func:`skeleton_info`) plus a ``sharding`` object;
each segment id is a key whose value is the skeleton's encoding
(:func:`encode_skeleton`), gzip'd inside the shard. Neuroglancer looks skeletons up by the
segment ids it shows, so every segment of an object gets the object's skeleton.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import write_json_atomic
from ._sharding import sharding_spec, write_sharded
from ._skeleton import EMPTY_SKELETON, segment_skeleton_keys, skeleton_info

__all__ = ["write_skeletons_sharded"]


def write_skeletons_sharded(
    folder: str | os.PathLike[str],
    encoded: Mapping[int, bytes],
    *,
    segments: Mapping[int, np.ndarray] | None = None,
    info: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
) -> list[Path]:
    """Write ``info`` and the shard files of a skeleton set.

    Parameters
    ----------
    folder : path-like
        Created if needed; old ``.shard`` files in it are replaced.
    encoded : mapping of int to bytes
        Object id -> :func:`encode_skeleton` bytes.
    segments : mapping of int to array, optional
        Object id -> its segment ids: the smallest gets the object's skeleton, every other
        member an empty one (:func:`~connectoscope.precomputed.segment_skeleton_keys`);
        default: the object id is the segment id.
    info : dict, optional
        The skeleton ``info`` (default :func:`skeleton_info`); ``sharding`` is set here.
    spec : dict, optional
        Sharding parameters (default :func:`sharding_spec` for the number of keys, gzip).

    Returns
    -------
    list of Path
        The shard files written.

    Examples
    --------
    >>> import tempfile
    >>> from connectoscope.precomputed import encode_skeleton, read_skeleton
    >>> d = tempfile.mkdtemp()
    >>> b = encode_skeleton(np.zeros((2, 3)), np.array([[1, 0]]))
    >>> files = write_skeletons_sharded(d, {5: b}, segments={5: np.array([11, 12])})
    >>> len(files), read_skeleton(d, 11).edges.tolist(), len(read_skeleton(d, 12).vertices)
    (1, [[1, 0]], 0)
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    keys: list[int] = []
    values: list[bytes] = []
    for oid, data in encoded.items():
        for seg, holds in segment_skeleton_keys(int(oid), segments):
            keys.append(seg)
            values.append(data if holds else EMPTY_SKELETON)
    if spec is None:
        spec = sharding_spec(len(keys), data_encoding="gzip")
    order = np.argsort(np.array(keys, np.uint64), kind="stable")
    k = np.array(keys, np.uint64)[order]
    vals = [values[i] for i in order.tolist()]
    buf = np.frombuffer(b"".join(vals), np.uint8)
    offsets = np.r_[0, np.cumsum([len(v) for v in vals])].astype(np.int64)
    for stale in out.glob("*.shard"):
        stale.unlink()
    files = write_sharded(out, k, buf, offsets, spec)
    doc = dict(info or skeleton_info())
    doc["sharding"] = spec
    write_json_atomic(out / "info", doc)  # last: never an info without its shards
    return files
