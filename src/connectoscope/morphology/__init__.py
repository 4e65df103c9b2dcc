"""Morphology: skeletons with compartments, SWC / NML / Parquet / precomputed I/O, path
distances, synapse mapping, neurons linking skeleton, synapses and mesh, plots."""

from __future__ import annotations

from ._io import (
    FORMATS,
    read_skeleton,
    skeleton_format,
    skeleton_from_precomputed,
    skeleton_to_precomputed,
    write_skeleton,
)
from ._mapping import map_synapses
from ._neuron import TARGET_COLUMNS, Neuron, label_axon_dendrite
from ._nml import NmlDocument, NmlElement, NmlTree, read_nml, write_nml
from ._parquet import read_skeleton_parquet, write_skeleton_parquet
from ._plots import FIGURES, plot_neuron, plot_skeleton
from ._skeleton import COMPARTMENTS, Skeleton
from ._skeleton_set import SkeletonSet
from ._skeletonize import skeletonize_dataset, skeletonize_mask
from ._swc import read_swc, write_swc

__all__ = [
    "COMPARTMENTS",
    "FIGURES",
    "FORMATS",
    "TARGET_COLUMNS",
    "Neuron",
    "NmlDocument",
    "NmlElement",
    "NmlTree",
    "Skeleton",
    "SkeletonSet",
    "label_axon_dendrite",
    "map_synapses",
    "plot_neuron",
    "plot_skeleton",
    "read_nml",
    "read_skeleton",
    "read_skeleton_parquet",
    "read_swc",
    "skeleton_format",
    "skeleton_from_precomputed",
    "skeleton_to_precomputed",
    "skeletonize_dataset",
    "skeletonize_mask",
    "write_nml",
    "write_skeleton",
    "write_skeleton_parquet",
    "write_swc",
]
