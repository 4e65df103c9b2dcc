import subprocess
import sys

import connectoscope


def test_every_public_name_resolves_and_is_documented():
    for name in connectoscope.__all__:
        obj = getattr(connectoscope, name)
        if callable(obj) and not name.startswith("__"):
            assert obj.__doc__, f"{name} has no docstring"


def test_import_is_light():
    code = "import sys, connectoscope; heavy = [m for m in ('tensorstore', 'pyvista', 'vtk', 'zmesh', 'matplotlib', 'dask', 'numba') if m in sys.modules]; print(heavy)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
