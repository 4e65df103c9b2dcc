"""``SkeletonSet``: the skeletons stored in a dataset (``skeletons/``, precomputed)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from .._store import Store
from ..errors import LayerNotFoundError
from ._io import skeleton_from_precomputed
from ._skeleton import Skeleton

__all__ = ["SkeletonSet"]


class SkeletonSet:
    """Read access to a dataset's skeletons, by object id (``skeletonize`` writes them).

    >>> ds.skeletons.ids()          # doctest: +SKIP
    [1, 2, 3, 4]
    >>> ds.skeletons[1].n_vertices  # doctest: +SKIP
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.folder = store.layout.skeletons

    def _require(self) -> None:
        if not (self.folder / "info").is_file():
            raise LayerNotFoundError(
                f"{self.store.path}: no skeletons; make them with "
                f"`connectoscope skeletonize {self.store.path} --each neuron`"
            )

    def ids(self) -> list[int]:
        """Object ids that have a skeleton, sorted."""
        if not (self.folder / "info").is_file():
            return []
        return sorted(
            int(p.name[len("object_") :])
            for p in self.folder.glob("object_*")
            if p.name[len("object_") :].isdigit()
        )

    def __len__(self) -> int:
        return len(self.ids())

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids())

    def __contains__(self, object_id: object) -> bool:
        return isinstance(object_id, int) and (self.folder / f"object_{object_id}").is_file()

    def __getitem__(self, object_id: int) -> Skeleton:
        """The skeleton of one object (vertices in dataset nm)."""
        self._require()
        p = self.folder / f"object_{int(object_id)}"
        if not p.is_file():
            have = ", ".join(map(str, self.ids()[:10])) or "none"
            raise KeyError(f"{self.store.path}: no skeleton for object {object_id} (have: {have})")
        attrs = json.loads((self.folder / "info").read_text()).get("vertex_attributes")
        return skeleton_from_precomputed(p.read_bytes(), vertex_attributes=attrs, source=str(p))

    def __repr__(self) -> str:
        return f"SkeletonSet({str(self.store.path)!r}, {len(self)} skeletons)"
