"""One cell from CAVE as a :class:`~connectoscope.morphology.Neuron`: the skeleton service's
skeleton (with compartments), the cell's input and output synapses with partner ids, and the
synapse-target tags (spine / shaft / soma), the equivalent of ossify's
``load_cell_from_client(root_id, client, synapses=True)``."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._atomic import write_json_atomic, write_parquet_atomic
from ..errors import ConnectoscopeWarning, DataFormatError, InvalidParameterError
from ._session import CaveSession

if TYPE_CHECKING:  # pragma: no cover
    from ..connectome import CellTable
    from ..morphology import Neuron, Skeleton

__all__ = [
    "TARGET_TABLE",
    "cell_files",
    "load_cell",
    "partner_cells",
    "save_cell",
    "skeleton_from_service",
]

#: MICrONS' synapse-target table (``tag``: spine, shaft, soma; ``target_id``: synapse id).
TARGET_TABLE = "synapse_target_predictions_ssa"
#: Synapse ids per request of the target table.
TARGET_BATCH = 5000


def skeleton_from_service(sk: dict[str, Any], *, name: str = "") -> Skeleton:
    """Our :class:`~connectoscope.morphology.Skeleton` from the skeleton service's ``dict``
    answer (``vertices`` (N, 3) nm, ``edges`` (E, 2) vertex pairs, ``root`` index,
    ``compartment`` SWC codes, ``radius`` nm, ``lvl2_ids``).

    The edges are oriented away from ``root`` (the soma), whatever their stored order; a piece
    not connected to the root gets its own root.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    from ..morphology import Skeleton

    try:
        v = np.asarray(sk["vertices"], np.float64).reshape(-1, 3)
        e = np.asarray(sk.get("edges", []), np.int64).reshape(-1, 2)
    except (KeyError, ValueError, TypeError) as err:
        raise DataFormatError(
            f"skeleton service answer for {name or 'the cell'} has no usable vertices/edges "
            f"({err}); keys: {sorted(sk)}"
        ) from None
    n = len(v)
    if n == 0:
        raise DataFormatError(f"skeleton service answer for {name or 'the cell'} is empty")
    if len(e) and (e.min() < 0 or e.max() >= n):
        raise DataFormatError(f"skeleton of {name}: edges name vertices outside 0..{n - 1}")
    g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    root = int(sk.get("root", 0) or 0)
    if not 0 <= root < n:
        raise DataFormatError(f"skeleton of {name}: root {root} is not a vertex (0..{n - 1})")
    parent = np.full(n, -1, np.int64)
    _, labels = connected_components(g, directed=False)
    seen = np.zeros(n, bool)
    starts = [root] + [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    for s in starts:
        if seen[s]:
            continue
        order, pred = breadth_first_order(g, s, directed=False, return_predecessors=True)
        seen[order] = True
        kids = order[1:]
        parent[kids] = pred[kids]
    feats: dict[str, np.ndarray] = {}
    comp = sk.get("compartment")
    feats["compartment"] = np.asarray(comp, np.int32) if comp is not None else np.zeros(n, np.int32)
    rad = sk.get("radius")
    feats["radius"] = np.asarray(rad, np.float64) if rad is not None else np.zeros(n)
    if sk.get("lvl2_ids") is not None:
        feats["lvl2_id"] = np.asarray(sk["lvl2_ids"], np.int64)
    for k, arr in feats.items():
        if len(arr) != n:
            raise DataFormatError(f"skeleton of {name}: {k} has {len(arr)} values, not {n}")
    meta = {k: sk["meta"][k] for k in sk.get("meta", {}) if np.isscalar(sk["meta"][k])}
    return Skeleton.from_parents(
        np.arange(n, dtype=np.int64),
        parent,
        v,
        features=feats,
        name=name,
        source=f"skeleton service ({name})",
        meta={"skeleton_service": meta},
    )


def load_cell(
    root_id: int,
    datastack: str | None = None,
    *,
    session: CaveSession | None = None,
    server_address: str | None = None,
    version: int | None = None,
    token: str | None = None,
    skeleton_version: int = 4,
    target_table: str | None = TARGET_TABLE,
    omit_autapses: bool = True,
    cache: str | os.PathLike[str] | None = None,
) -> Neuron:
    """One cell from CAVE as a :class:`~connectoscope.morphology.Neuron`.

    The skeleton comes from the skeleton service (caveclient ``skeleton.get_skeleton``, ``dict``
    format: vertices in nm, SWC compartments: soma 1, axon 2, dendrite 3), rooted at its soma.
    Its synapses come from the datastack's synapse table at the session's pinned
    materialization version: ``outputs`` (this cell presynaptic) and ``inputs`` (postsynaptic),
    each with ``partner_root_id`` (the other cell; ``pre_pt_root_id`` / ``post_pt_root_id``
    kept), positions from ``ctr_pt_position`` in nm, mapped onto the skeleton (vertex, path
    distance to the soma, compartment). When ``target_table`` exists at that version its
    ``tag`` (spine, shaft, soma) is joined on ``target_id`` = synapse id and becomes the
    neuron's ``target`` column.

    Parameters
    ----------
    root_id : int
        The cell's root id (exact 64-bit).
    datastack : str, optional
        With ``server_address``, ``version``, ``token``, ``cache``: a new
        :class:`CaveSession`; or pass ``session``.
    skeleton_version : int
        The skeleton service's skeleton version (4 for MICrONS, as ossify).
    target_table : str or None
        The synapse-target table; None skips targets. The MICrONS default that the datastack
        lacks is skipped; a table given explicitly and missing is an error.
    omit_autapses : bool
        Drop synapses from the cell onto itself (mostly false detections), as ossify.

    Returns
    -------
    Neuron
        ``name`` the root id; ``skeleton.meta["cave"]`` the server, datastack, version and
        skeleton version.
    """
    from ..morphology import Neuron

    s = session or CaveSession(
        _need(datastack),
        server_address=server_address,
        version=version,
        token=token,
        cache=cache,
    )
    root = int(root_id)
    name = str(root)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # caveclient's and cloudvolume's chatter
            raw = s._client.skeleton.get_skeleton(
                root, skeleton_version=int(skeleton_version), output_format="dict"
            )
    except Exception as e:
        raise s._error(e, f"skeleton of {root} (skeleton version {skeleton_version})") from None
    sk = skeleton_from_service(raw, name=name)
    sk.meta["cave"] = {
        "server": s.server_address,
        "datastack": s.datastack,
        "materialization_version": s.version,
        "skeleton_version": int(skeleton_version),
        "root_id": name,
    }
    syn = s.query_synapses([root], side="both")
    if not len(syn):
        warnings.warn(
            f"{s.datastack}: no synapses of {root} in {s.synapse_table} at materialization "
            f"version {s.version}; a root id of another version (edited since) has none there: "
            "pass the version the root id comes from (--version)",
            ConnectoscopeWarning,
            stacklevel=2,
        )
        syn = pd.DataFrame(
            {
                "id": pd.Series(dtype=np.int64),
                "pre_pt_root_id": pd.Series(dtype=np.int64),
                "post_pt_root_id": pd.Series(dtype=np.int64),
                **{f"ctr_pt_position_{a}": pd.Series(dtype=float) for a in "xyz"},
            }
        )
    pre, post = syn["pre_pt_root_id"].to_numpy(), syn["post_pt_root_id"].to_numpy()
    if omit_autapses:
        keep = ~((pre == root) & (post == root))
        syn, pre, post = syn[keep].reset_index(drop=True), pre[keep], post[keep]
    syn["partner_root_id"] = np.where(pre == root, post, pre).astype(np.int64)
    syn = _with_targets(s, syn, target_table)
    position = "ctr_pt_position"
    if not all(f"{position}_{a}" in syn.columns for a in "xyz"):
        raise DataFormatError(
            f"{s.datastack}/{s.synapse_table}: no ctr_pt_position columns "
            f"(columns: {list(syn.columns)})"
        )
    outputs = syn[syn["pre_pt_root_id"].to_numpy() == root]
    inputs = syn[syn["post_pt_root_id"].to_numpy() == root]
    nrn = Neuron.build(
        sk,
        inputs=inputs,
        outputs=outputs,
        position=position,
        units=1.0,
        target_column="tag" if "tag" in syn.columns else None,
        name=name,
    )
    return nrn


def partner_cells(
    neuron: Neuron, session: CaveSession, table: str | None = None, *, batch_size: int = 500
) -> CellTable:
    """Rows of a cell table (default the datastack's soma table) for the partners of a cell
    from :func:`load_cell` (its inputs' and outputs' ``partner_root_id``), at the session's
    version: the known cells of the tutorial's figure 10 (``skeleton plot --figure known
    --known``). A partner listed twice keeps its first row."""
    ids = pd.unique(
        pd.concat([neuron.inputs["partner_root_id"], neuron.outputs["partner_root_id"]])
    )
    if not len(ids):
        raise InvalidParameterError(f"{neuron.name}: no synapse partners to look up")
    return session.cells(ids, table=table, duplicates="first", batch_size=batch_size)


def _need(datastack: str | None) -> str:
    if not datastack:
        raise InvalidParameterError("give a datastack (or session=)")
    return datastack


def _with_targets(s: CaveSession, syn: pd.DataFrame, table: str | None) -> pd.DataFrame:
    if table is None or not len(syn):
        return syn
    try:
        tables = list(s._client.materialize.get_tables())
    except Exception as e:
        raise s._error(e, "listing tables") from None
    if table not in tables:
        if table == TARGET_TABLE:
            return syn  # the MICrONS default: other datastacks have no such table
        raise InvalidParameterError(
            f"{s.datastack} v{s.version} has no table {table!r} (tables: {', '.join(tables)}); "
            "pass --targets with one of them or --no-targets"
        )
    ids = [int(i) for i in pd.unique(syn["id"])]
    jobs = [("target_id", ids[i : i + TARGET_BATCH]) for i in range(0, len(ids), TARGET_BATCH)]
    t = s._query_all(table, jobs)
    if "tag" not in t.columns or "target_id" not in t.columns:
        raise DataFormatError(
            f"{s.datastack}/{table}: no target_id/tag columns (columns: {list(t.columns)})"
        )
    t = t.drop_duplicates("target_id")[["target_id", "tag"]]
    out = syn.merge(t.rename(columns={"target_id": "id"}), on="id", how="left")
    out["tag"] = out["tag"].fillna("unknown").astype(str)
    return out


def cell_files(out_dir: str | os.PathLike[str], name: str) -> dict[str, Path]:
    """The files :func:`save_cell` writes for a cell named ``name``."""
    d = Path(out_dir)
    return {
        "swc": d / f"{name}.swc",
        "skeleton": d / f"{name}.skeleton.parquet",
        "synapses": d / f"{name}.synapses.parquet",
        "inputs": d / f"{name}.inputs.parquet",
        "outputs": d / f"{name}.outputs.parquet",
        "summary": d / f"{name}.json",
        "partners": d / f"{name}.partners.parquet",
    }


def save_cell(
    neuron: Neuron, out_dir: str | os.PathLike[str], *, partners: CellTable | None = None
) -> dict[str, Path]:
    """Write a cell from :func:`load_cell`, each file atomically; returns the files written.

    Files (``NAME`` the root id): ``NAME.swc`` (µm, SWC types = compartments, rooted at the
    soma), ``NAME.skeleton.parquet`` (nm, with radius, compartment, level-2 ids),
    ``NAME.synapses.parquet`` (every synapse once: ``type`` pre (output) / post (input),
    ``x, y, z`` nm, ``tag``, ``partner_root_id``, the synapse table's columns),
    ``NAME.inputs.parquet`` / ``NAME.outputs.parquet`` (mapped onto the skeleton: ``vertex``,
    ``distance_to_root_nm``, ``compartment_name``, ``target``...) and ``NAME.json`` (source,
    version and counts); with ``partners`` (:func:`partner_cells`) also
    ``NAME.partners.parquet`` (one row per partner found: ``pt_root_id``, the table's ``row_id``, its
    columns, soma ``x, y, z`` nm). ``skeleton
    plot NAME.swc --synapses NAME.synapses.parquet --figure compartments|synapses|targets|
    dendrite_distance`` draws the tutorial's figures from them, ``--figure known --known
    NAME.partners.parquet`` figure 10.
    """
    from ..morphology import write_skeleton_parquet, write_swc

    name = neuron.name or neuron.skeleton.name or "cell"
    files = cell_files(out_dir, name)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    write_swc(neuron.skeleton, files["swc"], units=1000.0)
    write_skeleton_parquet(neuron.skeleton, files["skeleton"])
    ours = {"vertex", "node_id", "distance_nm", "distance_to_root_nm", "compartment"}
    ours |= {"compartment_name", "target", "x_nm", "y_nm", "z_nm"}
    parts = []
    for kind, t in (("pre", neuron.outputs), ("post", neuron.inputs)):
        raw = t[[c for c in t.columns if c not in ours]].copy()
        raw.columns = [c[6:] if c.startswith("table_") else c for c in raw.columns]
        raw.insert(0, "type", kind)
        raw["x"], raw["y"], raw["z"] = t["x_nm"], t["y_nm"], t["z_nm"]
        parts.append(raw)
    syn = pd.concat(parts, ignore_index=True)
    write_parquet_atomic(syn, files["synapses"])
    write_parquet_atomic(neuron.inputs, files["inputs"])
    write_parquet_atomic(neuron.outputs, files["outputs"])
    summary = {
        "name": name,
        **neuron.skeleton.meta.get("cave", {}),
        "vertices": len(neuron.skeleton),
        "cable_length_nm": float(neuron.skeleton.cable_length),
        "inputs": len(neuron.inputs),
        "outputs": len(neuron.outputs),
        "unmapped": dict(neuron.misses),
        "targets": {
            k: int(v)
            for k, v in pd.concat([neuron.inputs["target"], neuron.outputs["target"]])
            .value_counts()
            .items()
            if k
        },
        "files": {k: p.name for k, p in files.items()},
    }
    if partners is not None:
        rows = partners.df.reset_index().rename(columns={"id": "pt_root_id"})
        write_parquet_atomic(rows, files["partners"])
        summary["partners_found"] = len(partners)
    else:
        del files["partners"]
        del summary["files"]["partners"]
    write_json_atomic(files["summary"], summary)
    return files
