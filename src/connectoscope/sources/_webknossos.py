"""webKnossos datasets and annotations as sources.

**Dataset folder**: ``datasource-properties.json`` lists ``dataLayers``; each has a ``name``,
``category`` (``color`` / ``segmentation``), ``elementClass``, ``boundingBox``
(``topLeft`` x, y, z and ``width``/``height``/``depth``, voxels of mag 1), ``dataFormat``
(``wkw``, ``zarr3`` or ``zarr``), its mags (``mags: [{"mag": [2, 2, 1], "path": ...}]``, or the
older ``wkwResolutions``) and, for segmentation layers, ``largestSegmentId``. The dataset's
voxel size is ``scale`` (nm, x, y, z). A mag ``(mx, my, mz)`` holds voxel ``(x, y, z)`` of mag 1
at ``(x // mx, y // my, z // mz)``; its arrays are indexed in absolute coordinates (Zarr:
``[c, x, y, z]`` per ``dimension_names``; WKW: files ``z{k}/y{j}/x{i}.wkw`` of
``file_len * block_len`` voxels, read through the ``wkw`` package, MIT).

**Annotation zip** (what webKnossos downloads): an ``.nml`` (skeleton trees) and a nested
``data*_Volume.zip`` holding the volume annotation (a WKW or Zarr v3 layer with one folder per
mag). The nested zip is extracted once into a cache folder (``CONNECTOSCOPE_CACHE_DIR`` or the
system temp folder). Its box is the union of the stored cubes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    DataFormatError,
    DependencyMissingError,
    InvalidParameterError,
    SourceNotFoundError,
)
from ..geometry import Bbox, int3
from ._base import BaseSource

__all__ = [
    "WebKnossosSource",
    "describe_webknossos",
    "is_webknossos",
    "open_webknossos",
]

PROPERTIES = "datasource-properties.json"


def is_webknossos(path: str | os.PathLike[str]) -> bool:
    """A webKnossos dataset folder (or a layer folder inside one), or an annotation zip."""
    p = Path(os.fspath(path))
    if p.is_dir():
        return (p / PROPERTIES).is_file() or (p.parent / PROPERTIES).is_file()
    if p.suffix.lower() == ".zip" and p.is_file():
        try:
            with zipfile.ZipFile(p) as z:
                return any(n.lower().endswith(".nml") for n in z.namelist())
        except zipfile.BadZipFile:
            return False
    return False


def _mag_text(m: tuple[int, int, int]) -> str:
    return "-".join(map(str, m)) if len(set(m)) > 1 else str(m[0])


def _parse_mag(text: Any) -> tuple[int, int, int]:
    if isinstance(text, list | tuple):
        v = [int(x) for x in text]
    else:
        parts = [x for x in re.split(r"[-,x_]", str(text).strip()) if x]
        try:
            v = [int(x) for x in parts]
        except ValueError:
            raise InvalidParameterError(f"mag {text!r}: expected 1, 2-2-1 or 2,2,1") from None
    if len(v) == 1:
        v = v * 3
    if len(v) != 3 or min(v) < 1:
        raise InvalidParameterError(f"mag {text!r}: expected 1, 2-2-1 or 2,2,1")
    return (v[0], v[1], v[2])


def _layer_mags(layer: dict[str, Any], root: Path) -> list[tuple[tuple[int, int, int], Path]]:
    out = []
    name = str(layer["name"])
    for m in layer.get("mags", []) or []:
        mag = _parse_mag(m.get("mag"))
        rel = m.get("path")
        out.append((mag, (root / rel) if rel else root / name / _mag_text(mag)))
    for r in layer.get("wkwResolutions", []) or []:
        mag = _parse_mag(r.get("resolution"))
        out.append((mag, root / name / _mag_text(mag)))
    if not out:  # discover mag folders
        d = root / name
        if d.is_dir():
            for c in sorted(d.iterdir()):
                if c.is_dir() and re.fullmatch(r"\d+(-\d+-\d+)?", c.name):
                    out.append((_parse_mag(c.name), c))
    out.sort(key=lambda t: (math.prod(t[0]), t[0]))
    return out


@dataclass
class WebKnossosSource(BaseSource):
    """One mag of one layer (a box of it). ``offset_vx`` is the box start in voxels of that
    mag; ``voxel_size_nm`` is the mag's voxel size; ``largest_segment_id`` as declared."""

    data_format: str = "zarr3"
    mag_path: str = ""
    mag: tuple[int, int, int] = (1, 1, 1)
    layer_name: str = ""
    category: str = "color"
    voxel_size_nm: tuple[float, float, float] = (1.0, 1.0, 1.0)
    largest_segment_id: int | None = None
    axes_order: tuple[int, int, int, int] = (0, 1, 2, 3)  # positions of c, x, y, z
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["_cache"] = {}
        return d

    @property
    def description(self) -> str:
        z, y, x = self.shape_zyx
        o = self.offset_vx
        return (
            f"webknossos {self.path} layer {self.layer_name} mag {_mag_text(self.mag)} "
            f"[{o[0]},{o[1]},{o[2]}:{o[0] + x},{o[1] + y},{o[2] + z}]"
        )

    def read(self, start_zyx: tuple[int, int, int], stop_zyx: tuple[int, int, int]) -> np.ndarray:
        ox, oy, oz = self.offset_vx
        lo = (start_zyx[2] + ox, start_zyx[1] + oy, start_zyx[0] + oz)
        hi = (stop_zyx[2] + ox, stop_zyx[1] + oy, stop_zyx[0] + oz)
        if self.data_format == "wkw":
            ds = self._wkw()
            arr = ds.read(lo, tuple(b - a for a, b in zip(lo, hi)))  # (c, x, y, z)
            return np.ascontiguousarray(arr[0].transpose(2, 1, 0)).astype(self.dtype, copy=False)
        t = self._zarr()
        c, xi, yi, zi = self.axes_order
        idx: list[Any] = [slice(None)] * 4 if t.rank == 4 else [slice(None)] * 3
        if t.rank == 4:
            idx[c] = 0
        idx[xi - (0 if t.rank == 4 else 1)] = slice(lo[0], hi[0])
        idx[yi - (0 if t.rank == 4 else 1)] = slice(lo[1], hi[1])
        idx[zi - (0 if t.rank == 4 else 1)] = slice(lo[2], hi[2])
        arr = np.asarray(t[tuple(idx)].read().result())  # remaining axes in x, y, z order
        order = np.argsort([xi, yi, zi])  # positions of x, y, z among the remaining axes
        xyz = arr.transpose(tuple(int(i) for i in order))
        return np.ascontiguousarray(xyz.transpose(2, 1, 0))

    def _wkw(self) -> Any:
        ds = self._cache.get("wkw")
        if ds is None:
            wkw = _import_wkw()
            ds = wkw.Dataset.open(self.mag_path)
            self._cache["wkw"] = ds
        return ds

    def _zarr(self) -> Any:
        t = self._cache.get("zarr")
        if t is None:
            import tensorstore as ts

            driver = "zarr3" if self.data_format in ("zarr3", "zarr3-sharded") else "zarr"
            try:
                t = ts.open(
                    {"driver": driver, "kvstore": {"driver": "file", "path": self.mag_path + "/"}},
                    read=True,
                ).result()
            except Exception as err:
                raise DataFormatError(
                    f"{self.mag_path}: cannot open the {driver} array ({str(err).splitlines()[0]})"
                ) from None
            self._cache["zarr"] = t
        return t


