"""Helpers shared by the benchmark scripts: timing, peak memory and ratio lines."""

from __future__ import annotations

import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(fn: Callable[[], Any], *, repeat: int = 1) -> tuple[float, float, Any]:
    """(best seconds, peak traced allocation MB during one run, result)."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 1e6, result


def ratio_line(
    name: str, ours: float, ref: float, unit: str, *, higher_is_better: bool = False
) -> str:
    r = (ours / ref) if higher_is_better else (ref / ours)
    return f"{name}: ours {ours:.4g} {unit}, reference {ref:.4g} {unit}, ratio {r:.1f}"


def neuroglancer_annotations(df: Any, out: Any) -> None:
    """The reference: neuroglancer's own ``AnnotationWriter`` writing ``df``'s synapses
    (columns pre, post, size, x_nm, y_nm, z_nm) as point annotations into ``out``, with
    pre/post relationships and a size property, as ours do."""
    import neuroglancer
    from neuroglancer import write_annotations

    cs = neuroglancer.CoordinateSpace(names=["x", "y", "z"], units="nm", scales=[1, 1, 1])
    w = write_annotations.AnnotationWriter(
        coordinate_space=cs,
        annotation_type="point",
        relationships=["pre_segment", "post_segment"],
        properties=[neuroglancer.AnnotationPropertySpec(id="size", type="float32")],
    )
    xyz = df[["x_nm", "y_nm", "z_nm"]].to_numpy()
    for i, (p, q, s) in enumerate(zip(df.pre.tolist(), df.post.tolist(), df["size"].tolist())):
        w.add_point(xyz[i], id=i, size=s, pre_segment=p, post_segment=q)
    w.write(out)
