"""``Skeleton``: a tree (or forest) of vertices in nm with per-vertex features.

Vertices are ``(N, 3)`` float64 ``x, y, z`` in nm; ``parent[i]`` is the index of vertex i's
parent or -1 for a root; ``node_ids`` keep the file's ids (SWC ``PointNo``). Features are
per-vertex arrays: ``compartment`` (SWC type: 0 undefined, 1 soma, 2 axon, 3 dendrite,
4 apical dendrite, 5+ custom) and ``radius`` (nm) always exist. Vertices are stored in a
topological order (parents before children), which makes path distances one pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..errors import DataFormatError, InvalidParameterError

__all__ = ["COMPARTMENTS", "Skeleton"]

COMPARTMENTS = {0: "undefined", 1: "soma", 2: "axon", 3: "dendrite", 4: "apical dendrite"}


@dataclass
class Skeleton:
    """A skeleton; build with :meth:`from_parents` (validates and sorts topologically)."""

    vertices: np.ndarray
    parent: np.ndarray
    node_ids: np.ndarray
    features: dict[str, np.ndarray] = field(default_factory=dict)
    name: str = ""

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
    ) -> Skeleton:
        """Validate ids (unique, parents exist, no cycles) and order parents before children.

        Parameters
        ----------
        node_ids : (N,) int
        parent_ids : (N,) int, -1 (or any negative) for roots
        vertices_nm : (N, 3) float, x, y, z in nm
        features : mapping of name -> (N,) array
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
        return cls(v[t], new_parent, ids[t], feats, name)

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
        """Path distance (nm) of every vertex to its root: one pass in topological order."""
        d = np.zeros(len(self))
        el = self.edge_lengths
        for i, p in enumerate(self.parent.tolist()):
            if p >= 0:
                d[i] = d[p] + el[i]
        return d

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

    def path_distances(self, sources: np.ndarray, targets: np.ndarray | None = None) -> np.ndarray:
        """Path distances (nm) from many sources at once, without an N x N matrix.

        Returns ``(len(sources), len(targets or all vertices))``; ``inf`` across trees.
        """
        import scipy.sparse as sp
        from scipy.sparse.csgraph import dijkstra

        has = np.flatnonzero(self.parent >= 0)
        g = sp.coo_matrix(
            (self.edge_lengths[has], (has, self.parent[has])), shape=(len(self), len(self))
        )
        d = dijkstra(g.tocsr(), directed=False, indices=np.asarray(sources))
        return d if targets is None else d[:, np.asarray(targets)]

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
            self.node_ids, pid, self.vertices, features=self.features, name=self.name
        )

    def join_fragments(self, max_dist: float) -> Skeleton:
        """Connect extra roots to the nearest vertex of another tree within ``max_dist`` nm."""
        from scipy.spatial import cKDTree

        par = self.parent.copy()
        comp = self.component
        for r in self.roots[1:]:
            other = np.flatnonzero(comp != comp[r])
            if other.size == 0:
                continue
            d, j = cKDTree(self.vertices[other]).query(self.vertices[r])
            if d <= max_dist:
                par[r] = other[j]
        pid = np.where(par >= 0, self.node_ids[np.maximum(par, 0)], -1)
        return Skeleton.from_parents(
            self.node_ids, pid, self.vertices, features=self.features, name=self.name
        )

    @cached_property
    def component(self) -> np.ndarray:
        """Tree index (0..) of every vertex."""
        comp = np.zeros(len(self), np.int64)
        for k, r in enumerate(self.roots.tolist()):
            comp[r] = k
        for i, p in enumerate(self.parent.tolist()):
            if p >= 0:
                comp[i] = comp[p]
        return comp

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
