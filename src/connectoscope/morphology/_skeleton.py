"""``Skeleton``: a tree (or forest) of vertices in nm with per-vertex features.

Vertices are ``(N, 3)`` float64 ``x, y, z`` in nm; ``parent[i]`` is the index of vertex i's
parent or -1 for a root; ``node_ids`` keep the file's ids (SWC ``PointNo``). Features are
per-vertex arrays: ``compartment`` (SWC type: 0 undefined, 1 soma, 2 axon, 3 dendrite,
4 apical dendrite, 5+ custom) and ``radius`` (nm) always exist. Vertices are stored in a
topological order (parents before children), which makes path distances one pass.
``meta`` carries file-level facts (SWC header, NML annotations) and, for a skeleton moved into
a coordinate frame, ``unit`` and ``frame`` (vertices are then in that unit, not nm).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..errors import DataFormatError, InvalidParameterError

__all__ = ["COMPARTMENTS", "Skeleton"]

COMPARTMENTS = {0: "undefined", 1: "soma", 2: "axon", 3: "dendrite", 4: "apical dendrite"}


@dataclass
class Skeleton:
    """A skeleton; build with :meth:`from_parents` (validates and sorts topologically).

    Attributes
    ----------
    vertices : (N, 3) float64
        x, y, z in nm (or ``meta["unit"]``).
    parent : (N,) int64
        Parent vertex index, -1 for roots; parents come before children.
    node_ids : (N,) int64
        The file's node ids.
    features : dict of (N,) arrays
        ``compartment`` (int32 SWC codes), ``radius`` (nm) and any others.
    name : str
    meta : dict
    """

    vertices: np.ndarray
    parent: np.ndarray
    node_ids: np.ndarray
    features: dict[str, np.ndarray] = field(default_factory=dict)
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_parents(
        cls,
        node_ids: np.ndarray,
        parent_ids: np.ndarray,
        vertices_nm: np.ndarray,
        *,
        features: Mapping[str, np.ndarray] | None = None,
        name: str = "",
        source: str = "skeleton",
        meta: Mapping[str, Any] | None = None,
    ) -> Skeleton:
        """Validate ids (unique, parents exist, no cycles) and order parents before children.

        Parameters
        ----------
        node_ids : (N,) int
        parent_ids : (N,) int, -1 (or any negative) for roots
        vertices_nm : (N, 3) float, x, y, z in nm
        features : mapping of name -> (N,) array
        name : str
        source : str
            Names the input in error messages (a file path).
        meta : mapping
            Free-form metadata carried along (file-level annotations such as NML comments,
            ``unit`` when the vertices are not nm).

        Raises
        ------
        DataFormatError
            Duplicate node ids, a parent id that does not exist, a cycle, or counts that differ.
        """
        ids = np.asarray(node_ids, np.int64)
        par = np.asarray(parent_ids, np.int64)
        v = np.asarray(vertices_nm, np.float64).reshape(-1, 3)
        n = ids.size
        if par.size != n or v.shape[0] != n:
            raise DataFormatError(f"{source}: node, parent and vertex counts differ")
        uniq, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            dup = uniq[counts > 1][:5]
            raise DataFormatError(f"{source}: duplicate node ids {', '.join(map(str, dup))}")
        order = np.argsort(ids)
        pos = np.searchsorted(ids[order], par)
        pos = np.minimum(pos, n - 1)
        is_root = par < 0
        found = ids[order][pos] == par
        missing = ~is_root & ~found
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise DataFormatError(
                f"{source}: node {ids[i]} has parent {par[i]}, which does not exist "
                f"({int(missing.sum())} such nodes)"
            )
        pidx = np.where(is_root, -1, order[pos])
        # topological order by BFS from the roots; nodes never reached lie on a cycle
        children: list[list[int]] = [[] for _ in range(n)]
        for i, p in enumerate(pidx.tolist()):
            if p >= 0:
                children[p].append(i)
        topo: list[int] = []
        stack = [int(i) for i in np.flatnonzero(is_root)][::-1]
        while stack:
            i = stack.pop()
            topo.append(i)
            stack.extend(reversed(children[i]))
        if len(topo) != n:
            raise DataFormatError(
                f"{source}: the parent links contain a cycle ({n - len(topo)} nodes on it or below)"
            )
        t = np.asarray(topo, np.int64)
        inv = np.empty(n, np.int64)
        inv[t] = np.arange(n)
        new_parent = np.where(pidx[t] >= 0, inv[np.maximum(pidx[t], 0)], -1)
        feats = {k: np.asarray(val)[t] for k, val in (features or {}).items()}
        feats.setdefault("compartment", np.zeros(n, np.int32))
        feats.setdefault("radius", np.zeros(n, np.float64))
        for k, val in feats.items():
            if val.shape[:1] != (n,):
                raise DataFormatError(f"{source}: feature {k!r} has {val.shape[0]} values, not {n}")
        return cls(v[t], new_parent, ids[t], feats, name, dict(meta or {}))

    # ------------------------------------------------------------------ structure
    def __len__(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def roots(self) -> np.ndarray:
        """Indices of root vertices (more than one for a forest)."""
        return np.flatnonzero(self.parent < 0)

    @cached_property
    def n_children(self) -> np.ndarray:
        return np.bincount(self.parent[self.parent >= 0], minlength=len(self))

    @property
    def branch_points(self) -> np.ndarray:
        """Indices of vertices with more than one child."""
        return np.flatnonzero(self.n_children > 1)

    @property
    def leaves(self) -> np.ndarray:
        """Indices of vertices without children (end points)."""
        return np.flatnonzero(self.n_children == 0)

    @cached_property
    def edge_lengths(self) -> np.ndarray:
        """Length (nm) of the edge to each vertex's parent (0 for roots)."""
        has = self.parent >= 0
        out = np.zeros(len(self))
        out[has] = np.linalg.norm(self.vertices[has] - self.vertices[self.parent[has]], axis=1)
        return out

    @property
    def cable_length(self) -> float:
        """Sum of edge lengths, nm."""
        return float(self.edge_lengths.sum())

    @cached_property
    def distance_to_root(self) -> np.ndarray:
        """Path distance of every vertex to its root, ``(N,)`` float64 in vertex units (nm).

        Computed once (pointer jumping: about log2(depth) vectorised passes) and cached.
        """
        d, _ = _climb(self.parent, self.edge_lengths)
        return d

    @cached_property
    def root_of(self) -> np.ndarray:
        """Index of the root of every vertex's tree, ``(N,)`` int64."""
        _, r = _climb(self.parent, self.edge_lengths)
        return r

    def strahler(self) -> np.ndarray:
        """Strahler order per vertex (leaves 1)."""
        n = len(self)
        order = np.ones(n, np.int64)
        best = np.zeros(n, np.int64)
        count_best = np.zeros(n, np.int64)
        for i in range(n - 1, -1, -1):
            if self.n_children[i] > 0:
                order[i] = best[i] + (1 if count_best[i] > 1 else 0)
            p = self.parent[i]
            if p >= 0:
                if order[i] > best[p]:
                    best[p], count_best[p] = order[i], 1
                elif order[i] == best[p]:
                    count_best[p] += 1
        return order

    def segments(self) -> list[np.ndarray]:
        """Unbranched paths between branch points / roots / leaves (vertex index arrays)."""
        stops = (self.n_children != 1) | (self.parent < 0)
        out = []
        for leaf_or_branch in np.flatnonzero(stops):
            if self.parent[leaf_or_branch] < 0:
                continue
            path = [int(leaf_or_branch)]
            p = int(self.parent[leaf_or_branch])
            while p >= 0 and not (self.n_children[p] > 1 or self.parent[p] < 0):
                path.append(p)
                p = int(self.parent[p])
            if p >= 0:
                path.append(p)
            out.append(np.asarray(path[::-1]))
        return out

    def path_distances(
        self, sources: np.ndarray, targets: np.ndarray | None = None, *, dtype: Any = np.float64
    ) -> np.ndarray:
        """Path distances from many sources at once, without an N x N matrix.

        Uses ``d(s, v) = d_root(s) + d_root(v) - 2 d_root(lca(s, v))``. For one source,
        ``d_root(lca(s, v))`` is the sum of the edge lengths of the ancestors of ``s`` whose
        subtree holds ``v``; subtrees are intervals of a depth-first order, so it is one
        cumulative sum over a difference array per source (O(N + depth) per source, in
        blocks of rows, vectorised). No N x N matrix, no per-source graph search.

        Parameters
        ----------
        sources : (S,) int
            Vertex indices.
        targets : (T,) int, optional
            Vertex indices; all vertices when omitted.
        dtype : numpy dtype
            Of the result (float32 halves the memory).

        Returns
        -------
        (S, T) array
            Path distances in vertex units (nm); ``inf`` between different trees.
            Memory is the output only (S x T); for more, use :meth:`iter_path_distances`.
        """
        src = self._check_vertices(sources, "sources")
        tgt = np.arange(len(self)) if targets is None else self._check_vertices(targets, "targets")
        out = np.empty((src.size, tgt.size), dtype)
        for _ in self._path_blocks(src, tgt, targets is None, 262_144, out):
            pass
        return out

    def iter_path_distances(
        self,
        sources: np.ndarray,
        targets: np.ndarray | None = None,
        *,
        block_size: int = 262_144,
        dtype: Any = np.float64,
    ) -> Iterator[np.ndarray]:
        """Blocks of rows of :meth:`path_distances` (about ``block_size`` values each), so
        distances from any number of sources stream in bounded memory."""
        src = self._check_vertices(sources, "sources")
        tgt = np.arange(len(self)) if targets is None else self._check_vertices(targets, "targets")
        for block in self._path_blocks(src, tgt, targets is None, block_size, None):
            yield block.astype(dtype, copy=False)

    def _path_blocks(
        self,
        src: np.ndarray,
        tgt: np.ndarray,
        all_targets: bool,
        block_size: int,
        out: np.ndarray | None,
    ) -> Iterator[np.ndarray]:
        """Rows of path distances in blocks; written into ``out`` when given."""
        idx = self._tree_index
        d = self.distance_to_root
        comp = self.component
        n = len(self)
        ex = idx.ex  # ex[p] = sum of edge lengths of the vertices before pre-order position p
        # Walk up from every source at once. A run of single-child ancestors is one contiguous
        # pre-order range sharing one subtree end: it becomes one "ramp" term; other
        # ancestors (branch points, leaves, roots) one step term each.
        s_rows, s_vert, r_rows, r_top, r_bot = [], [], [], [], []
        cur, row = src.copy(), np.arange(src.size)
        while cur.size:
            ch = idx.chain[cur]
            s_rows.append(row[~ch])
            s_vert.append(cur[~ch])
            r_rows.append(row[ch])
            r_bot.append(cur[ch])
            up = cur.copy()
            up[ch] = idx.run_top[cur[ch]]
            r_top.append(up[ch])
            nxt = self.parent[up]
            keep = nxt >= 0
            row, cur = row[keep], nxt[keep]
        sr, sv = _by_row(np.concatenate(s_rows), np.concatenate(s_vert))
        rr, rt, rb = _by_row(np.concatenate(r_rows), np.concatenate(r_top), np.concatenate(r_bot))
        s_bounds = np.searchsorted(sr, np.arange(src.size + 1))
        r_bounds = np.searchsorted(rr, np.arange(src.size + 1))
        el = self.edge_lengths
        epre = ex[1:]  # total edge length up to and including each pre-order position
        per = max(1, block_size // max(1, n + 1))
        identity = all_targets and idx.identity
        d_t = d[tgt][None, :]
        forest = self.roots.size > 1
        pre_t = idx.pre[tgt]
        for i in range(0, src.size, per):
            j = min(src.size, i + per)
            m = (j - i) * (n + 1)
            a = sv[s_bounds[i] : s_bounds[j]]
            off_s = (sr[s_bounds[i] : s_bounds[j]] - i) * (n + 1)
            t, bt = rt[r_bounds[i] : r_bounds[j]], rb[r_bounds[i] : r_bounds[j]]
            off_r = (rr[r_bounds[i] : r_bounds[j]] - i) * (n + 1)
            p0, p1, e = idx.pre[t], idx.pre[bt], idx.end[bt]
            flat = np.concatenate(
                [off_s + idx.pre[a], off_s + idx.end[a], off_r + p0, off_r + p1 + 1, off_r + e]
            )
            w = np.concatenate([el[a], -el[a], -ex[p0], ex[p1 + 1], ex[p0] - ex[p1 + 1]])
            steps = np.bincount(flat, w, minlength=m).astype(np.float64, copy=False)
            steps = steps.reshape(j - i, n + 1)
            np.cumsum(steps, axis=1, out=steps)
            ramp = np.bincount(
                np.concatenate([off_r + p0, off_r + p1 + 1]),
                np.concatenate([np.ones(p0.size), -np.ones(p0.size)]),
                minlength=m,
            ).astype(np.float64, copy=False)
            ramp = ramp.reshape(j - i, n + 1)
            np.cumsum(ramp, axis=1, out=ramp)
            lca_d = ramp[:, :n]
            lca_d *= epre[None, :]
            lca_d += steps[:, :n]  # d_root(lca(s, v)) at pre-order positions
            if not identity:
                lca_d = lca_d[:, pre_t]
            s_ = src[i:j]
            # d(s, v) = d(v) + d(s) - 2 d(lca), computed in place
            lca_d *= -2.0
            lca_d += d_t
            lca_d += d[s_][:, None]
            block = out[i:j] if out is not None else lca_d
            np.maximum(lca_d, 0.0, out=block)
            if forest:
                block[comp[s_][:, None] != comp[tgt][None, :]] = np.inf
            yield block

    def _check_vertices(self, idx: np.ndarray, what: str) -> np.ndarray:
        a = np.asarray(idx, np.int64).reshape(-1)
        if a.size and (a.min() < 0 or a.max() >= len(self)):
            raise InvalidParameterError(
                f"{what}: vertex indices must lie in 0..{len(self) - 1}, got {a.min()}..{a.max()}; "
                "use vertex_of(node_ids) to turn file node ids into vertex indices"
            )
        return a

    @cached_property
    def kdtree(self) -> Any:
        """A ``scipy.spatial.cKDTree`` of the vertices (built once, cached)."""
        from scipy.spatial import cKDTree

        return cKDTree(self.vertices)

    @cached_property
    def _tree_index(self) -> _TreeIndex:
        return _TreeIndex(self.parent, self.edge_lengths, self.n_children)

    def reroot(self, vertex: int) -> Skeleton:
        """The same tree rooted at ``vertex`` (its component only is re-oriented)."""
        par = self.parent.copy()
        prev, cur = -1, int(vertex)
        while cur >= 0:
            nxt = int(par[cur])
            par[cur] = prev
            prev, cur = cur, nxt
        pid = np.where(par >= 0, self.node_ids[np.maximum(par, 0)], -1)
        return Skeleton.from_parents(
            self.node_ids,
            pid,
            self.vertices,
            features=self.features,
            name=self.name,
            meta=self.meta,
        )

    def join_fragments(self, max_dist: float) -> Skeleton:
        """Join the trees of a forest: starting from the largest tree, repeatedly attach the
        tree whose closest vertex lies nearest (at most ``max_dist`` nm) to the joined part,
        by an edge between those two closest vertices (the attached tree is re-oriented
        from there). Trees farther than ``max_dist`` stay separate roots."""
        from scipy.spatial import cKDTree

        if self.roots.size < 2:
            return self
        par = self.parent.copy()
        comp = self.component
        joined = comp == int(np.argmax(np.bincount(comp)))
        while not joined.all():
            jidx = np.flatnonzero(joined)
            cand = np.flatnonzero(~joined)
            d, j = cKDTree(self.vertices[jidx]).query(self.vertices[cand])
            best = int(np.argmin(d))
            if d[best] > max_dist:
                break
            prev, cur = int(jidx[j[best]]), int(cand[best])
            while cur >= 0:  # reverse the path from the attach vertex to its old root
                nxt = int(par[cur])
                par[cur] = prev
                prev, cur = cur, nxt
            joined |= comp == comp[cand[best]]
        pid = np.where(par >= 0, self.node_ids[np.maximum(par, 0)], -1)
        return Skeleton.from_parents(
            self.node_ids,
            pid,
            self.vertices,
            features=self.features,
            name=self.name,
            meta=self.meta,
        )

    @cached_property
    def component(self) -> np.ndarray:
        """Tree index (0 .. number of roots - 1, in root order) of every vertex."""
        rank = np.full(len(self), -1, np.int64)
        rank[self.roots] = np.arange(self.roots.size)
        return rank[self.root_of]

    def vertex_of(self, node_ids: np.ndarray) -> np.ndarray:
        """Vertex indices of file node ids (raises for unknown ids)."""
        ids = np.asarray(node_ids, np.int64)
        order = np.argsort(self.node_ids)
        pos = np.minimum(np.searchsorted(self.node_ids[order], ids), len(self) - 1)
        found = self.node_ids[order][pos] == ids
        if not found.all():
            bad = ids[~found][:5]
            raise InvalidParameterError(f"unknown node ids {', '.join(map(str, bad))}")
        return order[pos]

    def masked(self, keep: np.ndarray) -> Skeleton:
        """Vertices where ``keep`` is true (children of removed vertices become roots)."""
        keep = np.asarray(keep, bool)
        if keep.shape != (len(self),):
            raise InvalidParameterError("mask must have one entry per vertex")
        pid = np.where(self.parent >= 0, self.node_ids[np.maximum(self.parent, 0)], -1)
        pid = np.where((self.parent >= 0) & keep[np.maximum(self.parent, 0)], pid, -1)
        return Skeleton.from_parents(
            self.node_ids[keep],
            pid[keep],
            self.vertices[keep],
            features={k: v[keep] for k, v in self.features.items()},
            name=self.name,
            meta=self.meta,
        )

    def summary(self) -> dict[str, Any]:
        """Node, root, branch-point and leaf counts, cable length (nm and µm), compartments."""
        comp = self.features["compartment"]
        vals, counts = np.unique(comp, return_counts=True)
        return {
            "name": self.name,
            "nodes": len(self),
            "roots": int(self.roots.size),
            "branch_points": int(self.branch_points.size),
            "leaves": int(self.leaves.size),
            "cable_length_nm": self.cable_length,
            "cable_length_um": self.cable_length / 1000,
            "compartments": {
                COMPARTMENTS.get(int(v), f"custom {int(v)}"): int(c) for v, c in zip(vals, counts)
            },
        }


def _climb(parent: np.ndarray, edge_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(path distance to the root, root index) for every vertex by pointer jumping."""
    n = parent.size
    dist = edge_lengths.astype(np.float64, copy=True)
    anc = parent.astype(np.int64, copy=True)
    idx = np.arange(n, dtype=np.int64)
    top = np.where(anc < 0, idx, anc)  # highest vertex reached so far
    active = np.flatnonzero(anc >= 0)
    while active.size:
        a = anc[active]
        dist[active] += dist[a]
        top[active] = top[a]
        anc[active] = anc[a]
        active = active[anc[active] >= 0]
    return dist, top


def _by_row(rows: np.ndarray, *cols: np.ndarray) -> tuple[np.ndarray, ...]:
    o = np.argsort(rows, kind="stable")
    return (rows[o], *(c[o] for c in cols))


class _TreeIndex:
    """Depth-first (pre-order) position ``pre`` of every vertex and the end ``end`` of its
    subtree's interval ``[pre, end)``."""

    def __init__(
        self, parent: np.ndarray, edge_lengths: np.ndarray, n_children: np.ndarray
    ) -> None:
        n = parent.size
        par = np.where(parent < 0, n, parent)
        order = np.argsort(par, kind="stable")
        starts = np.searchsorted(par[order], np.arange(n + 2))
        pre = np.empty(n + 1, np.int64)
        end = np.empty(n + 1, np.int64)
        nxt = starts[:-1].copy()
        stack = [n]
        counter = 0
        pre[n] = -1
        while stack:
            v = stack[-1]
            if nxt[v] < starts[v + 1]:
                c = int(order[nxt[v]])
                nxt[v] += 1
                pre[c] = counter
                counter += 1
                stack.append(c)
            else:
                stack.pop()
                end[v] = counter
        self.pre = pre[:n]
        self.end = end[:n]
        self.identity = bool(np.array_equal(self.pre, np.arange(n)))
        # edge length summed along the pre-order: ex[p] = total before position p
        at = np.empty(n, np.int64)
        at[self.pre] = np.arange(n)
        self.ex = np.concatenate([[0.0], np.cumsum(edge_lengths[at])])
        # chain vertices (one child, not a root) and the top of the run of chain vertices
        # each belongs to (climbing while the parent is a chain vertex too)
        self.chain = (n_children == 1) & (parent >= 0)
        up = np.arange(n)
        ch = np.flatnonzero(self.chain)
        pc = parent[ch]
        up[ch] = np.where(self.chain[pc], pc, ch)
        while True:
            nxt = up[up]
            if np.array_equal(nxt, up):
                break
            up = nxt
        self.run_top = up