_LOCK = threading.Lock()


def _import_wkw() -> Any:
    try:
        import wkw
    except ImportError:
        raise DependencyMissingError(
            "WKW layers need the `wkw` package (MIT): pip install wkw"
        ) from None
    return wkw


def _read_properties(root: Path) -> dict[str, Any]:
    try:
        props = json.loads((root / PROPERTIES).read_text())
    except (OSError, ValueError) as err:
        raise DataFormatError(f"{root / PROPERTIES}: unreadable ({err})") from None
    if not isinstance(props, dict) or not isinstance(props.get("dataLayers"), list):
        raise DataFormatError(f"{root / PROPERTIES}: no dataLayers list")
    return props


def _scale(props: dict[str, Any], where: Path) -> tuple[float, float, float]:
    s = props.get("scale")
    if isinstance(s, dict):
        unit = str(s.get("unit", "nanometer")).lower()
        f = [float(v) for v in s.get("factor", [])]
        mult = {"nanometer": 1.0, "nm": 1.0, "micrometer": 1e3, "µm": 1e3, "picometer": 1e-3}
        if unit not in mult:
            raise DataFormatError(f"{where}: scale unit {unit!r} is not supported")
        f = [v * mult[unit] for v in f]
    else:
        f = [float(v) for v in (s or [])]
    if len(f) != 3:
        raise DataFormatError(f"{where}: no voxel size (scale) in {PROPERTIES}")
    return (f[0], f[1], f[2])


