"""What a path holds: a dataset, a folder of L4dense cubes, a single HDF5/NPY/NPZ file.

Used by ``connectoscope info``; :func:`describe` returns a JSON-ready dict and
:func:`format_description` turns it into the text the command prints.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .dataset import Dataset, is_dataset
from .errors import DataFormatError, SourceNotFoundError

__all__ = ["describe", "format_description"]


def _human(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(nbytes) < 1024 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TB"  # pragma: no cover


def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe what ``path`` contains.

    Parameters
    ----------
    path : path-like
        A dataset directory, a folder of ``x{i}y{j}z{k}.hdf5`` cubes (or a folder holding
        ``color/`` and ``segmentation/`` cube folders, as L4dense and ``connectoscope synth``
        write), an HDF5 file, or a ``.npy``/``.npz`` file.

    Returns
    -------
    dict
        ``{"type": "dataset" | "cube-folder" | "l4dense-folder" | "hdf5" | "npy" | "npz", ...}``

    Raises
    ------
    SourceNotFoundError
        The path does not exist or holds nothing recognisable.
    DataFormatError
        A file is unreadable or truncated.
    """
    from .sources._foreign import describe_foreign

    foreign = describe_foreign(path)  # precomputed / webKnossos layers, remote URLs
    if foreign is not None:
        return foreign
    p = Path(path)
    if not p.exists():
        raise SourceNotFoundError(f"{p}: no such file or folder")
    if p.is_dir():
        if is_dataset(p):
            return _describe_dataset(Dataset(p))
        subs = {d: p / d for d in ("color", "segmentation") if (p / d).is_dir()}
        if subs:
            out: dict[str, Any] = {"type": "l4dense-folder", "path": str(p), "layers": {}}
            for name, sp in subs.items():
                out["layers"][name] = _describe_cubes(sp)
            out["extra_files"] = sorted(
                f.name for f in p.iterdir() if f.is_file() and not f.name.startswith(".")
            )
            return out
        try:
            return _describe_cubes(p)
        except SourceNotFoundError:
            raise SourceNotFoundError(
                f"{p}: no recognisable data. Expected a connectoscope dataset (with "
                "connectoscope.json), a folder of x{i}y{j}z{k}.hdf5 cubes, a folder with color/ "
                "and segmentation/ cube folders, an HDF5 file or a .npy/.npz file."
            ) from None
    suffix = p.suffix.lower()
    if suffix in (".h5", ".hdf5", ".cmap", ".hdf"):
        return _describe_hdf5(p)
    if suffix == ".npy":
        try:
            arr = np.load(p, mmap_mode="r")
        except (OSError, ValueError) as e:
            raise DataFormatError(f"{p}: unreadable .npy file ({e})") from e
        return {
            "type": "npy",
            "path": str(p),
            "shape": list(arr.shape),
            "dtype": str(arr.dtype),
            "disk_bytes": p.stat().st_size,
        }
    if suffix == ".npz":
        try:
            with np.load(p) as f:
                arrays = {}
                for k in f.files:
                    a = f[k]
                    arrays[k] = {"shape": list(a.shape), "dtype": str(a.dtype)}
        except (OSError, ValueError, EOFError) as e:
            raise DataFormatError(f"{p}: unreadable .npz file ({e})") from e
        return {"type": "npz", "path": str(p), "arrays": arrays, "disk_bytes": p.stat().st_size}
    raise SourceNotFoundError(
        f"{p}: unrecognised file type {suffix or '(none)'}; expected .h5/.hdf5/.cmap, .npy or "
        ".npz, a cube folder or a dataset directory"
    )


def _describe_cubes(p: Path) -> dict[str, Any]:
    from .sources.l4dense import CubeFolder

    cf = CubeFolder(p)
    b = cf.bbox
    return {
        "type": "cube-folder",
        "path": str(p),
        "cubes": len(cf),
        "cube_edge": cf.edge,
        "dtype": str(cf.dtype),
        "grid_shape_xyz": list(cf.grid_shape),
        "bbox_vx": b.to_dict(),
        "shape_xyz": list(b.size),
        "missing": [f"x{i}y{j}z{k}" for i, j, k in cf.missing],
        "skipped": [s.name for s in cf.skipped],
        "nbytes": cf.nbytes(),
        "disk_bytes": cf.disk_bytes(),
    }


def _describe_hdf5(p: Path) -> dict[str, Any]:
    import h5py

    datasets: dict[str, Any] = {}
    try:
        with h5py.File(p, "r") as f:

            def visit(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset):
                    datasets["/" + name] = {"shape": list(obj.shape), "dtype": str(obj.dtype)}

            f.visititems(visit)
    except OSError as e:
        raise DataFormatError(
            f"{p}: cannot open as HDF5 ({e}); the file may be truncated or corrupt"
        ) from e
    return {"type": "hdf5", "path": str(p), "datasets": datasets, "disk_bytes": p.stat().st_size}


def _describe_dataset(ds: Dataset) -> dict[str, Any]:
    vs = ds.voxel_size
    meta = ds.metadata
    return {
        "type": "dataset",
        "path": str(ds.path),
        "name": ds.name,
        "format_version": meta.get("format_version"),
        "voxel_size_nm": list(vs.xyz),
        "offset_vx": list(ds.offset_vx),
        "layers": meta.get("layers", {}),
        "provenance": [p.get("step") for p in meta.get("provenance", [])],
        "disk_bytes": ds.disk_usage(),
        "shards": _shard_checks(ds),
    }


