"""Optional dependencies: which extra installs which module, and one clear error when one
is missing (``pip install "connectoscope[EXTRA]"``), from the API and the CLI alike."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import DependencyMissingError

__all__ = ["EXTRA_OF", "missing_dependency", "require"]

#: Top-level module -> (extra that installs it, distribution name).
EXTRA_OF: dict[str, tuple[str, str]] = {
    "zmesh": ("mesh", "zmesh"),
    "trimesh": ("mesh", "trimesh"),
    "DracoPy": ("mesh", "DracoPy"),
    "skimage": ("mesh", "scikit-image"),
    "fast_simplification": ("mesh", "fast-simplification"),
    "matplotlib": ("render", "matplotlib"),
    "imageio": ("render", "imageio"),
    "imageio_ffmpeg": ("render", "imageio-ffmpeg"),
    "pyvista": ("render", "pyvista"),
    "vtk": ("render", "vtk"),
    "neuroglancer": ("viewer", "neuroglancer"),
    "playwright": ("viewer", "playwright"),
    "distributed": ("dask", "distributed"),
    "caveclient": ("cave", "caveclient"),
    "kimimaro": ("skeleton", "kimimaro"),
}


def missing_dependency(module: str, feature: str = "") -> DependencyMissingError:
    """The error for a missing optional module, naming the extra that installs it."""
    top = module.split(".")[0]
    extra, dist = EXTRA_OF.get(top, ("all", top))
    what = f"{feature} needs" if feature else "this needs"
    gpl = " (GPL-3.0, an optional extra on purpose)" if extra == "skeleton" else ""
    return DependencyMissingError(
        f"{what} the {dist} package, which is not installed; install it with "
        f'`pip install "connectoscope[{extra}]"`{gpl} (or `pip install {dist}`)'
    )


def require(module: str, feature: str = "") -> ModuleType:
    """Import an optional module, or raise :class:`DependencyMissingError` naming its extra.

    >>> require("numpy").__name__
    'numpy'
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] == module.split(".")[0]:
            raise missing_dependency(module, feature) from e
        raise
