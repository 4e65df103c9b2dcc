"""Skeletons of whole objects from the segmentation, with a permissive method of ours.

For each selected object (``skeletonize_dataset``):

1. **Mask.** The object's voxels at one pyramid level, pooled with *any* (a pooled voxel is
   in the object when one of its voxels is) to at most ``max_voxels`` voxels per object.
   Pooling with *any*, unlike the mode pooling of the stored pyramid, keeps thin axons and
   spine necks and never disconnects what was connected.
2. **Thinning.** scikit-image's 3-D thinning (BSD) gives a one-voxel centreline; its voxels
   become vertices joined to their 26-neighbours; a breadth-first tree from the vertex
   deepest inside each piece removes loops.
3. **One tree.** Pieces (an object cut by the volume faces, or split in the segmentation)
   are joined at their closest vertex pairs, largest piece first; then terminal branches
   that end inside their parent (shorter than the radius at the branch point plus two
   voxels) are pruned as spurs. The tree is rooted at the vertex deepest inside the object:
   the soma centre for neurons.
4. **Compartments** (SWC types): vertices inside the soma (within the soma radius of the
   root, when the root lies at least ``soma_radius_nm`` deep) are soma (1). The rest is
   split into axon (2) and dendrite (3) by the object maps when the object spans both
   ``axon`` and ``dendrite`` (``spinehead`` counts as dendrite) segments: each vertex takes
   the kind most of its pooled voxel's voxels have, vertices without one take their
   neighbours' along the tree, and each unbranched stretch takes its majority. Without
   such maps, synapse flow centrality splits it when the synapse table names segment ids
   (``pre_segment_id``/``post_segment_id``). Otherwise the rest stays undefined (0).
   Apical dendrite (4) is not inferred from the segmentation.
5. **Coordinates.** Vertices are nm in the dataset frame (:class:`~connectoscope.geometry.
   LevelFrame` of the level: dataset offset and voxel-centre convention included), so
   skeletons land on meshes, planes and synapse tables.

Radii are the distance transform of the pooled mask (nm). kimimaro (TEASAR, GPL-3.0) is
available as the optional ``skeleton`` extra with ``method="kimimaro"``; it thins the same
pooled mask and gets the same joining, rooting and compartments.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._store import Store
from ..errors import DependencyMissingError, InvalidParameterError
from ..geometry import LevelFrame, VoxelSize
from ..precomputed import skeleton_info, write_skeletons
from ..segmentation import ObjectMaps, Selection
from ..volume import VolumeLayer
from ._io import skeleton_to_precomputed
from ._nml import _orient
from ._skeleton import Skeleton
from ._swc import write_swc

__all__ = [
    "SPLITS",
    "flow_split",
    "skeletonize_dataset",
    "skeletonize_mask",
    "skeletonize_mask_kimimaro",
]

#: Ways to split axon from dendrite (``split=``).
SPLITS = ("auto", "maps", "flow", "none")
#: Object kinds that count as axon (1) or dendrite (2) for the maps split.
_KIND_CODES = {"axon": 1, "dendrite": 2, "spinehead": 2}


# ---------------------------------------------------------------------- mask -> tree
def _centreline_tree(
    mask_zyx: np.ndarray, vs_zyx: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin ``mask`` and return ``(zyx (N, 3) int64, parent (N,) int64, depth nm (N,))``:
    a forest, each piece a breadth-first tree from its deepest vertex."""
    import scipy.sparse as sp
    from scipy import ndimage
    from scipy.sparse.csgraph import breadth_first_order, connected_components
    from skimage.morphology import skeletonize

    edt = ndimage.distance_transform_edt(mask_zyx, sampling=vs_zyx)
    sk = skeletonize(mask_zyx.astype(bool))
    zz, yy, xx = np.nonzero(sk)
    if zz.size == 0:
        zz, yy, xx = (np.array([v]) for v in np.unravel_index(int(np.argmax(edt)), mask_zyx.shape))
    n = zz.size
    index = np.full(mask_zyx.shape, -1, np.int64)
    index[zz, yy, xx] = np.arange(n)
    rows, cols = [], []
    for dz in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if (dz, dy, dx) <= (0, 0, 0):
                    continue
                z2, y2, x2 = zz + dz, yy + dy, xx + dx
                ok = (
                    (z2 >= 0) & (y2 >= 0) & (x2 >= 0)
                    & (z2 < sk.shape[0]) & (y2 < sk.shape[1]) & (x2 < sk.shape[2])
                )  # fmt: skip
                j = np.full(n, -1)
                j[ok] = index[z2[ok], y2[ok], x2[ok]]
                hit = j >= 0
                rows.append(np.flatnonzero(hit))
                cols.append(j[hit])
    r = np.concatenate(rows)
    c = np.concatenate(cols)
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
    return np.stack([zz, yy, xx], axis=1).astype(np.int64), parent, depth


