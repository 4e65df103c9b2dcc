"""The README runs as written, and so do the docs pages' runnable examples.

The command-line tour (the ``bash`` blocks under "A short tour of the command line") runs line
by line, exactly as written, in one temporary folder; then the Python tour (the ``python``
blocks under "A short tour of the Python API") runs there as one script. A command that fails
fails the test, naming the README line and showing its output.

Nothing reaches the network: ``connectoscope fetch`` runs against a server on 127.0.0.1 that
this test starts (``CONNECTOSCOPE_FETCH_MIRROR``), serving the real files from the shared data
folder when it is there; without it the server serves stand-ins of the same size and the step
must then *refuse* them by checksum (asserted), while the test that the real tables arrive
skips (or fails under ``CI=true``) like every real-data test. ``connectoscope view`` must be
written with ``--screenshot``, ``--state`` or ``--seconds`` (the test cannot look at a browser
and a server would never end).

Docs pages: every fenced block whose info string carries the word ``run`` (```` ```bash run ````,
```` ```python run ````) runs, in page order, in a copy of the folder the README tour leaves
behind (``src/``, ``demo.cscope`` ...); each ``python run`` block is its own script.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import connectoscope
from connectoscope.fetch import load_registry
from connectoscope.testing import require_shared, shared_data_dir

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CLI_SECTION = "## A short tour of the command line"
PY_SECTION = "## A short tour of the Python API"
#: the docs pages that must have runnable examples (more may have them)
DOC_PAGES = ("volume", "objects", "surfaces", "render", "connectome", "morphology")
#: registry datasets the README may fetch -> their folder in the shared data
MIRRORED = {"microns-tutorial-tables": "microns-pinky100"}
STEP_TIMEOUT_S = 600


# ------------------------------------------------------------------------------ markdown
@dataclass(frozen=True)
class Block:
    """One fenced code block: language, the other words of its info string, text, line."""

    lang: str
    tags: tuple[str, ...]
    text: str
    line: int  # line of the first code line, 1-based
    section: str  # the "## ..." heading it sits under


def code_blocks(path: Path) -> list[Block]:
    """The fenced (```) code blocks of a Markdown file, in order."""
    blocks: list[Block] = []
    section = ""
    fence: tuple[str, tuple[str, ...], int] | None = None
    body: list[str] = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if fence is None:
            if line.startswith("## "):
                section = line.strip()
            m = re.match(r"^```\s*([\w+-]*)\s*(.*)$", line)
            if m:
                fence = (m.group(1).lower(), tuple(m.group(2).split()), i + 1)
                body = []
        elif line.startswith("```"):
            blocks.append(Block(fence[0], fence[1], "\n".join(body) + "\n", fence[2], section))
            fence = None
        else:
            body.append(line)
    assert fence is None, f"{path.name}: a code block opened on line {fence[2] - 1} never closes"
    return blocks


@dataclass(frozen=True)
class Command:
    text: str  # as written (continuation lines joined)
    argv: list[str]
    line: int  # README line


def shell_commands(block: Block) -> list[Command]:
    """The commands of a bash block: continuation lines joined, comments and blanks dropped."""
    out: list[Command] = []
    pending: list[str] = []
    first = 0
    for k, raw in enumerate(block.text.splitlines()):
        if not pending:
            first = block.line + k
        pending.append(raw)
        if raw.rstrip().endswith("\\"):
            continue
        text = "\n".join(pending)
        pending = []
        argv = shlex.split(text.replace("\\\n", " "), comments=True)
        if argv:
            out.append(Command(text, argv, first))
    assert not pending, f"line {first}: a continuation line ends the block"
    return out


def section_blocks(path: Path, section: str, lang: str) -> list[Block]:
    found = [b for b in code_blocks(path) if b.section == section and b.lang == lang]
    assert found, f"{path.name}: no {lang} block under {section!r}"
    return found


# ------------------------------------------------------------------------------ running
def _env(tmp: Path, mirror: str) -> dict[str, str]:
    """The environment of every step: this checkout's connectoscope first on PATH and
    PYTHONPATH, no progress bars, headless plots, fetches served from 127.0.0.1."""
    bindir = tmp / ".bin"
    bindir.mkdir(exist_ok=True)
    shim = bindir / "connectoscope"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m connectoscope "$@"\n')
    shim.chmod(0o755)
    env = dict(os.environ)
    src = str(Path(connectoscope.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    env["PATH"] = os.pathsep.join([str(bindir), env.get("PATH", "")])
    env.update(
        CONNECTOSCOPE_PROGRESS="0",
        MPLBACKEND="Agg",
        CONNECTOSCOPE_FETCH_MIRROR=mirror,
        CONNECTOSCOPE_ZENODO_API=f"{mirror}/zenodo-api",
    )
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


@dataclass
class Step:
    command: Command
    rc: int
    output: str
    seconds: float

    def describe(self) -> str:
        return (
            f"README line {self.command.line}: `{self.command.text}` exited {self.rc} "
            f"after {self.seconds:.1f} s:\n{self.output[-4000:]}"
        )


def run_shell(cmd: Command, cwd: Path, env: dict[str, str]) -> Step:
    """One command line, exactly as written, by bash (errors and pipes fail it)."""
    argv = cmd.argv
    if argv[0] == "connectoscope" and len(argv) > 1 and argv[1] == "view":
        assert {"--screenshot", "--state", "--seconds"} & set(argv), (
            f"line {cmd.line}: `connectoscope view` without --screenshot/--state/--seconds "
            "serves until stopped; the tour must show an offline form (--screenshot)"
        )
    t0 = time.perf_counter()
    r = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", cmd.text],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
    )
    return Step(cmd, r.returncode, r.stdout + r.stderr, time.perf_counter() - t0)


def run_python(code: str, line: int, cwd: Path, env: dict[str, str], name: str) -> Step:
    script = cwd / f"_{name}.py"
    script.write_text(code, encoding="utf-8")
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, script.name],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
    )
    cmd = Command(f"python {name} (the block at line {line})", [], line)
    return Step(cmd, r.returncode, r.stdout + r.stderr, time.perf_counter() - t0)


