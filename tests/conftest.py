"""Shared test configuration: hypothesis profiles, config reset, headless plotting, and one
summary line for the tests skipped because the real data (``../shared/data``) is missing."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("CONNECTOSCOPE_PROGRESS", "0")

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("nightly", max_examples=1000, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)


@pytest.fixture(autouse=True)
def _reset_config():
    """Every test starts from the default configuration."""
    from connectoscope import config

    config.reset()
    yield
    config.reset()


@pytest.fixture
def rng(request):
    """A numpy Generator seeded per test (from the test's name), reproducible."""
    import zlib

    import numpy as np

    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


# ---------------------------------------------------------------------------- real data skips
_MISSING_REAL_DATA: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Fold every skip for missing real data into one reason at one place.

    ``connectoscope.testing.require_shared`` (and ``run_benchmark``) mark their skips; here
    each such report gets the same location and reason, so ``-ra`` prints them as one line
    ``SKIPPED [N] ...: real data not found: ...`` however many tests and files are missing.
    Under ``CI=true`` nothing is skipped: those tests fail and name the file.
    """
    outcome = yield
    rep = outcome.get_result()
    exc = call.excinfo.value if call.excinfo is not None else None
    missing = getattr(exc, "connectoscope_missing", None)
    if rep.skipped and missing is not None:
        from connectoscope.testing import SHARED_DATA_SKIP, shared_data_dir

        _MISSING_REAL_DATA.append(str(missing))
        reason = SHARED_DATA_SKIP
        if shared_data_dir() is not None:  # the folder is there but lacks these files
            reason = f"real data incomplete ({shared_data_dir()} lacks some files): " + reason
        rep.longrepr = (str(Path(__file__).resolve()), 1, f"Skipped: {reason}")


def pytest_terminal_summary(terminalreporter):
    """Under ``-v``, list which real-data files were missing (the one line above counts them)."""
    if _MISSING_REAL_DATA and terminalreporter.verbosity > 0:
        names = sorted(set(_MISSING_REAL_DATA))
        terminalreporter.write_line(f"real data files missing: {', '.join(names)}")
