"""Connectome analysis: synapse and cell tables, sparse connectivity matrices (full and
condensed forms), selections, analyses, figures and file formats (our Parquet folder,
Connectome-Utilities HDF5, L4dense CSV), out-of-core condensing. Ids are exact 64-bit
integers end to end."""

from __future__ import annotations

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
from ._cells import CellTable
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
from ._ids import as_id_array
from ._matrix import AGG_FUNCS, WEIGHTS, ConnectivityMatrix
from ._netplots import plot_common_neighbours, plot_distance_probability, plot_motifs
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
from ._synapses import ObjectLookup, SynapseTable
from ._synthetic import synthetic_synapses, write_synthetic_dataset

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
