"""SWC read and write with explicit units.

SWC columns: ``id type x y z radius parent``. Files rarely say their unit: pass ``units``
(nm per file unit): 1000 for microns (the usual SWC convention), 8 for hemibrain voxels,
1 for nm. Skeletons hold nm; :func:`write_swc` converts back.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._atomic import write_text_atomic
from ..errors import DataFormatError, SourceNotFoundError
from ._nml import _fmt
from ._skeleton import Skeleton

__all__ = ["read_swc", "write_swc"]


def read_swc(path: str | os.PathLike[str], *, units: float = 1000.0) -> Skeleton:
    """Read an SWC file; coordinates and radii are multiplied by ``units`` to get nm."""
    p = Path(path)
    if not p.exists():
        raise SourceNotFoundError(f"{p}: no such file")
    rows: list[list[float]] = []
    header: list[str] = []
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataFormatError(
            f"{p}: not an SWC text file (byte {e.object[e.start]:#04x} at position {e.start} is "
            "not UTF-8 text); give an SWC file or pass --format"
        ) from None
    for k, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            if not rows:
                header.append(line)
            continue
        parts = s.split()
        if len(parts) < 7:
            raise DataFormatError(
                f"{p}:{k}: expected 7 columns 'id type x y z radius parent', got {len(parts)}"
            )
        try:
            row = [float(v) for v in parts[:7]]
        except ValueError:
            raise DataFormatError(f"{p}:{k}: non-numeric value in {s!r}") from None
        if not all(np.isfinite(row)):
            raise DataFormatError(f"{p}:{k}: NaN or infinite value in {s!r}")
        rows.append(row)
    if not rows:
        raise DataFormatError(f"{p}: no nodes")
    a = np.asarray(rows)
    with np.errstate(over="ignore"):
        big = ~np.isfinite(a[:, 2:6] * units)
    if big.any():
        k = int(np.flatnonzero(big.any(1))[0])
        raise DataFormatError(
            f"{p}: node {int(a[k, 0])}: coordinates or radius overflow once scaled to nm "
            f"(x {units:g} nm per unit); check --units"
        )
    return Skeleton.from_parents(
        a[:, 0].astype(np.int64),
        a[:, 6].astype(np.int64),
        a[:, 2:5] * units,
        features={"compartment": a[:, 1].astype(np.int32), "radius": a[:, 5] * units},
        name=p.stem,
        source=str(p),
        meta={"swc_header": header, "swc_units_nm": float(units)},
    )


def write_swc(
    skel: Skeleton,
    path: str | os.PathLike[str],
    *,
    units: float = 1000.0,
    header: bool = True,
) -> Path:
    """Write SWC with coordinates and radii divided by ``units`` (nm per file unit; 1000 =
    microns), in the skeleton's order (parents before children).

    Values are written as the shortest text that reads back to the same float64, so a file
    read and written with the same ``units`` keeps every id, type, parent and coordinate
    (bit-exact when ``units`` is 1 or a power of two). The original header comment lines
    (``meta["swc_header"]``) are kept, followed by our units line. A skeleton moved into a
    frame (``meta["unit"]`` not nm, see :meth:`FrameTransform.apply_skeleton`) is written in
    that frame's unit, which the units line names.
    """

    p = Path(path)
    pid = np.where(skel.parent >= 0, skel.node_ids[np.maximum(skel.parent, 0)], -1)
    unit_name = {1000.0: "micrometer", 1.0: "nanometer"}.get(float(units), f"{units:g} nm")
    frame_unit = str(skel.meta.get("unit", "nm"))
    if frame_unit != "nm":  # vertices already in a frame's unit (e.g. minnie65 µm): as they are
        units = 1.0
        frame = skel.meta.get("frame", {})
        unit_name = (
            f"{frame_unit} ({frame.get('name', 'frame')} {frame.get('version', '')})".strip()
        )
    lines: list[str] = []
    if header:
        ours = "# written by connectoscope; units: "
        lines += [h for h in skel.meta.get("swc_header", []) if not h.startswith(ours)]
        lines.append(f"{ours}{unit_name}")
    v = skel.vertices / units
    r = skel.features["radius"] / units
    c = skel.features["compartment"]
    for i in range(len(skel)):
        lines.append(
            f"{skel.node_ids[i]} {int(c[i])} {_fmt(v[i, 0])} {_fmt(v[i, 1])} {_fmt(v[i, 2])} "
            f"{_fmt(r[i])} {pid[i]}"
        )
    return write_text_atomic(p, "\n".join(lines) + "\n")
