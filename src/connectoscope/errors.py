"""Exception and warning classes of connectoscope.

Every error a user can cause derives from :class:`ConnectoscopeError` *and* from the
matching builtin (a missing file is also a :class:`FileNotFoundError`, a bad value also a
:class:`ValueError`), so callers can catch either. The command line turns any
:class:`ConnectoscopeError` into a one-paragraph message and exit code 2; ``--debug`` shows
the traceback.

Messages say what was expected, what was received and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "ConnectoscopeError",
    "ConnectoscopeWarning",
    "DataFormatError",
    "DatasetExistsError",
    "DatasetNotFoundError",
    "DependencyMissingError",
    "DownloadError",
    "IncompleteStoreError",
    "InvalidParameterError",
    "LayerNotFoundError",
    "MissingDataError",
    "SelectionError",
    "SourceNotFoundError",
]


class ConnectoscopeError(Exception):
    """Base class of every error connectoscope raises on purpose (a user-level error)."""


class ConnectoscopeWarning(UserWarning):
    """Base class of connectoscope's warnings (tests turn these into errors)."""


class InvalidParameterError(ConnectoscopeError, ValueError):
    """A parameter has the wrong value, type, shape or dtype."""


class SelectionError(InvalidParameterError):
    """A ChimeraX-style selection (``where``/``each``/``by``) cannot be applied."""


class DataFormatError(ConnectoscopeError, ValueError):
    """A file exists but its content is not what was expected (truncated, wrong layout...)."""


class SourceNotFoundError(ConnectoscopeError, FileNotFoundError):
    """An input path does not exist or holds no recognisable data."""


class DatasetNotFoundError(ConnectoscopeError, FileNotFoundError):
    """A path is not a connectoscope dataset directory."""


class DatasetExistsError(ConnectoscopeError, FileExistsError):
    """Refused to overwrite an existing dataset or store (pass ``overwrite=True``)."""


class LayerNotFoundError(ConnectoscopeError, KeyError):
    """A dataset has no layer (image, segmentation, objects, synapses...) of that name."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that.
        return str(self.args[0]) if self.args else ""


class MissingDataError(ConnectoscopeError, LookupError):
    """A chunk, shard or table row that should exist is missing."""


class IncompleteStoreError(ConnectoscopeError, RuntimeError):
    """A store was left half-written by an interrupted run; re-run the command to resume."""


class DependencyMissingError(ConnectoscopeError, ImportError):
    """An optional dependency is needed for this feature (the message names the extra)."""


class DownloadError(ConnectoscopeError, OSError):
    """A download failed or its checksum did not match."""
