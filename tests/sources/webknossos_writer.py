"""A small synthetic webKnossos dataset and annotation writer for the tests (independent of
connectoscope's reader): Zarr v3 layers through tensorstore, WKW layers through the `wkw`
package, `datasource-properties.json`, and an annotation zip (NML + nested volume zip)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import tensorstore as ts

SCALE = (11.24, 11.24, 28.0)


def _zarr3(path: Path, xyz: np.ndarray, offset: tuple[int, int, int]) -> None:
    shape = [1] + [o + s for o, s in zip(offset, xyz.shape)]
    t = ts.open(
        {
            "driver": "zarr3",
            "kvstore": {"driver": "file", "path": str(path) + "/"},
            "metadata": {
                "shape": shape,
                "data_type": str(xyz.dtype),
                "dimension_names": ["c", "x", "y", "z"],
                "chunk_grid": {
                    "name": "regular",
                    "configuration": {"chunk_shape": [1, 64, 64, 64]},
                },
                "codecs": [
                    {
                        "name": "sharding_indexed",
                        "configuration": {
                            "chunk_shape": [1, 32, 32, 32],
                            "codecs": [
                                {"name": "bytes", "configuration": {"endian": "little"}},
                                {"name": "zstd", "configuration": {"level": 3}},
                            ],
                            "index_codecs": [
                                {"name": "bytes", "configuration": {"endian": "little"}},
                                {"name": "crc32c"},
                            ],
                        },
                    }
                ],
            },
            "create": True,
            "delete_existing": True,
        }
    ).result()
    x0, y0, z0 = offset
    t[0, x0:, y0:, z0:] = xyz


def _wkw(path: Path, xyz: np.ndarray, offset: tuple[int, int, int]) -> None:
    import wkw

    with wkw.Dataset.create(
        str(path),
        wkw.Header(xyz.dtype, file_len=2, block_len=16, block_type=wkw.Header.BLOCK_TYPE_LZ4),
    ) as ds:
        # compressed WKW files are written whole: pad to file edges (32 voxels)
        lo = [o // 32 * 32 for o in offset]
        hi = [-(-(o + s) // 32) * 32 for o, s in zip(offset, xyz.shape)]
        buf = np.zeros([b - a for a, b in zip(lo, hi)], xyz.dtype)
        sl = tuple(slice(o - a, o - a + s) for o, a, s in zip(offset, lo, xyz.shape))
        buf[sl] = xyz
        ds.write(lo, buf)


def write_dataset(root: Path, color_zyx: np.ndarray, seg_zyx: np.ndarray, *,
                  offset=(64, 32, 0), seg_format="wkw", color_format="zarr3") -> Path:  # fmt: skip
    """A dataset with a color and a segmentation layer, mags 1 and 2-2-1 (strided)."""
    root.mkdir(parents=True)
    layers = []
    for name, arr, fmt, cat in (
        ("color", color_zyx, color_format, "color"),
        ("segmentation", seg_zyx, seg_format, "segmentation"),
    ):
        xyz = np.asarray(arr).T
        mags = []
        for mag in ((1, 1, 1), (2, 2, 1)):
            m_xyz = xyz[:: mag[0], :: mag[1], :: mag[2]]
            m_off = tuple(o // m for o, m in zip(offset, mag))
            rel = "1" if mag == (1, 1, 1) else "2-2-1"
            p = root / name / rel
            (_zarr3 if fmt == "zarr3" else _wkw)(p, np.ascontiguousarray(m_xyz), m_off)
            mags.append({"mag": list(mag), "path": f"./{name}/{rel}"})
        d = {
            "name": name,
            "category": cat,
            "dataFormat": fmt,
            "elementClass": str(xyz.dtype),
            "boundingBox": {
                "topLeft": list(offset),
                "width": xyz.shape[0],
                "height": xyz.shape[1],
                "depth": xyz.shape[2],
            },
            "mags": mags,
            "numChannels": 1,
        }
        if cat == "segmentation":
            d["largestSegmentId"] = int(xyz.max())
        layers.append(d)
    props = {
        "id": {"name": "synthetic", "team": ""},
        "dataLayers": layers,
        "scale": {"factor": list(SCALE), "unit": "nanometer"},
    }
    (root / "datasource-properties.json").write_text(json.dumps(props, indent=2))
    return root


NML = """<?xml version="1.0" encoding="UTF-8"?>
<things>
  <parameters>
    <experiment name="synthetic"/>
    <scale x="{sx}" y="{sy}" z="{sz}"/>
  </parameters>
  <thing id="1" name="tree1" color.r="1" color.g="0" color.b="0" color.a="1">
    <nodes>
      <node id="1" radius="10" x="10" y="10" z="1"/>
      <node id="2" radius="10" x="20" y="12" z="2"/>
      <node id="3" radius="10" x="30" y="15" z="2"/>
    </nodes>
    <edges><edge source="1" target="2"/><edge source="2" target="3"/></edges>
  </thing>
  <branchpoints/>
  <comments/>
  <volume id="1" location="data_1_Volume.zip" fallbackLayer="segmentation" format="{fmt}"/>
</things>
"""


def write_annotation(path: Path, seg_zyx: np.ndarray, offset=(32, 0, 0), fmt="wkw") -> Path:
    """An annotation zip: NML (one tree) and a nested volume zip (mag 1, WKW or Zarr v3)."""
    tmp = path.parent / (path.stem + "_vol")
    xyz = np.ascontiguousarray(np.asarray(seg_zyx).T)
    (_wkw if fmt == "wkw" else _zarr3)(tmp / "1", xyz, offset)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        for f in sorted(tmp.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(tmp).as_posix())
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("synthetic.nml", NML.format(sx=SCALE[0], sy=SCALE[1], sz=SCALE[2], fmt=fmt))
        z.writestr("data_1_Volume.zip", inner.getvalue())
    return path
