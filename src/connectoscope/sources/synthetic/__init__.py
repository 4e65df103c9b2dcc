"""Realistic synthetic connectomics data in the L4dense layout.

:func:`generate` writes EM cubes, an over-segmentation with 0 on membranes, object maps
(neuron, axon, dendrite, spinehead), a MICrONS-style synapse table and a cell table, all
consistent with each other and deterministic for a seed. See ``docs/synthetic.md``.
"""

from __future__ import annotations

from ._constants import KINDS, ROOT_ID_BASE
from ._generate import generate
from ._manifest import SynthManifest

__all__ = ["KINDS", "ROOT_ID_BASE", "SynthManifest", "generate"]
