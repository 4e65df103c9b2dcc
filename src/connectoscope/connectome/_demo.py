"""Demo step: the synthetic synapses and cells as a connectome with the tutorial's figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..demo import DemoContext


def demo_step(ctx: DemoContext) -> None:
    from ..dataset import Dataset, is_dataset
    from . import CellTable, ConnectivityMatrix, SynapseTable
    from ._io import save_matrix
    from ._plots import plot_heatmap, plot_size_histograms, plot_synapses_per_connection

    syn = SynapseTable.read(ctx.synth_dir / "synapses.parquet")
    cells = CellTable.read(ctx.synth_dir / "cells.parquet")
    if is_dataset(ctx.dataset_path):
        ds = Dataset(ctx.dataset_path)
        syn.save(ds)
        cells.save(ds)
    m = ConnectivityMatrix.from_synapses(syn, cells)
    out = save_matrix(m, ctx.out / "connectome", overwrite=True)
    st = m.stats()
    ctx.note(
        f"connectome: {st['synapses']} synapses, {st['connected_pairs']} connected pairs, "
        f"{st['pre_vertices']} x {st['post_vertices']} vertices, max {st['max_synapses_per_pair']} "
        "synapses per pair"
    )
    ctx.add(out, "connectivity matrix (full + condensed Parquet tables)")
    f = ctx.figures
    ctx.add(
        plot_heatmap(m, f / "connectome_binary.png", weight="binary"), "binary connectivity matrix"
    )
    ctx.add(
        plot_heatmap(m, f / "connectome_logsum_by_type.png", weight="log_sum", sort_by="cell_type"),
        "log summed-size matrix sorted by cell type, with side bars",
    )
    ctx.add(
        plot_synapses_per_connection(m, f / "synapses_per_connection.png"),
        "synapses per connection",
    )
    ctx.add(
        plot_synapses_per_connection(
            m, f / "synapses_per_connection_EE_IE.png", split_by="broad_type"
        ),
        "synapses per connection, E->E vs I->E",
    )
    ctx.add(
        plot_size_histograms(m, f / "summed_size_hist.png"),
        "summed size per connection (linear, log)",
    )
    ctx.next_steps.append(f"connectoscope connectome stats {out}")
