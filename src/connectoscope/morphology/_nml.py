"""webKnossos NML read and write, keeping every tree, the ``<scale>``, comments, branch
points and groups.

An NML file is XML::

    <things>
      <parameters> <experiment name=".."/> <scale x="11.24" y="11.24" z="28"/> ... </parameters>
      <thing id="1" name=".." groupId="2" color.r=".." ...>
        <nodes> <node id="1" x=".." y=".." z=".." radius=".." .../> </nodes>
        <edges> <edge source="1" target="2"/> </edges>
      </thing>
      <branchpoints> <branchpoint id="5"/> </branchpoints>
      <comments> <comment node="1" content="soma"/> </comments>
      <groups> <group id="1" name=".."> <group id="2" name=".."/> </group> </groups>
    </things>

Node positions are voxels; ``<scale>`` is the voxel size in nm. :class:`NmlDocument` keeps every
attribute as the file's text, so NML -> NML is lossless; :meth:`NmlDocument.to_skeleton`
turns it into one :class:`Skeleton` (a forest, one or more components per tree) in nm with
the caller's choice of root. Parsing goes through defusedxml: entity declarations (the
"billion laughs" bomb) and external entities are refused before any expansion.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np

from ..errors import (
    ConnectoscopeWarning,
    DataFormatError,
    InvalidParameterError,
    SourceNotFoundError,
)
from ._skeleton import Skeleton

__all__ = ["NmlDocument", "NmlElement", "NmlTree", "read_nml", "write_nml"]

_TOP = ("parameters", "thing", "branchpoints", "comments", "groups", "meta", "volume")
_THING_CHILDREN = ("nodes", "edges", "metadata")


@dataclass
class NmlElement:
    """A generic XML element kept verbatim (parameters, metadata, volume, meta...)."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[NmlElement] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "attrs": dict(self.attrs),
            "children": [c.to_dict() for c in self.children],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NmlElement:
        return cls(
            str(d["tag"]),
            {str(k): str(v) for k, v in d.get("attrs", {}).items()},
            [cls.from_dict(c) for c in d.get("children", [])],
        )


@dataclass
class NmlTree:
    """One ``<thing>``: its attributes, nodes (every attribute as text) and edges.

    Attributes
    ----------
    attrs : dict
        The ``<thing>`` attributes (``id``, ``name``, ``groupId``, ``color.r`` ...), in order.
    nodes : list of dict
        One dict of attributes (text) per ``<node>``, in file order.
    edges : list of (str, str)
        ``(source, target)`` node ids as text, in file order.
    extra : list of NmlElement
        Other children (``<metadata>``) kept verbatim.
    """

    attrs: dict[str, str] = field(default_factory=dict)
    nodes: list[dict[str, str]] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    extra: list[NmlElement] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.attrs.get("id", "0"))

    @property
    def name(self) -> str:
        return self.attrs.get("name", "")


