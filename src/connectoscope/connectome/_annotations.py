"""A dataset's synapses as Neuroglancer annotations (``annotations/synapses``)."""

from __future__ import annotations

from pathlib import Path

from .._store import Store
from ..precomputed import write_synapse_annotations
from ._synapses import SynapseTable

__all__ = ["write_dataset_annotations"]


def write_dataset_annotations(
    dataset: Store,
    synapses: SynapseTable | None = None,
    *,
    limit: int = 2000,
    seed: int = 0,
) -> Path:
    """Write the dataset's synapses (or ``synapses``) as annotations.

    Writes ``annotations/synapses`` (see
    :func:`connectoscope.precomputed.write_synapse_annotations`), replacing earlier
    annotations, and records the ``annotations`` layer and a provenance step.

    Returns
    -------
    Path
        The annotation folder.
    """
    syn = synapses if synapses is not None else SynapseTable.from_store(dataset)
    out = dataset.layout.synapse_annotations
    write_synapse_annotations(syn.df, out, limit=limit, seed=seed, overwrite=True)
    dataset.set_layer(
        "annotations",
        {
            "kind": "annotations",
            "format": "neuroglancer_annotations_v1",
            "path": dataset.layout.relative(out),
            "n_synapses": len(syn),
        },
    )
    dataset.record_step("annotations", n_synapses=len(syn), limit=limit, seed=seed)
    return out
