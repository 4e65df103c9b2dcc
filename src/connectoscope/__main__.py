"""``python -m connectoscope`` runs the command line."""

from .cli import _entry

_entry()
