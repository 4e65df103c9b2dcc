"""``MeshSet``: the Neuroglancer meshes stored in a dataset (``meshes/``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._store import Store
from ..errors import LayerNotFoundError
from ..precomputed import list_sharded_keys, read_legacy_mesh, read_multires_mesh
from ._mesh import Mesh

__all__ = ["MeshSet"]


class MeshSet:
    """Read access to a dataset's stored meshes, by segment id (as Neuroglancer asks).

    ``surfaces`` writes one surface per object split into one fragment per segment, so a
    segment's mesh is its patch of the object's surface; :meth:`object` joins the patches
    of all segments of an object.

    >>> ds.meshes.ids()[:3]          # doctest: +SKIP
    [11, 12, 17]
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.folder = store.layout.meshes

    def _info(self) -> dict[str, Any]:
        p = self.folder / "info"
        return json.loads(p.read_text()) if p.is_file() else {}

    @property
    def multires(self) -> bool:
        """True when the folder holds multi-resolution (sharded Draco) meshes."""
        return self._info().get("@type") == "neuroglancer_multilod_draco"

    def ids(self) -> list[int]:
        """Segment ids that have a mesh manifest, sorted."""
        if not self.folder.is_dir():
            return []
        if self.multires:
            return [int(k) for k in list_sharded_keys(self.folder, self._info()["sharding"])]
        out = []
        for p in self.folder.glob("*:0"):
            head = p.name[:-2]
            if head.isdigit():
                out.append(int(head))
        return sorted(out)

    def __len__(self) -> int:
        return len(self.ids())

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids())

    def __contains__(self, segment_id: object) -> bool:
        if not isinstance(segment_id, int):
            return False
        if self.multires:
            return segment_id in set(self.ids())
        return (self.folder / f"{segment_id}:0").is_file()

    def __getitem__(self, segment_id: int) -> Mesh:
        """The mesh Neuroglancer shows for one segment (vertices in dataset nm)."""
        if not (self.folder / "info").is_file():
            raise LayerNotFoundError(
                f"{self.store.path}: no meshes; make them with "
                f"`connectoscope surfaces {self.store.path} --each neuron`"
            )
        if self.multires:
            lods = read_multires_mesh(self.folder, int(segment_id))
            if lods is None:
                raise KeyError(f"{self.store.path}: no mesh for segment {segment_id}")
            return _joined(int(segment_id), lods[0])
        if segment_id not in self:
            raise KeyError(f"{self.store.path}: no mesh for segment {segment_id}")
        v, f = read_legacy_mesh(self.folder, int(segment_id))
        return Mesh(int(segment_id), v, f)

    def __repr__(self) -> str:
        return f"MeshSet({str(self.store.path)!r}, {len(self)} segments)"


def _joined(segment_id: int, lod: list[tuple[Any, np.ndarray, np.ndarray]]) -> Mesh:
    """One LOD's node fragments as one mesh (vertices on shared node faces merged)."""
    if not lod:
        return Mesh(segment_id, np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint32))
    v = np.concatenate([x[1] for x in lod])
    offs = np.cumsum([0] + [len(x[1]) for x in lod[:-1]])
    f = np.concatenate([np.asarray(x[2], np.int64) + o for x, o in zip(lod, offs)])
    _, first, inv = np.unique(np.round(v, 3), axis=0, return_index=True, return_inverse=True)
    f = inv.reshape(-1)[f]
    ok = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    return Mesh(segment_id, v[first].astype(np.float32), f[ok].astype(np.uint32))