def _layer_box(layer: dict[str, Any]) -> Bbox:
    bb = layer.get("boundingBox") or {}
    tl = [int(v) for v in bb.get("topLeft", [0, 0, 0])]
    size = (int(bb.get("width", 0)), int(bb.get("height", 0)), int(bb.get("depth", 0)))
    return Bbox((tl[0], tl[1], tl[2]), (tl[0] + size[0], tl[1] + size[1], tl[2] + size[2]))


def _zarr_axes(mag_path: Path) -> tuple[int, int, int, int]:
    meta = mag_path / "zarr.json"
    names: list[str] | None = None
    if meta.is_file():
        try:
            names = json.loads(meta.read_text()).get("dimension_names")
        except ValueError:
            names = None
    if not names:
        return (0, 1, 2, 3)
    names = [str(n).lower() if n is not None else "" for n in names]
    if len(names) == 3:
        return (-1, names.index("x") + 1, names.index("y") + 1, names.index("z") + 1)
    try:
        return (names.index("c"), names.index("x"), names.index("y"), names.index("z"))
    except ValueError:
        raise DataFormatError(f"{meta}: dimension_names {names}; expected c, x, y, z") from None


def open_webknossos(
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    mag: Any = None,
    bbox: Bbox | str | None = None,
) -> WebKnossosSource:
    """Open one layer and mag of a webKnossos dataset folder or annotation zip.

    Parameters
    ----------
    path : path-like
        The dataset folder (with ``datasource-properties.json``), a layer folder inside it
        (then ``layer`` is that folder's name), or an annotation ``.zip`` (its volume
        annotation).
    layer : str, optional
        Layer name; needed when the dataset has several (the message lists them).
    mag : str or (3,) int, optional
        ``1``, ``2-2-1`` or ``(2, 2, 1)``; default the finest.
    bbox : Bbox or str, optional
        ``x0,y0,z0:x1,y1,z1`` in voxels of that mag; default the layer's bounding box.

    Returns
    -------
    WebKnossosSource
    """
    p = Path(os.fspath(path))
    if p.suffix.lower() == ".zip" and p.is_file():
        return _open_annotation_volume(p, mag=mag, bbox=bbox)
    if not (p / PROPERTIES).is_file() and (p.parent / PROPERTIES).is_file():
        layer = layer or p.name
        p = p.parent
    if not (p / PROPERTIES).is_file():
        raise SourceNotFoundError(f"{p}: not a webKnossos dataset (no {PROPERTIES})")
    props = _read_properties(p)
    layers = {str(d.get("name")): d for d in props["dataLayers"]}
    if layer is None:
        if len(layers) != 1:
            raise InvalidParameterError(
                f"{p}: holds layers {', '.join(layers)}; name one as {p}/NAME (e.g. "
                f"{p}/{next(iter(layers))})"
            )
        layer = next(iter(layers))
    if layer not in layers:
        raise InvalidParameterError(f"{p}: no layer {layer!r}; layers: {', '.join(layers)}")
    d = layers[layer]
    mags = _layer_mags(d, p)
    if not mags:
        raise DataFormatError(f"{p}: layer {layer} lists no mags and has no mag folders")
    if mag is None:
        mg, mp = mags[0]
    else:
        want = _parse_mag(mag)
        hit = [t for t in mags if t[0] == want]
        if not hit:
            raise InvalidParameterError(
                f"{p}: layer {layer} has no mag {_mag_text(want)}; mags: "
                + ", ".join(_mag_text(m) for m, _ in mags)
            )
        mg, mp = hit[0]
    if not mp.is_dir():
        raise SourceNotFoundError(f"{mp}: mag folder of layer {layer} is missing")
    fmt = str(d.get("dataFormat", "wkw")).lower()
    whole1 = _layer_box(d)
    whole = Bbox(
        int3(a // m for a, m in zip(whole1.start, mg)),
        int3(-(-b // m) for b, m in zip(whole1.stop, mg)),
    )
    box = _check_box(whole, bbox, f"{p} layer {layer} mag {_mag_text(mg)}")
    vs = _scale(props, p / PROPERTIES)
    dtype = _element_dtype(d, p)
    lsid = d.get("largestSegmentId")
    return WebKnossosSource(
        p,
        box.shape_zyx,
        dtype,
        offset_vx=box.start,
        data_format=fmt,
        mag_path=str(mp),
        mag=mg,
        layer_name=layer,
        category=str(d.get("category", "color")),
        voxel_size_nm=(vs[0] * mg[0], vs[1] * mg[1], vs[2] * mg[2]),
        largest_segment_id=int(lsid) if lsid is not None else None,
        axes_order=_zarr_axes(mp) if fmt != "wkw" else (0, 1, 2, 3),
    )


def _check_box(whole: Bbox, bbox: Bbox | str | None, where: str) -> Bbox:
    if bbox is None:
        return whole
    box = Bbox.parse(bbox) if isinstance(bbox, str) else bbox
    if box.empty or not whole.contains(box):
        raise InvalidParameterError(
            f"{where}: bbox {','.join(map(str, box.start))}:{','.join(map(str, box.stop))} is "
            f"outside the layer, which covers {','.join(map(str, whole.start))}:"
            f"{','.join(map(str, whole.stop))} (x, y, z voxels of that mag)"
        )
    return box


def _element_dtype(d: dict[str, Any], where: Path) -> np.dtype:
    ec = str(d.get("elementClass", "uint8"))
    table = {"uint24": None, "uint8": "uint8", "uint16": "uint16", "uint32": "uint32",
             "uint64": "uint64", "int8": "int8", "int16": "int16", "int32": "int32",
             "int64": "int64", "float": "float32", "float32": "float32", "double": "float64"}  # fmt: skip
    if table.get(ec) is None:
        raise DataFormatError(
            f"{where}: layer {d.get('name')} has elementClass {ec!r}; multi-channel (uint24 "
            "RGB) layers cannot be read as a single-channel source"
        )
    return np.dtype(str(table[ec]))


# ----------------------------------------------------------------------------- annotation zip
def _cache_dir() -> Path:
    return Path(os.environ.get("CONNECTOSCOPE_CACHE_DIR") or tempfile.gettempdir())


def _extract_volume(zip_path: Path) -> tuple[Path, str, str]:
    """Extract the nested volume zip once; returns (folder, nml name, volume zip name)."""
    with zipfile.ZipFile(zip_path) as z:
        names = z.namelist()
        nmls = [n for n in names if n.lower().endswith(".nml")]
        vols = [n for n in names if n.lower().endswith(".zip")]
        if not nmls:
            raise DataFormatError(f"{zip_path}: no .nml in the annotation zip")
        if not vols:
            raise DataFormatError(
                f"{zip_path}: no volume annotation (no nested data*_Volume.zip); it holds "
                f"{', '.join(names[:8])}. Its skeletons: connectoscope skeleton info {zip_path}"
            )
        st = zip_path.stat()
        h = hashlib.sha1(f"{zip_path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
        target = _cache_dir() / f"connectoscope-wkzip-{h.hexdigest()[:20]}"
        with _LOCK:
            if not target.is_dir():
                part = target.with_name(target.name + f".{os.getpid()}.part")
                shutil.rmtree(part, ignore_errors=True)
                part.mkdir(parents=True)
                try:
                    with z.open(vols[0]) as inner_f:
                        inner = part / "volume.zip"
                        with open(inner, "wb") as out:
                            shutil.copyfileobj(inner_f, out, 16 << 20)
                    with zipfile.ZipFile(inner) as iz:
                        for n in iz.namelist():
                            dest = (part / "data" / n).resolve()
                            if not str(dest).startswith(str((part / "data").resolve())):
                                raise DataFormatError(f"{zip_path}: unsafe path {n!r} in {vols[0]}")
                        iz.extractall(part / "data")
                    inner.unlink()
                    os.replace(part, target)
                except BaseException:
                    shutil.rmtree(part, ignore_errors=True)
                    raise
    return target / "data", nmls[0], vols[0]


def _open_annotation_volume(
    zip_path: Path, *, mag: Any, bbox: Bbox | str | None
) -> WebKnossosSource:
    data, _, vol = _extract_volume(zip_path)
    mags = []
    for c in sorted(data.iterdir()):
        if c.is_dir() and re.fullmatch(r"\d+(-\d+-\d+)?", c.name):
            mags.append((_parse_mag(c.name), c))
    if not mags:
        raise DataFormatError(f"{zip_path}: {vol} holds no mag folders (1/, 2-2-1/ ...)")
    mags.sort(key=lambda t: (math.prod(t[0]), t[0]))
    if mag is None:
        mg, mp = mags[0]
    else:
        want = _parse_mag(mag)
        hit = [t for t in mags if t[0] == want]
        if not hit:
            raise InvalidParameterError(
                f"{zip_path}: no mag {_mag_text(want)}; mags: "
                + ", ".join(_mag_text(m) for m, _ in mags)
            )
        mg, mp = hit[0]
    vs = _nml_scale(zip_path)
    if (mp / "header.wkw").is_file():
        wkw = _import_wkw()
        with wkw.Dataset.open(str(mp)) as ds:
            dtype = np.dtype(ds.header.voxel_type)
            edge = int(ds.header.file_len) * int(ds.header.block_len)
        cubes = [
            tuple(int(v) for v in re.findall(r"\d+", str(f.relative_to(mp)))[::-1])
            for f in mp.rglob("*.wkw")
            if f.name != "header.wkw"
        ]
        if not cubes:
            raise DataFormatError(f"{zip_path}: the volume annotation is empty (no cube files)")
        lo = int3(min(c[i] for c in cubes) * edge for i in range(3))
        hi = int3((max(c[i] for c in cubes) + 1) * edge for i in range(3))
        whole = Bbox(lo, hi)
        fmt = "wkw"
        axes = (0, 1, 2, 3)
    elif (mp / "zarr.json").is_file():
        meta = json.loads((mp / "zarr.json").read_text())
        axes = _zarr_axes(mp)
        shape = meta["shape"]
        dtype = np.dtype(str(meta["data_type"]))
        xyz = [shape[axes[1]], shape[axes[2]], shape[axes[3]]] if len(shape) == 4 else shape
        whole = Bbox((0, 0, 0), (int(xyz[0]), int(xyz[1]), int(xyz[2])))
        fmt = "zarr3"
    else:
        raise DataFormatError(f"{zip_path}: {vol}/{mp.name} is neither WKW nor Zarr v3")
    box = _check_box(whole, bbox, f"{zip_path} volume mag {_mag_text(mg)}")
    return WebKnossosSource(
        zip_path,
        box.shape_zyx,
        dtype,
        offset_vx=box.start,
        data_format=fmt,
        mag_path=str(mp),
        mag=mg,
        layer_name="volume annotation",
        category="segmentation",
        voxel_size_nm=(vs[0] * mg[0], vs[1] * mg[1], vs[2] * mg[2]) if vs else (1.0, 1.0, 1.0),
        axes_order=axes,
    )


def _nml_text(zip_path: Path) -> tuple[str, bytes]:
    with zipfile.ZipFile(zip_path) as z:
        nml = next(n for n in z.namelist() if n.lower().endswith(".nml"))
        return nml, z.read(nml)


def _nml_scale(zip_path: Path) -> tuple[float, float, float] | None:
    from defusedxml import ElementTree

    _, raw = _nml_text(zip_path)
    try:
        root = ElementTree.fromstring(raw)
    except Exception as err:
        raise DataFormatError(f"{zip_path}: unreadable NML ({err})") from None
    sc = root.find("./parameters/scale")
    if sc is None:
        return None
    try:
        return (float(sc.get("x")), float(sc.get("y")), float(sc.get("z")))
    except (TypeError, ValueError):
        return None


def describe_webknossos(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What ``connectoscope info`` prints for a webKnossos dataset or annotation zip."""
    p = Path(os.fspath(path))
    if p.suffix.lower() == ".zip":
        from defusedxml import ElementTree

        name, raw = _nml_text(p)
        root = ElementTree.fromstring(raw)
        trees = root.findall("./thing")
        out: dict[str, Any] = {
            "type": "webknossos-annotation",
            "path": str(p),
            "nml": name,
            "trees": len(trees),
            "nodes": sum(len(t.findall("./nodes/node")) for t in trees),
            "edges": sum(len(t.findall("./edges/edge")) for t in trees),
            "scale_nm": _nml_scale(p),
            "volumes": [dict(v.attrib) for v in root.findall(".//volume")],
        }
        try:
            src = open_webknossos(p)
            out["volume"] = {
                "shape_xyz": list(src.shape_zyx[::-1]),
                "offset_vx": list(src.offset_vx),
                "dtype": str(src.dtype),
                "format": src.data_format,
                "mag": _mag_text(src.mag),
            }
        except DataFormatError as err:
            out["volume"] = str(err)
        return out
    if not (p / PROPERTIES).is_file() and (p.parent / PROPERTIES).is_file():
        p = p.parent
    props = _read_properties(p)
    layers = []
    for d in props["dataLayers"]:
        box = _layer_box(d)
        layers.append(
            {
                "name": d.get("name"),
                "category": d.get("category"),
                "element_class": d.get("elementClass"),
                "data_format": d.get("dataFormat", "wkw"),
                "bbox_vx": box.to_dict(),
                "mags": [_mag_text(m) for m, _ in _layer_mags(d, p)],
                "largest_segment_id": d.get("largestSegmentId"),
            }
        )
    return {
        "type": "webknossos",
        "path": str(p),
        "name": (props.get("id") or {}).get("name"),
        "voxel_size_nm": list(_scale(props, p / PROPERTIES)),
        "layers": layers,
    }


def format_webknossos(d: dict[str, Any]) -> str:
    """Text for :func:`describe_webknossos`."""
    if d["type"] == "webknossos-annotation":
        lines = [
            f"{d['path']}: webKnossos annotation ({d['nml']}: {d['trees']} trees, {d['nodes']} "
            f"nodes, {d['edges']} edges; voxel size {d['scale_nm']} nm)"
        ]
        v = d.get("volume")
        if isinstance(v, dict):
            lines.append(
                f"  volume annotation: {' x '.join(map(str, v['shape_xyz']))} voxels (x, y, z) "
                f"at offset {tuple(v['offset_vx'])}, {v['dtype']}, {v['format']}, mag {v['mag']}"
            )
        else:
            lines.append(f"  volume annotation: {v}")
        return "\n".join(lines)
    vs = d["voxel_size_nm"]
    lines = [
        f"{d['path']}: webKnossos dataset {d['name']!r}, voxel size {vs[0]:g} x {vs[1]:g} x "
        f"{vs[2]:g} nm"
    ]
    for layer in d["layers"]:
        b = layer["bbox_vx"]
        size = [b1 - b0 for b0, b1 in zip(b["start"], b["stop"])]
        text = (
            f"  layer {layer['name']} ({layer['category']}): {layer['element_class']}, "
            f"{layer['data_format']}, {' x '.join(map(str, size))} voxels at "
            f"{tuple(b['start'])}, mags {', '.join(layer['mags'])}"
        )
        if layer.get("largest_segment_id") is not None:
            text += f", largest segment id {layer['largest_segment_id']}"
        lines.append(text)
    return "\n".join(lines)