# ------------------------------------------------------------------------------ fetch mirror
class Mirror:
    """A 127.0.0.1 server holding the registry files the README fetches.

    Path ``/HOST/PATH`` serves the file of ``https://HOST/PATH`` (the layout of
    ``CONNECTOSCOPE_FETCH_MIRROR``): the real file from the shared data folder when it is
    there, else a stand-in of the same size (which ``fetch`` must refuse by its checksum).
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.real: dict[str, bool] = {}  # dataset name -> served the real files
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        registry = load_registry()
        base = shared_data_dir()
        for name, folder in MIRRORED.items():
            real = True
            for f in registry[name].resolve_files():
                local = base / folder / f.name if base is not None else None
                if local is not None and local.is_file():
                    body = local.read_bytes()
                else:
                    real = False
                    size = f.size or 1024
                    body = (b"stand-in for " + f.name.encode() + b"\n") * (size // 20 + 1)
                    body = body[:size]
                self.files["/" + f.url.split("://", 1)[1]] = body
            self.real[name] = real

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _fetch_target(argv: list[str]) -> str | None:
    if argv[:2] != ["connectoscope", "fetch"]:
        return None
    names = [a for a in argv[2:] if not a.startswith("-")]
    return names[0] if names else None


# ------------------------------------------------------------------------------ the tour
@dataclass
class Tour:
    folder: Path
    env: dict[str, str] = field(repr=False)
    steps: list[Step] = field(default_factory=list)
    failed: Step | None = None
    fetched: dict[str, Step] = field(default_factory=dict)  # dataset name -> its step
    mirror_real: dict[str, bool] = field(default_factory=dict)
    seconds: float = 0.0


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory):
    """The README's command-line tour, run in order in an empty folder."""
    folder = tmp_path_factory.mktemp("readme-tour")
    mirror = Mirror()
    env = _env(tmp_path_factory.mktemp("readme-env"), mirror.url)
    result = Tour(folder, env, mirror_real=dict(mirror.real))
    t0 = time.perf_counter()
    try:
        for block in section_blocks(README, CLI_SECTION, "bash"):
            for cmd in shell_commands(block):
                assert cmd.argv[0] == "connectoscope", (
                    f"README line {cmd.line}: the tour should hold connectoscope commands only, "
                    f"got {cmd.argv[0]!r}"
                )
                name = _fetch_target(cmd.argv)
                if name is not None:
                    assert name in MIRRORED, (
                        f"README line {cmd.line}: no offline stand-in for `fetch {name}`; "
                        "add it to MIRRORED in tests/test_readme.py"
                    )
                step = run_shell(cmd, folder, env)
                result.steps.append(step)
                if name is not None:
                    result.fetched[name] = step
                    if not mirror.real[name]:
                        continue  # judged by test_cli_tour (a stand-in must be refused)
                if step.rc != 0:
                    result.failed = step
                    break
            if result.failed is not None:
                break
    finally:
        mirror.close()
        result.seconds = time.perf_counter() - t0
    yield result


