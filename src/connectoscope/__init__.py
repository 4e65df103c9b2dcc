"""connectoscope: electron-microscopy connectomics made usable and fast.

The public API is curated here; heavy parts load lazily on first use so ``import
connectoscope`` stays fast and never fails because an optional extra is missing.

Conventions: arrays are ``[z, y, x]``; user-facing coordinates are ``(x, y, z)`` in nm
unless a name says voxels (``*_vx``).
"""

from __future__ import annotations

import importlib
from typing import Any

from ._config import config
from ._store import package_version
from .errors import ConnectoscopeError, ConnectoscopeWarning
from .geometry import Bbox, VoxelSize

__version__ = package_version()

# name -> module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    "Dataset": "connectoscope.dataset",
    "CubeFolder": "connectoscope.sources.l4dense",
    "generate_synthetic": "connectoscope.sources.synthetic",
    "VolumeLayer": "connectoscope.volume",
    "ingest": "connectoscope.volume",
    "write_layer": "connectoscope.volume",
    "remove_layer": "connectoscope.volume",
    "StorageSpec": "connectoscope.volume",
    "IngestReport": "connectoscope.volume",
    "open_source": "connectoscope.sources",
    "SourceReader": "connectoscope.sources",
    "downsample_labels": "connectoscope.volume",
    "downsample_image": "connectoscope.volume",
    "export_chimerax": "connectoscope.export",
    "ObjectMaps": "connectoscope.segmentation",
    "Selection": "connectoscope.segmentation",
    "import_objects": "connectoscope.segmentation",
    "object_stats": "connectoscope.segmentation",
    "map_segmentation": "connectoscope.segmentation",
    "count_components": "connectoscope.segmentation",
    "mesh_labels": "connectoscope.surfaces",
    "Mesh": "connectoscope.surfaces",
    "make_surfaces": "connectoscope.surfaces",
    "mesh_selection": "connectoscope.surfaces",
    "render_dataset_plane": "connectoscope.render",
    "render_meshes": "connectoscope.render",
    "SynapseTable": "connectoscope.connectome",
    "CellTable": "connectoscope.connectome",
    "ConnectivityMatrix": "connectoscope.connectome",
    "run_demo": "connectoscope.demo",
    "Skeleton": "connectoscope.morphology",
    "read_swc": "connectoscope.morphology",
    "skeletonize_dataset": "connectoscope.morphology",
    "Neuron": "connectoscope.morphology",
    "read_skeleton": "connectoscope.morphology",
    "write_skeleton": "connectoscope.morphology",
    "read_nml": "connectoscope.morphology",
    "FrameTransform": "connectoscope.transform",
    "minnie65_transform": "connectoscope.transform",
    "view": "connectoscope.viewer",
    "screenshot": "connectoscope.viewer",
    "write_synapse_annotations": "connectoscope.viewer",
    "CaveSession": "connectoscope.cave",
    "executor": "connectoscope.parallel",
    "LevelFrame": "connectoscope.geometry",
}

_RENAMED = {"generate_synthetic": "generate"}

__all__ = [
    "Bbox",
    "ConnectoscopeError",
    "ConnectoscopeWarning",
    "VoxelSize",
    "__version__",
    "config",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'connectoscope' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
