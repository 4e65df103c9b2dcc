"""Names shared by the generator's modules (kept import-light)."""

from __future__ import annotations

__all__ = ["KINDS", "ROOT_ID_BASE"]

#: Object kinds, in the order they are written.
KINDS = ("neuron", "axon", "dendrite", "spinehead")
#: Root ids are ``ROOT_ID_BASE + cell index`` (above 2**53, like MICrONS root ids).
ROOT_ID_BASE = 864691135000000000
