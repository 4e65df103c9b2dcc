"""One entry point for every skeleton format: SWC, NML, our Parquet, Neuroglancer precomputed."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import write_bytes_atomic, write_json_atomic
from ..errors import InvalidParameterError, SourceNotFoundError
from ..precomputed import decode_skeleton, encode_skeleton, skeleton_info
from ._nml import _orient, read_nml, write_nml
from ._parquet import read_skeleton_parquet, write_skeleton_parquet
from ._skeleton import Skeleton
from ._swc import read_swc, write_swc

__all__ = [
    "FORMATS",
    "read_skeleton",
    "skeleton_format",
    "skeleton_from_precomputed",
    "skeleton_to_precomputed",
    "write_skeleton",
]

FORMATS = ("swc", "nml", "parquet", "precomputed")


def skeleton_format(path: str | os.PathLike[str], format: str | None = None) -> str:
    """The format of ``path``: ``format`` when given, else from the suffix (``.swc``,
    ``.nml``, ``.parquet``/``.pq``) or ``precomputed`` for a folder or a file without suffix
    (a precomputed skeleton file beside its ``info``)."""
    if format is not None:
        if format not in FORMATS:
            raise InvalidParameterError(
                f"format must be one of {', '.join(FORMATS)}, got {format!r}"
            )
        return format
    p = Path(path)
    suf = p.suffix.lower()
    if suf == ".swc":
        return "swc"
    if suf == ".nml":
        return "nml"
    if suf in (".parquet", ".pq"):
        return "parquet"
    if suf == "" or p.is_dir():
        return "precomputed"
    raise InvalidParameterError(
        f"{p}: cannot tell the skeleton format from the suffix {suf!r}; use .swc, .nml, "
        ".parquet, a precomputed folder, or pass format= (--format)"
    )


def read_skeleton(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    units: float = 1000.0,
    root: str | int | None = None,
    scale_nm: Sequence[float] | None = None,
    segment_id: int | None = None,
) -> Skeleton:
    """Read a skeleton in any supported format (vertices in nm).

    Parameters
    ----------
    path : path-like
    format : {"swc", "nml", "parquet", "precomputed"}, optional
        Default: from the suffix (see :func:`skeleton_format`).
    units : float
        SWC only: nm per file unit (1000 = microns, 8 = hemibrain voxels, 1 = nm).
    root : "soma", a comment pattern, a node id, or None
        NML: the root (see :meth:`NmlDocument.to_skeleton`); other formats: reroot at this
        node id (``"soma"``: at the first vertex with compartment 1).
    scale_nm : (3,) float, optional
        NML without ``<scale>``: the voxel size.
    segment_id : int, optional
        Precomputed folder: which skeleton file to read.
    """

    p = Path(path)
    if not p.exists():
        raise SourceNotFoundError(f"{p}: no such file or folder")
    fmt = skeleton_format(p, format)
    if fmt == "nml":
        return read_nml(p).to_skeleton(root=root, scale_nm=scale_nm)
    if fmt == "swc":
        sk = read_swc(p, units=units)
    elif fmt == "parquet":
        sk = read_skeleton_parquet(p)
    else:
        if p.is_dir():
            if segment_id is None:
                ids = sorted(c.name for c in p.iterdir() if c.name.isdigit())
                raise InvalidParameterError(
                    f"{p}: a precomputed folder; pass segment_id= (--id), one of "
                    f"{', '.join(ids[:10]) or 'none found'}"
                )
            p = p / str(int(segment_id))
            if not p.exists():
                raise SourceNotFoundError(f"{p}: no skeleton for segment {segment_id}")
        info_p = p.parent / "info"
        attrs = json.loads(info_p.read_text()).get("vertex_attributes") if info_p.exists() else None
        sk = skeleton_from_precomputed(p.read_bytes(), vertex_attributes=attrs, source=str(p))
    return sk if root is None else reroot_at(sk, root)


def reroot_at(sk: Skeleton, root: str | int) -> Skeleton:
    """Reroot at a node id, or at the first soma vertex (compartment 1) for ``"soma"``."""
    if root == "soma":
        soma = np.flatnonzero(sk.features["compartment"] == 1)
        if soma.size == 0:
            raise InvalidParameterError(
                f"{sk.name or 'skeleton'}: no soma vertex (compartment 1); pass a node id as root"
            )
        return sk.reroot(int(soma[0]))
    if isinstance(root, str) and not root.lstrip("-").isdigit():
        raise InvalidParameterError(f"root must be 'soma' or a node id, got {root!r}")
    return sk.reroot(int(sk.vertex_of(np.array([int(root)]))[0]))


def write_skeleton(
    skel: Skeleton,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    units: float = 1000.0,
    scale_nm: Sequence[float] | None = None,
    segment_id: int = 1,
) -> Path:
    """Write ``skel`` in any supported format; returns the file written.

    ``units``: SWC nm per file unit. ``scale_nm``: NML voxel size (default: the one it was
    read with, else 1 nm). Precomputed: ``path`` is a folder; writes ``info`` and the file
    ``<segment_id>`` (float32 vertices in nm, radius and compartment attributes).
    """

    p = Path(path)
    fmt = skeleton_format(p, format)
    if fmt == "swc":
        return write_swc(skel, p, units=units)
    if fmt == "nml":
        return write_nml(skel, p, scale_nm=scale_nm)
    if fmt == "parquet":
        return write_skeleton_parquet(skel, p)
    p.mkdir(parents=True, exist_ok=True)
    write_json_atomic(p / "info", skeleton_info())
    return write_bytes_atomic(p / str(int(segment_id)), skeleton_to_precomputed(skel))


def skeleton_to_precomputed(sk: Skeleton) -> bytes:
    """``sk`` in the precomputed skeleton encoding (edges child -> parent, radius and
    compartment as float32 vertex attributes)."""
    has = np.flatnonzero(sk.parent >= 0)
    edges = np.stack([has, sk.parent[has]], axis=1)
    return encode_skeleton(
        sk.vertices,
        edges,
        {"radius": sk.features["radius"], "compartment": sk.features["compartment"]},
    )


def skeleton_from_precomputed(
    data: bytes, *, vertex_attributes: list[dict[str, Any]] | None = None, source: str = "skeleton"
) -> Skeleton:
    """Skeleton from the precomputed encoding (any writer's).

    Vertex indices become node ids; edges (in any orientation) are oriented from the lowest
    vertex index of each piece (our root, as we write parents first). Precomputed stores
    float32, so coordinates come back rounded to float32.
    """

    v, e, feats = decode_skeleton(data, vertex_attributes=vertex_attributes, source=source)
    if "compartment" in feats:
        feats["compartment"] = np.rint(feats["compartment"]).astype(np.int32)
    if "radius" in feats:
        feats["radius"] = feats["radius"].astype(np.float64)
    nv = len(v)
    parent = _orient(nv, e, np.arange(nv), None, source)
    return Skeleton.from_parents(
        np.arange(nv), parent, v, features=feats, source=source, name=source.rsplit("/", 1)[-1]
    )
