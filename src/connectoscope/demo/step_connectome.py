"""Demo step: the synthetic synapses and cells as a connectome with the MICrONS tutorial's
figures (binary matrix, counts histogram, E->E / I->E histograms, size histograms, log-sum
heatmap sorted by type), soma positions and the type-by-type matrix."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from ..connectome import (
    CellTable,
    ConnectivityMatrix,
    SynapseTable,
    plot_heatmap,
    plot_size_histograms,
    plot_somas,
    plot_synapses_per_connection,
    plot_type_by_type,
    save_matrix,
    write_conntility_h5,
)
from ..dataset import Dataset, is_dataset
from ..errors import ConnectoscopeWarning

if TYPE_CHECKING:  # pragma: no cover
    from ._context import DemoContext


def demo_step(ctx: DemoContext) -> None:

    # the volume's own synapses and cells go into the dataset (they match its segmentation)
    syn = SynapseTable.read(ctx.synth_dir / "synapses.parquet")
    cells = CellTable.read(ctx.synth_dir / "cells.parquet")
    if is_dataset(ctx.dataset_path):
        ds = Dataset(ctx.dataset_path)
        syn.save(ds)
        cells.save(ds)
        syn, cells = ds.synapses, ds.cells
    microns = ctx.synth_dir / "microns"
    if (microns / "synapses.parquet").exists():  # the tutorial's figures: the MICrONS-shaped one
        syn = SynapseTable.read(microns / "synapses.parquet", voxel_size=(4, 4, 40))
        cells = CellTable.read(microns / "cells.parquet", voxel_size=(4, 4, 40))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConnectoscopeWarning)
        m = ConnectivityMatrix.from_synapses(syn, cells)
    for w in caught:
        ctx.note(f"connectome: {w.message}")
    out = save_matrix(m, ctx.out / "connectome", overwrite=True)
    h5 = ctx.out / "connectome.h5"
    if h5.exists():
        h5.unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConnectoscopeWarning)
        write_conntility_h5(m, h5)  # text columns (target: spine/shaft) have no place there
    for w in caught:
        ctx.note(f"connectome.h5: {w.message}")
    st = m.stats()
    ctx.note(
        f"connectome: {st['synapses']} synapses, {st['connected_pairs']} connected pairs, "
        f"{st['pre_vertices']} x {st['post_vertices']} vertices, max "
        f"{st['max_synapses_per_pair']} synapses per pair, {st['reciprocal_pairs']} reciprocal "
        f"pairs, connection probability {st['connection_probability']:.4f}"
    )
    ctx.add(out, "connectivity matrix (full + condensed Parquet tables)")
    ctx.add(h5, "the same matrix in the Connectome-Utilities HDF5 layout (conntility.from_h5)")
    f = ctx.figures
    ctx.add(
        plot_heatmap(m, f / "connectome_binary.png", weight="binary"),
        "binary connectivity matrix",
        tutorial=2,
    )
    ctx.add(
        plot_heatmap(m, f / "connectome_logsum.png", weight="log_sum"),
        "log summed-size matrix",
        tutorial=6,
    )
    ctx.add(
        plot_heatmap(m, f / "connectome_logsum_by_type.png", weight="log_sum", sort_by="cell_type"),
        "log summed-size matrix sorted by cell type, with side bars",
        tutorial=7,
    )
    ctx.add(
        plot_synapses_per_connection(m, f / "synapses_per_connection.png"),
        "synapses per connection",
        tutorial=3,
    )
    try:
        ctx.add(
            plot_synapses_per_connection(
                m, f / "synapses_per_connection_EE_IE.png", split_by="broad_type"
            ),
            "synapses per connection, E->E vs I->E",
            tutorial=4,
        )
    except Exception as e:  # a tiny synthetic volume may have no I->E connection
        ctx.note(f"connectome: E/I histogram skipped ({e})")
    ctx.add(
        plot_size_histograms(m, f / "summed_size_hist.png"),
        "summed size per connection (linear, log)",
        tutorial=5,
    )
    if all(f"{a}_nm" in cells.df for a in "xyz") or "pt_position_x" in cells.df:
        ctx.add(
            plot_somas(cells, f / "soma_positions.png"),
            "soma positions by proofreading status",
            tutorial=1,
        )
    ctx.add(
        plot_type_by_type(m, f / "type_by_type.png", prop="cell_type"),
        "connection probability between cell types",
    )
    ctx.next_steps.append(f"connectoscope connectome stats {out}")
    ctx.next_steps.append(
        f"connectoscope connectome plot {out} --kind heatmap --weight log_sum --sort-by cell_type -o h.png"
    )