def _tour_ok(tour: Tour, what: str = "") -> None:
    if tour.failed is not None:
        pytest.fail(what + tour.failed.describe(), pytrace=False)


def test_cli_tour_runs_as_written(tour):
    _tour_ok(tour)
    n = len(tour.steps)
    assert n >= 15, f"the command-line tour has only {n} commands"
    for name, step in tour.fetched.items():
        if tour.mirror_real[name]:
            assert step.rc == 0, step.describe()
        else:  # stand-ins of the right size: the checksum must catch them
            assert step.rc != 0 and "sha256 mismatch" in step.output, step.describe()
    out = tour.folder
    for produced in ("demo.cscope", "n1", "plane.png", "turn.mp4", "conn", "heatmap.png"):
        assert (out / produced).exists(), f"the tour wrote no {produced}"
    print(
        f"README command-line tour: {n} commands in {tour.seconds:.0f} s: "
        + ", ".join(f"{' '.join(s.command.argv[1:3])} {s.seconds:.0f}s" for s in tour.steps)
    )


def test_cli_tour_fetch_gets_the_real_tables(tour):
    """With the real tables at hand (served on 127.0.0.1), the README's fetch verifies and
    keeps them byte for byte."""
    _tour_ok(tour)
    assert tour.fetched, "the README tour fetches nothing"
    for name, step in tour.fetched.items():
        real = require_shared(MIRRORED[name])
        assert step.rc == 0, step.describe()
        target = shlex.split(step.command.text.replace("\\\n", " "), comments=True)
        to = Path(target[target.index("--to") + 1]) if "--to" in target else Path(".")
        got = tour.folder / to / name
        for f in load_registry()[name].resolve_files():
            assert (got / f.name).read_bytes() == (real / f.name).read_bytes()
            assert hashlib.sha256((got / f.name).read_bytes()).hexdigest() == f.checksum.hexdigest


def test_python_tour_runs_as_written(tour):
    _tour_ok(tour, "the command-line tour failed first: ")
    blocks = section_blocks(README, PY_SECTION, "python")
    code = "\n".join(b.text for b in blocks)
    step = run_python(code, blocks[0].line, tour.folder, tour.env, "readme_python_tour")
    assert step.rc == 0, step.describe()
    assert (tour.folder / "copy.cscope").is_dir()


# ------------------------------------------------------------------------------ docs pages
def runnable_pages() -> list[str]:
    return sorted(p.stem for p in DOCS.glob("*.md") if any("run" in b.tags for b in code_blocks(p)))


def test_the_docs_pages_have_runnable_examples():
    missing = [p for p in DOC_PAGES if p not in runnable_pages()]
    assert not missing, (
        f"docs pages without a runnable (```bash run / ```python run) block: {missing}"
    )


@pytest.mark.parametrize("page", runnable_pages())
def test_docs_page_examples_run(page, tour, tmp_path):
    _tour_ok(tour, "the README tour failed first: ")
    folder = tmp_path / "work"
    shutil.copytree(tour.folder, folder, symlinks=True)
    path = DOCS / f"{page}.md"
    for k, block in enumerate(b for b in code_blocks(path) if "run" in b.tags):
        if block.lang in ("bash", "sh", "shell", "console"):
            for cmd in shell_commands(block):
                step = run_shell(cmd, folder, tour.env)
                assert step.rc == 0, f"docs/{page}.md " + step.describe().replace("README ", "")
        elif block.lang == "python":
            step = run_python(block.text, block.line, folder, tour.env, f"{page}_{k}")
            assert step.rc == 0, f"docs/{page}.md " + step.describe()
        else:
            pytest.fail(f"docs/{page}.md line {block.line}: cannot run a {block.lang!r} block")
