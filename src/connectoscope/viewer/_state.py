"""Neuroglancer state for a dataset: EM image, segmentation with meshes, skeletons."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ..dataset import Dataset
    from ..segmentation import Selection

__all__ = ["annotation_layer", "selection_display", "viewer_state", "viewer_url"]


def viewer_state(
    dataset: Dataset, base_url: str, *, selection: Selection | None = None
) -> dict[str, Any]:
    """The Neuroglancer state JSON for ``dataset`` served at ``base_url`` (``.../data``).

    Parameters
    ----------
    dataset : Dataset
    base_url : str
        Where the dataset directory is served (``http://127.0.0.1:PORT/data`` for
        :func:`view`; any static host with HTTP Range and CORS for a public Neuroglancer).
    selection : Selection, optional
        Segments to show (``where``/``each``); their synapses only, when given.

    Returns
    -------
    dict
        Layers: ``em`` (OME-Zarr image), ``segmentation`` (OME-Zarr labels + precomputed
        meshes, segment properties and skeletons when present, the selection's segments
        visible), ``synapses`` (precomputed point annotations, when written: see
        :func:`connectoscope.viewer.write_dataset_annotations`). Positions are voxels of the
        finest level, dimensions in metres (Neuroglancer's convention).
    """
    data = base_url.rstrip("/")
    layers: list[dict[str, Any]] = []
    if dataset.has_layer("image"):
        layers.append({"type": "image", "name": "em", "source": f"zarr3://{data}/volume.ome.zarr/"})
    if dataset.has_layer("segmentation"):
        sources: list[Any] = [f"zarr3://{data}/volume.ome.zarr/labels/segmentation/"]
        if (dataset.layout.meshes / "info").exists():
            sources.append(f"precomputed://{data}/meshes")
        if (dataset.layout.skeletons / "info").exists():
            sources.append(f"precomputed://{data}/skeletons")
        seg: dict[str, Any] = {"type": "segmentation", "name": "segmentation", "source": sources}
        if selection is not None:
            seg.update(selection_display(dataset, selection))
        layers.append(seg)
    shown = None if selection is None or selection.empty_spec else selection
    ann = annotation_layer(dataset, data, selection=shown)
    if ann is not None:
        layers.append(ann)
    vs = dataset.voxel_size
    state: dict[str, Any] = {
        "dimensions": {"x": [vs.x * 1e-9, "m"], "y": [vs.y * 1e-9, "m"], "z": [vs.z * 1e-9, "m"]},
        "layers": layers,
        "layout": "4panel",
        "showDefaultAnnotations": False,
    }
    if dataset.has_layer("segmentation"):
        z, y, x = dataset.segmentation.shape_zyx(0)
        # the volume's centre in the dataset's nm (offset included), in units of the voxel
        centre_nm = dataset.frame.to_nm([[x / 2 - 0.5, y / 2 - 0.5, z / 2 - 0.5]])[0]
        state["position"] = (centre_nm / np.asarray(vs.xyz)).tolist()
        state["crossSectionScale"] = max(x, y) / 400  # the whole plane in a 400 px panel
        state["projectionScale"] = max(x, y) * 1.5
    return state


def selection_display(dataset: Dataset, selection: Selection) -> dict[str, Any]:
    """How a selection shows in the segmentation layer: which segments, grouped how, in
    which colours (the same palette and rules as the pictures).

    * Each group of the selection (one ``--each``/``--where`` object, e.g. a neuron made
      of many segments) becomes one Neuroglancer *equivalence* class: a click on any of its
      segments selects the whole object, and the object is drawn in one colour.
    * Colours: ``--color`` for every group, else one palette colour per group
      (:func:`connectoscope.colors.group_colors`, as :func:`connectoscope.render.mesh_colors`
      colours the same objects in pictures).
    * ``--by KIND[:COLOR]``: segments with a non-zero KIND leave their group's class (so they
      can take their own colour) and are coloured ``COLOR``, or one palette colour per KIND
      value (:func:`connectoscope.colors.id_colors`).

    Returns
    -------
    dict
        ``segments`` (visible ids), ``equivalences`` (lists of ids, when groups have more
        than one segment), ``segmentColors`` (``{id: "#rrggbb"}``, keyed by each class's
        smallest id, which Neuroglancer uses as the class's representative) and
        ``hideSegmentZero``. Ids are strings (64-bit safe).
    """

    from ..colors import group_colors, id_colors, parse_color, to_hex

    objects = dataset.objects
    if selection.empty_spec:  # --color / --by alone: colour every segment, show none
        return _colour_all(objects, selection)
    groups = selection.groups(objects)
    keys = list(groups)
    if selection.color:
        base = [to_hex([round(c * 255) for c in parse_color(selection.color)])] * len(keys)
    else:
        base = [to_hex(c) for c in group_colors(np.asarray(keys, np.uint64))]
    by_hex = None
    if selection.by and selection.by_color:
        by_hex = to_hex([round(c * 255) for c in parse_color(selection.by_color)])
    segments: list[str] = []
    classes: list[list[str]] = []
    colors: dict[str, str] = {}
    for key, colour in zip(keys, base):
        segs = np.unique(np.asarray(groups[key], np.uint64))
        if selection.by:
            vals = objects.lookup(selection.by, segs)
            hit = vals != 0
            for s, v in zip(segs[hit].tolist(), vals[hit].tolist()):
                segments.append(str(s))
                colors[str(s)] = by_hex or to_hex(id_colors(np.array([v]))[0])
            segs = segs[~hit]
        if segs.size == 0:
            continue
        rep = str(int(segs[0]))  # Neuroglancer's representative: the smallest id
        segments.append(rep)
        colors[rep] = colour
        if segs.size > 1:
            classes.append([str(int(s)) for s in segs])
    out: dict[str, Any] = {
        "segments": segments,
        "segmentColors": colors,
        "hideSegmentZero": True,
    }
    if classes:
        out["equivalences"] = classes
    return out


#: ``--by`` without a selection colours at most this many segments in the state.
MAX_COLOURED_SEGMENTS = 200_000


def _colour_all(objects: Any, selection: Selection) -> dict[str, Any]:

    from ..colors import id_colors, parse_color, to_hex
    from ..errors import SelectionError

    out: dict[str, Any] = {"hideSegmentZero": True}
    if selection.color:
        out["segmentDefaultColor"] = to_hex([round(c * 255) for c in parse_color(selection.color)])
    if selection.by:
        selection.check(objects)
        segs = np.asarray(objects.segments(selection.by), np.uint64)
        if segs.size > MAX_COLOURED_SEGMENTS:
            raise SelectionError(
                f"--by {selection.by} colours {segs.size:,} segments; select some with --where "
                f"(for example --where {selection.by}=1-100)"
            )
        if selection.by_color:
            hx = to_hex([round(c * 255) for c in parse_color(selection.by_color)])
            out["segmentColors"] = {str(int(s)): hx for s in segs}
        else:
            vals = objects.lookup(selection.by, segs)
            out["segmentColors"] = {str(int(s)): to_hex(c) for s, c in zip(segs, id_colors(vals))}
    return out


def annotation_layer(
    dataset: Dataset, base_url: str, *, selection: Selection | None = None
) -> dict[str, Any] | None:
    """The ``synapses`` annotation layer of the state, or None when no annotations exist.

    Points are linked to the ``segmentation`` layer through the ``pre_segment`` and
    ``post_segment`` relationships; with a selection, only the selected segments' synapses
    are shown (Neuroglancer's ``filterBySegmentation``, served by the relationship indices).
    """
    info_path = dataset.layout.synapse_annotations / "info"
    if not info_path.is_file():
        return None
    info = json.loads(info_path.read_text())
    rels = [r["id"] for r in info.get("relationships", [])]
    layer: dict[str, Any] = {
        "type": "annotation",
        "name": "synapses",
        "source": f"precomputed://{base_url.rstrip('/')}/"
        f"{dataset.layout.relative(dataset.layout.synapse_annotations)}",
        "annotationColor": "#ffcc00",
    }
    if dataset.has_layer("segmentation") and rels:
        layer["linkedSegmentationLayer"] = {r: "segmentation" for r in rels}
        if selection is not None:
            layer["filterBySegmentation"] = rels
    if any(p["id"] == "size" for p in info.get("properties", [])):
        layer["shader"] = (
            "void main() {\n  setColor(defaultColor());\n"
            "  setPointMarkerSize(clamp(2.0 + 0.25 * sqrt(prop_size()), 3.0, 14.0));\n}\n"
        )
    return layer


def viewer_url(base: str, state: dict[str, Any]) -> str:
    """``base/#!{state}`` with the JSON escaped for a URL fragment."""
    return f"{base.rstrip('/')}/#!" + quote(
        json.dumps(state, separators=(",", ":")), safe=':/,[]{}"='
    )
