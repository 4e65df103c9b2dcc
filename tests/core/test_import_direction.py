"""Modules import downward only: the floor imports nothing above it, layers import lower
layers (never their peers' or higher ones), and only the applications on top import the
``Dataset`` facade. Checked on the source (every import statement, function-level and
type-only ones included), so a cycle cannot come back unnoticed."""

import ast
from pathlib import Path

import connectoscope

SRC = Path(connectoscope.__file__).parent

#: Rank of each top-level module or package (lower = deeper in the floor).
RANK = {
    "errors": 0,
    "_config": 0,
    "_progress": 1,
    "_atomic": 1,
    "_deps": 1,
    "_kvstore": 1,
    "geometry": 1,
    "colors": 1,
    "_workers": 1,
    "parallel": 2,
    "_store": 2,
    "_lock": 3,
    "precomputed": 3,
    "sources": 4,
    "volume": 5,
    "segmentation": 6,
    "surfaces": 7,
    "morphology": 7,
    "connectome": 7,
    "render": 8,
    "export": 8,
    "cave": 8,
    "fetch": 8,
    "transform": 8,
    "dataset": 9,
    "viewer": 10,
    "_inspect": 10,
    "__init__": 10,
    "demo": 11,
    "cli": 12,
    "testing": 12,
    "__main__": 13,
}
#: Allowed imports between peers of the same rank (documented exceptions, none today).
PEERS: set[tuple[str, str]] = set()
#: The only places that may import the Dataset facade.
FACADE_USERS = {"dataset", "cli", "demo", "viewer", "_inspect", "testing", "__init__"}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports():
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        mod = ".".join(parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".")
                    if not is_pkg:
                        base = base[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                names = [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                for a in node.names:
                    yield mod, a.name, [], node.lineno
                continue
            else:
                continue
            yield mod, target, names, node.lineno


def test_modules_import_downward_only():
    bad = []
    for mod, target, _names, line in _imports():
        if not target.startswith("connectoscope"):
            continue
        src, dst = _top(mod), _top(target)
        if target == "connectoscope":  # `from connectoscope import X`: the top-level API
            dst = "__init__"
        if src == dst or (src, dst) in PEERS:
            continue
        if src not in RANK or dst not in RANK:
            bad.append(f"{mod}:{line} -> {target}: module not ranked in this test")
        elif RANK[dst] >= RANK[src]:
            bad.append(f"{mod}:{line} imports {target} (rank {RANK[dst]} >= {RANK[src]})")
    assert not bad, "\n".join(bad)


def test_only_the_top_imports_the_dataset_facade():
    bad = [
        f"{mod}:{line}"
        for mod, target, names, line in _imports()
        if (target == "connectoscope.dataset" or (target == "connectoscope" and "Dataset" in names))
        and _top(mod) not in FACADE_USERS
    ]
    assert not bad, "these modules import Dataset (take a Store instead): " + ", ".join(bad)


def test_the_layers_load_without_the_facade():
    # a fresh interpreter importing the floor and every layer never loads the facade
    import subprocess
    import sys

    code = (
        "import sys, connectoscope._store, connectoscope.precomputed, connectoscope.sources, "
        "connectoscope.volume, connectoscope.segmentation, connectoscope.surfaces, "
        "connectoscope.connectome, connectoscope.morphology, connectoscope.render, "
        "connectoscope.export; print(sorted(m for m in sys.modules if m.endswith('.dataset') "
        "or m.startswith('connectoscope.cli') or m.startswith('connectoscope.demo')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