def _prune_spurs(sk: Skeleton, min_nm: float, passes: int = 2) -> Skeleton:
    """Remove terminal branches shorter than the radius at their branch point plus
    ``min_nm`` (thinning spurs); ``passes`` rounds."""
    for _ in range(passes):
        nc = sk.n_children
        leaves = np.flatnonzero((nc == 0) & (sk.parent >= 0))
        drop = np.zeros(len(sk), bool)
        rad = sk.features["radius"]
        el = sk.edge_lengths
        for leaf in leaves.tolist():
            path = [leaf]
            length = 0.0
            v = leaf
            while True:
                p = int(sk.parent[v])
                length += float(el[v])
                if p < 0 or nc[p] != 1:
                    break
                path.append(p)
                v = p
            if p >= 0 and nc[p] > 1 and length < float(rad[p]) + min_nm:
                drop[path] = True
        if not drop.any():
            break
        sk = sk.masked(~drop)
    return sk


def _tree_from_mask(
    mask_zyx: np.ndarray,
    frame: LevelFrame,
    start_vx: Sequence[int] | np.ndarray,
    factor: Sequence[int] | np.ndarray,
    shape_vx: Sequence[int] | np.ndarray,
    *,
    name: str,
    method: str = "ours",
) -> tuple[Skeleton, np.ndarray] | None:
    """One rooted tree (nm, dataset frame) of a pooled mask whose voxel ``J`` (x, y, z)
    pools level voxels ``start + J * factor`` ... (clipped to ``shape_vx``). Returns the
    skeleton and the pooled voxel (z, y, x) of every vertex."""
    if not mask_zyx.any():
        return None
    f = np.asarray(factor, np.int64)
    vs_pool = np.asarray(frame.voxel_size.xyz) * f
    if method == "kimimaro":
        got = _kimimaro_tree(mask_zyx, vs_pool)
        if got is None:
            return None
        zyx, parent, depth = got
    else:
        zyx, parent, depth = _centreline_tree(mask_zyx, vs_pool[::-1])
    # the level-voxel centre of each pooled voxel (mean of the voxels it pools, x, y, z)
    j = zyx[:, ::-1].astype(np.float64)
    st = np.asarray(start_vx, np.float64)
    lo = st + j * f
    hi = np.minimum(lo + f, np.asarray(shape_vx, np.float64)) - 1
    verts = frame.to_nm((lo + hi) / 2)
    n = len(verts)
    sk = Skeleton.from_parents(
        np.arange(n, dtype=np.int64),
        parent,
        verts,
        features={
            "radius": depth,
            "compartment": np.zeros(n, np.int32),
            "_pool": np.arange(n, dtype=np.int64),
        },
        name=name,
        meta={"method": method},
    )
    if sk.roots.size > 1:
        sk = sk.join_fragments(max_dist=np.inf)
    sk = _prune_spurs(sk, 2.0 * float(vs_pool.max()))
    root = int(np.argmax(sk.features["radius"]))
    if sk.parent[root] >= 0:
        sk = sk.reroot(root)
    pool_idx = zyx[sk.features.pop("_pool")]
    return sk, pool_idx


