"""``connectoscope skeleton info|convert|plot|map-synapses``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError
from ._common import add_overwrite, add_subcommand, xyz_float

_UNITS_HELP = (
    "SWC: nm per file unit, X or X,Y,Z: 1000 for microns (default), 8 for hemibrain voxels, "
    "1 for nm, 11.24,11.24,28 for voxels of anisotropic data"
)


def units_xyz(text: str) -> float | tuple[float, float, float]:
    """argparse type: nm per unit, ``X`` or ``X,Y,Z`` (positive, finite); three equal values
    come back as one number."""
    import math

    try:
        x, y, z = xyz_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected nm per unit as X or X,Y,Z (positive numbers such as 1000 or "
            f"11.24,11.24,28), got {text!r}"
        ) from None
    if not all(math.isfinite(v) for v in (x, y, z)):
        raise argparse.ArgumentTypeError(f"units must be finite, got {text!r}")
    return x if x == y == z else (x, y, z)


_FORMATS = ["swc", "nml", "parquet", "precomputed"]


def _input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="SWC, NML, Parquet (ours) or a precomputed skeleton file/folder")
    p.add_argument("--format", choices=_FORMATS, default=None, help="default: from the suffix")
    p.add_argument("--units", type=units_xyz, default=1000.0, help=_UNITS_HELP)
    p.add_argument(
        "--root",
        default=None,
        help="'soma' (NML: the node commented soma; others: the first soma vertex) or a node id",
    )
    p.add_argument(
        "--scale", type=xyz_float, default=None, help="NML without <scale>: X,Y,Z nm per voxel"
    )
    p.add_argument("--id", type=int, default=None, help="precomputed folder: the segment id")


def _synapse_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    if required:
        p.add_argument("synapses", help="CSV or Parquet table of synapse positions")
    else:
        p.add_argument("--synapses", default=None, help="CSV or Parquet table of synapse positions")
    p.add_argument(
        "--syn-units",
        type=units_xyz,
        default=1.0,
        help="nm per synapse coordinate unit, X or X,Y,Z (voxels: 11.24,11.24,28; default 1)",
    )
    p.add_argument(
        "--position",
        default="x,y,z",
        help="position columns X,Y,Z (default x,y,z) or a prefix such as ctr_pt_position",
    )
    p.add_argument(
        "--type-column",
        default="type",
        help="column telling outputs (pre) from inputs (post); without it every row is an input",
    )
    p.add_argument(
        "--target-column", default=None, help="target structure column (default: target, tag...)"
    )
    p.add_argument(
        "--max-dist", type=float, default=float("inf"), help="nm; farther synapses are misses"
    )
    p.add_argument(
        "--policy", choices=["drop", "keep", "raise"], default="drop", help="what misses do"
    )


def register(sub: Any) -> None:
    g = add_subcommand(sub, "skeleton", help="skeleton files: info, convert, plot, map synapses")
    g.set_defaults(_group_parser=g)
    gs = g.add_subparsers(dest="skeleton_command", metavar="ACTION")
    i = add_subcommand(
        gs,
        "info",
        help="nodes, roots, branch points, leaves, cable length, compartments, trees",
        epilog="examples:\n  connectoscope skeleton info neuron.swc --units 8\n"
        "  connectoscope skeleton info tracing.nml --root soma",
    )
    _input_options(i)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=run_info)
    c = add_subcommand(
        gs,
        "convert",
        help="convert between SWC, NML, Parquet and Neuroglancer precomputed",
        epilog="examples:\n  connectoscope skeleton convert in.swc out.nml --units 8 --out-scale 8,8,8\n"
        "  connectoscope skeleton convert tracing.nml out.parquet --root soma\n"
        "  connectoscope skeleton convert n.swc skeletons/ --out-format precomputed --out-id 7",
    )
    _input_options(c)
    c.add_argument("out")
    c.add_argument("--out-format", choices=_FORMATS, default=None, help="default: from the suffix")
    c.add_argument(
        "--out-units",
        type=units_xyz,
        default=1000.0,
        help="SWC output: nm per file unit, X or X,Y,Z (default 1000: microns)",
    )
    c.add_argument(
        "--out-scale", type=xyz_float, default=None, help="NML output: X,Y,Z nm per voxel"
    )
    c.add_argument("--out-id", type=int, default=1, help="precomputed output: segment id")
    c.add_argument(
        "--frame",
        choices=["minnie65"],
        default=None,
        help="write the skeleton in a standard frame (µm)",
    )
    add_overwrite(c)
    c.set_defaults(func=run_convert)
    p = add_subcommand(
        gs,
        "plot",
        help="2-D projections coloured by compartment or distance, synapses overlaid",
        epilog="examples:\n  connectoscope skeleton plot n.swc --units 8 --view xy -o n.png\n"
        "  connectoscope skeleton plot n.swc --units 8 --synapses syn.csv --syn-units 8 "
        "--root soma --split-axon --figure dendrite_distance -o d.png",
    )
    _input_options(p)
    _synapse_options(p, required=False)
    p.add_argument(
        "--figure",
        choices=["compartments", "synapses", "known", "targets", "dendrite_distance"],
        default=None,
        help="a MICrONS tutorial figure (8: compartments, 9: synapses, 10: known, 11: targets, "
        "12: dendrite_distance); default: one --view projection",
    )
    p.add_argument(
        "--known",
        default=None,
        metavar="CELLS",
        help="--figure known: a cell table (CSV/Parquet); its ids (pt_root_id, root_id or id) "
        "are the known partners",
    )
    p.add_argument(
        "--view", default=None, help="without --figure: the projection, xy (default), xz, zy ..."
    )
    p.add_argument(
        "--views",
        default=None,
        help="with --figure: projections, comma separated (default xy,zy); compartments draws "
        "each, the two-panel figures use the first",
    )
    p.add_argument(
        "--color-by",
        default=None,
        help="without --figure: compartment (default), distance_to_root or a feature",
    )
    p.add_argument(
        "--split-axon", action="store_true", help="label axon/dendrite by synapse flow first"
    )
    p.add_argument(
        "--mask",
        default=None,
        help="keep vertices where FEATURE OP VALUE, e.g. 'compartment != axon'",
    )
    p.add_argument(
        "--frame", choices=["minnie65"], default=None, help="draw in a standard frame (µm)"
    )
    p.add_argument("--mesh", default=None, help="the neuron's surface (OBJ, PLY...), drawn behind")
    p.add_argument(
        "--mesh-units", type=units_xyz, default=1.0, help="nm per mesh coordinate unit, X or X,Y,Z"
    )
    p.add_argument("--invert-y", action="store_true", help="depth axis pointing down")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=run_plot)
    m = add_subcommand(
        gs,
        "map-synapses",
        help="nearest vertex, path distance to the root (soma), compartment and target per synapse",
        epilog="example:\n  connectoscope skeleton map-synapses n.swc syn.csv --units 8 --syn-units 8 "
        "--root soma --max-dist 2000 -o mapped.csv",
    )
    _input_options(m)
    _synapse_options(m, required=True)
    m.add_argument(
        "--split-axon", action="store_true", help="label axon/dendrite by synapse flow first"
    )
    m.add_argument(
        "--frame",
        choices=["minnie65"],
        default=None,
        help="also give each synapse's position in a standard frame (columns x_minnie65_um ...)",
    )
    m.add_argument("-o", "--output", required=True, help="CSV or Parquet")
    m.set_defaults(func=run_map)


def _read(args: argparse.Namespace) -> Any:
    from ..morphology import read_skeleton

    root: str | int | None = args.root
    if isinstance(root, str) and root.lstrip("-").isdigit():
        root = int(root)
    per_axis = isinstance(args.units, tuple)
    sk = read_skeleton(
        args.file,
        format=args.format,
        units=1.0 if per_axis else args.units,
        root=root,
        scale_nm=args.scale,
        segment_id=args.id,
    )
    return _scaled(sk, args.units) if per_axis else sk


def _scaled(sk: Any, units: tuple[float, float, float], *, inverse: bool = False) -> Any:
    """The skeleton with x, y, z multiplied (or divided) by ``units`` and radii by X (radii
    of SWC files in anisotropic voxels are in x/y voxels)."""
    from dataclasses import replace

    import numpy as np

    u = np.asarray(units, np.float64)
    if inverse:
        u = 1.0 / u
    feats = dict(sk.features)
    if "radius" in feats:
        feats["radius"] = np.asarray(feats["radius"], np.float64) * u[0]
    meta = {**sk.meta}
    if not inverse:
        meta["swc_units_nm"] = [float(v) for v in units]
    return replace(sk, vertices=np.asarray(sk.vertices, np.float64) * u, features=feats, meta=meta)


def run_info(args: argparse.Namespace) -> int:
    from ..morphology import Neuron, read_nml, skeleton_format

    s = _read(args)
    info = s.summary()
    nrn = Neuron.build(s)
    info["forest"] = nrn.forest_report()
    nml = None
    if skeleton_format(args.file, args.format) == "nml":
        nml = read_nml(args.file)
        info["nml"] = {
            "trees": len(nml.trees),
            "scale_nm": nml.scale_nm,
            "comments": len(nml.comments),
            "branchpoints": len(nml.branchpoints),
            "groups": _count_groups(nml.groups),
        }
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    unit = s.meta.get("unit", "nm")
    print(
        f"{args.file}: {info['nodes']} nodes, {info['roots']} root(s), {info['branch_points']} branch "
        f"points, {info['leaves']} leaves"
    )
    print(
        f"  cable length: {info['cable_length_um']:.3f} µm ({info['cable_length_nm']:.0f} {unit})"
    )
    print("  compartments: " + ", ".join(f"{k} {v}" for k, v in info["compartments"].items()))
    if nml is not None:
        n = info["nml"]
        print(
            f"  NML: {n['trees']} tree(s), scale {n['scale_nm']} nm/voxel, {n['comments']} comments, "
            f"{n['branchpoints']} branch points, {n['groups']} groups"
        )
    f = info["forest"]
    if f["trees"] > 1:
        gaps = ", ".join(f"{g:.0f}" for g in f["gaps_nm"][:5])
        print(
            f"  note: {f['trees']} roots (a fragmented skeleton: tree sizes {f['tree_sizes'][:5]}, gaps to the "
            f"largest tree {gaps} nm); Skeleton.join_fragments(max_dist) can join them"
        )
    if f["soma_node_id"] is None:
        print("  note: no soma-labelled node (SWC type 1); distances are to the root")
    elif not f["root_is_soma"]:
        print(
            f"  note: the root is not the soma (node {f['soma_node_id']}); pass --root soma to reroot"
        )
    return 0


def _count_groups(groups: list[Any]) -> int:
    return sum(1 + _count_groups(g.children) for g in groups)


def run_convert(args: argparse.Namespace) -> int:
    from ..errors import DatasetExistsError
    from ..morphology import skeleton_format, write_skeleton

    fmt = skeleton_format(args.out, args.out_format)
    target = Path(args.out) / str(args.out_id) if fmt == "precomputed" else Path(args.out)
    if target.exists() and not args.overwrite:
        raise DatasetExistsError(f"{target}: exists; pass --overwrite to replace it")
    s = _read(args)
    if args.frame == "minnie65":
        from ..transform import minnie65_transform

        s = minnie65_transform().apply_skeleton(s)
    units = args.out_units
    if isinstance(units, tuple):
        if fmt != "swc":
            raise InvalidParameterError("--out-units X,Y,Z applies to SWC output only")
        # per-axis units: coordinates divided by (X, Y, Z) and radii by X; the file's units
        # line names X
        s = _scaled(_scaled(s, units, inverse=True), (units[0],) * 3)
        units = units[0]
    out = write_skeleton(
        s,
        args.out,
        format=fmt,
        units=units,
        scale_nm=args.out_scale,
        segment_id=args.out_id,
    )
    print(f"{out}: {len(s)} nodes, {s.roots.size} root(s) ({fmt})")
    return 0


def _table(path: str) -> Any:
    import pandas as pd

    from ..errors import DataFormatError, SourceNotFoundError

    p = Path(path)
    if not p.exists():
        raise SourceNotFoundError(f"{p}: no such synapse table")
    try:
        return pd.read_parquet(p) if p.suffix.lower() in (".parquet", ".pq") else pd.read_csv(p)
    except Exception as e:
        raise DataFormatError(f"{p}: cannot read the synapse table ({e})") from None


def _position(text: str) -> Any:
    parts = [t.strip() for t in text.split(",")]
    return parts if len(parts) == 3 else parts[0]


def _mesh(args: argparse.Namespace) -> Any:
    if not getattr(args, "mesh", None):
        return None
    import numpy as np
    import trimesh

    from ..errors import DataFormatError, SourceNotFoundError

    if not Path(args.mesh).exists():
        raise SourceNotFoundError(f"{args.mesh}: no such mesh file")
    try:
        tm = trimesh.load(args.mesh, process=False, force="mesh")
    except Exception as e:
        raise DataFormatError(f"{args.mesh}: cannot read the mesh ({e})") from None
    mesh: Any = tm
    return (np.asarray(mesh.vertices, np.float64) * args.mesh_units, np.asarray(mesh.faces))


def _neuron(args: argparse.Namespace, s: Any) -> Any:
    from ..morphology import Neuron

    kw: dict[str, Any] = {
        "mesh": _mesh(args),
        "position": _position(args.position),
        "units": args.syn_units,
        "max_dist": args.max_dist,
        "policy": args.policy,
        "target_column": args.target_column,
    }
    if not args.synapses:
        return Neuron.build(s, mesh=kw["mesh"])
    df = _table(args.synapses)
    if args.type_column in df.columns:
        return Neuron.build(s, synapses=df, type_column=args.type_column, **kw)
    return Neuron.build(s, inputs=df, **kw)


def _split(nrn: Any) -> Any:
    from ..morphology import label_axon_dendrite

    return nrn.with_compartments(label_axon_dendrite(nrn))


def run_plot(args: argparse.Namespace) -> int:
    from ..morphology import plot_neuron, plot_skeleton
    from ..transform import minnie65_transform

    _check_plot_options(args)
    s = _read(args)
    nrn = _neuron(args, s)
    if args.split_axon:
        nrn = _split(nrn)
    if args.mask:
        nrn = nrn.masked(args.mask)
    frame = minnie65_transform() if args.frame == "minnie65" else None
    if args.figure:
        views = [v.strip() for v in (args.views or "xy,zy").split(",") if v.strip()]
        out = plot_neuron(
            nrn,
            args.output,
            figure=args.figure,
            views=views,
            invert_y=args.invert_y,
            frame=frame,
            known=_known_ids(args.known) if args.known else None,
        )
    else:
        sk = nrn.skeleton if frame is None else frame.apply_skeleton(nrn.skeleton)
        pts = vals = None
        t = nrn.inputs
        if len(t):
            pts = t[["x_nm", "y_nm", "z_nm"]].to_numpy()
            pts = pts if frame is None else frame.apply(pts)
            vals = t["distance_to_root_nm"].to_numpy() / 1000
        out = plot_skeleton(
            sk,
            args.output,
            view=args.view or "xy",
            color_by=args.color_by or "compartment",
            synapses_nm=pts,
            synapse_values=vals,
            synapse_label="distance to root (µm)",
            invert_y=args.invert_y,
        )
    print(out)
    return 0


def _check_plot_options(args: argparse.Namespace) -> None:
    """Refuse options the chosen figure would not use, naming where they apply."""
    if args.figure:
        for name in ("view", "color_by"):
            if getattr(args, name) is not None:
                flag = "--" + name.replace("_", "-")
                raise InvalidParameterError(
                    f"{flag} is for the single projection (no --figure); --figure "
                    f"{args.figure} takes --views"
                )
    elif args.views is not None:
        raise InvalidParameterError("--views is for --figure; a single projection takes --view")
    if args.known and args.figure != "known":
        raise InvalidParameterError("--known is for --figure known")
    if args.figure == "known" and not args.known:
        raise InvalidParameterError(
            "--figure known needs --known CELLS (a cell table whose ids are the known partners)"
        )
    if args.figure in ("synapses", "known", "targets") and not args.synapses:
        raise InvalidParameterError(f"--figure {args.figure} needs --synapses TABLE")


def _known_ids(path: str) -> Any:
    from ..errors import DataFormatError

    df = _table(path)
    col = next((c for c in ("pt_root_id", "root_id", "id", "cell_id") if c in df.columns), None)
    if col is None:
        raise DataFormatError(
            f"{path}: no cell id column (looked for pt_root_id, root_id, id, cell_id; found "
            f"{', '.join(map(str, df.columns))})"
        )
    return df[col].to_numpy()


def _own_names(out: Any) -> Any:
    """The table's own columns back under their own names (``table_size`` -> ``size``) where
    that name is free; a table column equal to ours (its ``target`` read as our ``target``)
    is dropped; one that differs keeps its ``table_`` prefix. No name appears twice."""
    drop, rename = [], {}
    for c in out.columns:
        if not c.startswith("table_"):
            continue
        base = c[len("table_") :]
        if base not in out.columns:
            rename[c] = base
        elif out[c].astype(str).equals(out[base].astype(str)):
            drop.append(c)
    out = out.drop(columns=drop).rename(columns=rename)
    assert out.columns.is_unique, list(out.columns)
    return out


def run_map(args: argparse.Namespace) -> int:
    s = _read(args)
    nrn = _neuron(args, s)
    if args.split_axon:
        nrn = _split(nrn)
    import pandas as pd

    parts = []
    for kind in ("inputs", "outputs"):
        t = getattr(nrn, kind)
        if len(t):
            parts.append(t.assign(kind=kind[:-1]))
    out = pd.concat(parts, ignore_index=True) if parts else nrn.inputs
    if args.frame == "minnie65" and len(out):
        from ..transform import minnie65_transform

        q = minnie65_transform().apply(out[["x_nm", "y_nm", "z_nm"]].to_numpy())
        for k, a in enumerate("xyz"):
            out[f"{a}_minnie65_um"] = q[:, k]
    # our nearest vertex's node id, and the table's own columns under their own names
    out = _own_names(out.rename(columns={"node_id": "nearest_node_id"}))
    p = Path(args.output)
    from .._atomic import atomic_path

    with atomic_path(p) as tmp:
        if p.suffix.lower() in (".parquet", ".pq"):
            out.to_parquet(tmp, index=False)
        else:
            out.to_csv(tmp, index=False)
    total = len(_table(args.synapses))
    miss = sum(nrn.misses.values())
    med = float(out["distance_nm"].median()) if len(out) else float("nan")
    root_kind = "soma" if nrn.forest_report()["root_is_soma"] else "root"
    print(
        f"{p}: {len(out)} of {total} synapses mapped ({len(nrn.inputs)} inputs, {len(nrn.outputs)} outputs, "
        f"{miss} beyond --max-dist); median distance to the vertex {med:.0f} nm; distance_to_root_nm "
        f"is to the {root_kind}"
    )
    return 0
