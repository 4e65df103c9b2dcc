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
from .dataset import Dataset
from .errors import ConnectoscopeError, ConnectoscopeWarning
from .geometry import Bbox, VoxelSize

__version__ = "0.1.0"

# name -> module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    "CubeFolder": "connectoscope.sources.l4dense",
}

__all__ = [
    "Bbox",
    "ConnectoscopeError",
    "ConnectoscopeWarning",
    "Dataset",
    "VoxelSize",
    "__version__",
    "config",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'connectoscope' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