def skeletonize_mask(
    mask_zyx: np.ndarray,
    voxel_size_xyz: Sequence[float],
    *,
    offset_nm: Sequence[float] = (0, 0, 0),
    name: str = "",
    frame: LevelFrame | None = None,
    start_vx: Sequence[int] = (0, 0, 0),
) -> Skeleton | None:
    """One rooted tree (nm) of a binary ``[z, y, x]`` mask; None when the mask is empty.

    Vertices are the mask voxels' centres: through ``frame`` (the mask's voxel ``(i, j, k)``
    is voxel ``start_vx + (i, j, k)`` of that frame), or else ``offset_nm + index *
    voxel_size``. Pieces are joined, spurs pruned, the root is the deepest vertex.
    """
    if frame is None:
        vs = VoxelSize.parse(tuple(float(v) for v in voxel_size_xyz))
        frame = LevelFrame(vs)
        got = _tree_from_mask(
            mask_zyx, frame, (0, 0, 0), (1, 1, 1), mask_zyx.shape[::-1], name=name
        )
        if got is None:
            return None
        sk = got[0]
        sk.vertices = sk.vertices + np.asarray(offset_nm, np.float64)
        return sk
    got = _tree_from_mask(
        mask_zyx,
        frame,
        start_vx,
        (1, 1, 1),
        np.asarray(start_vx) + np.asarray(mask_zyx.shape[::-1]),
        name=name,
    )
    return None if got is None else got[0]


# ---------------------------------------------------------------------- compartments
def _soma_vertices(sk: Skeleton, soma_radius_nm: float) -> np.ndarray:
    """Boolean mask of the vertices inside the soma around the root (empty when the root
    lies less than ``soma_radius_nm`` deep)."""
    out = np.zeros(len(sk), bool)
    root = int(sk.roots[0])
    r = float(sk.features["radius"][root])
    if r < soma_radius_nm:
        return out
    inside = np.linalg.norm(sk.vertices - sk.vertices[root], axis=1) < r
    out[root] = True
    for i in range(len(sk)):  # parents first: the connected part of the ball
        p = sk.parent[i]
        if p >= 0 and out[p] and inside[i]:
            out[i] = True
    return out


def _collapse_soma(sk: Skeleton, soma: np.ndarray) -> tuple[Skeleton, np.ndarray]:
    """The soma as one vertex: the thinning's branches inside the soma go, the neurites
    leaving it hang from the root (whose radius is the soma radius). Returns the new
    skeleton and, for each of its vertices, the old index."""
    root = int(sk.roots[0])
    drop = soma.copy()
    drop[root] = False
    par = sk.parent.copy()
    attach = (par >= 0) & drop[np.maximum(par, 0)] & ~drop
    par[attach] = root
    keep = np.flatnonzero(~drop)
    new_index = np.full(len(sk), -1, np.int64)
    new_index[keep] = np.arange(keep.size)
    pid = np.where(par[keep] >= 0, sk.node_ids[np.maximum(par[keep], 0)], -1)
    feats = {k: v[keep] for k, v in sk.features.items()}
    feats["_old"] = keep
    out = Skeleton.from_parents(
        sk.node_ids[keep], pid, sk.vertices[keep], features=feats, name=sk.name, meta=sk.meta
    )
    old = out.features.pop("_old")
    return out, old


