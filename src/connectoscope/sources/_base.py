"""The public contract of a volume source: what ``ingest`` and ``write_layer`` read from.

A source is a 3-D ``[z, y, x]`` volume of known shape and dtype that answers region reads.
Sources are small picklable objects (paths and parameters only) that open their files on
use, so they can be shipped to worker processes and cluster nodes.

* :class:`SourceReader` is the protocol (structural typing: any object with these members
  is a source);
* :class:`BaseSource` is a convenient base class with the optional members filled in;
* :class:`ArraySource` wraps an in-memory array.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import InvalidParameterError

__all__ = ["ArraySource", "BaseSource", "SourceReader"]

Zyx = tuple[int, int, int]


@runtime_checkable
class SourceReader(Protocol):
    """A 3-D ``[z, y, x]`` volume readable by region.

    Attributes
    ----------
    shape_zyx : (z, y, x) int
        Shape in voxels.
    dtype : numpy.dtype
    offset_vx : (x, y, z) int
        Position of voxel (0, 0, 0) in the source's own frame (level-0 voxels); a new
        dataset keeps it, so nm coordinates match the whole volume's.
    description : str
        What the source is (a path or URL), for messages and provenance.
    """

    @property
    def shape_zyx(self) -> Zyx: ...

    @property
    def dtype(self) -> np.dtype: ...

    @property
    def offset_vx(self) -> Zyx: ...

    @property
    def description(self) -> str: ...

    def read(self, start_zyx: Zyx, stop_zyx: Zyx) -> np.ndarray:
        """The half-open box ``[start, stop)`` as a ``[z, y, x]`` array of ``dtype``."""
        ...

    def read_into(self, start_zyx: Zyx, stop_zyx: Zyx, out: np.ndarray) -> np.ndarray:
        """Read the box into ``out`` (the box's shape, ``dtype``); returns ``out``."""
        ...

    def missing(self) -> list[str]:
        """Parts of the source grid that have no file (read as background)."""
        ...

    def skipped(self) -> list[str]:
        """Files in the source folder that were not read."""
        ...

    def files(self) -> int:
        """Number of source files read."""
        ...


@dataclass
class BaseSource:
    """Base class for sources: subclass it and implement :meth:`read`.

    Parameters
    ----------
    path : Path
        Where the source lives (file, folder; anything describing it).
    shape_zyx : (z, y, x) int
    dtype : numpy.dtype
    offset_vx : (x, y, z) int
    """

    path: Path
    shape_zyx: Zyx
    dtype: np.dtype
    offset_vx: Zyx = (0, 0, 0)

    @property
    def description(self) -> str:
        return str(self.path)

    def read(self, start_zyx: Zyx, stop_zyx: Zyx) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement read()")

    def read_into(self, start_zyx: Zyx, stop_zyx: Zyx, out: np.ndarray) -> np.ndarray:
        out[...] = self.read(start_zyx, stop_zyx)
        return out

    def missing(self) -> list[str]:
        return []

    def skipped(self) -> list[str]:
        return []

    def files(self) -> int:
        return 1


@dataclass
class ArraySource(BaseSource):
    """An in-memory ``[z, y, x]`` array as a source.

    >>> src = ArraySource.of(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    >>> src.read((0, 1, 1), (1, 2, 3)).tolist()
    [[[5, 6]]]
    """

    array: np.ndarray | None = None

    @classmethod
    def of(cls, array: np.ndarray, *, name: str = "array") -> ArraySource:
        """Wrap ``array`` (3-D, ``[z, y, x]``)."""
        a = np.asarray(array)
        if a.ndim != 3:
            raise InvalidParameterError(f"expected a 3-D [z, y, x] array, got shape {a.shape}")
        z, y, x = a.shape
        return cls(Path(f"<{name}>"), (z, y, x), a.dtype, array=a)

    def read(self, start_zyx: Zyx, stop_zyx: Zyx) -> np.ndarray:
        assert self.array is not None
        return np.asarray(self.array[tuple(slice(a, b) for a, b in zip(start_zyx, stop_zyx))])
