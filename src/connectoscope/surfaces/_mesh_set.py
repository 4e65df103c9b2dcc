"""``MeshSet``: the Neuroglancer meshes stored in a dataset (``meshes/``)."""

from __future__ import annotations

from collections.abc import Iterator

from .._store import Store
from ..errors import LayerNotFoundError
from ..precomputed import read_legacy_mesh
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

    def ids(self) -> list[int]:
        """Segment ids that have a mesh manifest, sorted."""
        if not self.folder.is_dir():
            return []
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
        return isinstance(segment_id, int) and (self.folder / f"{segment_id}:0").is_file()

    def __getitem__(self, segment_id: int) -> Mesh:
        """The mesh Neuroglancer shows for one segment (vertices in dataset nm)."""
        if not (self.folder / "info").is_file():
            raise LayerNotFoundError(
                f"{self.store.path}: no meshes; make them with "
                f"`connectoscope surfaces {self.store.path} --each neuron`"
            )
        if segment_id not in self:
            raise KeyError(f"{self.store.path}: no mesh for segment {segment_id}")
        v, f = read_legacy_mesh(self.folder, int(segment_id))
        return Mesh(int(segment_id), v, f)

    def __repr__(self) -> str:
        return f"MeshSet({str(self.store.path)!r}, {len(self)} segments)"