@dataclass
class NmlDocument:
    """Everything in an NML file (lossless: every attribute is kept as text).

    Attributes
    ----------
    parameters : list of NmlElement
        Children of ``<parameters>`` (``scale``, ``experiment``, ``offset``...).
    trees : list of NmlTree
    branchpoints, comments : list of dict
        Attributes of each ``<branchpoint>`` (``id``, ``time``) and ``<comment>``
        (``node``, ``content``).
    groups : list of NmlElement
        The ``<group>`` hierarchy (nested).
    extra : list of NmlElement
        Other top-level elements (``meta``, ``volume``; and unknown ones read with
        ``unknown="keep"``), written back in place after the known ones.
    """

    parameters: list[NmlElement] = field(default_factory=list)
    trees: list[NmlTree] = field(default_factory=list)
    branchpoints: list[dict[str, str]] = field(default_factory=list)
    comments: list[dict[str, str]] = field(default_factory=list)
    groups: list[NmlElement] = field(default_factory=list)
    extra: list[NmlElement] = field(default_factory=list)
    source: str = "NML"

    # ------------------------------------------------------------------ facts
    @property
    def scale_nm(self) -> tuple[float, float, float] | None:
        """The ``<scale>`` (nm per voxel, x, y, z), or None when the file has none."""
        for p in self.parameters:
            if p.tag == "scale":
                try:
                    return (float(p.attrs["x"]), float(p.attrs["y"]), float(p.attrs["z"]))
                except (KeyError, ValueError):
                    raise DataFormatError(
                        f"{self.source}: <scale> needs numeric x, y, z attributes, got {p.attrs}"
                    ) from None
        return None

    @property
    def n_nodes(self) -> int:
        return sum(len(t.nodes) for t in self.trees)

    def comment_nodes(self, pattern: str) -> list[int]:
        """Node ids whose comment matches the regular expression ``pattern`` (case-insensitive)."""
        rx = re.compile(pattern, re.IGNORECASE)
        return [int(c["node"]) for c in self.comments if rx.search(c.get("content", ""))]

    # ------------------------------------------------------------------ to / from Skeleton
    def to_skeleton(
        self,
        *,
        root: str | int | None = None,
        scale_nm: Sequence[float] | None = None,
        radius_units: str = "voxel",
    ) -> Skeleton:
        """All trees as one :class:`Skeleton` (vertices in nm).

        Parameters
        ----------
        root : "soma", a comment pattern, a node id, or None
            ``"soma"`` (or any regular expression) roots the tree of the first node whose
            comment matches it at that node (its compartment becomes 1, soma); an int roots
            its tree at that node id; None (default) means ``"soma"`` when a comment says
            soma, else nothing special. Every other connected piece is rooted at its lowest
            node id. The choice is recorded in ``meta["nml"]["root"]``.
        scale_nm : (3,) float, optional
            Voxel size when the file has no ``<scale>``.
        radius_units : {"voxel", "nm"}
            Node radii are multiplied by the x scale (``voxel``) or kept (``nm``).

        Returns
        -------
        Skeleton
            Features ``tree_id`` (the ``<thing>`` id), ``radius`` (nm), ``compartment``
            (1 at a soma root, else 0) and every other numeric node attribute (``time``,
            ``rotX``, ``inMag``...). ``meta["nml"]`` keeps parameters, tree attributes,
            comments, branch points and groups for :func:`write_nml`.

        Raises
        ------
        DataFormatError
            No scale, duplicate node ids, an edge to an unknown node, a cycle.
        InvalidParameterError
            ``root`` names a node or comment that does not exist.
        """
        src = self.source
        scale = self.scale_nm if scale_nm is None else tuple(float(v) for v in scale_nm)
        if scale is None:
            raise DataFormatError(
                f"{src}: no <scale> in <parameters>; pass scale_nm=(x, y, z) (nm per voxel)"
            )
        if radius_units not in ("voxel", "nm"):
            raise InvalidParameterError(
                f"radius_units must be 'voxel' or 'nm', got {radius_units!r}"
            )
        ids_l: list[int] = []
        xyz_l: list[tuple[float, float, float]] = []
        rad_l: list[float] = []
        tree_l: list[int] = []
        extra_cols: dict[str, list[float]] = {}
        n_before = 0
        for t in self.trees:
            for k, nd in enumerate(t.nodes):
                try:
                    ids_l.append(int(nd["id"]))
                    xyz_l.append((float(nd["x"]), float(nd["y"]), float(nd["z"])))
                    rad_l.append(float(nd.get("radius", "0")))
                except (KeyError, ValueError):
                    raise DataFormatError(
                        f"{src}: tree {t.attrs.get('id')} node #{k + 1} needs numeric id, x, y, z "
                        f"(and radius), got {nd}"
                    ) from None
                tree_l.append(t.id)
                for a, val in nd.items():
                    if a in ("id", "x", "y", "z", "radius"):
                        continue
                    col = extra_cols.setdefault(a, [np.nan] * n_before)
                    col.append(_number(val))
                n_before += 1
                for col in extra_cols.values():
                    if len(col) < n_before:
                        col.append(np.nan)
        ids = np.asarray(ids_l, np.int64)
        n = ids.size
        if n == 0:
            raise DataFormatError(f"{src}: no nodes in any tree")
        uniq, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            raise DataFormatError(
                f"{src}: duplicate node ids {', '.join(map(str, uniq[counts > 1][:5]))}"
            )
        order = np.argsort(ids)
        edges_l = [(int(a), int(b)) for t in self.trees for a, b in t.edges]
        e = np.asarray(edges_l, np.int64).reshape(-1, 2)
        pos = np.minimum(np.searchsorted(ids[order], e), n - 1)
        ok = ids[order][pos] == e
        if not ok.all():
            bad = e[~ok.all(axis=1)][0]
            raise DataFormatError(
                f"{src}: edge {bad[0]} - {bad[1]} names a node that does not exist"
            )
        ei = order[pos]
        root_vertex: int | None = None
        root_note: dict[str, Any] = {"requested": root}
        if root is None and self.comment_nodes(r"\bsoma\b"):
            root = "soma"
        if isinstance(root, str):
            hits = self.comment_nodes(r"\bsoma\b" if root == "soma" else root)
            if not hits:
                found = sorted({c.get("content", "") for c in self.comments})[:10]
                raise InvalidParameterError(
                    f"{src}: no comment matches {root!r} (comments: {found or 'none'}); "
                    "pass root=<node id> instead"
                )
            root_vertex = int(order[np.searchsorted(ids[order], hits[0])])
            root_note["node"] = hits[0]
        elif root is not None:
            rid = int(root)
            p = int(np.searchsorted(ids[order], rid))
            if p >= n or ids[order][p] != rid:
                raise InvalidParameterError(f"{src}: root node {rid} does not exist")
            root_vertex = int(order[p])
            root_note["node"] = rid
        parent = _orient(n, ei, ids, root_vertex, src)
        scale_a = np.asarray(scale, float)
        feats: dict[str, np.ndarray] = {
            "tree_id": np.asarray(tree_l, np.int64),
            "radius": np.asarray(rad_l, float) * (scale_a[0] if radius_units == "voxel" else 1.0),
            "compartment": np.zeros(n, np.int32),
        }
        if root_vertex is not None and isinstance(root, str):
            feats["compartment"][root_vertex] = 1
        for a, col in extra_cols.items():
            arr = np.asarray(col + [np.nan] * (n - len(col)), float)
            if np.isfinite(arr).any():
                feats[a] = arr
        meta = {
            "nml": {
                "scale_nm": list(scale),
                "radius_units": radius_units,
                "parameters": [p.to_dict() for p in self.parameters],
                "trees": [dict(t.attrs) for t in self.trees],
                "comments": [dict(c) for c in self.comments],
                "branchpoints": [dict(b) for b in self.branchpoints],
                "groups": [g.to_dict() for g in self.groups],
                "root": root_note,
            }
        }
        pid = np.where(parent >= 0, ids[np.maximum(parent, 0)], -1)
        return Skeleton.from_parents(
            ids,
            pid,
            np.asarray(xyz_l, float) * scale_a,
            features=feats,
            name=Path(src).stem if src != "NML" else "",
            source=src,
            meta=meta,
        )

    @classmethod
    def from_skeleton(
        cls,
        skel: Skeleton,
        *,
        scale_nm: Sequence[float] | None = None,
        radius_units: str | None = None,
    ) -> NmlDocument:
        """An NML document for ``skel``: one ``<thing>`` per ``tree_id`` (or per connected
        tree when there is no such feature); positions in voxels of ``scale_nm``.

        Parameters, tree attributes, comments, branch points and groups come back from
        ``skel.meta["nml"]`` when the skeleton was read from NML; otherwise the scale
        defaults to 1 nm and soma vertices (compartment 1) get a ``soma`` comment.
        """
        nml_meta: dict[str, Any] = dict(skel.meta.get("nml", {}))
        scale = tuple(float(v) for v in (scale_nm or nml_meta.get("scale_nm") or (1.0, 1.0, 1.0)))
        ru = radius_units or nml_meta.get("radius_units", "voxel")
        params = [NmlElement.from_dict(p) for p in nml_meta.get("parameters", [])]
        sx, sy, sz = (_fmt(v) for v in scale)
        if any(p.tag == "scale" for p in params):
            for p in params:
                if p.tag == "scale":
                    p.attrs.update({"x": sx, "y": sy, "z": sz})
        else:
            params.insert(0, NmlElement("scale", {"x": sx, "y": sy, "z": sz}))
        tree_id = (
            np.asarray(skel.features["tree_id"], np.int64)
            if "tree_id" in skel.features
            else skel.component + 1
        )
        known = {int(a["id"]): dict(a) for a in nml_meta.get("trees", []) if "id" in a}
        v = skel.vertices / np.asarray(scale, float)
        r = skel.features["radius"] / (scale[0] if ru == "voxel" else 1.0)
        extra = [
            k
            for k in skel.features
            if k not in ("tree_id", "radius", "compartment") and skel.features[k].ndim == 1
        ]
        trees: list[NmlTree] = []
        tids = list(dict.fromkeys(int(t) for t in tree_id.tolist()))
        # keep the file's tree order, then any new trees
        file_order = [t for t in known if t in set(tids)]
        for t in file_order + [t for t in tids if t not in known]:
            sel = np.flatnonzero(tree_id == t)
            nodes = []
            for i in sel.tolist():
                nd = {
                    "id": str(int(skel.node_ids[i])),
                    "radius": _fmt(r[i]),
                    "x": _fmt(v[i, 0]),
                    "y": _fmt(v[i, 1]),
                    "z": _fmt(v[i, 2]),
                }
                for k in extra:
                    val = float(skel.features[k][i])
                    if np.isfinite(val):
                        nd[k] = _fmt(val)
                nodes.append(nd)
            child = sel[skel.parent[sel] >= 0]
            edges = [
                (str(int(skel.node_ids[skel.parent[c]])), str(int(skel.node_ids[c])))
                for c in child.tolist()
            ]
            trees.append(NmlTree(known.get(t, {"id": str(t), "name": f"tree {t}"}), nodes, edges))
        comments = [dict(c) for c in nml_meta.get("comments", [])]
        if not comments:
            soma = np.flatnonzero(skel.features["compartment"] == 1)
            comments = [{"node": str(int(skel.node_ids[i])), "content": "soma"} for i in soma[:1]]
        return cls(
            parameters=params,
            trees=trees,
            branchpoints=[dict(b) for b in nml_meta.get("branchpoints", [])],
            comments=comments,
            groups=[NmlElement.from_dict(g) for g in nml_meta.get("groups", [])],
        )


