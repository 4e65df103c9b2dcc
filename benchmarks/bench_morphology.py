"""Morphology benchmarks, ours vs navis, side by side in one process, on the same skeletons.

Skeleton: the real hemibrain neuron 1734350788 (4,465 nodes, 8 nm voxels) with every edge
subdivided into equal pieces until it has 45,000 vertices (the same shape, finer sampling).

1. path distance to the root for every vertex: ``Skeleton.distance_to_root`` vs
   ``navis.dist_to_root``.
2. mapping 100,000 synapses (points scattered around the arbor, seeded) to the nearest
   vertex: ``map_synapses`` vs ``navis.TreeNeuron.snap``.
3. distances from 1,000 sources: ``Skeleton.path_distances`` vs navis ``geodesic_matrix``
   restricted to the same sources on the 45,000-vertex skeleton, and vs the full N x N
   ``geodesic_matrix`` on a 12,000-vertex version (45,000^2 float64 would be 16 GB:
   too much for this machine; the line says which size it ran).

Each line: ``name: ours X, reference Y, ratio R`` plus peak traced memory (tracemalloc,
which sees numpy allocations).

    python benchmarks/bench_morphology.py           # as above
    python benchmarks/bench_morphology.py --quick   # 10,000 vertices, 10,000 synapses, 200 sources
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import measure, peak_rss_mb, ratio_line
from connectoscope.morphology import Skeleton, map_synapses, read_swc
from connectoscope.testing import require_shared


def subdivided(sk: Skeleton, n_target: int) -> Skeleton:
    """The same tree with each edge cut into k equal pieces so that about ``n_target``
    vertices result (new ids above the old ones)."""
    n = len(sk)
    k = max(1, int(np.ceil((n_target - n) / max(1, n - sk.roots.size))) + 1)
    has = np.flatnonzero(sk.parent >= 0)
    # keep only as many subdivided edges as needed to land on n_target exactly
    extra_per_edge = k - 1
    need = n_target - n
    counts = np.full(has.size, extra_per_edge)
    over = counts.sum() - need
    if over > 0:
        counts[:over] -= 1
        counts = np.maximum(counts, 0)
    ids = [sk.node_ids]
    parents = [np.where(sk.parent >= 0, sk.node_ids[np.maximum(sk.parent, 0)], -1)]
    verts = [sk.vertices]
    next_id = int(sk.node_ids.max()) + 1
    pid = parents[0].copy()
    new_ids, new_par, new_v = [], [], []
    for e, c in zip(has.tolist(), counts.tolist()):
        if c == 0:
            continue
        a, b = sk.vertices[sk.parent[e]], sk.vertices[e]
        t = np.arange(1, c + 1) / (c + 1)
        chain = next_id + np.arange(c)
        next_id += c
        new_v.append(a + t[:, None] * (b - a))
        new_ids.append(chain)
        new_par.append(np.concatenate([[sk.node_ids[sk.parent[e]]], chain[:-1]]))
        pid[e] = chain[-1]
    parents[0] = pid
    all_ids = np.concatenate(ids + new_ids)
    all_par = np.concatenate(parents + new_par)
    all_v = np.concatenate(verts + new_v)
    return Skeleton.from_parents(all_ids, all_par, all_v, name=f"{sk.name} x{len(all_ids)}")


def to_navis(sk: Skeleton) -> object:
    import navis

    pid = np.where(sk.parent >= 0, sk.node_ids[np.maximum(sk.parent, 0)], -1)
    df = pd.DataFrame(
        {
            "node_id": sk.node_ids,
            "parent_id": pid,
            "x": sk.vertices[:, 0],
            "y": sk.vertices[:, 1],
            "z": sk.vertices[:, 2],
            "radius": sk.features["radius"],
        }
    )
    return navis.TreeNeuron(df, units="nm")


def bench_distance_to_root(sk: Skeleton, nv: object) -> None:
    import navis

    t_ours, mem, d = measure(lambda: replace(sk).distance_to_root, repeat=5)
    t_ref, mem_ref, ref = measure(lambda: navis.dist_to_root(nv, weight="weight"), repeat=3)
    # same numbers: navis returns {node_id: distance}
    ref_arr = np.array([ref[int(i)] for i in sk.node_ids])
    assert np.allclose(d, ref_arr, rtol=1e-6, atol=1e-3), np.abs(d - ref_arr).max()
    print(ratio_line(f"path distance to root, {len(sk)} vertices", t_ours, t_ref, "s"))
    print(f"path distance to root peak memory: ours {mem:.1f} MB, navis {mem_ref:.1f} MB")


def bench_mapping(sk: Skeleton, nv: object, n_syn: int, rng: np.random.Generator) -> None:
    pick = rng.integers(0, len(sk), n_syn)
    pts = sk.vertices[pick] + rng.normal(0, 400.0, (n_syn, 3))
    t_ours, mem, m = measure(lambda: map_synapses(replace(sk), pts), repeat=3)  # no cached tree
    t_ref, mem_ref, ref = measure(lambda: nv.snap(pts), repeat=3)  # type: ignore[attr-defined]
    ref_ids, ref_d = ref
    assert np.allclose(m["distance_nm"].to_numpy(), ref_d, rtol=1e-6, atol=1e-6)
    same = np.mean(m["node_id"].to_numpy() == np.asarray(ref_ids))
    assert same > 0.999, same  # ties may pick another vertex at the same distance
    print(ratio_line(f"map {n_syn} synapses to nearest vertex", t_ours, t_ref, "s"))
    print(f"map synapses peak memory: ours {mem:.1f} MB, navis {mem_ref:.1f} MB")


def bench_many_sources(sk: Skeleton, nv: object, n_src: int, rng: np.random.Generator) -> None:
    import navis

    src = np.sort(rng.choice(len(sk), n_src, replace=False))

    def ours() -> np.ndarray:
        return replace(sk).path_distances(src)  # fresh: includes building the LCA index

    t_ours, mem, d = measure(ours, repeat=2)
    t_ref, mem_ref, ref = measure(
        lambda: navis.geodesic_matrix(nv, from_=sk.node_ids[src]), repeat=1
    )
    r = ref.loc[sk.node_ids[src], sk.node_ids].to_numpy()
    assert np.allclose(d, r, rtol=1e-6, atol=1e-3), np.nanmax(np.abs(d - r))
    print(
        ratio_line(
            f"distances from {n_src} sources ({len(sk)} vertices) vs navis geodesic_matrix(from_)",
            t_ours,
            t_ref,
            "s",
        )
    )
    print(f"distances from {n_src} sources peak memory: ours {mem:.0f} MB, navis {mem_ref:.0f} MB")


def bench_vs_full(sk: Skeleton, n_src: int, rng: np.random.Generator) -> None:
    import navis

    nv = to_navis(sk)
    src = np.sort(rng.choice(len(sk), n_src, replace=False))
    t_ours, mem, d = measure(lambda: replace(sk).path_distances(src), repeat=2)
    t_ref, mem_ref, full = measure(lambda: navis.geodesic_matrix(nv), repeat=1)
    r = full.loc[sk.node_ids[src], sk.node_ids].to_numpy()
    assert np.allclose(d, r, rtol=1e-6, atol=1e-3)
    del full
    n = len(sk)
    print(
        ratio_line(
            f"distances from {n_src} sources vs full geodesic matrix ({n} vertices)",
            t_ours,
            t_ref,
            "s",
        )
    )
    print(
        f"distances vs full matrix peak memory: ours {mem:.0f} MB ({n_src} x {n}), navis full "
        f"{mem_ref:.0f} MB ({n} x {n}); a full matrix of 45000 vertices would need "
        f"{45000**2 * 8 / 1e9:.1f} GB as float64"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n_v, n_syn, n_src, n_full = (
        (10_000, 10_000, 200, 5_000) if args.quick else (45_000, 100_000, 1_000, 12_000)
    )
    path = require_shared("hemibrain-da1/swc/1734350788.swc")  # exits 77 when missing
    rng = np.random.default_rng(0)
    real = read_swc(path, units=8)
    sk = subdivided(real, n_v)
    assert len(sk) == n_v, len(sk)
    assert abs(sk.cable_length - real.cable_length) < 1e-6 * real.cable_length
    warnings.simplefilter("ignore")
    nv = to_navis(sk)
    print(f"skeleton: {len(sk)} vertices, cable {sk.cable_length / 1000:.1f} µm (from {real.name})")
    bench_distance_to_root(sk, nv)
    bench_mapping(sk, nv, n_syn, rng)
    bench_many_sources(sk, nv, n_src, rng)
    bench_vs_full(subdivided(real, n_full), n_src, rng)
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
