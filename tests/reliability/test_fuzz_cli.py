"""Build 8 of issue 16: a fuzz-style run of hostile inputs across the commands. None may end
in a traceback (an exception escaping the command line), every refusal is one line, and no
command writes outside its sandbox."""

# ruff: noqa: F811  (pytest fixtures imported from reliability_helpers)

from __future__ import annotations

import warnings

from fuzz_corpus import cases
from reliability_helpers import files_under, small_dataset  # noqa: F401 - pytest fixtures

from connectoscope.cli import main


def run_case(argv, capsys):
    """(outcome, stderr) with outcome ok | refused | traceback."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # as on the command line: warnings are not errors
            rc = main(argv)
    except SystemExit as e:  # argparse refusals: "error: argument --x: ..." and exit 2
        rc = e.code
    except BaseException as e:
        return "traceback", f"{type(e).__name__}: {e}"
    err = capsys.readouterr().err
    if rc == 0:
        return "ok", err
    lines = [ln for ln in err.splitlines() if "error" in ln]
    if rc in (1, 2) and lines and "Traceback" not in err:
        return "refused", lines[-1]
    return "traceback", err


def test_hostile_inputs_never_give_a_traceback_or_write_outside(tmp_path, small_dataset, capsys):
    outside = tmp_path / "outside"
    sandbox = outside / "sandbox"
    sandbox.mkdir(parents=True)
    corpus = cases(sandbox, small_dataset)
    assert len(corpus) >= 50
    before_outside = files_under(outside.parent) - {
        f for f in files_under(outside.parent) if f.startswith("outside/sandbox/")
    }
    bad = []
    counts = {"ok": 0, "refused": 0, "traceback": 0}
    for name, argv in corpus:
        outcome, msg = run_case(argv, capsys)
        counts[outcome] += 1
        if outcome == "traceback":
            bad.append(f"{name}: {msg[-300:]}")
    after = files_under(outside.parent)
    escaped = {f for f in after if not f.startswith("outside/sandbox/")} - before_outside
    print(f"\nfuzz: {len(corpus)} hostile inputs: {counts}")
    assert bad == [], "\n".join(bad)
    assert escaped == set(), escaped
    assert counts["refused"] > len(corpus) // 2
