"""The hostile inputs of the fuzz test (and of the reliability table in docs/reliability.md).

:func:`cases` builds, inside ``sandbox``, files a hostile or careless user could hand to the
commands (empty, random bytes, NUL, UTF-16, NaN, negative and 2**70 ids, JSON and XML bombs,
lying NPY headers, pickled object arrays, cyclic SWC...) and returns the command lines that
feed them, plus hostile option values and names (``--kind ../../x``, ``--layer ../..``,
boxes, levels, ports). Deterministic (seeded)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np


def _npy_lying_header(path: Path) -> None:
    hdr = "{'descr': '<u4', 'fortran_order': False, 'shape': (100000, 100000, 100000), }"
    hdr = hdr + " " * (118 - len(hdr)) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr.encode())


def cases(sandbox: Path, dataset: Path) -> list[tuple[str, list[str]]]:
    """``[(name, argv)]``; every path an argv names lies inside ``sandbox``."""
    rng = np.random.default_rng(20261206)
    s = sandbox
    ds = s / "d.cscope"
    shutil.copytree(dataset, ds)
    np.save(s / "lab.npy", np.load(dataset.parent / "lab.npy"))
    blobs: dict[str, bytes] = {
        "empty": b"",
        "random": rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "nul": b"\0" * 1000,
        "utf16": "pre,post\n1,2\n".encode("utf-16"),
        "nan_ids": b"pre,post\nnan,1\n2,3\n",
        "neg_ids": b"pre,post\n-1,2\n2,3\n",
        "huge_ids": b"pre,post\n1180591620717411303424,1\n2,3\n",
        "float_ids": b"pre,post\n1.5,2.25\n",
        "text_ids": b"pre,post\nabc,def\n",
        "one_column": b"pre\n1\n2\n",
        "ragged": b"pre,post\n1,2,3,4\n5\n",
        "deep_json": b"[" * 100_000 + b"]" * 100_000,
        "json_scalar": b"42",
        "billion_laughs": (
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            + b"".join(
                f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode()
                for i in range(8)
            )
            + b']><things><thing id="1"><nodes><node id="1" x="&i;" y="0" z="0"/></nodes>'
            b"</thing></things>"
        ),
        "xxe": (
            b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<things><thing id="1"><nodes><node id="1" x="&x;" y="0" z="0"/></nodes>'
            b"</thing></things>"
        ),
        "swc_cycle": b"1 1 0 0 0 1 2\n2 1 1 1 1 1 1\n",
        "swc_missing_parent": b"1 1 0 0 0 1 5\n2 1 1 1 1 1 1\n",
        "swc_huge": b"1 1 1e308 1e308 1e308 1 -1\n2 1 -1e308 0 0 1 1\n",
        "swc_dup_ids": b"1 1 0 0 0 1 -1\n1 1 1 1 1 1 -1\n",
        "swc_inf": b"1 1 inf 0 0 1 -1\n",
    }
    for name, data in blobs.items():
        for suffix in (".csv", ".swc", ".nml", ".json", ".npy", ".h5", ".parquet"):
            (s / f"{name}{suffix}").write_bytes(data)
    np.save(s / "four_d.npy", np.zeros((2, 2, 2, 2), np.uint8))
    np.save(s / "one_d.npy", np.zeros(7, np.uint8))
    np.save(s / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(s / "nan_seg.npy", np.full((4, 4, 4), np.nan, np.float32))
    np.save(s / "empty_shape.npy", np.zeros((0, 4, 4), np.uint32))
    _npy_lying_header(s / "lying.npy")
    valid = np.zeros((4, 4, 4), np.uint8).tobytes()
    (s / "truncated.npy").write_bytes(
        (s / "lab.npy").read_bytes()[: len((s / "lab.npy").read_bytes()) // 3]
    )
    import h5py
    import pandas as pd

    with h5py.File(s / "no_data.h5", "w") as f:
        f.create_group("g")
    with h5py.File(s / "str_data.h5", "w") as f:
        f["data"] = np.array([b"x", b"y"])
    pd.DataFrame({"a": [1], "b": [2]}).to_parquet(s / "wrong_cols.parquet")
    pd.DataFrame({"segment_id": [3, 3], "kind": "neuron", "object_id": [1, 2]}).to_csv(
        s / "dup_segments.csv", index=False
    )
    pd.DataFrame({"segment_id": [3.5], "kind": "neuron", "object_id": [1]}).to_csv(
        s / "float_segments.csv", index=False
    )
    (s / "agglo.json").write_text(json.dumps([[1, -2], [3, "x"]]))
    del valid

    out: list[tuple[str, list[str]]] = []
    D, o = str(ds), str(s)
    # ---- files handed to every reader
    for name in blobs:
        out.append((f"info {name}.npy", ["info", f"{o}/{name}.npy"]))
        out.append((f"info {name}.h5", ["info", f"{o}/{name}.h5"]))
        out.append(
            (
                f"connectome build {name}.csv",
                ["connectome", "build", f"{o}/{name}.csv", "-o", f"{o}/m_{name}"],
            )
        )
        out.append((f"skeleton info {name}.swc", ["skeleton", "info", f"{o}/{name}.swc"]))
        out.append((f"skeleton info {name}.nml", ["skeleton", "info", f"{o}/{name}.nml"]))
        out.append((f"objects import {name}.json", ["objects", "import", D, f"{o}/{name}.json"]))
        out.append(
            (f"objects import {name}.parquet", ["objects", "import", D, f"{o}/{name}.parquet"])
        )
        out.append((f"connectome stats {name}.h5", ["connectome", "stats", f"{o}/{name}.h5"]))
    for name in (
        "four_d",
        "one_d",
        "objects",
        "nan_seg",
        "empty_shape",
        "lying",
        "truncated",
        "random",
        "empty",
    ):
        out.append(
            (
                f"ingest {name}.npy",
                [
                    "ingest",
                    f"{o}/{name}.npy",
                    f"{o}/i_{name}.cscope",
                    "--layer",
                    "segmentation",
                    "--voxel-size",
                    "4,4,40",
                ],
            )
        )
    for name in ("no_data", "str_data", "random"):
        out.append(
            (
                f"ingest {name}.h5",
                ["ingest", f"{o}/{name}.h5", f"{o}/h_{name}.cscope", "--voxel-size", "4,4,40"],
            )
        )
    for name in (
        "wrong_cols.parquet",
        "dup_segments.csv",
        "float_segments.csv",
        "agglo.json",
        "neg_ids.csv",
    ):
        out.append((f"objects import {name}", ["objects", "import", D, f"{o}/{name}"]))
    # ---- hostile option values and names
    cut = ["cutout", D, "--layer", "segmentation", "-o"]
    for bbox in (
        "a,b,c:d,e,f",
        "1,2:3",
        "-5,-5,-5:2,2,2",
        "0,0,0:99999999,9,9",
        "9,9,9:1,1,1",
        "0,0,0:0,0,0",
        "nan,0,0:1,1,1",
        "",
    ):
        out.append((f"cutout --bbox {bbox!r}", [*cut, f"{o}/c{len(out)}.npy", f"--bbox={bbox}"]))
    for level in ("99", "-1", "1e3", "x"):
        out.append((f"cutout --level {level}", [*cut, f"{o}/c{len(out)}.npy", f"--level={level}"]))
    for layer in ("../..", "../../../etc/passwd", "", "a/../../b", "segmentation\0"):
        out.append(
            (
                f"cutout --layer {layer!r}",
                ["cutout", D, f"--layer={layer}", "-o", f"{o}/c{len(out)}.npy"],
            )
        )
    for name in ("c.txt", "c", "\n.npy", "x" * 300 + ".npy", " .npy", "-.npy"):
        out.append((f"cutout -o {name[:20]!r}", [*cut, f"{o}/{name}"]))
    for i, kind in enumerate(("../../evil", "/abs/evil", "a/b", "", "x" * 300, "..", "a\0b")):
        pd.DataFrame({"segment_id": [3], "kind": kind, "object_id": [1]}).to_csv(
            s / f"kind{i}.csv", index=False
        )
        out.append(
            (f"objects import kind {kind[:20]!r}", ["objects", "import", D, f"{o}/kind{i}.csv"])
        )
        out.append(
            (
                f"objects import --kind {kind[:20]!r}",
                ["objects", "import", D, f"{o}/kind{i}.csv", f"--kind={kind}"],
            )
        )
        out.append((f"objects map --kind {kind[:20]!r}", ["objects", "map", D, f"--kind={kind}"]))
    out.append(("objects stats", ["objects", "stats", D]))
    for vs in ("nan,nan,nan", "4,4", "", "inf,4,4", "1e-300", "4;4;40", "0x10,4,4"):
        out.append(
            (
                f"ingest --voxel-size {vs!r}",
                ["ingest", f"{o}/lab.npy", f"{o}/v.cscope", f"--voxel-size={vs}"],
            )
        )
    for chunk in ("1e9,1,1", "0,0,0", "-8,8,8", "8,8", "99999999999,9,9"):
        out.append(
            (
                f"ingest --chunk {chunk!r}",
                [
                    "ingest",
                    f"{o}/lab.npy",
                    f"{o}/k.cscope",
                    "--voxel-size",
                    "4,4,40",
                    f"--chunk={chunk}",
                ],
            )
        )
    for port in ("99999", "-5", "x", "65536"):
        out.append(
            (
                f"view --port {port}",
                ["view", D, f"--port={port}", "--seconds", "0.01", "--no-annotations"],
            )
        )
    for sel in ("neuron=abc", "=1", "neuron==1", "neuron=1e99", "../x=1", "neuron=-1"):
        out.append(
            (
                f"view --state --where {sel!r}",
                ["view", D, "--state", f"--where={sel}", "--no-annotations"],
            )
        )
    for sub in ("0,0,0", "-1,1,1", "3,3,3", "1,1"):
        out.append(
            (
                f"export chimerax --subsamples {sub}",
                ["export", "chimerax", D, f"{o}/x.cmap", "--subsamples", sub],
            )
        )
    for units in ("0", "-8", "nan", "", "1e400"):
        out.append(
            (
                f"skeleton convert --units {units!r}",
                ["skeleton", "convert", f"{o}/swc_cycle.swc", f"{o}/o.swc", f"--units={units}"],
            )
        )
    for ds_path in (f"{o}/missing.cscope", f"{o}/random.csv", o, "/", "\0"):
        out.append((f"info {ds_path[-12:]!r}", ["info", ds_path]))
    return out
