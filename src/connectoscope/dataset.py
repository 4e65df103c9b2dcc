"""The :class:`Dataset` facade: one dataset directory with its layers as properties.

``Dataset`` is a :class:`~connectoscope._store.Store` (metadata, layout, frame, lock) with
the layers reached through properties: :attr:`image`, :attr:`segmentation`,
:attr:`objects`, :attr:`synapses`, :attr:`cells`, :attr:`meshes`, :attr:`skeletons`. It sits
at the top of the package: it imports the layers, and no layer imports it (they take a
``Store``, which a ``Dataset`` is).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ._store import FORMAT_VERSION, METADATA_NAME, Store, is_dataset

if TYPE_CHECKING:  # pragma: no cover
    from .connectome import CellTable, SynapseTable
    from .morphology import SkeletonSet
    from .segmentation import ObjectMaps
    from .surfaces import MeshSet
    from .volume import VolumeLayer

__all__ = ["FORMAT_VERSION", "METADATA_NAME", "Dataset", "is_dataset"]


class Dataset(Store):
    """A connectoscope dataset directory and its layers.

    Use :meth:`create` for a new one and :meth:`open` (or the constructor) for an existing
    one. Layers load lazily on first access.

    Parameters
    ----------
    path : path-like
        The dataset directory.

    Raises
    ------
    DatasetNotFoundError
        When ``path`` holds no ``connectoscope.json``.
    DataFormatError
        When the metadata file is unreadable or of a newer format.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "demo.cscope"
    >>> ds = Dataset.create(d, voxel_size=(11.24, 11.24, 28), offset_vx=(1024, 0, 2048))
    >>> Dataset.open(d).voxel_size.z
    28.0
    >>> ds.frame.to_nm([[0, 0, 0]]).tolist()
    [[11509.76, 0.0, 57344.0]]
    """

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Dataset:
        """Open an existing dataset directory (same as the constructor)."""
        return cls(path)

    @property
    def image(self) -> VolumeLayer:
        """The EM image pyramid (see :class:`connectoscope.volume.VolumeLayer`)."""
        from .volume import VolumeLayer

        return VolumeLayer(self, "image")

    @property
    def segmentation(self) -> VolumeLayer:
        """The segmentation pyramid (see :class:`connectoscope.volume.VolumeLayer`)."""
        from .volume import VolumeLayer

        return VolumeLayer(self, "segmentation")

    def volume(self, name: str) -> VolumeLayer:
        """Any volume layer by name (``image``, ``segmentation`` or a mapped label layer)."""
        from .volume import VolumeLayer

        return VolumeLayer(self, name)

    @property
    def objects(self) -> ObjectMaps:
        """Segment-to-object maps (see :class:`connectoscope.segmentation.ObjectMaps`)."""
        from .segmentation import ObjectMaps

        return ObjectMaps.from_store(self)

    @property
    def synapses(self) -> SynapseTable:
        """The dataset's synapse table (see :class:`connectoscope.connectome.SynapseTable`)."""
        from .connectome import SynapseTable

        return SynapseTable.from_store(self)

    @property
    def cells(self) -> CellTable:
        """The dataset's cell table (see :class:`connectoscope.connectome.CellTable`)."""
        from .connectome import CellTable

        return CellTable.from_store(self)

    @property
    def meshes(self) -> MeshSet:
        """The dataset's stored meshes (see :class:`connectoscope.surfaces.MeshSet`)."""
        from .surfaces import MeshSet

        return MeshSet(self)

    @property
    def skeletons(self) -> SkeletonSet:
        """The dataset's stored skeletons (see :class:`connectoscope.morphology.SkeletonSet`)."""
        from .morphology import SkeletonSet

        return SkeletonSet(self)