# ---------------------------------------------------------------------- read / write
def read_nml(path: str | os.PathLike[str], *, unknown: str = "raise") -> NmlDocument:
    """Parse a webKnossos NML file (safely, with defusedxml).

    Parameters
    ----------
    path : path-like
    unknown : {"raise", "keep", "warn"}
        What to do with elements that are not part of NML: raise (default), keep them
        verbatim (written back by :func:`write_nml`), or drop them with a warning.

    Returns
    -------
    NmlDocument

    Raises
    ------
    SourceNotFoundError
        No such file.
    DataFormatError
        Not well-formed XML, entity declarations (XML bombs), a root other than
        ``<things>``, or an unknown element with ``unknown="raise"``.
    """
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import parse

    p = Path(path)
    if not p.exists():
        raise SourceNotFoundError(f"{p}: no such file")
    if unknown not in ("raise", "keep", "warn"):
        raise InvalidParameterError(f"unknown must be raise, keep or warn, got {unknown!r}")
    try:
        root = parse(str(p), forbid_dtd=False, forbid_entities=True, forbid_external=True).getroot()
    except DefusedXmlException as e:
        raise DataFormatError(
            f"{p}: refused: the XML declares entities or external references ({type(e).__name__}: "
            f"{e}); NML files never need them (this is how entity-expansion bombs work)"
        ) from None
    except Exception as e:  # ElementTree.ParseError and friends
        raise DataFormatError(f"{p}: not well-formed XML: {e}") from None
    if root.tag != "things":
        raise DataFormatError(
            f"{p}: the root element is <{root.tag}>, expected <things> (webKnossos NML)"
        )
    doc = NmlDocument(source=str(p))

    def strange(el: Element, where: str, known: Sequence[str]) -> None:
        msg = (
            f"{p}: unknown element <{el.tag}> inside {where} (known there: "
            f"{', '.join('<' + k + '>' for k in known)}); read_nml(..., unknown='keep') keeps it, "
            "'warn' drops it"
        )
        if unknown == "raise":
            raise DataFormatError(msg)
        if unknown == "warn":
            warnings.warn(msg, ConnectoscopeWarning, stacklevel=4)

    for el in root:
        tag = el.tag
        if tag == "parameters":
            doc.parameters.extend(_generic(c) for c in el)
        elif tag == "thing":
            t = NmlTree(dict(el.attrib))
            for c in el:
                if c.tag == "nodes":
                    for nd in c:
                        if nd.tag != "node":
                            strange(nd, "<nodes>", ["node"])
                            continue
                        t.nodes.append(dict(nd.attrib))
                elif c.tag == "edges":
                    for ed in c:
                        if ed.tag != "edge":
                            strange(ed, "<edges>", ["edge"])
                            continue
                        try:
                            t.edges.append((ed.attrib["source"], ed.attrib["target"]))
                        except KeyError:
                            raise DataFormatError(
                                f"{p}: an <edge> in tree {t.attrs.get('id')} lacks source/target: "
                                f"{dict(ed.attrib)}"
                            ) from None
                elif c.tag in _THING_CHILDREN:
                    t.extra.append(_generic(c))
                else:
                    strange(c, f"<thing id={t.attrs.get('id')!r}>", _THING_CHILDREN)
                    if unknown == "keep":
                        t.extra.append(_generic(c))
            doc.trees.append(t)
        elif tag == "branchpoints":
            for c in el:
                if c.tag != "branchpoint":
                    strange(c, "<branchpoints>", ["branchpoint"])
                    continue
                doc.branchpoints.append(dict(c.attrib))
        elif tag == "comments":
            for c in el:
                if c.tag != "comment":
                    strange(c, "<comments>", ["comment"])
                    continue
                doc.comments.append(dict(c.attrib))
        elif tag == "groups":
            doc.groups.extend(_generic(c) for c in el)
        elif tag in _TOP:
            doc.extra.append(_generic(el))
        else:
            strange(el, "<things>", _TOP)
            if unknown == "keep":
                doc.extra.append(_generic(el))
    return doc


