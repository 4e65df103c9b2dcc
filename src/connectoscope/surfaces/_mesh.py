"""Surface meshes of selected objects (zmesh marching cubes + simplification), in nm."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidParameterError, SelectionError

if TYPE_CHECKING:  # pragma: no cover
    from ..dataset import Dataset
    from ..segmentation import Selection

__all__ = ["Mesh", "choose_level", "mesh_labels", "mesh_selection"]


@dataclass
class Mesh:
    """A triangle mesh: ``vertices`` (N, 3) float32 x, y, z in nm; ``faces`` (M, 3) uint32;
    optional ``colors`` (N, 4) uint8 per vertex; ``id`` the object (or segment) id."""

    id: int
    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray | None = None

    def to_trimesh(self) -> Any:
        import trimesh

        return trimesh.Trimesh(
            self.vertices, self.faces, vertex_colors=self.colors, process=False, validate=False
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write PLY / OBJ / GLB (by suffix) through trimesh."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        self.to_trimesh().export(p)
        return p

    @property
    def is_closed(self) -> bool:
        """Every edge shared by exactly two faces (watertight)."""
        return bool(self.to_trimesh().is_watertight)

    @property
    def volume_nm3(self) -> float:
        """Enclosed volume in nm^3 (meaningful for closed meshes)."""
        return float(abs(self.to_trimesh().volume))


def mesh_labels(
    labels_zyx: np.ndarray,
    voxel_size_xyz: Sequence[float],
    *,
    offset_nm: Sequence[float] = (0.0, 0.0, 0.0),
    simplify_nm: float | None = None,
    ids: Sequence[int] | None = None,
) -> dict[int, Mesh]:
    """One closed mesh per non-zero label of a ``[z, y, x]`` volume.

    The volume is padded with one voxel of background so surfaces touching the border close.
    ``simplify_nm``: maximum simplification error in nm (None: no simplification).
    """
    import zmesh

    arr = np.pad(np.ascontiguousarray(labels_zyx), 1)
    mesher = zmesh.Mesher(tuple(float(v) for v in voxel_size_xyz))
    # zmesh indexes x, y, z: pass the Fortran view of our C [z, y, x] array
    mesher.mesh(arr.T)
    out: dict[int, Mesh] = {}
    want = mesher.ids() if ids is None else [i for i in ids if i in set(mesher.ids())]
    shift = np.asarray(offset_nm, np.float32) - np.asarray(voxel_size_xyz, np.float32)
    for i in want:
        if simplify_nm is not None:
            m = mesher.get(i, normals=False, reduction_factor=100, max_error=float(simplify_nm))
        else:
            m = mesher.get(i, normals=False)
        out[int(i)] = Mesh(
            int(i), (m.vertices + shift).astype(np.float32), m.faces.astype(np.uint32)
        )
    mesher.clear()
    return out


def choose_level(dataset: Dataset, bbox_voxels0: int, max_voxels: int) -> int:
    """The finest level at which a region of ``bbox_voxels0`` level-0 voxels stays under
    ``max_voxels``."""
    seg = dataset.segmentation
    for i, lev in enumerate(seg.levels):
        f = lev.factor_xyz
        if bbox_voxels0 / (f[0] * f[1] * f[2]) <= max_voxels:
            return i
    return seg.num_levels - 1


def mesh_selection(
    dataset: Dataset,
    selection: Selection,
    *,
    level: int | None = None,
    simplify_nm: float | None = None,
    max_voxels: int | None = None,
) -> dict[int, Mesh]:
    """Meshes of the groups of a selection (one per ``each``/``where`` group), in nm.

    With ``level=None`` the finest level whose volume stays under ``max_voxels`` (config
    ``max_voxels``) is used. Per-vertex colours are set when the selection has ``by`` or
    ``color`` (the yellow neuron with red spine heads).
    """
    import fastremap

    from .._config import config
    from ..render.colors import parse_color

    seg = dataset.segmentation
    budget = int(max_voxels or config.get("max_voxels"))
    if level is None:
        level = choose_level(dataset, seg.bbox(0).volume, budget)
    if not 0 <= level < seg.num_levels:
        raise InvalidParameterError(f"--level {level}: levels 0-{seg.num_levels - 1} exist")
    objects = dataset.objects
    groups = selection.groups(objects)
    labels = seg.read(level=level)
    mapping = {int(s): int(k) for k, segs in groups.items() for s in segs.tolist()}
    if not mapping:
        raise SelectionError(f"the selection {selection.describe()} matches no segment")
    present = fastremap.unique(labels)
    keep = {k: v for k, v in mapping.items() if k in set(present.tolist())}
    if not keep:
        raise SelectionError(
            f"the selection {selection.describe()} matches no segment present at level {level}"
        )
    table = {int(v): keep.get(int(v), 0) for v in present.tolist()}
    grouped = fastremap.remap(labels, table, preserve_missing_labels=False, in_place=False)
    vs = seg.voxel_size(level)
    meshes = mesh_labels(grouped.astype(np.uint64), vs.xyz, simplify_nm=simplify_nm)
    if selection.by or selection.color:
        base = np.array(parse_color(selection.color or "lightgrey")) * 255
        by_rgb = np.array(parse_color(selection.by_color or "red")) * 255
        for mesh in meshes.values():
            cols = np.tile(np.append(np.round(base), 255).astype(np.uint8), (len(mesh.vertices), 1))
            if selection.by:
                # the segment under each vertex (nearest voxel, inward by half a voxel)
                idx = np.floor(mesh.vertices / np.asarray(vs.xyz, np.float32)).astype(np.int64)
                z = np.clip(idx[:, 2], 0, labels.shape[0] - 1)
                y = np.clip(idx[:, 1], 0, labels.shape[1] - 1)
                x = np.clip(idx[:, 0], 0, labels.shape[2] - 1)
                under = labels[z, y, x]
                hit = objects.lookup(selection.by, under) != 0
                cols[hit, :3] = np.round(by_rgb).astype(np.uint8)
            mesh.colors = cols
    return meshes
