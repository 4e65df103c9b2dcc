"""Segments and objects: object maps, ChimeraX-style selections."""

from __future__ import annotations

from ._components import count_components, segment_components
from ._mapped import map_segmentation, mapped_layer_name
from ._maps import ObjectMaps, import_objects
from ._select import DEFAULT_MAX_GROUPS, Selection, parse_ranges
from ._stats import object_stats
from ._tables import (
    block_statistics,
    object_table,
    read_segment_table,
    segment_table,
    write_segment_table,
)

__all__ = [
    "DEFAULT_MAX_GROUPS",
    "ObjectMaps",
    "Selection",
    "block_statistics",
    "count_components",
    "import_objects",
    "map_segmentation",
    "mapped_layer_name",
    "object_stats",
    "object_table",
    "parse_ranges",
    "read_segment_table",
    "segment_components",
    "segment_table",
    "write_segment_table",
]
