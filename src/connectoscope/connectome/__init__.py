"""Connectome analysis: synapse and cell tables, sparse connectivity matrices (full and
condensed forms), selections, analyses and figures. Ids are exact 64-bit integers."""

from __future__ import annotations

from ._io import load_matrix, save_matrix
from ._matrix import WEIGHTS, ConnectivityMatrix
from ._plots import plot_heatmap, plot_size_histograms, plot_synapses_per_connection
from ._tables import CellTable, SynapseTable, as_id_array

__all__ = [
    "WEIGHTS",
    "CellTable",
    "ConnectivityMatrix",
    "SynapseTable",
    "as_id_array",
    "load_matrix",
    "plot_heatmap",
    "plot_size_histograms",
    "plot_synapses_per_connection",
    "save_matrix",
]
