"""Skeletons from the segmentation, with a permissive method of ours.

For each selected object: the binary mask at one pyramid level is thinned to a one-voxel
wide centreline (scikit-image's 3-D thinning, BSD), the centreline voxels become vertices
joined to their 26-neighbours, and a breadth-first tree from the voxel deepest inside the
object (largest distance to the boundary, the soma centre for neurons) removes loops.
Radii are the distance transform at each vertex. kimimaro (TEASAR, GPL-3.0) is available
as the optional ``skeleton`` extra with ``method="kimimaro"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._store import Store
from ..errors import DependencyMissingError, InvalidParameterError
from ..precomputed import skeleton_info, write_skeletons
from ..segmentation import ObjectMaps, Selection
from ..volume import VolumeLayer
from ._io import skeleton_to_precomputed
from ._nml import _orient
from ._skeleton import Skeleton
from ._swc import write_swc

__all__ = ["skeletonize_dataset", "skeletonize_mask", "skeletonize_mask_kimimaro"]


def skeletonize_mask(
    mask_zyx: np.ndarray,
    voxel_size_xyz: Sequence[float],
    *,
    offset_nm: Sequence[float] = (0, 0, 0),
    name: str = "",
) -> Skeleton | None:
    """Skeleton (nm) of one binary ``[z, y, x]`` mask; None when the mask is empty."""
    from scipy import ndimage
    from skimage.morphology import skeletonize

    if not mask_zyx.any():
        return None
    vs = np.asarray(voxel_size_xyz, float)
    edt = ndimage.distance_transform_edt(mask_zyx, sampling=vs[::-1])
    sk = skeletonize(mask_zyx.astype(bool))
    zz, yy, xx = np.nonzero(sk)
    if zz.size == 0:
        zz, yy, xx = (np.array([v]) for v in np.unravel_index(int(np.argmax(edt)), mask_zyx.shape))
    index = -np.ones(mask_zyx.shape, np.int64) if mask_zyx.size < 2**31 else None
    assert index is not None
    index[zz, yy, xx] = np.arange(zz.size)
    n = zz.size
    # 26-neighbour adjacency
    rows, cols = [], []
    for dz in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if (dz, dy, dx) <= (0, 0, 0):
                    continue
                z2, y2, x2 = zz + dz, yy + dy, xx + dx
                ok = (
                    (z2 >= 0)
                    & (y2 >= 0)
                    & (x2 >= 0)
                    & (z2 < sk.shape[0])
                    & (y2 < sk.shape[1])
                    & (x2 < sk.shape[2])
                )
                j = np.full(n, -1)
                j[ok] = index[z2[ok], y2[ok], x2[ok]]
                hit = j >= 0
                rows.append(np.flatnonzero(hit))
                cols.append(j[hit])
    import scipy.sparse as sp
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    r = np.concatenate(rows) if rows else np.zeros(0, int)
    c = np.concatenate(cols) if cols else np.zeros(0, int)
    g = sp.coo_matrix((np.ones(r.size), (r, c)), shape=(n, n)).tocsr()
    depth = edt[zz, yy, xx]
    ncomp, labels = connected_components(g, directed=False)
    parent = np.full(n, -1, np.int64)
    for k in range(ncomp):
        members = np.flatnonzero(labels == k)
        root = int(members[np.argmax(depth[members])])
        _, pred = breadth_first_order(g, root, directed=False, return_predecessors=True)
        sel = members[members != root]
        parent[sel] = pred[sel]
    verts = np.stack([xx, yy, zz], axis=1) * vs + np.asarray(offset_nm, float)
    ids = np.arange(n, dtype=np.int64)
    return Skeleton.from_parents(
        ids,
        np.where(parent >= 0, parent, -1),
        verts,
        features={"radius": depth, "compartment": np.zeros(n, np.int32)},
        name=name,
    )


def skeletonize_dataset(
    dataset: Store,
    selection: Selection,
    *,
    level: int = 1,
    method: str = "ours",
) -> dict[int, Skeleton]:
    """Skeletons of every group of ``selection`` from the segmentation at ``level``; also
    written to ``DS/skeletons/`` (Neuroglancer precomputed + SWC in µm)."""
    if method == "kimimaro":
        _require_kimimaro()
    elif method != "ours":
        raise InvalidParameterError(f"method must be 'ours' or 'kimimaro', got {method!r}")
    import fastremap

    seg = VolumeLayer(dataset, "segmentation")
    labels = seg.read(level=level)
    groups = selection.groups(ObjectMaps.from_store(dataset))
    vs = seg.voxel_size(level).xyz
    out: dict[int, Skeleton] = {}
    from scipy import ndimage

    for gid, segs in groups.items():
        mask = fastremap.mask_except(labels.copy(), [int(s) for s in segs.tolist()]) != 0
        if not mask.any():
            continue
        # bridge the membrane (label 0) between the object's own supervoxels
        mask |= (labels == 0) & ndimage.binary_dilation(mask)
        box = ndimage.find_objects(mask.astype(np.uint8))[0]
        # nm of the box's first voxel centre in the dataset frame (offset and level included)
        start_xyz = [[box[2].start, box[1].start, box[0].start]]
        offset = seg.frame(level).to_nm(start_xyz)[0].tolist()
        fn = skeletonize_mask if method == "ours" else skeletonize_mask_kimimaro
        sk = fn(mask[box], vs, offset_nm=offset, name=f"{selection.each or 'object'} {gid}")
        if sk is not None:
            # reconnect pieces split by thin necks at coarse levels (within 3 voxels)
            sk = sk.join_fragments(max_dist=3 * max(vs)) if sk.roots.size > 1 else sk
            if (selection.each or "") == "neuron":
                # the root of the largest piece sits deepest inside the object: the soma
                big = int(np.argmax(np.bincount(sk.component)))
                sk.features["compartment"][sk.roots[big]] = 1
            out[gid] = sk

    folder = dataset.folder("skeletons", create=True)
    write_skeletons(
        folder,
        {gid: skeleton_to_precomputed(sk) for gid, sk in out.items()},
        segments={gid: groups[gid] for gid in out},
        info=skeleton_info(segment_properties="../meshes/segment_properties"),
    )
    for gid, sk in out.items():
        write_swc(sk, folder / f"{gid}.swc")
    dataset.set_layer(
        "skeletons", {"kind": "skeletons", "path": "skeletons", "n_skeletons": len(out)}
    )
    dataset.record_step(
        "skeletonize",
        selection=selection.describe(),
        level=level,
        method=method,
        skeletons=len(out),
    )
    return out


def _require_kimimaro() -> Any:
    try:
        import kimimaro
    except ImportError:
        raise DependencyMissingError(
            "method='kimimaro' needs kimimaro, the optional GPL-3.0 extra: "
            'pip install "connectoscope[skeleton]" (or use method="ours", permissive)'
        ) from None
    return kimimaro


def skeletonize_mask_kimimaro(
    mask_zyx: np.ndarray,
    voxel_size_xyz: Sequence[float],
    *,
    offset_nm: Sequence[float] = (0, 0, 0),
    name: str = "",
    scale: float = 1.5,
    const_nm: float | None = None,
    tick_nm: float | None = None,
) -> Skeleton | None:
    """Skeleton (nm) of one binary ``[z, y, x]`` mask with kimimaro's TEASAR (GPL extra).

    ``scale`` and ``const_nm`` are TEASAR's invalidation ball ``r = scale * radius + const``
    (``const_nm`` defaults to 4 voxels of x); terminal branches shorter than ``tick_nm``
    (default 6 voxels) are removed with ``kimimaro.postprocess``. The root is the vertex with the largest radius
    (the soma for neurons); pieces stay separate roots. None when the mask is empty.

    Raises
    ------
    DependencyMissingError
        kimimaro is not installed (``pip install "connectoscope[skeleton]"``).
    """
    kimimaro = _require_kimimaro()

    if not mask_zyx.any():
        return None
    vs = np.asarray(voxel_size_xyz, float)
    const = 4 * vs[0] if const_nm is None else float(const_nm)
    labels_xyz = np.asfortranarray(mask_zyx.astype(np.uint8).T)  # kimimaro indexes x, y, z
    res = kimimaro.skeletonize(
        labels_xyz,
        teasar_params={"scale": scale, "const": const, "pdrf_scale": 100000, "pdrf_exponent": 4},
        anisotropy=tuple(vs.tolist()),
        dust_threshold=0,
        fix_branching=True,
        progress=False,
        parallel=1,
    )
    ks = res.get(1)
    if ks is None or len(ks.vertices) == 0:
        return None
    # remove ticks (terminal branches shorter than tick_nm) TEASAR leaves at the surface
    ks = kimimaro.postprocess(ks, dust_threshold=0, tick_threshold=tick_nm or 6 * float(vs.max()))
    v = np.asarray(ks.vertices, np.float64) + np.asarray(offset_nm, float)
    e = np.asarray(ks.edges, np.int64).reshape(-1, 2)
    rad = np.asarray(getattr(ks, "radius", np.zeros(len(v))), np.float64)
    n = len(v)
    root = int(np.argmax(rad)) if rad.size else 0
    parent = _orient(n, e, np.arange(n), root, name or "kimimaro skeleton")
    return Skeleton.from_parents(
        np.arange(n, dtype=np.int64),
        parent,
        v,
        features={"radius": rad, "compartment": np.zeros(n, np.int32)},
        name=name,
        meta={"method": "kimimaro"},
    )
