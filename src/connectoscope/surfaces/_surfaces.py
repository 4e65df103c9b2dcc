"""``surfaces``: mesh a selection, write mesh files and the viewer's precomputed meshes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameterError

if TYPE_CHECKING:  # pragma: no cover
    from ..dataset import Dataset
    from ..segmentation import Selection
    from ._mesh import Mesh

__all__ = ["make_surfaces"]

FORMATS = ("ply", "obj", "glb")


def make_surfaces(
    dataset: Dataset | str | os.PathLike[str],
    selection: Selection,
    out: str | os.PathLike[str] | None = None,
    *,
    level: int | None = None,
    simplify_nm: float | None = None,
    fmt: str = "ply",
    max_voxels: int | None = None,
    precomputed: bool = True,
) -> dict[str, Any]:
    """Mesh every group of ``selection`` and write the results.

    Writes ``out/<kind>_<id>.<fmt>`` per group (or ``segment_<id>``), and, when
    ``precomputed``, Neuroglancer legacy meshes and segment properties into the dataset's
    ``meshes/`` folder (so ``connectoscope view`` shows them and ``neuron=1`` queries work).

    Returns
    -------
    dict
        ``{"level": int, "meshes": {id: Mesh}, "files": [paths]}``
    """
    from ..dataset import Dataset
    from ._mesh import mesh_selection
    from ._precomputed import write_legacy_meshes, write_segment_properties

    if fmt not in FORMATS:
        raise InvalidParameterError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    ds = dataset if isinstance(dataset, Dataset) else Dataset(dataset)
    from .._config import config
    from ._mesh import choose_level

    budget = int(max_voxels or config.get("max_voxels"))
    lvl = level if level is not None else choose_level(ds, ds.segmentation.bbox(0).volume, budget)
    meshes: dict[int, Mesh] = mesh_selection(
        ds, selection, level=lvl, simplify_nm=simplify_nm, max_voxels=budget
    )
    kind = selection.each or next((c.kind for c in selection.where if c.kind), None)
    prefix = kind or "segment"
    files: list[Path] = []
    if out is not None:
        for gid, m in meshes.items():
            files.append(m.save(Path(out) / f"{prefix}_{gid}.{fmt}"))
    if precomputed:
        groups = selection.groups(ds.objects)
        folder = ds.folder("meshes", create=True)
        n = write_legacy_meshes(folder, meshes, groups, prefix=prefix)
        write_segment_properties(folder, ds.objects)
        ds.set_layer(
            "meshes",
            {"kind": "meshes", "path": "meshes", "n_meshes": len(list(folder.glob("*:0")))},
        )
        del n
    ds.record_step(
        "surfaces",
        selection=selection.describe(),
        level=lvl,
        meshes=len(meshes),
        simplify_nm=simplify_nm,
    )
    return {"level": lvl, "meshes": meshes, "files": files}
