"""Coordinate frames: voxel <-> nm <-> a "transformed" frame given as data.

A :class:`FrameTransform` is a frozen value object: input points in nm (or voxels of
``voxel_size_nm``) go through ``out = ((R @ p_nm) + translation_nm) * scale``, where ``R`` is a
3 x 3 rotation, ``translation_nm`` is applied after the rotation (in nm) and ``scale`` turns nm
into the output unit (1/1000 for microns). It has a ``name`` and a ``version`` tag so results
record which definition made them, and ``to_dict``/``from_dict`` for JSON.

The MICrONS minnie65 "standard transform" is built in (:func:`minnie65_transform`),
following the definition in CAVEconnectome/standard_transform (transform track version 1.4,
unchanged through 2.x): rotate 5 degrees about z (scipy ``Rotation.from_euler("z", 5,
degrees=True)``, applied to x, y, z in nm), translate along y so the pia reference point sits
at y = 0, scale to microns. The pia reference point is voxel (183013, 83535, 21480) multiplied
by (4, 4, 45) nm in that definition; only its rotated y matters. The dataset's voxel size is
4 x 4 x 40 nm. Applied to points, DataFrame position columns, skeletons and meshes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .errors import InvalidParameterError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .morphology import Skeleton

__all__ = [
    "MINNIE65_PIA_POINT_NM",
    "MINNIE65_VOXEL_SIZE_NM",
    "FrameTransform",
    "minnie65_transform",
    "rotation_about",
]

MINNIE65_VOXEL_SIZE_NM = (4.0, 4.0, 40.0)
# as defined by standard_transform (note the 45 nm z factor of that definition)
MINNIE65_PIA_POINT_NM = (183013 * 4.0, 83535 * 4.0, 21480 * 45.0)

T = TypeVar("T")


def rotation_about(axis: str, degrees: float) -> tuple[tuple[float, float, float], ...]:
    """Active right-handed rotation matrix about ``x``, ``y`` or ``z`` (as scipy's
    ``Rotation.from_euler(axis, degrees, degrees=True).as_matrix()``)."""
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    if axis == "z":
        m = ((c, -s, 0.0), (s, c, 0.0), (0.0, 0.0, 1.0))
    elif axis == "y":
        m = ((c, 0.0, s), (0.0, 1.0, 0.0), (-s, 0.0, c))
    elif axis == "x":
        m = ((1.0, 0.0, 0.0), (0.0, c, -s), (0.0, s, c))
    else:
        raise InvalidParameterError(f"axis must be x, y or z, got {axis!r}")
    return m


@dataclass(frozen=True)
class FrameTransform:
    """nm (or voxels) -> a transformed frame: ``out = ((R @ p_nm) + translation_nm) * scale``.

    Attributes
    ----------
    rotation : 3 x 3 tuple of float
        Rotation matrix ``R`` (rows), applied to column vectors ``(x, y, z)`` in nm.
    translation_nm : (3,) float
        Added after the rotation, nm.
    scale : (3,) float
        Multiplies the result per axis (1/1000: nm -> µm).
    voxel_size_nm : (3,) float
        Voxel size used when points are given in voxels (``units="voxel"``).
    unit : str
        The output unit (for labels), e.g. ``"µm"``.
    name, version : str
        What this frame is and which definition (recorded with results).
    """

    rotation: tuple[tuple[float, float, float], ...] = (
        (1.0, 0.0, 0.0),
        (0.0, 1.0, 0.0),
        (0.0, 0.0, 1.0),
    )
    translation_nm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    voxel_size_nm: tuple[float, float, float] = (1.0, 1.0, 1.0)
    unit: str = "nm"
    name: str = "identity"
    version: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        r = np.asarray(self.rotation, float)
        if r.shape != (3, 3) or not np.isfinite(r).all():
            raise InvalidParameterError(f"rotation must be a 3 x 3 matrix, got {self.rotation!r}")
        if not np.allclose(r @ r.T, np.eye(3), atol=1e-9) or np.linalg.det(r) < 0:
            raise InvalidParameterError(
                "rotation must be a proper rotation (orthonormal, determinant +1); put "
                "reflections and anisotropic factors in scale"
            )
        for nm, v in (("translation_nm", self.translation_nm), ("scale", self.scale)):
            if len(v) != 3 or not all(math.isfinite(float(x)) for x in v):
                raise InvalidParameterError(f"{nm} must be three finite numbers, got {v!r}")
        if any(float(x) == 0 for x in self.scale):
            raise InvalidParameterError(f"scale must be non-zero on every axis, got {self.scale!r}")
        if len(self.voxel_size_nm) != 3 or any(float(x) <= 0 for x in self.voxel_size_nm):
            raise InvalidParameterError(
                f"voxel_size_nm must be three positive numbers, got {self.voxel_size_nm!r}"
            )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_steps(
        cls,
        steps: Sequence[tuple[str, Any]],
        *,
        voxel_size_nm: Sequence[float] = (1.0, 1.0, 1.0),
        unit: str = "nm",
        name: str = "custom",
        version: str = "",
    ) -> FrameTransform:
        """Compose ``("rotate", (axis, degrees))``, ``("translate", (x, y, z))`` and
        ``("scale", s or (sx, sy, sz))`` steps, applied in order to points in nm."""
        r = np.eye(3)
        t = np.zeros(3)
        s = np.ones(3)
        for kind, arg in steps:
            if kind == "rotate":
                m = np.asarray(rotation_about(arg[0], float(arg[1])))
                if not np.allclose(s, s[0]):
                    raise InvalidParameterError(
                        "rotate after an anisotropic scale is not affine-rigid; scale last"
                    )
                r, t = m @ r, m @ t
            elif kind == "translate":
                t = t + np.asarray(arg, float) / s
            elif kind == "scale":
                s = s * np.broadcast_to(np.asarray(arg, float), 3)
            else:
                raise InvalidParameterError(
                    f"step must be rotate, translate or scale, got {kind!r}"
                )
        return cls(
            _mat3(r),
            _vec3(t),
            _vec3(s),
            _vec3(voxel_size_nm),
            unit,
            name,
            version,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "rotation": [list(r) for r in self.rotation],
            "translation_nm": list(self.translation_nm),
            "scale": list(self.scale),
            "voxel_size_nm": list(self.voxel_size_nm),
            "unit": self.unit,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrameTransform:
        try:
            return cls(
                _mat3(d["rotation"]),
                _vec3(d["translation_nm"]),
                _vec3(d["scale"]),
                _vec3(d.get("voxel_size_nm", (1, 1, 1))),
                str(d.get("unit", "nm")),
                str(d.get("name", "custom")),
                str(d.get("version", "")),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidParameterError(
                f"not a frame transform dict ({e}); expected keys rotation, translation_nm, scale"
            ) from None

    # ------------------------------------------------------------------ points
    def _input_nm(self, points: Any, units: str) -> np.ndarray:
        p = np.asarray(points, np.float64)
        if p.shape[-1:] != (3,):
            raise InvalidParameterError(f"points must have shape (..., 3) x, y, z; got {p.shape}")
        if units == "voxel":
            return p * np.asarray(self.voxel_size_nm)
        if units != "nm":
            raise InvalidParameterError(f"units must be 'nm' or 'voxel', got {units!r}")
        return p

    def apply(self, points: Any, *, units: str = "nm") -> np.ndarray:
        """Transform ``(..., 3)`` points (x, y, z in nm, or voxels with ``units="voxel"``)."""
        p = self._input_nm(points, units)
        r = np.asarray(self.rotation)
        return (p @ r.T + np.asarray(self.translation_nm)) * np.asarray(self.scale)

    def invert(self, points: Any, *, units: str = "nm") -> np.ndarray:
        """Transformed frame -> nm (or voxels with ``units="voxel"``)."""
        q = np.asarray(points, np.float64)
        if q.shape[-1:] != (3,):
            raise InvalidParameterError(f"points must have shape (..., 3); got {q.shape}")
        r = np.asarray(self.rotation)
        p = (q / np.asarray(self.scale) - np.asarray(self.translation_nm)) @ r
        return p / np.asarray(self.voxel_size_nm) if units == "voxel" else p

    def apply_project(self, axis: str, points: Any, *, units: str = "nm") -> np.ndarray:
        """One axis (``x``, ``y`` or ``z``; ``y`` is depth for minnie65) of :meth:`apply`."""
        if axis not in ("x", "y", "z"):
            raise InvalidParameterError(f"axis must be x, y or z, got {axis!r}")
        return self.apply(points, units=units)[..., "xyz".index(axis)]

    # ------------------------------------------------------------------ tables, skeletons, meshes
    def apply_table(
        self,
        df: pd.DataFrame,
        prefix: str,
        *,
        units: str = "voxel",
        suffix: str = "_tf",
    ) -> pd.DataFrame:
        """A copy of ``df`` with the transformed position added as columns
        ``{prefix}{suffix}_x/_y/_z``.

        The position is either split columns ``{prefix}_x``, ``{prefix}_y``, ``{prefix}_z``
        (CAVE tables: ``pt_position_x`` ...) or one column ``prefix`` of 3-vectors. CAVE
        positions are voxels, hence ``units="voxel"`` by default.
        """
        cols = [f"{prefix}_{a}" for a in "xyz"]
        if all(c in df.columns for c in cols):
            pts = df[cols].to_numpy(np.float64)
        elif prefix in df.columns:
            pts = (
                np.stack([np.asarray(v, np.float64) for v in df[prefix].to_numpy()])
                if len(df)
                else np.zeros((0, 3))
            )
        else:
            raise InvalidParameterError(
                f"no position columns {cols} nor a vector column {prefix!r}; columns: {list(df.columns)}"
            )
        out = df.copy()
        q = self.apply(pts, units=units)
        for k, a in enumerate("xyz"):
            out[f"{prefix}{suffix}_{a}"] = q[:, k]
        return out

    def apply_skeleton(self, skel: Skeleton) -> Skeleton:
        """The skeleton with vertices in this frame (``meta["unit"]`` = :attr:`unit`,
        ``meta["frame"]`` = :meth:`to_dict`); radii scaled by the mean scale factor."""
        s = float(np.mean(np.abs(self.scale)))
        feats = dict(skel.features)
        if "radius" in feats:
            feats["radius"] = np.asarray(feats["radius"], float) * s
        meta = dict(skel.meta)
        meta.update(unit=self.unit, frame=self.to_dict())
        return replace(skel, vertices=self.apply(skel.vertices), features=feats, meta=meta)

    def apply_mesh(self, mesh: T) -> T:
        """A mesh with transformed vertices: ``(vertices, faces)`` tuples, or any object with
        a ``vertices`` attribute (a dataclass or an object with ``copy()``, e.g. trimesh)."""
        if isinstance(mesh, tuple):
            v, *rest = mesh
            return (self.apply(v), *rest)  # type: ignore[return-value]
        if not hasattr(mesh, "vertices"):
            raise InvalidParameterError(
                f"mesh must be (vertices, faces) or have .vertices, got {type(mesh).__name__}"
            )
        new_v = self.apply(np.asarray(mesh.vertices))  # type: ignore[attr-defined]
        try:
            return replace(mesh, vertices=new_v)  # type: ignore[type-var]
        except TypeError:
            out = mesh.copy()  # type: ignore[attr-defined]
            out.vertices = new_v
            return out


def _vec3(v: Any) -> tuple[float, float, float]:
    a = [float(x) for x in v]
    if len(a) != 3:
        raise InvalidParameterError(f"expected three numbers, got {v!r}")
    return (a[0], a[1], a[2])


def _mat3(m: Any) -> tuple[tuple[float, float, float], ...]:
    rows = [_vec3(r) for r in m]
    if len(rows) != 3:
        raise InvalidParameterError(f"expected a 3 x 3 matrix, got {m!r}")
    return tuple(rows)


def minnie65_transform(*, version: str = "1.4") -> FrameTransform:
    """The MICrONS minnie65 standard frame: nm (or 4 x 4 x 40 nm voxels) -> oriented µm,
    y pointing from the pia (y = 0) towards white matter.

    Parameters
    ----------
    version : str
        Transform definition; ``"1.4"`` (the only one: unchanged through standard_transform 2.x).
    """
    if version not in ("1.4", "latest"):
        raise InvalidParameterError(f"minnie65 transform version must be '1.4', got {version!r}")
    rot = rotation_about("z", 5.0)
    pia_y = float(np.asarray(rot)[1] @ np.asarray(MINNIE65_PIA_POINT_NM))
    return FrameTransform.from_steps(
        [("rotate", ("z", 5.0)), ("translate", (0.0, -pia_y, 0.0)), ("scale", 1 / 1000)],
        voxel_size_nm=MINNIE65_VOXEL_SIZE_NM,
        unit="µm",
        name="minnie65",
        version="1.4",
    )
