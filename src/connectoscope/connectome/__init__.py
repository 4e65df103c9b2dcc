"""Connectome analysis: synapse and cell tables, sparse connectivity matrices (full and
condensed forms), selections, analyses, figures and file formats (our Parquet folder,
Connectome-Utilities HDF5, L4dense CSV), out-of-core condensing. Ids are exact 64-bit
integers end to end."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The core (matrices, synapse and cell tables, ids) is imported now; everything else
# (file formats, figures, network analyses, out of core, synthetic data) on first use,
# so a one-shot script does not pay for matplotlib, scipy.spatial, numba or h5py.
from ._cells import CellTable
from ._ids import as_id_array
from ._matrix import AGG_FUNCS, WEIGHTS, ConnectivityMatrix
from ._synapses import ObjectLookup, SynapseTable

if TYPE_CHECKING:
    from ._analysis import (
        connection_probability,
        degree,
        reciprocal_pairs,
        sort_by,
        synapses_per_connection,
        type_by_type,
    )
    from ._annotations import write_dataset_annotations
    from ._annstream import write_annotations_out_of_core
    from ._build import STREAM_ROWS, build_out_of_core, count_rows
    from ._formats import (
        convert_matrix,
        load_matrix,
        read_conntility_h5,
        read_edge_list,
        read_l4dense_csv,
        save_matrix,
        write_conntility_h5,
        write_l4dense_csv,
    )
    from ._netplots import (
        plot_common_neighbours,
        plot_distance_probability,
        plot_motifs,
    )
    from ._network import (
        TRIAD_NAMES,
        common_neighbour_bias,
        distance_probability,
        motif_significance,
        triad_census,
    )
    from ._outofcore import condense_parquet
    from ._plots import (
        plot_heatmap,
        plot_size_histograms,
        plot_somas,
        plot_synapses_per_connection,
        plot_type_by_type,
    )
    from ._query import (
        QueryResult,
        StreamedQuery,
        box_mask,
        nearest_skeleton_vertex,
        parse_box,
        query_synapses,
        query_table_file,
        radius_mask,
    )
    from ._synthetic import synthetic_synapses, write_synthetic_dataset

#: Public name -> the submodule that defines it (imported on first access).
_LAZY = {
    "QueryResult": "_query",
    "StreamedQuery": "_query",
    "box_mask": "_query",
    "nearest_skeleton_vertex": "_query",
    "parse_box": "_query",
    "query_synapses": "_query",
    "query_table_file": "_query",
    "radius_mask": "_query",
    "STREAM_ROWS": "_build",
    "TRIAD_NAMES": "_network",
    "build_out_of_core": "_build",
    "common_neighbour_bias": "_network",
    "condense_parquet": "_outofcore",
    "connection_probability": "_analysis",
    "convert_matrix": "_formats",
    "count_rows": "_build",
    "degree": "_analysis",
    "distance_probability": "_network",
    "load_matrix": "_formats",
    "motif_significance": "_network",
    "plot_common_neighbours": "_netplots",
    "plot_distance_probability": "_netplots",
    "plot_heatmap": "_plots",
    "plot_motifs": "_netplots",
    "plot_size_histograms": "_plots",
    "plot_somas": "_plots",
    "plot_synapses_per_connection": "_plots",
    "plot_type_by_type": "_plots",
    "read_conntility_h5": "_formats",
    "read_edge_list": "_formats",
    "read_l4dense_csv": "_formats",
    "reciprocal_pairs": "_analysis",
    "save_matrix": "_formats",
    "sort_by": "_analysis",
    "synapses_per_connection": "_analysis",
    "synthetic_synapses": "_synthetic",
    "triad_census": "_network",
    "type_by_type": "_analysis",
    "write_annotations_out_of_core": "_annstream",
    "write_conntility_h5": "_formats",
    "write_dataset_annotations": "_annotations",
    "write_l4dense_csv": "_formats",
    "write_synthetic_dataset": "_synthetic",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "AGG_FUNCS",
    "STREAM_ROWS",
    "TRIAD_NAMES",
    "WEIGHTS",
    "CellTable",
    "ConnectivityMatrix",
    "ObjectLookup",
    "QueryResult",
    "StreamedQuery",
    "SynapseTable",
    "as_id_array",
    "box_mask",
    "build_out_of_core",
    "common_neighbour_bias",
    "condense_parquet",
    "connection_probability",
    "convert_matrix",
    "count_rows",
    "degree",
    "distance_probability",
    "load_matrix",
    "motif_significance",
    "nearest_skeleton_vertex",
    "parse_box",
    "plot_common_neighbours",
    "plot_distance_probability",
    "plot_heatmap",
    "plot_motifs",
    "plot_size_histograms",
    "plot_somas",
    "plot_synapses_per_connection",
    "plot_type_by_type",
    "query_synapses",
    "query_table_file",
    "radius_mask",
    "read_conntility_h5",
    "read_edge_list",
    "read_l4dense_csv",
    "reciprocal_pairs",
    "save_matrix",
    "sort_by",
    "synapses_per_connection",
    "synthetic_synapses",
    "triad_census",
    "type_by_type",
    "write_annotations_out_of_core",
    "write_conntility_h5",
    "write_dataset_annotations",
    "write_l4dense_csv",
    "write_synthetic_dataset",
]
