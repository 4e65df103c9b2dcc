"""Multiscale volumes: the sharded OME-Zarr store, pyramids, ingest and region reads.

Arrays are ``[z, y, x]``; boxes are :class:`~connectoscope.geometry.Bbox` in voxels of a
level, or ``bbox_nm`` in nanometres (the dataset's frame, see
:class:`~connectoscope.geometry.LevelFrame`).

* :func:`ingest` a foreign source into a dataset; :func:`write_layer` any
  :class:`~connectoscope.sources.SourceReader` or array; :func:`remove_layer`;
* :class:`VolumeLayer` reads any region at any level;
* the kernels :func:`downsample_labels`, :func:`downsample_image` and the level plan.
"""

from __future__ import annotations

from ._build import StorageSpec
from ._downsample import downsample_image, downsample_labels
from ._ingest import IngestReport, ingest
from ._layers import layer_levels, remove_layer, write_layer
from ._plan import level_factors, plan_pyramid
from ._volume_layer import Level, VolumeLayer

__all__ = [
    "IngestReport",
    "Level",
    "StorageSpec",
    "VolumeLayer",
    "downsample_image",
    "downsample_labels",
    "ingest",
    "layer_levels",
    "level_factors",
    "plan_pyramid",
    "remove_layer",
    "write_layer",
]
