"""Test helpers: loaders for the real data in ``../shared/data`` and benchmark smoke runs.

Real data is found through ``CONNECTOSCOPE_SHARED_DATA`` or the folder ``../shared/data``
beside the project checkout (searched upwards from the current directory and from this
package). What the folder holds and where each piece comes from: README.md, section "Real
data for the tests".

When a file is missing, a test that needs it *fails* under ``CI=true`` (naming the file) and
is skipped otherwise; the tests' ``conftest.py`` folds every such skip into one summary line
(:data:`SHARED_DATA_SKIP`). A benchmark script that needs a missing file exits with code
:data:`MISSING_DATA_EXIT` and one line on standard error; :func:`run_benchmark` turns that
into the same skip (or failure under ``CI=true``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

__all__ = [
    "MISSING_DATA_EXIT",
    "SHARED_DATA_SKIP",
    "in_ci",
    "load_pinky40",
    "reference",
    "require_shared",
    "run_benchmark",
    "shared_data_dir",
]

#: Exit code of a benchmark script whose real data is missing (as automake's "skipped").
MISSING_DATA_EXIT = 77

#: The reason of every test skipped for want of the real-data folder (one summary line).
SHARED_DATA_SKIP = (
    "real data not found: put the shared data folder at ../shared/data beside the checkout "
    "or set CONNECTOSCOPE_SHARED_DATA (README.md, 'Real data for the tests', says what it "
    "holds and where each piece comes from); under CI=true these tests fail instead"
)


def in_ci() -> bool:
    """True under ``CI=true`` (also ``1``/``yes``): missing real data is a failure there."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def shared_data_dir() -> Path | None:
    """The real-data folder, or ``None`` when it cannot be found.

    ``CONNECTOSCOPE_SHARED_DATA`` wins when set (``None`` when it names no folder); else the
    first ``shared/data`` beside or inside the current directory or one of its parents, or
    beside this package's checkout.
    """
    env = os.environ.get("CONNECTOSCOPE_SHARED_DATA")
    if env:
        p = Path(env).expanduser()
        return p if p.is_dir() else None
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        for cand in (d.parent / "shared" / "data", d / "shared" / "data"):
            if cand.is_dir():
                return cand
    pkg = Path(__file__).resolve()
    for d in pkg.parents:
        cand = d.parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return None


def _where_looked() -> str:
    env = os.environ.get("CONNECTOSCOPE_SHARED_DATA")
    if env:
        return f"CONNECTOSCOPE_SHARED_DATA={env}"
    return "../shared/data beside the checkout (CONNECTOSCOPE_SHARED_DATA unset)"


def _missing_shared(relpath: str, base: Path | None) -> NoReturn:
    """Fail (CI), skip (pytest) or exit :data:`MISSING_DATA_EXIT` (a script) for ``relpath``."""
    where = str(base) if base is not None else _where_looked()
    detail = (
        f"real data file {relpath!r} not found in {where}; see README.md, "
        "'Real data for the tests' (or set CONNECTOSCOPE_SHARED_DATA)"
    )
    if "pytest" not in sys.modules:  # a benchmark script: one line, a distinct exit code
        print(f"missing real data: {detail}", file=sys.stderr)
        raise SystemExit(MISSING_DATA_EXIT)
    _skip_or_fail(detail, folder_missing=base is None, relpath=relpath)


def _skip_or_fail(detail: str, *, folder_missing: bool, relpath: str) -> NoReturn:
    import pytest

    if in_ci():
        pytest.fail(f"{detail} (CI=true: real data is required)")
    # the whole folder missing: one reason for every test, so the summary shows one line
    exc = pytest.skip.Exception(SHARED_DATA_SKIP if folder_missing else detail)
    exc.connectoscope_missing = relpath  # type: ignore[attr-defined]
    raise exc


def require_shared(relpath: str) -> Path:
    """Path of a file or folder under the real-data folder.

    Fails the calling test under ``CI=true`` when it is missing and skips it otherwise; in a
    script (no pytest) prints one line and exits with :data:`MISSING_DATA_EXIT`.
    """
    base = shared_data_dir()
    p = base / relpath if base is not None else None
    if p is None or not p.exists():
        _missing_shared(relpath, base)
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

    path = Path(script)
    if not path.is_absolute():  # the project root: the working directory or this checkout
        roots = (Path.cwd(), Path(__file__).resolve().parents[3])
        path = next((r / path for r in roots if (r / path).is_file()), roots[0] / path)
    r = subprocess.run(
        [sys.executable, str(path), *args], capture_output=True, text=True, timeout=timeout
    )
    if r.returncode == MISSING_DATA_EXIT:  # the script's real data is missing: skip or fail
        line = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        base = shared_data_dir()
        _skip_or_fail(f"{path.name}: {line}", folder_missing=base is None, relpath=path.name)
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
