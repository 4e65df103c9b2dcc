"""Multiscale volumes: the sharded OME-Zarr store, pyramids, ingest and region reads.

Arrays are ``[z, y, x]``; boxes are :class:`~connectoscope.geometry.Bbox` in voxels of a
level, or ``bbox_nm`` in nanometres.
"""

from __future__ import annotations

from ._build import ingest, level_shapes, write_array
from ._downsample import downsample_image, downsample_labels
from ._plan import level_factors, plan_pyramid
from ._volume_layer import Level, VolumeLayer

__all__ = [
    "Level",
    "VolumeLayer",
    "downsample_image",
    "downsample_labels",
    "ingest",
    "level_factors",
    "level_shapes",
    "plan_pyramid",
    "write_array",
]
