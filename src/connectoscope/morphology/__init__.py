"""Morphology: skeletons with compartments, SWC I/O, path distances, synapse mapping, plots."""

from __future__ import annotations

from ._mapping import map_synapses
from ._plots import plot_skeleton
from ._skeleton import COMPARTMENTS, Skeleton
from ._swc import read_swc, write_swc

__all__ = ["COMPARTMENTS", "Skeleton", "map_synapses", "plot_skeleton", "read_swc", "write_swc"]