#: ``info`` compares the shards of layers up to this size with their completion records.
INFO_MAX_SHARDS = 20_000


def _shard_checks(ds: Dataset) -> dict[str, str]:
    """Per volume layer: one line on its shards against their records (``verify`` does the
    same for any size, and checksums)."""
    from .volume._verify import check_layer, volume_layers

    out = {}
    for name in volume_layers(ds):
        levels = ds.layer(name)["levels"]
        n = 0
        for lev in levels:
            grid = [-(-a // b) for a, b in zip(lev["shape_zyx"], lev["shard_zyx"])]
            n += grid[0] * grid[1] * grid[2]
        if n > INFO_MAX_SHARDS:
            out[name] = f"{n} shards: run `connectoscope verify {ds.path}` to check them"
            continue
        c = check_layer(ds, name)
        if c.problems:
            kinds: dict[str, int] = {}
            for p in c.problems:
                kinds[p.problem] = kinds.get(p.problem, 0) + 1
            what = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
            out[name] = (
                f"DAMAGED: {what} of {c.shards} shards; their data would read as zeros: run "
                f"`connectoscope verify {ds.path} --repair`"
            )
        else:
            out[name] = f"{c.shards} shards checked against their records"
    return out


def format_description(d: dict[str, Any]) -> str:
    """Human-readable text for a :func:`describe` result."""
    lines: list[str] = []
    t = d["type"]
    if d.get("foreign"):
        from .sources._foreign import format_foreign

        return format_foreign(d)
    if t == "dataset":
        vs = d["voxel_size_nm"]
        lines.append(f"dataset {d['name']!r} at {d['path']} (format {d['format_version']})")
        lines.append(f"  voxel size: {vs[0]:g} x {vs[1]:g} x {vs[2]:g} nm (x, y, z)")
        lines.append(f"  offset: {tuple(d['offset_vx'])} voxels")
        if not d["layers"]:
            lines.append("  layers: none yet (add some with `connectoscope ingest`)")
        for name, layer in d["layers"].items():
            kind = layer.get("kind", "?")
            status = "" if layer.get("complete", True) else "  [INCOMPLETE: re-run to resume]"
            lines.append(f"  layer {name} ({kind}){status}")
            if "dtype" in layer:
                lines.append(f"    dtype: {layer['dtype']}")
            if name in d.get("shards", {}):
                lines.append(f"    shards: {d['shards'][name]}")
            for i, lev in enumerate(layer.get("levels", [])):
                shp = lev.get("shape_zyx")
                vsl = lev.get("voxel_size_nm")
                xyz = f"{shp[2]} x {shp[1]} x {shp[0]}" if shp else "?"
                vtxt = f"{vsl[0]:g} x {vsl[1]:g} x {vsl[2]:g} nm" if vsl else ""
                lines.append(f"    level {i}: {xyz} voxels (x, y, z)  {vtxt}")
            if "kinds" in layer:
                counts = ", ".join(f"{k}: {v}" for k, v in layer["kinds"].items())
                lines.append(f"    objects per kind: {counts}")
            for key in (
                "n_segments",
                "n_synapses",
                "n_cells",
                "n_pairs",
                "n_skeletons",
                "n_meshes",
            ):
                if key in layer:
                    lines.append(f"    {key.removeprefix('n_')}: {layer[key]}")
        if d["provenance"]:
            lines.append(f"  steps: {' -> '.join(d['provenance'])}")
        total = sum(d["disk_bytes"].values())
        lines.append(f"  on disk: {_human(total)}")
        for k, v in d["disk_bytes"].items():
            lines.append(f"    {k}: {_human(v)}")
    elif t in ("cube-folder", "l4dense-folder"):
        layers = d["layers"] if t == "l4dense-folder" else {Path(d["path"]).name: d}
        if t == "l4dense-folder":
            lines.append(f"L4dense-style folder {d['path']}")
        for name, c in layers.items():
            shp = c["shape_xyz"]
            lines.append(
                f"  {name}: {c['cubes']} cube files of {c['cube_edge']}^3 {c['dtype']}, "
                f"grid {c['grid_shape_xyz'][0]} x {c['grid_shape_xyz'][1]} x "
                f"{c['grid_shape_xyz'][2]}, extent {shp[0]} x {shp[1]} x {shp[2]} voxels (x, y, z)"
            )
            lines.append(f"    raw {_human(c['nbytes'])}, on disk {_human(c['disk_bytes'])}")
            if c["missing"]:
                lines.append(
                    f"    missing grid positions (read as background): {', '.join(c['missing'])}"
                )
            if c["skipped"]:
                lines.append(
                    f"    skipped files (name not x{{i}}y{{j}}z{{k}}.hdf5): {', '.join(c['skipped'])}"
                )
        if t == "l4dense-folder" and d.get("extra_files"):
            lines.append(f"  other files: {', '.join(d['extra_files'])}")
    elif t == "hdf5":
        lines.append(f"HDF5 file {d['path']} ({_human(d['disk_bytes'])})")
        for name, info in d["datasets"].items():
            lines.append(f"  {name}: shape {tuple(info['shape'])} {info['dtype']}")
    elif t == "npy":
        lines.append(f"NumPy file {d['path']}: shape {tuple(d['shape'])} {d['dtype']}")
    elif t == "npz":
        lines.append(f"NumPy archive {d['path']}:")
        for name, info in d["arrays"].items():
            lines.append(f"  {name}: shape {tuple(info['shape'])} {info['dtype']}")
    return "\n".join(lines)