def write_nml(
    obj: NmlDocument | Skeleton,
    path: str | os.PathLike[str],
    *,
    scale_nm: Sequence[float] | None = None,
) -> Path:
    """Write an :class:`NmlDocument` (lossless) or a :class:`Skeleton` (via
    :meth:`NmlDocument.from_skeleton`, positions in voxels of ``scale_nm``) as NML."""
    from xml.etree.ElementTree import ElementTree, SubElement, indent

    doc = NmlDocument.from_skeleton(obj, scale_nm=scale_nm) if isinstance(obj, Skeleton) else obj
    root = Element("things")
    params = SubElement(root, "parameters")
    for prm in doc.parameters:
        _emit(params, prm)
    for t in doc.trees:
        th = SubElement(root, "thing", t.attrs)
        nodes = SubElement(th, "nodes")
        for nd in t.nodes:
            SubElement(nodes, "node", nd)
        edges = SubElement(th, "edges")
        for a, b in t.edges:
            SubElement(edges, "edge", {"source": a, "target": b})
        for x in t.extra:
            _emit(th, x)
    bp = SubElement(root, "branchpoints")
    for bpt in doc.branchpoints:
        SubElement(bp, "branchpoint", bpt)
    cm = SubElement(root, "comments")
    for c in doc.comments:
        SubElement(cm, "comment", c)
    gr = SubElement(root, "groups")
    for g in doc.groups:
        _emit(gr, g)
    for x in doc.extra:
        _emit(root, x)
    indent(root, space="  ")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    ElementTree(root).write(p, encoding="utf-8", xml_declaration=True)
    return p


