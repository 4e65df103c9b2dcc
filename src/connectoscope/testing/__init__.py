"""Test helpers: loaders for the real data in ``../shared/data`` and hypothesis strategies.

Real data is found through ``CONNECTOSCOPE_SHARED_DATA`` or the folder ``../shared/data``
beside the project checkout (searched upwards from the current directory). When a file is
missing the test *fails* under ``CI=true`` and is skipped (with the reason shown) otherwise.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "load_pinky40",
    "reference",
    "require_shared",
    "run_benchmark",
    "shared_data_dir",
]


def shared_data_dir() -> Path | None:
    """The real-data folder, or ``None`` when it cannot be found."""
    env = os.environ.get("CONNECTOSCOPE_SHARED_DATA")
    if env:
        p = Path(env)
        return p if p.is_dir() else None
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        cand = d.parent / "shared" / "data"
        if cand.is_dir():
            return cand
        cand = d / "shared" / "data"
        if cand.is_dir():
            return cand
    pkg = Path(__file__).resolve()
    for d in pkg.parents:
        cand = d.parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return None


def require_shared(relpath: str) -> Path:
    """Path of a file under the real-data folder.

    Fails the calling test under ``CI=true`` when it is missing; skips it otherwise.
    """
    import pytest

    base = shared_data_dir()
    p = base / relpath if base is not None else None
    if p is None or not p.exists():
        msg = (
            f"real data file {relpath!r} not found (looked in {base or '../shared/data'}; "
            "set CONNECTOSCOPE_SHARED_DATA)"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)
    return p


def run_benchmark(
    script: str | os.PathLike[str], *args: str, expect: tuple[str, ...] = (), timeout: float = 300
) -> str:
    """Run a benchmark script in a fresh interpreter and check its report (smoke tests).

    Parameters
    ----------
    script : path
        The script, e.g. ``benchmarks/bench_volume.py`` (relative to the project root).
    *args : str
        Its options (``--quick``, ``--smoke``).
    expect : tuple of str
        Texts every one of which must appear in its standard output (the names of the
        ratio lines); ``ratio`` must always appear.
    timeout : float
        Seconds before the run counts as failed.

    Returns
    -------
    str
        The script's standard output.
    """
    import subprocess
    import sys

    path = Path(script)
    if not path.is_absolute():  # the project root: the working directory or this checkout
        roots = (Path.cwd(), Path(__file__).resolve().parents[3])
        path = next((r / path for r in roots if (r / path).is_file()), roots[0] / path)
    r = subprocess.run(
        [sys.executable, str(path), *args], capture_output=True, text=True, timeout=timeout
    )
    assert r.returncode == 0, f"{path.name} exited {r.returncode}: {r.stderr[-2000:]}"
    missing = [t for t in (*expect, "ratio") if t not in r.stdout]
    assert not missing, f"{path.name}: no {missing} in its output:\n{r.stdout}"
    return r.stdout


def reference(folder: str) -> dict[str, Any]:
    """The ``reference.json`` of a real-data folder (``pinky40``, ``celegans``...)."""
    return json.loads(require_shared(f"{folder}/reference.json").read_text())


def load_pinky40(which: str = "mip2") -> np.ndarray:
    """A pinky40 label volume as a C-contiguous ``[z, y, x]`` uint32 array.

    Parameters
    ----------
    which : {"mip2", "mip3", "crop"}
    """
    names = {
        "mip2": "mip2_16x16x40_xyz_uint32.npz",
        "mip3": "mip3_32x32x40_xyz_uint32.npz",
        "crop": "crop_256x256x64_xyz_uint32.npz",
    }
    p = require_shared(f"pinky40/{names[which]}")
    with np.load(p) as f:
        arr = f["labels"]
    return np.ascontiguousarray(arr.T)
