"""One nested configuration object, with ``CONNECTOSCOPE_*`` environment overrides.

>>> from connectoscope import config
>>> with config.set(progress=False):
...     config.get("progress")
False

Keys (environment variable in brackets):

``progress`` (``CONNECTOSCOPE_PROGRESS``)
    show progress bars on long work (default true; ``0``/``false`` disables).
``workers`` (``CONNECTOSCOPE_WORKERS``)
    default number of local worker processes (default: number of cores).
``scheduler`` (``CONNECTOSCOPE_SCHEDULER``)
    default Dask scheduler address (default: none, run locally).
``max_voxels`` (``CONNECTOSCOPE_MAX_VOXELS``)
    voxel budget for automatic level choice and selection size limits (default 2**27).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Config", "config"]

_DEFAULTS: dict[str, Any] = {
    "progress": True,
    "workers": None,
    "scheduler": None,
    "max_voxels": 2**27,
}


def _coerce(key: str, raw: str) -> Any:
    default = _DEFAULTS[key]
    if isinstance(default, bool):
        return raw.strip().lower() not in ("0", "false", "no", "off", "")
    if key in ("workers", "max_voxels"):
        return int(raw)
    return raw


class Config:
    """Runtime options; read with :meth:`get`, change temporarily with :meth:`set`."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self.reset()

    def reset(self) -> None:
        """Back to defaults plus environment overrides."""
        self._values = dict(_DEFAULTS)
        for key in _DEFAULTS:
            env = os.environ.get(f"CONNECTOSCOPE_{key.upper()}")
            if env is not None:
                self._values[key] = _coerce(key, env)

    def get(self, key: str) -> Any:
        """Value of option ``key``."""
        if key not in self._values:
            raise KeyError(f"unknown option {key!r}; known: {', '.join(sorted(self._values))}")
        return self._values[key]

    @contextmanager
    def set(self, **options: Any) -> Iterator[Config]:
        """Temporarily set options inside a ``with`` block."""
        for k in options:
            if k not in self._values:
                raise KeyError(f"unknown option {k!r}; known: {', '.join(sorted(self._values))}")
        old = dict(self._values)
        self._values.update(options)
        try:
            yield self
        finally:
            self._values = old


config = Config()