# ---------------------------------------------------------------------- helpers
def _generic(el: Element) -> NmlElement:
    return NmlElement(el.tag, dict(el.attrib), [_generic(c) for c in el])


def _emit(parent: Element, x: NmlElement) -> None:
    from xml.etree.ElementTree import SubElement

    e = SubElement(parent, x.tag, x.attrs)
    for c in x.children:
        _emit(e, c)


def _number(text: str) -> float:
    t = text.strip().lower()
    if t in ("true", "false"):
        return 1.0 if t == "true" else 0.0
    try:
        return float(t)
    except ValueError:
        return float("nan")


def _fmt(v: float) -> str:
    """Shortest text that reads back as the same float64; whole numbers without '.0'."""
    f = float(v)
    if f.is_integer() and abs(f) < 2**53:
        return str(int(f))
    return repr(f)


def _orient(n: int, edges: np.ndarray, ids: np.ndarray, root: int | None, src: str) -> np.ndarray:
    """Parent index per vertex from undirected edges: BFS from the chosen root, then from
    the lowest node id of every other piece. Raises on a cycle."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    if edges.size:
        g = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    else:
        g = sp.csr_matrix((n, n))
    g = ((g + g.T) > 0).astype(np.int8)
    ncomp, lab = connected_components(g, directed=False)
    # a forest has exactly n - ncomp distinct undirected edges (and no self-loops)
    und = np.unique(np.sort(edges, axis=1), axis=0) if edges.size else edges
    if (und[:, 0] == und[:, 1]).any() if und.size else False:
        i = int(und[und[:, 0] == und[:, 1]][0, 0])
        raise DataFormatError(f"{src}: node {ids[i]} has an edge to itself")
    if len(und) != n - ncomp:
        raise DataFormatError(
            f"{src}: the edges contain {len(und) - (n - ncomp)} cycle(s); a skeleton must be a "
            "tree per piece (remove the extra edges in webKnossos, or read the NmlDocument "
            "without to_skeleton)"
        )
    order = np.argsort(ids)
    starts: dict[int, int] = {}
    if root is not None:
        starts[int(lab[root])] = root
    for v in order.tolist():
        starts.setdefault(int(lab[v]), int(v))
    # one BFS from a virtual vertex n joined to the start of every piece
    st = np.fromiter(starts.values(), np.int64, len(starts))
    virt = sp.coo_matrix(
        (np.ones(st.size, np.int8), (np.full(st.size, n), st)), shape=(n + 1, n + 1)
    )
    big = sp.bmat([[g, None], [None, sp.csr_matrix((1, 1), dtype=np.int8)]]).tocsr() + virt
    _, pred = breadth_first_order(big + big.T, n, directed=False, return_predecessors=True)
    parent = pred[:n].astype(np.int64)
    parent[(parent == n) | (parent < 0)] = -1
    return parent
