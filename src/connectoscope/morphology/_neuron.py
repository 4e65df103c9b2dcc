"""``Neuron``: a skeleton with its input and output synapses and an optional mesh, where a
mask on one layer carries to the linked layers."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataFormatError, InvalidParameterError
from ._io import reroot_at
from ._mapping import map_synapses
from ._skeleton import COMPARTMENTS, Skeleton
from ._skeletonize import flow_cut_labels

__all__ = ["TARGET_COLUMNS", "Neuron", "label_axon_dendrite"]

# columns that name the postsynaptic target structure (MICrONS: synapse_target_predictions "tag")
TARGET_COLUMNS = ("target", "tag", "target_structure", "post_target")
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_BY_NAME = {v: k for k, v in COMPARTMENTS.items()}


@dataclass
class Neuron:
    """A skeleton, its synapses mapped onto it, and optionally its surface mesh.

    Attributes
    ----------
    skeleton : Skeleton
        Vertices in nm; the root should be the soma (see :meth:`rerooted`).
    inputs, outputs : pandas.DataFrame
        One row per postsynaptic site on this neuron (``inputs``) or presynaptic site
        (``outputs``): the caller's columns, then ``x_nm, y_nm, z_nm``, ``vertex`` (skeleton
        vertex index), ``node_id``, ``distance_nm`` (to that vertex), ``distance_to_root_nm``
        (path distance along the skeleton; to the soma when the root is the soma),
        ``compartment`` (SWC code of the vertex), ``compartment_name`` and ``target``
        (spine/shaft/soma... when the table had such a column, else empty). The caller's
        columns with one of these names are kept as ``table_<name>``.
    mesh : optional
        A :class:`connectoscope.surfaces.Mesh`, a trimesh, or ``(vertices, faces)`` in nm.
    mesh_vertex : (M,) int64, optional
        Skeleton vertex nearest to every mesh vertex (how masks reach the mesh).
    """

    skeleton: Skeleton
    inputs: pd.DataFrame
    outputs: pd.DataFrame
    mesh: Any = None
    mesh_vertex: np.ndarray | None = None
    name: str = ""
    misses: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        skeleton: Skeleton,
        *,
        synapses: pd.DataFrame | None = None,
        inputs: pd.DataFrame | None = None,
        outputs: pd.DataFrame | None = None,
        type_column: str = "type",
        output_value: str = "pre",
        input_value: str = "post",
        position: Sequence[str] | str = ("x", "y", "z"),
        units: float | Sequence[float] = 1.0,
        max_dist: float = np.inf,
        policy: str = "drop",
        target_column: str | None = None,
        mesh: Any = None,
        name: str = "",
    ) -> Neuron:
        """Map synapse tables onto ``skeleton``.

        Parameters
        ----------
        synapses : DataFrame, optional
            One table with both kinds, told apart by ``type_column`` (``output_value`` rows are
            this neuron's presynaptic sites, ``input_value`` rows its postsynaptic sites: the
            hemibrain convention ``pre``/``post``).
        inputs, outputs : DataFrame, optional
            Or two tables (MICrONS: ``post_pt_root_id == me`` and ``pre_pt_root_id == me``).
        position : three column names, or a prefix
            Position columns (``("x", "y", "z")``) or a prefix such as ``"ctr_pt_position"``
            for ``ctr_pt_position_x`` ...
        units : float or (3,) float
            nm per position unit: 8 for hemibrain voxels, ``(4, 4, 40)`` for MICrONS voxels.
        max_dist, policy
            As :func:`map_synapses` (misses are counted in :attr:`misses`).
        target_column : str, optional
            Column naming the target structure; default: the first of ``target``, ``tag``,
            ``target_structure``, ``post_target`` present.
        mesh : optional
            A surface in nm (its vertices are linked to the nearest skeleton vertex).
        """
        if synapses is not None:
            if inputs is not None or outputs is not None:
                raise InvalidParameterError("pass either synapses= or inputs=/outputs=, not both")
            if type_column not in synapses.columns:
                raise DataFormatError(
                    f"synapse table has no {type_column!r} column telling inputs from outputs "
                    f"(columns: {list(synapses.columns)}); pass inputs= and outputs= instead"
                )
            kinds = synapses[type_column].astype(str)
            outputs = synapses[kinds == output_value]
            inputs = synapses[kinds == input_value]
        empty = pd.DataFrame({c: pd.Series(dtype=float) for c in _position_columns(position)})
        nrn = cls(skeleton, pd.DataFrame(), pd.DataFrame(), name=name or skeleton.name)
        for kind, table in (("inputs", inputs), ("outputs", outputs)):
            t = empty if table is None else table
            mapped, miss = _map_table(
                skeleton, t, position, units, max_dist, policy, target_column, kind
            )
            setattr(nrn, kind, mapped)
            nrn.misses[kind] = miss
        if mesh is not None:
            nrn.mesh = mesh
            nrn.mesh_vertex = _nearest_vertex(skeleton, _mesh_vertices(mesh))
        return nrn

    # ------------------------------------------------------------------ facts
    @property
    def soma_vertex(self) -> int | None:
        """The root when it is labelled soma (compartment 1), else the first soma vertex,
        else None."""
        comp = self.skeleton.features["compartment"]
        r = self.skeleton.roots
        if r.size and comp[r[0]] == 1:
            return int(r[0])
        s = np.flatnonzero(comp == 1)
        return int(s[0]) if s.size else None

    def forest_report(self) -> dict[str, Any]:
        """Trees of the skeleton: count, sizes, root node ids, soma, and for every extra
        tree the gap (nm) to the nearest vertex of the largest tree."""
        sk = self.skeleton
        comp = sk.component
        sizes = np.bincount(comp, minlength=sk.roots.size)
        main = int(np.argmax(sizes)) if sizes.size else 0
        gaps: list[float] = []
        if sk.roots.size > 1:
            from scipy.spatial import cKDTree

            tree = cKDTree(sk.vertices[comp == main])
            for k in range(sk.roots.size):
                if k != main:
                    d, _ = tree.query(sk.vertices[comp == k])
                    gaps.append(float(np.min(d)))
        sv = self.soma_vertex
        return {
            "trees": int(sk.roots.size),
            "tree_sizes": sizes.tolist(),
            "root_node_ids": sk.node_ids[sk.roots].tolist(),
            "soma_node_id": None if sv is None else int(sk.node_ids[sv]),
            "root_is_soma": bool(sv is not None and sk.parent[sv] < 0),
            "gaps_nm": gaps,
        }

    def summary(self) -> dict[str, Any]:
        """Skeleton summary plus synapse counts, misses and the forest report."""
        out = self.skeleton.summary()
        out.update(
            inputs=len(self.inputs),
            outputs=len(self.outputs),
            misses=dict(self.misses),
            forest=self.forest_report(),
        )
        return out

    # ------------------------------------------------------------------ derived neurons
    def _relinked(self, sk: Skeleton, old_of_new: np.ndarray | None = None) -> Neuron:
        """Same synapses and mesh on a new skeleton with the same node ids (recomputes the
        per-synapse vertex, distances and compartment)."""
        out = replace(self, skeleton=sk, misses=dict(self.misses))
        for kind in ("inputs", "outputs"):
            t: pd.DataFrame = getattr(self, kind)
            if len(t):
                v = sk.vertex_of(t["node_id"].to_numpy())
                t = t.assign(
                    vertex=v,
                    distance_to_root_nm=sk.distance_to_root[v],
                    compartment=sk.features["compartment"][v],
                    compartment_name=[_cname(c) for c in sk.features["compartment"][v].tolist()],
                )
            else:
                t = t.copy()
            setattr(out, kind, t)
        if self.mesh_vertex is not None:
            out.mesh_vertex = sk.vertex_of(self.skeleton.node_ids[self.mesh_vertex])
        return out

    def rerooted(self, root: int | str = "soma") -> Neuron:
        """Reroot at a node id or at the soma (``"soma"``: the first compartment-1 vertex);
        synapse distances become distances to the new root."""

        return self._relinked(reroot_at(self.skeleton, root))

    def join_fragments(self, max_dist: float) -> Neuron:
        """Join extra trees to the nearest vertex of another tree within ``max_dist`` nm."""
        return self._relinked(self.skeleton.join_fragments(max_dist))

    def with_compartments(self, compartment: np.ndarray) -> Neuron:
        """The same neuron with a new per-vertex compartment array (SWC codes)."""
        c = np.asarray(compartment, np.int32)
        if c.shape != (len(self.skeleton),):
            raise InvalidParameterError(
                f"compartment needs {len(self.skeleton)} values, got {c.shape}"
            )
        sk = replace(self.skeleton, features={**self.skeleton.features, "compartment": c})
        return self._relinked(sk)

    def vertex_mask(self, keep: np.ndarray | str) -> np.ndarray:
        """Boolean ``(N,)`` mask from an array or an expression ``FEATURE OP VALUE`` such as
        ``"compartment != axon"``, ``"compartment == 3"``, ``"distance_to_root < 50000"``
        (compartment names: soma, axon, dendrite, apical dendrite, undefined)."""
        sk = self.skeleton
        if not isinstance(keep, str):
            m = np.asarray(keep, bool)
            if m.shape != (len(sk),):
                raise InvalidParameterError(
                    f"mask needs one value per vertex ({len(sk)}), got {m.shape}"
                )
            return m
        mt = re.fullmatch(r"\s*(\w+)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*", keep)
        if not mt:
            raise InvalidParameterError(
                f"mask {keep!r}: expected FEATURE OP VALUE, e.g. 'compartment != axon'"
            )
        feat, op, val = mt.groups()
        if feat == "distance_to_root":
            arr = sk.distance_to_root
        elif feat in sk.features:
            arr = np.asarray(sk.features[feat])
        else:
            raise InvalidParameterError(
                f"mask {keep!r}: no feature {feat!r}; features: distance_to_root, {', '.join(sk.features)}"
            )
        v: float
        if feat == "compartment" and val.strip("'\"") in _BY_NAME:
            v = _BY_NAME[val.strip("'\"")]
        else:
            try:
                v = float(val)
            except ValueError:
                raise InvalidParameterError(
                    f"mask {keep!r}: {val!r} is not a number"
                    + (
                        f" nor a compartment name ({', '.join(_BY_NAME)})"
                        if feat == "compartment"
                        else ""
                    )
                ) from None
        return np.asarray(_OPS[op](arr, v), bool)

    def masked(self, keep: np.ndarray | str) -> Neuron:
        """Keep the vertices where ``keep`` holds; the mask carries to the synapses (those on
        removed vertices go) and to the mesh (faces with a vertex on a removed skeleton
        vertex go). The skeleton gains the feature ``distance_to_soma`` (nm, path distance to
        the root of the unmasked neuron), since the kept pieces get roots of their own."""
        m = self.vertex_mask(keep)
        sk = self.skeleton
        feats = dict(sk.features)
        feats.setdefault("distance_to_soma", sk.distance_to_root)
        sub = replace(sk, features=feats).masked(m)
        out = replace(self, skeleton=sub, misses=dict(self.misses))
        for kind in ("inputs", "outputs"):
            t: pd.DataFrame = getattr(self, kind)
            if len(t):
                t = t[m[t["vertex"].to_numpy()]]
                t = t.assign(vertex=sub.vertex_of(t["node_id"].to_numpy()))
            setattr(out, kind, t.reset_index(drop=True))
        if self.mesh is not None and self.mesh_vertex is not None:
            keep_v = m[self.mesh_vertex]
            out.mesh, new_index = _mesh_subset(self.mesh, keep_v)
            out.mesh_vertex = sub.vertex_of(sk.node_ids[self.mesh_vertex[keep_v]])
            del new_index
        return out

    def synapse_path_distances(self, kind: str = "inputs", *, to: str | None = None) -> np.ndarray:
        """Path distances (nm) between synapses along the skeleton, ``(S, T)``, without an
        N x N matrix (``to``: the other kind; default the same)."""
        a = self._table(kind)["vertex"].to_numpy()
        b = self._table(to or kind)["vertex"].to_numpy()
        return self.skeleton.path_distances(a, b)

    def _table(self, kind: str) -> pd.DataFrame:
        if kind not in ("inputs", "outputs"):
            raise InvalidParameterError(f"kind must be 'inputs' or 'outputs', got {kind!r}")
        t: pd.DataFrame = getattr(self, kind)
        return t


# ---------------------------------------------------------------------- axon / dendrite
def label_axon_dendrite(neuron: Neuron) -> np.ndarray:
    """Axon (2) / dendrite (3) labels by synapse flow centrality (Schneider-Mizell et al.,
    eLife 2016): the edge carrying the most input-to-output paths separates the two; the
    side with the larger share of outputs is the axon. The soma vertex keeps 1.

    Returns
    -------
    (N,) int32
        SWC compartment codes, for :meth:`Neuron.with_compartments`.
    """
    sk = neuron.skeleton
    n = len(sk)
    n_in = np.bincount(neuron.inputs["vertex"].to_numpy(np.int64), minlength=n).astype(float)
    n_out = np.bincount(neuron.outputs["vertex"].to_numpy(np.int64), minlength=n).astype(float)
    if n_in.sum() == 0 or n_out.sum() == 0:
        raise InvalidParameterError(
            f"{neuron.name or 'neuron'}: flow centrality needs inputs and outputs "
            f"(have {int(n_in.sum())} inputs, {int(n_out.sum())} outputs)"
        )
    lab, _flow = flow_cut_labels(sk, n_in, n_out)
    sv = neuron.soma_vertex
    old = sk.features["compartment"]
    lab[old == 1] = 1
    if sv is not None:
        lab[sv] = 1
    return lab


# ---------------------------------------------------------------------- helpers
def _cname(c: int) -> str:
    return COMPARTMENTS.get(int(c), f"custom {int(c)}")


def _position_columns(position: Sequence[str] | str) -> list[str]:
    if isinstance(position, str):
        return [f"{position}_{a}" for a in "xyz"]
    cols = list(position)
    if len(cols) != 3:
        raise InvalidParameterError(f"position needs three column names, got {cols}")
    return cols


def _map_table(
    sk: Skeleton,
    table: pd.DataFrame,
    position: Sequence[str] | str,
    units: float | Sequence[float],
    max_dist: float,
    policy: str,
    target_column: str | None,
    kind: str,
) -> tuple[pd.DataFrame, int]:
    cols = _position_columns(position)
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise DataFormatError(
            f"{kind} table has no position columns {missing} (columns: {list(table.columns)}); "
            "pass position=(x, y, z column names) or a prefix"
        )
    u = np.asarray(units, np.float64)
    if u.shape not in ((), (3,)):
        raise InvalidParameterError(
            f"units must be one number or three (x, y, z nm), got {units!r}"
        )
    pts = table[cols].to_numpy(np.float64) * u
    m = map_synapses(sk, pts, max_dist=max_dist, policy="keep" if policy == "drop" else policy)
    hit = m["vertex"].to_numpy() >= 0
    tcol = target_column
    if tcol is None:
        tcol = next((c for c in TARGET_COLUMNS if c in table.columns), None)
    elif tcol not in table.columns:
        raise DataFormatError(
            f"{kind} table has no target column {tcol!r}; columns: {list(table.columns)}"
        )
    ours = (
        "x_nm",
        "y_nm",
        "z_nm",
        "vertex",
        "node_id",
        "distance_nm",
        "distance_to_root_nm",
        "compartment",
        "compartment_name",
        "target",
    )
    out = table.reset_index(drop=True).copy()
    # the caller's columns that share a name with ours are kept as table_<name>
    out = out.rename(columns={c: f"table_{c}" for c in ours if c in out.columns})
    if tcol is not None and tcol in ours:
        tcol = f"table_{tcol}"
    out["x_nm"], out["y_nm"], out["z_nm"] = pts[:, 0], pts[:, 1], pts[:, 2]
    for c in ("vertex", "node_id", "distance_nm", "distance_to_root_nm", "compartment"):
        out[c] = m[c].to_numpy()
    out["compartment_name"] = [_cname(c) if c >= 0 else "" for c in out["compartment"].tolist()]
    out["target"] = out[tcol].astype(str) if tcol is not None else ""
    miss = int((~hit).sum())
    if policy == "drop":
        out = out[hit].reset_index(drop=True)
    return out, miss


def _mesh_vertices(mesh: Any) -> np.ndarray:
    if isinstance(mesh, tuple):
        return np.asarray(mesh[0], np.float64)
    if hasattr(mesh, "vertices"):
        return np.asarray(mesh.vertices, np.float64)
    raise InvalidParameterError(
        f"mesh must be (vertices, faces) or have .vertices, got {type(mesh).__name__}"
    )


def _nearest_vertex(sk: Skeleton, pts: np.ndarray) -> np.ndarray:
    _, j = sk.kdtree.query(pts)
    return np.asarray(j, np.int64)


def _mesh_subset(mesh: Any, keep_v: np.ndarray) -> tuple[Any, np.ndarray]:
    """Faces whose three vertices are kept, vertices renumbered; same kind of object."""
    verts = _mesh_vertices(mesh)
    faces = np.asarray(mesh[1] if isinstance(mesh, tuple) else mesh.faces, np.int64)
    fk = keep_v[faces].all(axis=1)
    new_index = np.cumsum(keep_v) - 1
    nf = new_index[faces[fk]]
    nv = verts[keep_v]
    if isinstance(mesh, tuple):
        return (nv, nf), new_index
    kw: dict[str, Any] = {
        "vertices": nv.astype(np.asarray(mesh.vertices).dtype),
        "faces": nf.astype(np.asarray(mesh.faces).dtype),
    }
    for extra in ("colors", "segments"):
        val = getattr(mesh, extra, None)
        if val is not None and len(val) == len(verts):
            kw[extra] = np.asarray(val)[keep_v]
    try:
        return replace(mesh, **kw), new_index
    except TypeError:
        import trimesh

        return trimesh.Trimesh(kw["vertices"], kw["faces"], process=False), new_index
