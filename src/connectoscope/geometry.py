"""Coordinates, voxel sizes and bounding boxes.

Conventions used everywhere in connectoscope:

* Arrays are ``[z, y, x]`` in C order, in memory and on disk, as the sources are.
* User-facing coordinates are ``(x, y, z)``. A name says whether they are voxels
  (``*_vx``) or nanometres (``*_nm``); nanometres are the default unit.
* A :class:`Bbox` is half-open ``[start, stop)`` in ``(x, y, z)`` voxel coordinates of one
  pyramid level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InvalidParameterError

__all__ = ["Bbox", "VoxelSize", "VoxelSizeLike", "nm_to_voxel", "parse_xyz", "voxel_to_nm"]


def parse_xyz(
    text: str | Sequence[float] | Sequence[int],
    *,
    name: str = "value",
    integer: bool = False,
    positive: bool = False,
) -> tuple[Any, Any, Any]:
    """Parse ``"X,Y,Z"`` (or a 3-sequence) into a tuple of three numbers.

    Parameters
    ----------
    text : str or sequence
        ``"16,16,40"``, ``"16x16x40"`` or ``(16, 16, 40)``; a single number means all three.
    name : str
        Name used in error messages (for example ``"--voxel-size"``).
    integer : bool
        Require integers.
    positive : bool
        Require every value to be greater than zero.

    Returns
    -------
    tuple
        ``(x, y, z)`` as ints when ``integer`` else floats.

    Raises
    ------
    InvalidParameterError
        When the text is not three numbers.
    """
    parts: list[Any]
    if isinstance(text, str):
        parts = [p for p in text.replace("x", ",").replace(" ", ",").split(",") if p != ""]
    else:
        parts = list(text)
    if len(parts) == 1:
        parts = parts * 3
    if len(parts) != 3:
        raise InvalidParameterError(
            f"{name}: expected three numbers X,Y,Z (for example 16,16,40), got {text!r}"
        )
    out: list[Any] = []
    for p in parts:
        try:
            v = float(p)
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"{name}: {p!r} is not a number; expected X,Y,Z such as 16,16,40"
            ) from None
        if not math.isfinite(v):
            raise InvalidParameterError(f"{name}: {p!r} is not finite")
        if integer:
            if v != int(v):
                raise InvalidParameterError(f"{name}: expected whole numbers, got {text!r}")
            out.append(int(v))
        else:
            out.append(v)
        if positive and v <= 0:
            raise InvalidParameterError(f"{name}: every value must be > 0, got {text!r}")
    return (out[0], out[1], out[2])


@dataclass(frozen=True)
class VoxelSize:
    """Physical size of one voxel in nanometres, ``(x, y, z)``."""

    x: float
    y: float
    z: float

    def __post_init__(self) -> None:
        for v in (self.x, self.y, self.z):
            if not (math.isfinite(v) and v > 0):
                raise InvalidParameterError(
                    f"voxel size must be three positive numbers in nm, got {self.xyz}"
                )

    @classmethod
    def parse(cls, value: VoxelSizeLike) -> VoxelSize:
        """Build from a ``VoxelSize``, a 3-sequence or ``"X,Y,Z"`` text (nm)."""
        if isinstance(value, VoxelSize):
            return value
        x, y, z = parse_xyz(value, name="voxel size", positive=True)
        return cls(float(x), float(y), float(z))

    @property
    def xyz(self) -> tuple[float, float, float]:
        """``(x, y, z)`` in nm."""
        return (self.x, self.y, self.z)

    @property
    def zyx(self) -> tuple[float, float, float]:
        """``(z, y, x)`` in nm, matching array axis order."""
        return (self.z, self.y, self.x)

    @property
    def volume_nm3(self) -> float:
        """Volume of one voxel in nm^3."""
        return self.x * self.y * self.z

    def scaled(self, factor_xyz: Sequence[int]) -> VoxelSize:
        """Voxel size after downsampling by integer factors ``(fx, fy, fz)``."""
        return VoxelSize(self.x * factor_xyz[0], self.y * factor_xyz[1], self.z * factor_xyz[2])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"x": .., "y": .., "z": .., "unit": "nanometer"}``."""
        return {"x": self.x, "y": self.y, "z": self.z, "unit": "nanometer"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VoxelSize:
        """Inverse of :meth:`to_dict`."""
        return cls(float(d["x"]), float(d["y"]), float(d["z"]))


VoxelSizeLike = VoxelSize | str | Sequence[float]


@dataclass(frozen=True)
class Bbox:
    """Half-open box ``[start, stop)`` in ``(x, y, z)`` voxel coordinates.

    Examples
    --------
    >>> b = Bbox((0, 0, 0), (64, 32, 16))
    >>> b.shape_zyx
    (16, 32, 64)
    >>> b.slices_zyx
    (slice(0, 16, None), slice(0, 32, None), slice(0, 64, None))
    """

    start: tuple[int, int, int]
    stop: tuple[int, int, int]

    def __post_init__(self) -> None:
        start = tuple(int(v) for v in self.start)
        stop = tuple(int(v) for v in self.stop)
        if len(start) != 3 or len(stop) != 3:
            raise InvalidParameterError(f"Bbox needs 3 start and 3 stop values, got {self}")
        if any(b < a for a, b in zip(start, stop)):
            raise InvalidParameterError(
                f"Bbox stop must be >= start on every axis, got start={start} stop={stop}"
            )
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "stop", stop)

    @classmethod
    def from_shape_zyx(cls, shape_zyx: Sequence[int]) -> Bbox:
        """The box covering a whole ``[z, y, x]`` array."""
        z, y, x = (int(v) for v in shape_zyx)
        return cls((0, 0, 0), (x, y, z))

    @classmethod
    def parse(cls, text: str) -> Bbox:
        """Parse ``"x0,y0,z0:x1,y1,z1"`` (voxels, half-open)."""
        if ":" not in text:
            raise InvalidParameterError(
                f"bbox: expected 'x0,y0,z0:x1,y1,z1' (half-open, voxels), got {text!r}"
            )
        a, b = text.split(":", 1)
        return cls(
            parse_xyz(a, name="bbox start", integer=True),
            parse_xyz(b, name="bbox stop", integer=True),
        )

    @property
    def size(self) -> tuple[int, int, int]:
        """``(x, y, z)`` extent in voxels."""
        return (
            self.stop[0] - self.start[0],
            self.stop[1] - self.start[1],
            self.stop[2] - self.start[2],
        )

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        """Array shape ``(z, y, x)`` of the region."""
        sx, sy, sz = self.size
        return (sz, sy, sx)

    @property
    def slices_zyx(self) -> tuple[slice, slice, slice]:
        """Slices to index a ``[z, y, x]`` array."""
        return (
            slice(self.start[2], self.stop[2]),
            slice(self.start[1], self.stop[1]),
            slice(self.start[0], self.stop[0]),
        )

    @property
    def volume(self) -> int:
        """Number of voxels."""
        sx, sy, sz = self.size
        return sx * sy * sz

    @property
    def empty(self) -> bool:
        """True when the box holds no voxel."""
        return self.volume == 0

    def intersection(self, other: Bbox) -> Bbox:
        """Overlap of two boxes (an empty box when they do not overlap)."""
        start = tuple(max(a, b) for a, b in zip(self.start, other.start))
        stop = tuple(max(s, min(a, b)) for s, a, b in zip(start, self.stop, other.stop))
        return Bbox(start, stop)  # type: ignore[arg-type]

    def union(self, other: Bbox) -> Bbox:
        """Smallest box holding both."""
        return Bbox(
            tuple(min(a, b) for a, b in zip(self.start, other.start)),  # type: ignore[arg-type]
            tuple(max(a, b) for a, b in zip(self.stop, other.stop)),  # type: ignore[arg-type]
        )

    def translate(self, offset_xyz: Sequence[int]) -> Bbox:
        """Shift by ``offset_xyz`` voxels."""
        return Bbox(
            tuple(a + int(o) for a, o in zip(self.start, offset_xyz)),  # type: ignore[arg-type]
            tuple(a + int(o) for a, o in zip(self.stop, offset_xyz)),  # type: ignore[arg-type]
        )

    def contains(self, other: Bbox) -> bool:
        """True when ``other`` lies inside this box."""
        return all(a <= b for a, b in zip(self.start, other.start)) and all(
            a >= b for a, b in zip(self.stop, other.stop)
        )

    def scaled_down(self, factor_xyz: Sequence[int]) -> Bbox:
        """This box in the voxels of a level downsampled by ``factor_xyz`` (outward rounding)."""
        return Bbox(
            tuple(a // f for a, f in zip(self.start, factor_xyz)),  # type: ignore[arg-type]
            tuple(-(-a // f) for a, f in zip(self.stop, factor_xyz)),  # type: ignore[arg-type]
        )

    def to_nm(self, voxel_size: VoxelSize) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Corners in nm: ``((x0, y0, z0), (x1, y1, z1))``."""
        vs = voxel_size.xyz
        return (
            tuple(a * v for a, v in zip(self.start, vs)),
            tuple(a * v for a, v in zip(self.stop, vs)),
        )

    @classmethod
    def from_nm(
        cls, start_nm: Sequence[float], stop_nm: Sequence[float], voxel_size: VoxelSize
    ) -> Bbox:
        """Smallest voxel box covering the nm box ``[start_nm, stop_nm)``."""
        vs = voxel_size.xyz
        return cls(
            tuple(math.floor(a / v) for a, v in zip(start_nm, vs)),  # type: ignore[arg-type]
            tuple(math.ceil(b / v) for b, v in zip(stop_nm, vs)),  # type: ignore[arg-type]
        )

    def to_dict(self) -> dict[str, list[int]]:
        """JSON-ready form."""
        return {"start": list(self.start), "stop": list(self.stop)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Bbox:
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(d["start"]), tuple(d["stop"]))  # type: ignore[arg-type]


def voxel_to_nm(points_vx: np.ndarray, voxel_size: VoxelSize) -> np.ndarray:
    """Convert ``(N, 3)`` ``x, y, z`` voxel coordinates to nm (float64)."""
    return np.asarray(points_vx, dtype=np.float64) * np.asarray(voxel_size.xyz)


def nm_to_voxel(points_nm: np.ndarray, voxel_size: VoxelSize) -> np.ndarray:
    """Convert ``(N, 3)`` ``x, y, z`` nm coordinates to (fractional) voxels (float64)."""
    return np.asarray(points_nm, dtype=np.float64) / np.asarray(voxel_size.xyz)
