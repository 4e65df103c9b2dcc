"""``connectoscope mesh info|convert`` and ``connectoscope skeletons info|convert``:
Neuroglancer precomputed mesh and skeleton layers from any writer, local or remote."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._common import add_overwrite, add_subcommand

_WHERE = (
    "PATH_OR_URL is a folder, file://, http(s)://, gs:// or s3:// (precomputed:// prefix "
    "optional); a segmentation volume whose info names its {what} folder works too."
)


def register(sub: Any) -> None:
    g = add_subcommand(
        sub,
        "mesh",
        help="precomputed mesh layers (legacy or multi-resolution Draco, any writer): info, convert",
    )
    g.set_defaults(_group_parser=g)
    gs = g.add_subparsers(dest="mesh_command", metavar="ACTION")
    i = add_subcommand(
        gs,
        "info",
        help="a mesh layer's type, sharding, quantisation; with --id, one segment's mesh",
        description="Describe a Neuroglancer precomputed mesh layer. " + _WHERE.format(what="mesh"),
        epilog="examples:\n  connectoscope mesh info precomputed://https://HOST/seg/mesh --id 42",
    )
    i.add_argument("source", metavar="PATH_OR_URL")
    i.add_argument("--id", type=int, default=None, help="also read this segment's mesh")
    i.add_argument("--lod", type=int, default=0, help="multi-resolution: level of detail")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=run_mesh_info)
    c = add_subcommand(
        gs,
        "convert",
        help="write one segment's mesh as PLY, OBJ or GLB",
        description="Read one segment's mesh and save it (vertices in the layer's model space, "
        "nm for most writers). " + _WHERE.format(what="mesh"),
        epilog="example:\n  connectoscope mesh convert gs://BUCKET/seg/mesh 864691135 out.ply",
    )
    c.add_argument("source", metavar="PATH_OR_URL")
    c.add_argument("id", type=int, help="segment id")
    c.add_argument("output", help="OUT.ply, OUT.obj or OUT.glb")
    c.add_argument("--lod", type=int, default=0)
    add_overwrite(c)
    c.set_defaults(func=run_mesh_convert)

    s = add_subcommand(
        sub,
        "skeletons",
        help="precomputed skeleton layers (any writer, sharded or not, local or remote): info, convert",
    )
    s.set_defaults(_group_parser=s)
    ss = s.add_subparsers(dest="skeletons_command", metavar="ACTION")
    si = add_subcommand(
        ss,
        "info",
        help="vertex attributes, transform, sharding; with --id, one segment's skeleton",
        description="Describe a Neuroglancer precomputed skeleton layer. "
        + _WHERE.format(what="skeletons"),
        epilog="example:\n  connectoscope skeletons info https://HOST/seg/skeletons --id 42",
    )
    si.add_argument("source", metavar="PATH_OR_URL")
    si.add_argument("--id", type=int, default=None)
    si.add_argument("--json", action="store_true")
    si.set_defaults(func=run_skel_info)
    sc = add_subcommand(
        ss,
        "convert",
        help="write one segment's skeleton as SWC, NML, Parquet or a vertex table (.csv)",
        description="Read one segment's skeleton (vertices in nm, the info's transform applied) "
        "and write it: .swc/.nml/.parquet through the morphology formats, .csv as a vertex "
        "table (x, y, z and every vertex attribute) with edges in OUT.edges.csv. "
        + _WHERE.format(what="skeletons"),
        epilog="example:\n  connectoscope skeletons convert s3://BUCKET/seg/skeletons 42 n42.swc",
    )
    sc.add_argument("source", metavar="PATH_OR_URL")
    sc.add_argument("id", type=int)
    sc.add_argument("output", help="OUT.swc, OUT.nml, OUT.parquet or OUT.csv")
    add_overwrite(sc)
    sc.set_defaults(func=run_skel_convert)


def _refuse_existing(out: Path, overwrite: bool) -> None:
    from ..errors import DatasetExistsError

    if out.exists() and not overwrite:
        raise DatasetExistsError(f"{out}: exists; pass --overwrite to replace it")


def run_mesh_info(args: argparse.Namespace) -> int:
    from ..precomputed import mesh_info, read_mesh

    d = mesh_info(args.source)
    if args.id is not None:
        m = read_mesh(args.source, args.id, lod=args.lod)
        d["mesh"] = {
            "segment_id": m.segment_id,
            "vertices": len(m.vertices),
            "faces": len(m.faces),
            "fragments": m.fragments,
            "lod": m.lod,
            "bounds": [m.vertices.min(0).tolist(), m.vertices.max(0).tolist()]
            if len(m.vertices)
            else None,
        }
    if args.json:
        print(json.dumps(d, indent=2, default=str))
        return 0
    print(f"{d['url']}: {d['type']}" + (", sharded" if d.get("sharding") else ""))
    for k in ("vertex_quantization_bits", "lod_scale_multiplier", "segments"):
        if k in d:
            print(f"  {k}: {d[k]}")
    if "mesh" in d:
        m = d["mesh"]
        print(
            f"  segment {m['segment_id']}: {m['vertices']} vertices, {m['faces']} faces from "
            f"{m['fragments']} fragments (LOD {m['lod']}), bounds {m['bounds']}"
        )
    return 0


def run_mesh_convert(args: argparse.Namespace) -> int:
    import trimesh

    from .._atomic import atomic_path
    from ..errors import InvalidParameterError
    from ..precomputed import read_mesh

    out = Path(args.output)
    if out.suffix.lower() not in (".ply", ".obj", ".glb"):
        raise InvalidParameterError(f"{out}: output must end in .ply, .obj or .glb")
    _refuse_existing(out, args.overwrite)
    m = read_mesh(args.source, args.id, lod=args.lod)
    tm = trimesh.Trimesh(m.vertices, m.faces, process=False, validate=False)
    with atomic_path(out) as tmp:
        tm.export(str(tmp), file_type=out.suffix.lower().lstrip("."))
    print(f"{out}: segment {args.id}, {len(m.vertices)} vertices, {len(m.faces)} faces")
    return 0


def run_skel_info(args: argparse.Namespace) -> int:
    from ..precomputed import read_skeleton, skeleton_layer_info

    d = skeleton_layer_info(args.source)
    if args.id is not None:
        sk = read_skeleton(args.source, args.id)
        d["skeleton"] = {
            "segment_id": sk.segment_id,
            "vertices": len(sk.vertices),
            "edges": len(sk.edges),
            "attributes": sorted(sk.attributes),
            "cable_length_nm": float(
                sum(
                    ((sk.vertices[sk.edges[:, 0]] - sk.vertices[sk.edges[:, 1]]) ** 2).sum(1) ** 0.5
                )
            )
            if len(sk.edges)
            else 0.0,
        }
    if args.json:
        print(json.dumps(d, indent=2, default=str))
        return 0
    attrs = ", ".join(
        f"{a['id']} ({a['data_type']} x{a.get('num_components', 1)})"
        for a in d["vertex_attributes"]
    )
    print(f"{d['url']}: neuroglancer_skeletons" + (", sharded" if d.get("sharding") else ""))
    print(f"  vertex attributes: {attrs or 'none'}")
    if d.get("transform"):
        print(f"  transform: {d['transform']}")
    if "segments" in d:
        print(f"  segments: {d['segments']}")
    if "skeleton" in d:
        s = d["skeleton"]
        print(
            f"  segment {s['segment_id']}: {s['vertices']} vertices, {s['edges']} edges, "
            f"cable {s['cable_length_nm']:.0f} nm"
        )
    return 0


def run_skel_convert(args: argparse.Namespace) -> int:
    import pandas as pd

    from .._atomic import write_bytes_atomic
    from ..errors import InvalidParameterError
    from ..precomputed import encode_skeleton, read_skeleton

    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in (".swc", ".nml", ".parquet", ".csv"):
        raise InvalidParameterError(f"{out}: output must end in .swc, .nml, .parquet or .csv")
    _refuse_existing(out, args.overwrite)
    sk = read_skeleton(args.source, args.id)
    if suffix == ".csv":
        cols: dict[str, Any] = {
            "x": sk.vertices[:, 0],
            "y": sk.vertices[:, 1],
            "z": sk.vertices[:, 2],
        }
        for k, v in sk.attributes.items():
            if v.ndim == 1:
                cols[k] = v
            else:
                for j in range(v.shape[1]):
                    cols[f"{k}_{j}"] = v[:, j]
        write_bytes_atomic(out, pd.DataFrame(cols).to_csv(index_label="vertex").encode())
        e = out.with_suffix(".edges.csv")
        write_bytes_atomic(
            e, pd.DataFrame(sk.edges, columns=["a", "b"]).to_csv(index=False).encode()
        )
        print(f"{out}: {len(sk.vertices)} vertices; {e}: {len(sk.edges)} edges")
        return 0
    from ..morphology import skeleton_from_precomputed, write_skeleton

    specs: list[dict[str, Any]] = [
        {"id": k, "data_type": "float32", "num_components": 1}
        for k, v in sk.attributes.items()
        if v.ndim == 1 and k in ("radius", "compartment")
    ]
    data = encode_skeleton(
        sk.vertices, sk.edges, {str(s["id"]): sk.attributes[str(s["id"])] for s in specs},
        vertex_attributes=specs,
    )  # fmt: skip
    skel = skeleton_from_precomputed(data, vertex_attributes=specs, source=f"segment {args.id}")
    written = write_skeleton(skel, out)
    print(f"{written}: segment {args.id}, {len(sk.vertices)} vertices, {len(sk.edges)} edges")
    return 0
