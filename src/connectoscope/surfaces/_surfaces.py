"""Surfaces of a dataset's selection: level choice, block-wise meshing, colours, files.

``make_surfaces`` is what ``connectoscope surfaces`` runs: it meshes every group of a
:class:`~connectoscope.segmentation.Selection` (block by block in worker threads, see
:mod:`._mesher`), colours the vertices (``--color``, ``--by KIND[:COLOR]``), writes one
PLY/OBJ/GLB file per group and the Neuroglancer legacy meshes + segment properties into
the dataset's ``meshes/`` folder.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._config import config
from .._store import Store
from ..colors import id_colors, parse_color
from ..errors import ConnectoscopeWarning, InvalidParameterError, SelectionError
from ..geometry import Bbox
from ..precomputed import write_legacy_meshes, write_segment_properties
from ..segmentation import ObjectMaps, Selection
from ..segmentation._tables import read_segment_table
from ..volume import VolumeLayer
from ._io import FORMATS
from ._mesh import Mesh
from ._mesher import DEFAULT_BLOCK, BlockTask, GroupTable, mesh_blocks, plan_blocks

__all__ = ["SurfaceResult", "choose_level", "color_meshes", "make_surfaces", "mesh_selection"]

log = logging.getLogger("connectoscope.surfaces")

#: Colour of unselected / zero-valued vertices (ChimeraX: 0 is grey).
GREY = (0.7, 0.7, 0.7)


@dataclass
class SurfaceResult:
    """What :func:`make_surfaces` made.

    Attributes
    ----------
    level : int
        Pyramid level meshed.
    auto_level : bool
        True when the level was chosen automatically (voxel budget).
    region : Bbox
        Region meshed, voxels of ``level``.
    meshes : dict of int to Mesh
        One closed surface per group, vertices in nm.
    files : list of Path
        Mesh files written.
    manifests : int
        Neuroglancer manifests written (0 when ``precomputed=False``).
    """

    level: int
    auto_level: bool
    region: Bbox
    meshes: dict[int, Mesh]
    files: list[Path]
    manifests: int = 0

    def __getitem__(self, key: str) -> Any:  # dict-style access: r["meshes"], r["level"]
        return getattr(self, key)


def choose_level(dataset: Store, bbox_voxels0: int, max_voxels: int) -> int:
    """The finest level at which a region of ``bbox_voxels0`` level-0 voxels stays under
    ``max_voxels`` (the coarsest level when none does)."""
    seg = VolumeLayer(dataset, "segmentation")
    for i, lev in enumerate(seg.levels):
        f = lev.factor_xyz
        if bbox_voxels0 / (f[0] * f[1] * f[2]) <= max_voxels:
            return i
    return seg.num_levels - 1


def _rgb(text: str) -> np.ndarray:

    return np.asarray(parse_color(text), np.float64)


def color_meshes(
    meshes: Mapping[int, Mesh],
    objects: ObjectMaps,
    *,
    color: str | None = None,
    by: str | None = None,
    by_color: str | None = None,
) -> None:
    """Set per-vertex colours in place (ChimeraX ``color`` and ``by``).

    ``color`` colours the whole surface (grey when omitted); ``by`` colours the vertices
    whose segment has a non-zero value of that kind: all in ``by_color`` when given, else a
    stable colour per value. Meshes without :attr:`Mesh.segments` cannot be coloured by a
    kind.
    """

    base = np.round(np.append(_rgb(color) if color else GREY, 1.0) * 255).astype(np.uint8)
    hit_rgb = np.round(_rgb(by_color) * 255).astype(np.uint8) if by_color else None
    for mesh in meshes.values():
        cols = np.tile(base, (len(mesh.vertices), 1))
        if by is not None:
            if mesh.segments is None:
                raise InvalidParameterError(
                    f"mesh {mesh.id} has no per-vertex segments; mesh with vertex_segments=True "
                    f"to colour by {by!r}"
                )
            vals = objects.lookup(by, mesh.segments)
            hit = vals != 0
            cols[hit, :3] = hit_rgb if hit_rgb is not None else id_colors(vals[hit])
        mesh.colors = cols


def _table_boxes(dataset: Store, level: int) -> Any:
    """The per-segment table's boxes scaled to ``level`` (None when unusable)."""

    table = read_segment_table(dataset)
    if table is None:
        return None
    df, tlevel = table
    if tlevel > level:
        return None  # boxes of a coarser level may miss thin parts at a finer one
    levels = VolumeLayer(dataset, "segmentation").levels
    ft = np.asarray(levels[tlevel].factor_xyz)
    fk = np.asarray(levels[level].factor_xyz)
    r = fk // ft
    lo = df[["x0", "y0", "z0"]].to_numpy(np.int64) // r
    hi = -(-df[["x1", "y1", "z1"]].to_numpy(np.int64) // r)
    return df["segment_id"].to_numpy(np.uint64), lo, hi


def _region(
    dataset: Store, table: GroupTable, level: int
) -> tuple[Bbox, np.ndarray | None, np.ndarray | None]:
    """Region (voxels of ``level``) covering the selected segments, and their boxes."""

    whole = VolumeLayer(dataset, "segmentation").bbox(level)
    boxes = _table_boxes(dataset, level)
    if boxes is None:
        return whole, None, None
    ids, lo, hi = boxes
    keep = table.lookup(ids) != 0
    if not keep.any():
        return Bbox((0, 0, 0), (0, 0, 0)), lo[keep], hi[keep]
    lo, hi = lo[keep], hi[keep]
    region = Bbox(tuple(lo.min(axis=0).tolist()), tuple(hi.max(axis=0).tolist()))
    return region.intersection(whole), lo, hi


def _mesh_selection(
    dataset: Store,
    selection: Selection,
    *,
    level: int | None,
    simplify_nm: float | Literal["voxel"] | None,
    smooth: int,
    max_voxels: int | None,
    workers: int | None,
    block_xyz: Sequence[int] | None,
) -> SurfaceResult:

    seg = VolumeLayer(dataset, "segmentation")
    objects = ObjectMaps.from_store(dataset)
    # colours first: a misspelt colour fails before any meshing
    for c in (selection.color, selection.by_color):
        if c:
            _rgb(c)
    groups = selection.groups(objects)
    table = GroupTable.from_groups(groups)
    budget = int(max_voxels or config.get("max_voxels"))
    auto = level is None
    if level is None:
        region0, _, _ = _region(dataset, table, 0)
        level = choose_level(dataset, region0.volume, budget)
        log.info(
            "surfaces: level %d chosen (region %d voxels at level 0, budget %d)",
            level,
            region0.volume,
            budget,
        )
    if not 0 <= level < seg.num_levels:
        raise InvalidParameterError(f"--level {level}: levels 0-{seg.num_levels - 1} exist")
    vs = seg.voxel_size(level)
    if simplify_nm == "voxel":
        simplify_nm = float(max(vs.xyz)) / 2
    if simplify_nm is not None and simplify_nm <= 0:
        raise InvalidParameterError(f"--simplify must be a positive error in nm, got {simplify_nm}")
    if simplify_nm is not None and max(vs.xyz) / 2 > simplify_nm:
        raise InvalidParameterError(
            f"level {level} voxels are {vs.x:g} x {vs.y:g} x {vs.z:g} nm: its surfaces alone are "
            f"off by up to {max(vs.xyz) / 2:g} nm, more than --simplify {simplify_nm:g}; use a "
            f"finer --level or --simplify {max(vs.xyz) / 2:g} or more"
        )
    region, lo, hi = _region(dataset, table, level)
    if region.empty:
        raise SelectionError(
            f"the selection {selection.describe()} matches no segment present in the "
            "segmentation; nothing written"
        )
    lev = seg.levels[level]
    block = tuple(block_xyz) if block_xyz is not None else _default_block(lev)
    tasks = []
    for rs, re, plo, phi in plan_blocks(region.start, region.stop, block):
        if lo is not None and hi is not None:
            a, b = np.asarray(rs), np.asarray(re)
            if not np.any(np.all((lo < b) & (hi > a), axis=1)):
                continue  # no selected segment reaches this block
        tasks.append(
            BlockTask(
                rs,
                re,
                plo,  # type: ignore[arg-type]
                phi,  # type: ignore[arg-type]
                vs.xyz,
                simplify_nm=simplify_nm,
                vertex_segments=True,
                table=table,
                ds_path=str(dataset.path),
                layer="segmentation",
                level=level,
            )
        )
    # vertices in the dataset's nm: the frame's centre of voxel (0, 0, 0) of this level
    origin = seg.frame(level).origin_nm.tolist()
    meshes = mesh_blocks(
        tasks,
        voxel_size=vs.xyz,
        origin_nm=origin,
        workers=workers,
        smooth=smooth,
    )
    if not meshes:
        hint = (
            f" (thin objects vanish at coarse levels: level 0 holds its segments, use --level "
            f"{_finest_with(dataset, table, level)})"
            if level > 0
            else ""
        )
        raise SelectionError(
            f"the selection {selection.describe()} matches no segment present at level "
            f"{level}{hint}; nothing written"
        )
    if selection.by or selection.color:
        color_meshes(
            meshes, objects, color=selection.color, by=selection.by, by_color=selection.by_color
        )
    return SurfaceResult(level, auto, region, meshes, [])


def _finest_with(dataset: Store, table: GroupTable, level: int) -> int:
    """The coarsest level below ``level`` where a selected segment still has voxels."""
    seg = VolumeLayer(dataset, "segmentation")
    for k in range(level - 1, 0, -1):
        data = seg.read(seg.bbox(k), level=k)
        if table.lookup(np.unique(data)).any():
            return k
    return 0


def _default_block(lev: Any) -> tuple[int, int, int]:
    """Blocks of whole shards (x, y, z) when shards are 64-512 voxels, else 256."""
    return tuple(  # type: ignore[return-value]
        int(s) if 64 <= s <= 512 else d for s, d in zip(lev.shard_zyx[::-1], DEFAULT_BLOCK)
    )


def _write_multires(
    ds: Store,
    folder: Path,
    res: SurfaceResult,
    groups: Mapping[int, np.ndarray],
    simplify_nm: float | Literal["voxel"] | None,
    node_voxels: int,
    bits: int,
) -> int:
    """Multi-resolution sharded meshes of ``res`` into ``folder`` (segment ids written)."""
    from ._multires import write_multires

    seg = VolumeLayer(ds, "segmentation")
    vs = np.asarray(seg.voxel_size(res.level).xyz, np.float64)
    node = vs * int(node_voxels)
    # the volume's corner (nm), one node lower: vertices moved outward by simplification
    # stay inside the grid, and every LOD's planes fall on the chunk grid
    whole = seg.bbox(res.level)
    corner = np.asarray(seg.frame(res.level).bbox_to_nm(whole)[0], np.float64)
    if simplify_nm == "voxel":
        err = float(vs.max()) / 2
    else:
        err = float(simplify_nm) if simplify_nm is not None else float(vs.max())
    for stale in folder.glob("*:0"):
        stale.unlink()  # legacy manifests would outlive the new info
    for stale in folder.glob("frag_*"):
        stale.unlink()
    return write_multires(
        folder,
        res.meshes,
        groups,
        base_error=err,
        node_nm=node.tolist(),
        grid_origin_nm=(corner - node).tolist(),
        vertex_quantization_bits=bits,
    )


def mesh_selection(
    dataset: Store,
    selection: Selection,
    *,
    level: int | None = None,
    simplify_nm: float | Literal["voxel"] | None = None,
    smooth: int = 0,
    max_voxels: int | None = None,
    workers: int | None = None,
    block_xyz: Sequence[int] | None = None,
) -> dict[int, Mesh]:
    """Closed surfaces of the groups of a selection, vertices in nm.

    Parameters
    ----------
    dataset : Store
    selection : Selection
        One surface per group (``each`` kind, first ``where`` kind, or segment id).
    level : int, optional
        Pyramid level; default: the finest level whose selected region (the box of the
        selected segments from ``objects stats``, else the whole volume) stays under
        ``max_voxels`` voxels.
    simplify_nm : float or "voxel", optional
        Maximum displacement of any vertex by simplification, nm; ``"voxel"``: half the
        largest voxel edge of the level meshed (the error its voxels already have, the
        finest worth asking of that level).
    smooth : int
        Taubin smoothing iterations after stitching.
    max_voxels : int, optional
        Voxel budget of the automatic level (default: config ``max_voxels``).
    workers : int, optional
        Worker threads (default: all cores for large regions, this process for small).
    block_xyz : (x, y, z), optional
        Block shape in voxels (default: the storage shard, 256 otherwise).

    Returns
    -------
    dict of int to Mesh
        Per-vertex colours are set when the selection has ``color`` or ``by``.

    Raises
    ------
    SelectionError
        Unknown kind, empty selection, or too many groups without ``each``.
    """
    return _mesh_selection(
        dataset,
        selection,
        level=level,
        simplify_nm=simplify_nm,
        smooth=smooth,
        max_voxels=max_voxels,
        workers=workers,
        block_xyz=block_xyz,
    ).meshes


def make_surfaces(
    dataset: Store | str | os.PathLike[str],
    selection: Selection,
    out: str | os.PathLike[str] | None = None,
    *,
    level: int | None = None,
    simplify_nm: float | Literal["voxel"] | None = None,
    smooth: int = 0,
    fmt: str = "ply",
    max_voxels: int | None = None,
    precomputed: bool = True,
    workers: int | None = None,
    block_xyz: Sequence[int] | None = None,
    lod_node_voxels: int = 128,
    vertex_quantization_bits: int = 16,
) -> SurfaceResult:
    """Mesh every group of ``selection`` and write the results.

    Writes ``out/<kind>_<id>.<fmt>`` per group (``segment_<id>`` for plain id selections)
    and, when ``precomputed``, Neuroglancer legacy meshes keyed by segment id plus segment
    properties into the dataset's ``meshes/`` folder. Parameters as :func:`mesh_selection`;
    ``fmt`` is ``ply``, ``obj`` or ``glb``, or ``precomputed``: then no files go to ``out``
    and the dataset's ``meshes/`` folder receives multi-resolution Draco meshes
    (``neuroglancer_multilod_draco``, sharded: a few files for any number of segments)
    instead of legacy ones, with LOD-0 nodes of ``lod_node_voxels`` voxels of the meshed
    level and ``vertex_quantization_bits`` (10 or 16) per coordinate.

    Returns
    -------
    SurfaceResult
        Also readable as a dict: ``r["level"]``, ``r["meshes"]``, ``r["files"]``.
    """
    multires = fmt == "precomputed"
    if fmt not in FORMATS and not multires:
        raise InvalidParameterError(
            f"--format must be one of {', '.join(FORMATS)} or precomputed, got {fmt!r}"
        )
    if multires and out is not None:
        raise InvalidParameterError(
            "--format precomputed writes the multi-resolution meshes into the dataset's "
            "meshes/ folder; drop -o (or use --format ply/obj/glb for files in -o)"
        )
    ds = dataset if isinstance(dataset, Store) else Store(dataset)
    res = _mesh_selection(
        ds,
        selection,
        level=level,
        simplify_nm=simplify_nm,
        smooth=smooth,
        max_voxels=max_voxels,
        workers=workers,
        block_xyz=block_xyz,
    )
    prefix = selection.group_kind or "segment"
    if out is not None:
        for gid, m in res.meshes.items():
            res.files.append(m.save(Path(out) / f"{prefix}_{gid}.{fmt}"))
    if precomputed or multires:
        objects = ObjectMaps.from_store(ds)
        groups = selection.groups(objects)
        folder = ds.folder("meshes", create=True)
        if multires:
            res.manifests = _write_multires(
                ds, folder, res, groups, simplify_nm, lod_node_voxels, vertex_quantization_bits
            )
        else:
            if (folder / "info").is_file() and "multilod" in (folder / "info").read_text():
                # one format per folder: the multi-resolution meshes go, and the user is told
                warnings.warn(
                    f"{folder}: held multi-resolution meshes, now replaced by legacy meshes "
                    f"of this selection only; add --format precomputed to keep the viewer's "
                    f"multi-resolution meshes (and mesh every object you will show)",
                    ConnectoscopeWarning,
                    stacklevel=2,
                )
                (folder / "info").unlink()  # legacy again: the writer puts its own info
                for stale in folder.glob("*.shard"):
                    stale.unlink()
            res.manifests = write_legacy_meshes(folder, res.meshes, groups, prefix=prefix)
        plain = [int(g) for g in res.meshes] if selection.group_kind is None else []
        meshed = np.concatenate([np.asarray(groups[g], np.uint64) for g in res.meshes])
        ids, numbers = objects.segment_properties(segment_ids=plain, meshed_ids=meshed.tolist())
        write_segment_properties(folder, ids, numbers)
        ds.set_layer(
            "meshes",
            {
                "kind": "meshes",
                "path": "meshes",
                "format": "neuroglancer_multilod_draco" if multires else "neuroglancer_legacy_mesh",
                "n_manifests": res.manifests if multires else len(list(folder.glob("*:0"))),
            },
        )
    ds.record_step(
        "surfaces",
        selection=selection.describe(),
        level=res.level,
        auto_level=res.auto_level,
        meshes=len(res.meshes),
        simplify_nm=simplify_nm,
        smooth=smooth,
    )
    return res
