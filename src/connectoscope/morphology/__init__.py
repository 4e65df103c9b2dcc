"""Morphology: skeletons with compartments, SWC I/O, path distances, synapse mapping, plots."""

from __future__ import annotations

from ._mapping import map_synapses
from ._plots import plot_skeleton
from ._precomputed import encode_skeleton, write_precomputed_skeletons
from ._skeleton import COMPARTMENTS, Skeleton
from ._skeletonize import skeletonize_dataset, skeletonize_mask
from ._swc import read_swc, write_swc

__all__ = [
    "COMPARTMENTS",
    "Skeleton",
    "encode_skeleton",
    "map_synapses",
    "plot_skeleton",
    "read_swc",
    "skeletonize_dataset",
    "skeletonize_mask",
    "write_precomputed_skeletons",
    "write_swc",
]
