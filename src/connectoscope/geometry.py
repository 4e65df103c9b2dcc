"""Coordinates, voxel sizes and bounding boxes.

Conventions used everywhere in connectoscope:

* Arrays are ``[z, y, x]`` in C order, in memory and on disk, as the sources are.
* User-facing coordinates are ``(x, y, z)``. A name says whether they are voxels
  (``*_vx``) or nanometres (``*_nm``); nanometres are the default unit.
* A :class:`Bbox` is half-open ``[start, stop)`` in ``(x, y, z)`` voxel coordinates of one
  pyramid level.
* Every conversion between voxels and nanometres goes through one :class:`LevelFrame`
  (see its docstring and ``docs/coordinates.md`` for the convention: voxel centres sit at
  ``origin_nm + index * voxel_size``, the OME-Zarr convention).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .errors import InvalidParameterError

__all__ = ["Bbox", "LevelFrame", "VoxelSize", "VoxelSizeLike", "float3", "int3", "parse_xyz"]


def int3(values: Iterable[Any]) -> tuple[int, int, int]:
    """Exactly three integers as a tuple (a JSON list, a numpy row, a generator).

    >>> int3([1, 2.0, "3"])
    (1, 2, 3)
    """
    v = [int(x) for x in values]
    if len(v) != 3:
        raise InvalidParameterError(f"expected three integers, got {v}")
    return (v[0], v[1], v[2])


def float3(values: Iterable[Any]) -> tuple[float, float, float]:
    """Exactly three floats as a tuple."""
    v = [float(x) for x in values]
    if len(v) != 3:
        raise InvalidParameterError(f"expected three numbers, got {v}")
    return (v[0], v[1], v[2])


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
        return Bbox(int3(start), int3(stop))

    def union(self, other: Bbox) -> Bbox:
        """Smallest box holding both."""
        return Bbox(
            int3(min(a, b) for a, b in zip(self.start, other.start)),
            int3(max(a, b) for a, b in zip(self.stop, other.stop)),
        )

    def translate(self, offset_xyz: Sequence[int]) -> Bbox:
        """Shift by ``offset_xyz`` voxels."""
        return Bbox(
            int3(a + int(o) for a, o in zip(self.start, offset_xyz)),
            int3(a + int(o) for a, o in zip(self.stop, offset_xyz)),
        )

    def contains(self, other: Bbox) -> bool:
        """True when ``other`` lies inside this box."""
        return all(a <= b for a, b in zip(self.start, other.start)) and all(
            a >= b for a, b in zip(self.stop, other.stop)
        )

    def scaled_down(self, factor_xyz: Sequence[int]) -> Bbox:
        """This box in the voxels of a level downsampled by ``factor_xyz`` (outward rounding)."""
        return Bbox(
            int3(a // f for a, f in zip(self.start, factor_xyz)),
            int3(-(-a // f) for a, f in zip(self.stop, factor_xyz)),
        )

    def to_dict(self) -> dict[str, list[int]]:
        """JSON-ready form."""
        return {"start": list(self.start), "stop": list(self.stop)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Bbox:
        """Inverse of :meth:`to_dict`."""
        return cls(int3(d["start"]), int3(d["stop"]))


@dataclass(frozen=True)
class LevelFrame:
    """The one voxel <-> nanometre frame of a dataset at one pyramid level.

    Convention (documented once, in ``docs/coordinates.md``): nanometre coordinates are
    ``(x, y, z)`` in the dataset's frame, the frame of its source (an L4dense subset keeps the
    position it had in the whole volume). The **centre** of voxel ``i`` of this level sits at

        ``origin_nm + i * voxel_size``,   ``origin_nm = offset_vx * base + (voxel_size - base) / 2``

    so the voxel covers ``origin_nm + (i - 1/2) * voxel_size`` to ``origin_nm + (i + 1/2) *
    voxel_size``. The ``(voxel_size - base) / 2`` term puts a coarse voxel's centre at the
    mean of the centres of the fine voxels it pools. This is OME-Zarr's convention (its
    ``translation`` is the position of voxel 0's centre); Neuroglancer, whose own voxels
    start at their lower corner, shifts OME-Zarr layers by half a voxel itself, so meshes,
    skeletons and annotations written in these nanometres line up with the image there.

    Parameters
    ----------
    base : VoxelSize
        Voxel size of level 0, nm.
    offset_vx : (x, y, z) int
        Position of the dataset's voxel (0, 0, 0) in level-0 voxels of the source frame.
    factor_xyz : (x, y, z) int
        Downsampling factor of this level relative to level 0.

    Examples
    --------
    >>> f = LevelFrame(VoxelSize(10, 10, 40), offset_vx=(100, 0, 2))
    >>> f.to_nm([[0, 0, 0]]).tolist()
    [[1000.0, 0.0, 80.0]]
    >>> f1 = f.level((2, 2, 1))
    >>> f1.origin_nm.tolist()
    [1005.0, 5.0, 80.0]
    >>> f1.from_nm(f1.to_nm([[3, 4, 5]])).tolist()
    [[3.0, 4.0, 5.0]]
    >>> f.bbox_from_nm(*f.bbox_to_nm(Bbox((1, 2, 3), (5, 6, 7))))
    Bbox(start=(1, 2, 3), stop=(5, 6, 7))
    """

    base: VoxelSize
    offset_vx: tuple[int, int, int] = (0, 0, 0)
    factor_xyz: tuple[int, int, int] = (1, 1, 1)

    def __post_init__(self) -> None:
        off = tuple(int(v) for v in self.offset_vx)
        fac = tuple(int(v) for v in self.factor_xyz)
        if len(off) != 3 or len(fac) != 3:
            raise InvalidParameterError(f"LevelFrame needs 3 offsets and 3 factors, got {self}")
        if any(f < 1 for f in fac):
            raise InvalidParameterError(f"level factors must be >= 1, got {fac}")
        object.__setattr__(self, "base", VoxelSize.parse(self.base))
        object.__setattr__(self, "offset_vx", off)
        object.__setattr__(self, "factor_xyz", fac)

    # ------------------------------------------------------------------ derived values
    @property
    def voxel_size(self) -> VoxelSize:
        """Voxel size of this level, nm ``(x, y, z)``."""
        return self.base.scaled(self.factor_xyz)

    @property
    def origin_nm(self) -> np.ndarray:
        """``(3,)`` float64: nm ``(x, y, z)`` of the centre of this level's voxel (0, 0, 0)."""
        b = np.asarray(self.base.xyz)
        v = np.asarray(self.voxel_size.xyz)
        return np.asarray(self.offset_vx, np.float64) * b + (v - b) / 2

    def level(self, factor_xyz: Sequence[int]) -> LevelFrame:
        """The frame of another level of the same dataset (factor relative to level 0)."""
        f = (int(factor_xyz[0]), int(factor_xyz[1]), int(factor_xyz[2]))
        return LevelFrame(self.base, self.offset_vx, f)

    def for_voxel_size(self, voxel_size: VoxelSizeLike) -> LevelFrame:
        """The frame of the level whose voxels are ``voxel_size`` nm (an integer multiple of
        the base voxel size on every axis)."""
        vs = VoxelSize.parse(voxel_size)
        fac = []
        for v, b in zip(vs.xyz, self.base.xyz):
            f = round(v / b)
            if f < 1 or abs(f * b - v) > 1e-6 * v:
                raise InvalidParameterError(
                    f"voxel size {vs.xyz} nm is not an integer multiple of the base voxel size "
                    f"{self.base.xyz} nm"
                )
            fac.append(f)
        return self.level(fac)

    # ------------------------------------------------------------------ points
    def to_nm(self, points_vx: ArrayLike) -> np.ndarray:
        """``(N, 3)`` ``x, y, z`` voxel indices of this level (fractional allowed) -> nm of
        those positions (index ``i`` is voxel ``i``'s centre). float64."""
        p = np.asarray(points_vx, np.float64)
        return self.origin_nm + p * np.asarray(self.voxel_size.xyz)

    def from_nm(self, points_nm: ArrayLike) -> np.ndarray:
        """Inverse of :meth:`to_nm`: ``(N, 3)`` nm -> fractional voxel indices (float64)."""
        p = np.asarray(points_nm, np.float64)
        return (p - self.origin_nm) / np.asarray(self.voxel_size.xyz)

    def voxel_at(self, points_nm: ArrayLike) -> np.ndarray:
        """``(N, 3)`` int64 index of the voxel containing each nm point."""
        return np.floor(self.from_nm(points_nm) + 0.5).astype(np.int64)

    # ------------------------------------------------------------------ boxes
    def bbox_to_nm(
        self, bbox: Bbox
    ) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """The nm extent ``((x0, y0, z0), (x1, y1, z1))`` covered by the voxels of ``bbox``
        (outer faces, not centres)."""
        lo = self.to_nm(np.asarray(bbox.start, np.float64) - 0.5)
        hi = self.to_nm(np.asarray(bbox.stop, np.float64) - 0.5)
        return (
            (float(lo[0]), float(lo[1]), float(lo[2])),
            (float(hi[0]), float(hi[1]), float(hi[2])),
        )

    def bbox_from_nm(self, start_nm: Sequence[float], stop_nm: Sequence[float]) -> Bbox:
        """The smallest voxel box whose voxels cover the nm box ``[start_nm, stop_nm)``.

        A voxel is included when its extent overlaps the box (touching a face is not an
        overlap). A box of zero width selects no voxel on that axis.
        """
        a = np.asarray(start_nm, np.float64)
        b = np.asarray(stop_nm, np.float64)
        if (
            a.shape != (3,)
            or b.shape != (3,)
            or not (np.isfinite(a).all() and np.isfinite(b).all())
        ):
            raise InvalidParameterError(
                f"bbox_nm: expected two finite (x, y, z) points in nm, got {start_nm!r}, {stop_nm!r}"
            )
        if (b < a).any():
            raise InvalidParameterError(
                f"bbox_nm: stop {tuple(b)} must be >= start {tuple(a)} on every axis (x, y, z nm)"
            )
        eps = 1e-9
        lo = np.floor(self.from_nm(a) + 0.5 + eps).astype(np.int64)
        hi = np.ceil(self.from_nm(b) + 0.5 - eps).astype(np.int64)
        hi = np.where(b > a, np.maximum(hi, lo), lo)
        return Bbox((int(lo[0]), int(lo[1]), int(lo[2])), (int(hi[0]), int(hi[1]), int(hi[2])))

    # ------------------------------------------------------------------ other tools' forms
    @property
    def ome_scale_zyx(self) -> list[float]:
        """OME-Zarr ``scale`` of this level, ``[z, y, x]`` nm."""
        return list(self.voxel_size.zyx)

    @property
    def ome_translation_zyx(self) -> list[float]:
        """OME-Zarr ``translation`` of this level (voxel 0's centre), ``[z, y, x]`` nm."""
        o = self.origin_nm
        return [float(o[2]), float(o[1]), float(o[0])]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "base_voxel_size": self.base.to_dict(),
            "offset_vx": list(self.offset_vx),
            "factor_xyz": list(self.factor_xyz),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LevelFrame:
        """Inverse of :meth:`to_dict`."""
        return cls(
            VoxelSize.from_dict(d["base_voxel_size"]),
            int3(d["offset_vx"]),
            int3(d["factor_xyz"]),
        )