def _smooth_labels(sk: Skeleton, lab: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Fill 0 labels from the tree (parents, then children), then give every unbranched
    stretch its majority label. ``fixed`` vertices keep theirs."""
    lab = lab.copy()
    par = sk.parent
    n = len(sk)
    for i in range(n):  # top-down: inherit from the parent
        p = par[i]
        if lab[i] == 0 and p >= 0 and lab[p] != 0 and not fixed[p]:
            lab[i] = lab[p]
    for i in range(n - 1, -1, -1):  # bottom-up: unlabelled parents from a child
        p = par[i]
        if p >= 0 and lab[p] == 0 and lab[i] != 0 and not fixed[p]:
            lab[p] = lab[i]
    for seg in sk.segments():
        inner = seg[~fixed[seg]]
        vals = lab[inner]
        vals = vals[vals != 0]
        if vals.size:
            lab[inner] = np.bincount(vals).argmax()
    return lab


def flow_cut_labels(sk: Skeleton, n_in: np.ndarray, n_out: np.ndarray) -> tuple[np.ndarray, float]:
    """Cut the skeleton at the vertex whose parent edge carries the most input-to-output
    paths (synapse flow centrality); the side with the larger share of outputs is the axon.

    Parameters
    ----------
    sk : Skeleton
    n_in, n_out : (N,) float
        Inputs and outputs per vertex.

    Returns
    -------
    (labels, flow)
        ``(N,) int32``: 2 (axon) / 3 (dendrite) on the cut vertex's tree, 0 on other trees;
        and the flow at the cut (0 when no edge carries any path).
    """
    n = len(sk)
    down_in, down_out = n_in.copy(), n_out.copy()
    par = sk.parent
    for i in range(n - 1, -1, -1):  # children after parents: reverse order sums subtrees
        p = par[i]
        if p >= 0:
            down_in[p] += down_in[i]
            down_out[p] += down_out[i]
    comp = sk.component
    tot_in = np.bincount(comp, weights=n_in)[comp]
    tot_out = np.bincount(comp, weights=n_out)[comp]
    flow = down_in * (tot_out - down_out) + down_out * (tot_in - down_in)
    flow[par < 0] = -1
    cut = int(np.argmax(flow))
    below = np.zeros(n, bool)
    below[cut] = True
    for i in range(cut + 1, n):  # topological order: a subtree follows its root
        if par[i] >= 0 and below[par[i]]:
            below[i] = True
    same = comp == comp[cut]
    out_frac_below = down_out[cut] / max(down_out[cut] + down_in[cut], 1.0)
    rest_out = tot_out[cut] - down_out[cut]
    rest_in = tot_in[cut] - down_in[cut]
    out_frac_rest = rest_out / max(rest_out + rest_in, 1.0)
    axon = below if out_frac_below >= out_frac_rest else (same & ~below)
    lab = np.where(axon, 2, 3).astype(np.int32)
    lab[~same] = 0
    return lab, float(flow[cut])


def flow_split(
    sk: Skeleton,
    input_vertices: np.ndarray,
    output_vertices: np.ndarray,
    *,
    soma: np.ndarray | None = None,
) -> np.ndarray:
    """Axon (2) / dendrite (3) labels by synapse flow centrality (Schneider-Mizell et al.,
    eLife 2016): the edge carrying the most input-to-output paths separates the two; the
    side with the larger share of outputs is the axon. ``soma`` vertices (boolean mask, or
    those already labelled 1) get 1; trees without both inputs and outputs get 0.

    Returns
    -------
    (N,) int32
        SWC compartment codes.
    """
    n = len(sk)
    n_in = np.bincount(np.asarray(input_vertices, np.int64), minlength=n).astype(float)
    n_out = np.bincount(np.asarray(output_vertices, np.int64), minlength=n).astype(float)
    lab = np.zeros(n, np.int32)
    if n_in.sum() > 0 and n_out.sum() > 0:
        cut_lab, best = flow_cut_labels(sk, n_in, n_out)
        if best > 0:
            lab = cut_lab
    s = sk.features["compartment"] == 1 if soma is None else np.asarray(soma, bool)
    lab[s] = 1
    return lab


# ---------------------------------------------------------------------- dataset
@dataclass
class _Group:
    gid: int
    lo: np.ndarray  # level voxel (x, y, z) of the bbox start
    hi: np.ndarray  # exclusive
    factor: np.ndarray  # pooling (x, y, z)
    shape: np.ndarray  # pooled shape (x, y, z)
    offset: int  # first key of this group


def _slabs(layer: VolumeLayer, level: int, nz: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(z0, labels [z, y, x])`` slabs of a level; the whole level at once when small."""
    from ..geometry import Bbox

    z, y, x = layer.shape_zyx(level)
    if z * y * x * layer.dtype.itemsize <= 1 << 30:
        whole = layer.read(level=level)
        for z0 in range(0, z, nz):
            yield z0, whole[z0 : z0 + nz]
        return
    for z0 in range(0, z, nz):
        yield z0, layer.read(Bbox((0, 0, z0), (x, y, min(z, z0 + nz))), level=level)


def _pool_factor(extent_vx: np.ndarray, vs: np.ndarray, max_voxels: int) -> np.ndarray:
    """Smallest near-isotropic pooling (x, y, z) that brings ``extent_vx`` to at most
    ``max_voxels`` voxels."""
    t = float(vs.max())
    while True:
        f = np.maximum(1, np.floor(t / vs + 1e-9)).astype(np.int64)
        if np.prod(-(-extent_vx // f)) <= max_voxels or np.all(f >= extent_vx):
            return f
        t *= 1.15


def skeletonize_dataset(
    dataset: Store,
    selection: Selection,
    *,
    level: int = 0,
    method: str = "ours",
    max_voxels: int = 4_000_000,
    split: str = "auto",
    soma_radius_nm: float = 2500.0,
    write: bool = True,
) -> dict[int, Skeleton]:
    """Skeletons of every group of ``selection``: one soma-rooted tree per object with SWC
    compartments (see the module docstring); written to ``DS/skeletons/`` (Neuroglancer
    precomputed + ``<id>.swc`` in µm) unless ``write`` is false.

    Parameters
    ----------
    dataset : Store
        A dataset with a ``segmentation`` layer and object maps.
    selection : Selection
        Which objects (``each neuron``, ``where neuron=1`` ...).
    level : int
        Pyramid level read (0 = finest; thin axons survive only where they are still
        resolved at that level).
    method : {"ours", "kimimaro"}
        Thinning (permissive) or TEASAR (GPL extra ``connectoscope[skeleton]``).
    max_voxels : int
        Each object's mask is pooled (any-pooling) to at most this many voxels.
    split : {"auto", "maps", "flow", "none"}
        Axon/dendrite split: by the ``axon``/``dendrite`` object maps, by synapse flow (the
        dataset's synapses with ``pre_segment_id``/``post_segment_id``), ``auto`` (maps
        when the object spans both kinds, else flow when possible), or none.
    soma_radius_nm : float
        The root is a soma when it lies at least this deep inside the object.
    write : bool
        Store the skeletons in the dataset.

    Returns
    -------
    dict of int -> Skeleton
        Keyed by object id; vertices in nm of the dataset frame.
    """
    if method == "kimimaro":
        _require_kimimaro()
    elif method != "ours":
        raise InvalidParameterError(f"method must be 'ours' or 'kimimaro', got {method!r}")
    if split not in SPLITS:
        raise InvalidParameterError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if int(max_voxels) < 1000:
        raise InvalidParameterError(f"max_voxels: expected 1000 or more, got {max_voxels}")
    seg = VolumeLayer(dataset, "segmentation")
    frame = seg.frame(level)
    vs = np.asarray(frame.voxel_size.xyz)
    objects = ObjectMaps.from_store(dataset)
    groups = selection.groups(objects)
    gids = np.array(sorted(groups), np.int64)
    all_segs = np.concatenate([np.asarray(groups[g], np.uint64) for g in gids.tolist()])
    all_grp = np.concatenate(
        [np.full(len(groups[g]), i + 1, np.int64) for i, g in enumerate(gids.tolist())]
    )
    o = np.argsort(all_segs, kind="stable")
    seg_sorted, grp_sorted = all_segs[o], all_grp[o]
    kind_sorted = np.zeros(seg_sorted.size, np.int8)
    for kind, code in _KIND_CODES.items():
        if kind in objects.kinds:
            kind_sorted[(objects.lookup(kind, seg_sorted) > 0) & (kind_sorted == 0)] = code
    shape_xyz = np.asarray(seg.shape_zyx(level)[::-1], np.int64)
    nz = 32

    def lookup(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flat = lab.reshape(-1).astype(np.uint64)
        pos = np.minimum(np.searchsorted(seg_sorted, flat), seg_sorted.size - 1)
        hit = seg_sorted[pos] == flat
        return hit, pos

    # pass 1: bounding box of every group
    lo = np.full((gids.size + 1, 3), np.iinfo(np.int64).max)
    hi = np.full((gids.size + 1, 3), -1)
    for z0, lab in _slabs(seg, level, nz):
        hit, pos = lookup(lab)
        idx = np.flatnonzero(hit)
        if idx.size == 0:
            continue
        g = grp_sorted[pos[idx]]
        zz, yy, xx = np.unravel_index(idx, lab.shape)
        for a, c in enumerate((xx, yy, zz + z0)):
            np.minimum.at(lo[:, a], g, c)
            np.maximum.at(hi[:, a], g, c)
    meta: dict[int, _Group] = {}
    offset = 0
    for i, gid in enumerate(gids.tolist(), start=1):
        if hi[i, 0] < 0:
            continue
        ext = hi[i] - lo[i] + 1
        f = _pool_factor(ext, vs, int(max_voxels))
        shp = -(-ext // f)
        meta[i] = _Group(gid, lo[i].copy(), hi[i] + 1, f, shp, offset)
        offset += int(np.prod(shp))
    if not meta:
        out: dict[int, Skeleton] = {}
    else:
        # pass 2: pooled voxels of every group, with counts of axon / dendrite voxels
        f_of = np.ones((gids.size + 1, 3), np.int64)
        lo_of = np.zeros((gids.size + 1, 3), np.int64)
        shp_of = np.ones((gids.size + 1, 3), np.int64)
        off_of = np.zeros(gids.size + 1, np.int64)
        for i, m in meta.items():
            f_of[i], lo_of[i], shp_of[i], off_of[i] = m.factor, m.lo, m.shape, m.offset
        keys: list[np.ndarray] = []
        kinds: list[np.ndarray] = []
        for z0, lab in _slabs(seg, level, nz):
            hit, pos = lookup(lab)
            idx = np.flatnonzero(hit)
            if idx.size == 0:
                continue
            g = grp_sorted[pos[idx]]
            zz, yy, xx = np.unravel_index(idx, lab.shape)
            px = (xx - lo_of[g, 0]) // f_of[g, 0]
            py = (yy - lo_of[g, 1]) // f_of[g, 1]
            pz = (zz + z0 - lo_of[g, 2]) // f_of[g, 2]
            k = off_of[g] + (pz * shp_of[g, 1] + py) * shp_of[g, 0] + px
            kd = kind_sorted[pos[idx]]
            uk, inv = np.unique(k, return_inverse=True)
            keys.append(uk)
            kinds.append(
                np.stack(
                    [np.bincount(inv, weights=(kd == c), minlength=uk.size) for c in (1, 2)],
                    axis=1,
                )
            )
        ak = np.concatenate(keys)
        uk, inv = np.unique(ak, return_inverse=True)
        kc = np.zeros((uk.size, 2))
        np.add.at(kc, inv, np.concatenate(kinds))
        synapses = _segment_synapses(dataset) if split in ("auto", "flow") else None
        out = {}
        starts = np.array([meta[i].offset for i in sorted(meta)] + [offset])
        for n_i, i in enumerate(sorted(meta)):
            m = meta[i]
            a, b = np.searchsorted(uk, [starts[n_i], starts[n_i + 1]])
            local = uk[a:b] - m.offset
            sx, sy, sz = (int(v) for v in m.shape)
            mask = np.zeros((sz, sy, sx), bool)
            mask.reshape(-1)[local] = True
            counts = np.zeros((sz * sy * sx, 2))
            counts[local] = kc[a:b]
            name = f"{selection.each or 'object'} {m.gid}"
            got = _tree_from_mask(mask, frame, m.lo, m.factor, shape_xyz, name=name, method=method)
            if got is None:
                continue
            sk, pool_zyx = got
            lin = (pool_zyx[:, 0] * sy + pool_zyx[:, 1]) * sx + pool_zyx[:, 2]
            sk = _label(
                sk,
                counts,
                lin,
                mask.shape,
                split,
                soma_radius_nm,
                None if synapses is None else _object_synapses(synapses, groups[m.gid]),
            )
            sk.meta.update(
                {
                    "object_id": m.gid,
                    "level": level,
                    "pool_xyz": [int(v) for v in m.factor],
                    "split": sk.meta.get("split", "none"),
                }
            )
            out[m.gid] = sk
    if write:
        _write(dataset, out, groups, selection, level, method)
    return out


def _label(
    sk: Skeleton,
    counts: np.ndarray,
    lin: np.ndarray,
    shape_zyx: tuple[int, ...],
    split: str,
    soma_radius_nm: float,
    syn: tuple[np.ndarray, np.ndarray] | None,
) -> Skeleton:
    """Soma (collapsed into the root), then axon/dendrite by the maps or by synapse flow."""
    soma = _soma_vertices(sk, soma_radius_nm)
    if soma.sum() > 1:
        sk, keep = _collapse_soma(sk, soma)
        lin, soma = lin[keep], soma[keep]
    comp = np.zeros(len(sk), np.int32)
    # kind counts of each vertex's pooled voxel and its 26 neighbours
    sz, sy, sx = shape_zyx
    z, rem = np.divmod(lin, sy * sx)
    y, x = np.divmod(rem, sx)
    ax = np.zeros(len(sk))
    de = np.zeros(len(sk))
    for dz in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                zz, yy, xx = z + dz, y + dy, x + dx
                ok = (zz >= 0) & (yy >= 0) & (xx >= 0) & (zz < sz) & (yy < sy) & (xx < sx)
                w = 1.0 if (dz, dy, dx) == (0, 0, 0) else 0.25
                li = (zz[ok] * sy + yy[ok]) * sx + xx[ok]
                ax[ok] += w * counts[li, 0]
                de[ok] += w * counts[li, 1]
    spans = ax[~soma].sum() > 0 and de[~soma].sum() > 0
    used = "none"
    if split == "maps" or (split == "auto" and spans):
        lab = np.where(ax > de, 2, np.where(de > ax, 3, 0)).astype(np.int32)
        lab[soma] = 1
        comp = _smooth_labels(sk, lab, soma)
        used = "maps"
    elif split in ("flow", "auto") and syn is not None:
        pts_in, pts_out = syn
        if len(pts_in) and len(pts_out):
            _, vin = sk.kdtree.query(pts_in)
            _, vout = sk.kdtree.query(pts_out)
            comp = flow_split(sk, vin, vout, soma=soma)
            used = "flow"
    comp[soma] = 1
    feats = {**sk.features, "compartment": comp.astype(np.int32)}
    return Skeleton(sk.vertices, sk.parent, sk.node_ids, feats, sk.name, {**sk.meta, "split": used})


def _segment_synapses(dataset: Store) -> Any:
    """The dataset's synapse table (``synapses/synapses.parquet``, positions in nm) when it
    names segment ids, else None."""
    import pandas as pd

    p = dataset.layout.synapses_table
    if not p.exists():
        return None
    need = ["pre_segment_id", "post_segment_id", "x_nm", "y_nm", "z_nm"]
    names = set(pd.read_parquet(p, columns=[]).columns) | _parquet_columns(p)
    if not set(need) <= names:
        return None
    return pd.read_parquet(p, columns=need)


def _parquet_columns(path: Any) -> set[str]:
    import pyarrow.parquet as pq

    return set(pq.ParquetFile(path).schema_arrow.names)


def _object_synapses(df: Any, segs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(segs, np.uint64)
    xyz = df[["x_nm", "y_nm", "z_nm"]].to_numpy(np.float64)
    pin = np.isin(df["post_segment_id"].to_numpy().astype(np.uint64), s)
    pout = np.isin(df["pre_segment_id"].to_numpy().astype(np.uint64), s)
    return xyz[pin], xyz[pout]


def _write(
    dataset: Store,
    out: dict[int, Skeleton],
    groups: dict[int, np.ndarray],
    selection: Selection,
    level: int,
    method: str,
) -> None:
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


# ---------------------------------------------------------------------- kimimaro
def _require_kimimaro() -> Any:
    try:
        import kimimaro
    except ImportError:
        raise DependencyMissingError(
            "method='kimimaro' needs kimimaro, the optional GPL-3.0 extra: "
            'pip install "connectoscope[skeleton]" (or use method="ours", permissive)'
        ) from None
    return kimimaro


def _kimimaro_tree(
    mask_zyx: np.ndarray,
    vs_xyz: np.ndarray,
    *,
    scale: float = 1.5,
    const_nm: float | None = None,
    tick_nm: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """kimimaro's TEASAR on a mask: ``(zyx voxel of each vertex, parent, radius nm)``,
    a forest rooted at each piece's widest vertex."""
    kimimaro = _require_kimimaro()
    const = 4 * float(vs_xyz[0]) if const_nm is None else float(const_nm)
    labels_xyz = np.asfortranarray(mask_zyx.astype(np.uint8).T)  # kimimaro indexes x, y, z
    res = kimimaro.skeletonize(
        labels_xyz,
        teasar_params={"scale": scale, "const": const, "pdrf_scale": 100000, "pdrf_exponent": 4},
        anisotropy=tuple(float(v) for v in vs_xyz),
        dust_threshold=0,
        fix_branching=True,
        progress=False,
        parallel=1,
    )
    ks = res.get(1)
    if ks is None or len(ks.vertices) == 0:
        return None
    ks = kimimaro.postprocess(
        ks, dust_threshold=0, tick_threshold=tick_nm or 6 * float(np.max(vs_xyz))
    )
    v = np.asarray(ks.vertices, np.float64) / np.asarray(vs_xyz, np.float64)
    idx_xyz = np.clip(np.rint(v).astype(np.int64), 0, np.asarray(mask_zyx.shape[::-1]) - 1)
    e = np.asarray(ks.edges, np.int64).reshape(-1, 2)
    rad = np.asarray(getattr(ks, "radius", np.zeros(len(v))), np.float64)
    n = len(v)
    root = int(np.argmax(rad)) if rad.size else 0
    parent = _orient(n, e, np.arange(n), root, "kimimaro skeleton")
    return idx_xyz[:, ::-1], parent, rad


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
    """Skeleton (nm) of one binary ``[z, y, x]`` mask with kimimaro's TEASAR (GPL extra):
    ``offset_nm + index * voxel_size``, rooted at the widest vertex; pieces stay separate
    roots. ``scale``/``const_nm`` are TEASAR's invalidation ball, ``tick_nm`` the shortest
    terminal branch kept (default 6 voxels). None when the mask is empty.

    Raises
    ------
    DependencyMissingError
        kimimaro is not installed (``pip install "connectoscope[skeleton]"``).
    """
    _require_kimimaro()
    if not mask_zyx.any():
        return None
    vs = np.asarray(voxel_size_xyz, float)
    got = _kimimaro_tree(mask_zyx, vs, scale=scale, const_nm=const_nm, tick_nm=tick_nm)
    if got is None:
        return None
    zyx, parent, rad = got
    v = zyx[:, ::-1] * vs + np.asarray(offset_nm, float)
    n = len(v)
    return Skeleton.from_parents(
        np.arange(n, dtype=np.int64),
        parent,
        v,
        features={"radius": rad, "compartment": np.zeros(n, np.int32)},
        name=name,
        meta={"method": "kimimaro"},
    )
