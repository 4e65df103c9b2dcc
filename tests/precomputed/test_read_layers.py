"""Precomputed meshes, skeletons and annotations written by other writers (Neuroglancer's
Python AnnotationWriter, tensorstore's sharded kvstore, DracoPy, hand-made legacy fragments,
gzip'd files), read back locally, over HTTP and from S3, with the figures of the originals."""

from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import pandas as pd
import pytest
import tensorstore as ts

from connectoscope.cli import main
from connectoscope.errors import DataFormatError, SourceNotFoundError
from connectoscope.precomputed import (
    annotations_info,
    encode_legacy_fragment,
    encode_skeleton,
    read_annotations,
    read_mesh,
    read_skeleton,
    write_skeletons,
    write_synapse_annotations,
)
from connectoscope.surfaces._foreign import read_precomputed_mesh
from connectoscope.testing.servers import S3Emulator, StaticHTTPServer

trimesh = pytest.importorskip("trimesh")
DracoPy = pytest.importorskip("DracoPy")
neuroglancer = pytest.importorskip("neuroglancer")


# ----------------------------------------------------------------------------- legacy meshes
def _legacy(root, *, gz: bool):
    root.mkdir(parents=True)
    (root / "info").write_text(json.dumps({"@type": "neuroglancer_legacy_mesh"}))
    parts = [trimesh.creation.icosphere(2), trimesh.creation.box((3, 4, 5))]
    names = []
    for i, m in enumerate(parts):
        data = encode_legacy_fragment(m.vertices * 100 + i * 1000, m.faces)
        name = f"7:0:frag{i}"
        names.append(name)
        if gz:
            (root / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (root / name).write_bytes(data)
    manifest = json.dumps({"fragments": names}).encode()
    if gz:
        (root / "7:0.gz").write_bytes(gzip.compress(manifest))
    else:
        (root / "7:0").write_bytes(manifest)
    return parts


@pytest.mark.parametrize("gz", [False, True])
def test_legacy_mesh_plain_and_gzip(tmp_path, gz):
    parts = _legacy(tmp_path / "mesh", gz=gz)
    m = read_mesh(tmp_path / "mesh", 7)
    assert len(m.faces) == sum(len(p.faces) for p in parts) and m.fragments == 2
    want = np.concatenate([p.vertices * 100 + i * 1000 for i, p in enumerate(parts)])
    np.testing.assert_allclose(m.vertices, want.astype(np.float32))
    with StaticHTTPServer(tmp_path) as srv:
        r = read_precomputed_mesh(f"precomputed://{srv.url}/mesh", 7)
        assert r.id == 7 and len(r.faces) == len(m.faces)
        np.testing.assert_array_equal(r.vertices, m.vertices)
    with pytest.raises(SourceNotFoundError, match=r"no mesh for segment 8"):
        read_mesh(tmp_path / "mesh", 8)


def test_volume_info_points_to_mesh_and_missing_fragment(tmp_path):
    _legacy(tmp_path / "seg" / "mesh", gz=False)
    (tmp_path / "seg" / "info").write_text(
        json.dumps({"@type": "neuroglancer_multiscale_volume", "type": "segmentation",
                    "data_type": "uint32", "num_channels": 1, "mesh": "mesh", "scales": []})
    )  # fmt: skip
    assert len(read_mesh(tmp_path / "seg", 7).faces) > 0
    (tmp_path / "seg" / "mesh" / "7:0:frag1").unlink()
    with pytest.raises(SourceNotFoundError, match=r"segment 7: fragment 7:0:frag1.*missing"):
        read_mesh(tmp_path / "seg", 7)


# ----------------------------------------------------------------------------- multi-LOD Draco
BITS = 10
CHUNK = np.array([64.0, 64.0, 32.0], np.float32)
ORIGIN = np.array([100.0, -50.0, 20.0], np.float32)
VOFF = np.array([[0.5, 0.25, 0.0], [1.0, 2.0, 3.0]], np.float32)
TRANSFORM = [2.0, 0, 0, 10.0, 0, 2.0, 0, -5.0, 0, 0, 4.0, 7.0]


def _fragments():
    """Per LOD, (grid position, quantised vertices, faces)."""
    sphere = trimesh.creation.icosphere(2)
    box = trimesh.creation.box((1, 1, 1))
    out = []
    lod0 = []
    for pos, mesh in (((0, 0, 0), sphere), ((1, 0, 0), box), ((0, 1, 1), sphere)):
        q = np.round((mesh.vertices / (2 * np.abs(mesh.vertices).max()) * 0.8 + 0.5) * 1023)
        lod0.append((pos, q, np.asarray(mesh.faces)))
    out.append(lod0)
    small = trimesh.creation.icosphere(1)
    q = np.round((small.vertices * 0.4 + 0.5) * 1023)
    out.append([((0, 0, 0), q, np.asarray(small.faces))])
    return out


def _expected(frags, lod):
    tr = np.asarray(TRANSFORM).reshape(3, 4)
    vs = []
    for pos, q, _ in frags[lod]:
        local = ORIGIN + VOFF[lod] + CHUNK * 2**lod * (np.asarray(pos) + q / 1023.0)
        vs.append(local @ tr[:, :3].T + tr[:, 3])
    return np.concatenate(vs)


def _manifest_and_data(frags):
    blobs, sizes, positions = [], [], []
    for lod in frags:
        s, p = [], []
        for pos, q, f in lod:
            b = DracoPy.encode(q, f, quantization_bits=BITS, quantization_range=1023,
                               quantization_origin=[0, 0, 0], preserve_order=True)  # fmt: skip
            blobs.append(b)
            s.append(len(b))
            p.append(pos)
        sizes.append(s)
        positions.append(np.asarray(p, np.uint32))
    man = CHUNK.tobytes() + ORIGIN.tobytes() + struct.pack("<I", len(frags))
    man += np.array([1.0, 2.0], "<f4").tobytes() + VOFF.astype("<f4").tobytes()
    man += np.array([len(s) for s in sizes], "<u4").tobytes()
    for p, s in zip(positions, sizes):
        man += p.T.astype("<u4").tobytes() + np.array(s, "<u4").tobytes()
    return man, b"".join(blobs)


def _multilod_info(sharding=None):
    info = {
        "@type": "neuroglancer_multilod_draco",
        "vertex_quantization_bits": BITS,
        "transform": TRANSFORM,
        "lod_scale_multiplier": 1.0,
    }
    if sharding:
        info["sharding"] = sharding
    return info


def _write_one_shard(path, key: int, before: bytes, value: bytes):
    """A one-shard, one-minishard file (identity hash, raw encodings) holding ``value``
    under ``key`` with ``before`` placed just ahead of it, as multi-LOD meshes store
    fragment data (written by hand, not by connectoscope's writer)."""
    data = before + value
    mini = np.array([[key], [len(before)], [len(value)]], "<u8").tobytes()
    index = np.array([len(data), len(data) + len(mini)], "<u8").tobytes()
    path.write_bytes(index + data + mini)


@pytest.mark.parametrize("sharded", [False, True])
def test_multilod_draco(tmp_path, sharded):
    frags = _fragments()
    man, data = _manifest_and_data(frags)
    root = tmp_path / "ml"
    root.mkdir()
    if sharded:
        spec = {"@type": "neuroglancer_uint64_sharded_v1", "hash": "identity", "preshift_bits": 0,
                "minishard_bits": 0, "shard_bits": 0, "minishard_index_encoding": "raw",
                "data_encoding": "raw"}  # fmt: skip
        (root / "info").write_text(json.dumps(_multilod_info(spec)))
        _write_one_shard(root / "0.shard", 42, data, man)
    else:
        (root / "info").write_text(json.dumps(_multilod_info()))
        (root / "42.index").write_bytes(man)
        (root / "42").write_bytes(data)
    for lod in (0, 1):
        m = read_mesh(root, 42, lod=lod)
        assert len(m.faces) == sum(len(f) for _, _, f in frags[lod])
        assert m.fragments == len(frags[lod])
        np.testing.assert_allclose(m.vertices, _expected(frags, lod), rtol=1e-6, atol=1e-3)
    with StaticHTTPServer(tmp_path) as srv:
        m = read_mesh(f"{srv.url}/ml", 42)
        np.testing.assert_allclose(m.vertices, _expected(frags, 0), rtol=1e-6, atol=1e-3)
        if sharded:  # shard index, minishard index, manifest, fragment data: byte ranges
            assert srv.requests <= 6


def test_unreadable_draco_names_segment_and_fragment(tmp_path):
    frags = _fragments()
    man, data = _manifest_and_data(frags)
    root = tmp_path / "ml"
    root.mkdir()
    (root / "info").write_text(json.dumps(_multilod_info()))
    (root / "42.index").write_bytes(man)
    (root / "42").write_bytes(b"\x00" * len(data))
    with pytest.raises(DataFormatError, match=r"segment 42, LOD 0, fragment 0 .*Draco"):
        read_mesh(root, 42)


# ----------------------------------------------------------------------------- skeletons
ATTRS = [
    {"id": "radius", "data_type": "float32", "num_components": 1},
    {"id": "color", "data_type": "uint8", "num_components": 3},
]


def _skeletons(rng):
    out = {}
    for sid in (3, 2**40 + 5, 99):
        n = int(rng.integers(5, 40))
        v = rng.uniform(0, 1000, (n, 3))
        e = np.stack([np.arange(1, n), rng.integers(0, np.arange(1, n))], axis=1)
        a = {"radius": rng.uniform(1, 5, n), "color": rng.integers(0, 255, (n, 3))}
        out[sid] = (v, e, a)
    return out


@pytest.mark.parametrize("form", ["plain", "gz", "sharded"])
def test_skeletons(tmp_path, rng, form):
    sk = _skeletons(rng)
    root = tmp_path / "sk"
    info = {"@type": "neuroglancer_skeletons", "vertex_attributes": ATTRS,
            "transform": [1, 0, 0, 5, 0, 1, 0, 6, 0, 0, 2, 7]}  # fmt: skip
    enc = {sid: encode_skeleton(v, e, a, vertex_attributes=ATTRS) for sid, (v, e, a) in sk.items()}
    if form == "plain":
        write_skeletons(root, enc, info=info)
        for sid in enc:
            (root / f"object_{sid}").unlink()
    elif form == "gz":
        root.mkdir()
        (root / "info").write_text(json.dumps(info))
        for sid, b in enc.items():
            (root / f"{sid}.gz").write_bytes(gzip.compress(b))
    else:  # tensorstore's sharded kvstore, MurmurHash3
        spec = {"@type": "neuroglancer_uint64_sharded_v1", "hash": "murmurhash3_x86_128",
                "preshift_bits": 0, "minishard_bits": 1, "shard_bits": 1,
                "minishard_index_encoding": "gzip", "data_encoding": "gzip"}  # fmt: skip
        root.mkdir()
        (root / "info").write_text(json.dumps({**info, "sharding": spec}))
        kv = ts.KvStore.open(
            {"driver": "neuroglancer_uint64_sharded", "base": f"file://{root}/", "metadata": spec}
        ).result()
        for sid, b in enc.items():
            kv[struct.pack(">Q", sid)] = b
    for sid, (v, e, a) in sk.items():
        got = read_skeleton(root, sid)
        want = v.astype(np.float32).astype(np.float64) * [1, 1, 2] + [5, 6, 7]
        np.testing.assert_allclose(got.vertices, want, rtol=1e-6)
        np.testing.assert_array_equal(got.edges, e)
        np.testing.assert_array_equal(got.attributes["color"], a["color"])
        np.testing.assert_allclose(got.attributes["radius"], a["radius"].astype(np.float32))
    with S3Emulator() as s3:
        s3.upload_folder(root, "sk")
        got = read_skeleton(f"s3://{s3.bucket}/sk", 2**40 + 5)
        assert len(got.edges) == len(sk[2**40 + 5][1])
    with pytest.raises(SourceNotFoundError, match="no skeleton for segment 4"):
        read_skeleton(root, 4)


def test_skeletons_cli(tmp_path, rng, capsys):
    sk = _skeletons(rng)
    info = {"@type": "neuroglancer_skeletons", "vertex_attributes": ATTRS}
    write_skeletons(tmp_path / "sk", {s: encode_skeleton(v, e, a, vertex_attributes=ATTRS)
                                      for s, (v, e, a) in sk.items()}, info=info)  # fmt: skip
    assert main(["skeletons", "info", str(tmp_path / "sk"), "--id", "99"]) == 0
    out = capsys.readouterr().out
    assert "color (uint8 x3)" in out and f"{len(sk[99][0])} vertices" in out
    assert main(["skeletons", "convert", str(tmp_path / "sk"), "99", str(tmp_path / "s.csv")]) == 0
    t = pd.read_csv(tmp_path / "s.csv")
    assert len(t) == len(sk[99][0]) and {"color_0", "radius"} <= set(t.columns)
    assert main(["skeletons", "convert", str(tmp_path / "sk"), "99", str(tmp_path / "s.swc")]) == 0
    assert (tmp_path / "s.swc").read_text().count("\n") >= len(sk[99][0])


# ----------------------------------------------------------------------------- annotations
def _ng_writer(kind, rng, n=60):
    from neuroglancer.write_annotations import AnnotationWriter

    cs = neuroglancer.CoordinateSpace(names=["x", "y", "z"], units="nm", scales=[4, 4, 40])
    props = [
        neuroglancer.AnnotationPropertySpec(id="score", type="float32"),
        neuroglancer.AnnotationPropertySpec(id="n", type="uint16"),
        neuroglancer.AnnotationPropertySpec(id="c", type="rgb"),
        neuroglancer.AnnotationPropertySpec(
            id="k", type="uint8", enum_values=[0, 1], enum_labels=["exc", "inh"]
        ),
    ]
    w = AnnotationWriter(cs, kind, relationships=["pre", "post"], properties=props)
    rows = []
    for i in range(n):
        a = rng.uniform(0, 100, 3)
        b = a + rng.uniform(1, 5, 3)
        kw = dict(id=1000 + i, score=float(i) / 2, n=i * 3, c="#ff0080", k=i % 2,
                  pre=[i % 7], post=[i % 5 + 100, 9])  # fmt: skip
        if kind == "point":
            w.add_point(a, **kw)
        elif kind == "line":
            w.add_line(a, b, **kw)
        elif kind == "axis_aligned_bounding_box":
            w.add_axis_aligned_bounding_box(a, b, **kw)
        else:
            w.add_ellipsoid(a, b - a, **kw)
        rows.append((a, b))
    return w, rows


@pytest.mark.parametrize("kind", ["point", "line", "axis_aligned_bounding_box", "ellipsoid"])
def test_annotations_from_neuroglancer_writer(tmp_path, rng, kind):
    w, rows = _ng_writer(kind, rng)
    w.write(tmp_path / "ann")
    df = read_annotations(tmp_path / "ann")
    assert len(df) == 60 and df.attrs["annotation_type"] == kind
    assert df["id"].tolist() == list(range(1000, 1060))
    a = np.array([r[0] for r in rows], np.float32)
    first = ["x", "y", "z"] if kind in ("point", "ellipsoid") else ["x_a", "y_a", "z_a"]
    np.testing.assert_array_equal(df[first].to_numpy(), a)
    assert df["score"].tolist() == [i / 2 for i in range(60)]
    assert df["n"].tolist() == [i * 3 for i in range(60)]
    assert set(df["c"]) == {"#ff0080"} and df["k_label"].tolist()[:2] == ["exc", "inh"]
    assert [list(v) for v in df["pre"]] == [[i % 7] for i in range(60)]
    assert [list(v) for v in df["post"]] == [sorted([i % 5 + 100, 9]) for i in range(60)]
    one = read_annotations(tmp_path / "ann", ids=[1003])
    pd.testing.assert_frame_equal(one.reset_index(drop=True), df.iloc[[3]].reset_index(drop=True))
    rel = read_annotations(tmp_path / "ann", relationship=("pre", 3))
    assert rel["id"].tolist() == [1000 + i for i in range(60) if i % 7 == 3]
    # over HTTP the unsharded relationship index cannot be listed: by-id index instead
    with StaticHTTPServer(tmp_path) as srv:
        remote = read_annotations(f"{srv.url}/ann")
    pd.testing.assert_frame_equal(remote, df)


def test_sharded_annotations_ours_and_neuroglancer_reader(tmp_path, rng):
    n = 5000
    syn = pd.DataFrame(
        {
            "x_nm": rng.uniform(0, 8e4, n), "y_nm": rng.uniform(0, 8e4, n),
            "z_nm": rng.uniform(0, 3e4, n), "pre": rng.integers(1, 2**50, n),
            "post": rng.integers(1, 400, n), "size": rng.uniform(1, 300, n),
        }
    )  # fmt: skip
    write_synapse_annotations(syn, tmp_path / "syn", limit=500)
    df = read_annotations(tmp_path / "syn")
    assert len(df) == n and df["id"].tolist() == list(range(n))
    np.testing.assert_array_equal(df["x"], syn["x_nm"].to_numpy(np.float32))
    np.testing.assert_array_equal(df["size"], syn["size"].to_numpy(np.float32))
    assert [int(v[0]) for v in df["pre_segment"]] == syn["pre"].tolist()
    from neuroglancer.read_precomputed_annotations import AnnotationReader

    ng = AnnotationReader(f"file://{tmp_path}/syn/")
    for i in (0, 17, n - 1):
        a = ng.by_id[i]
        np.testing.assert_allclose(a.point, df.loc[i, ["x", "y", "z"]].to_numpy(np.float64))
        assert [int(s) for s in a.segments[0]] == df.loc[i, "pre_segment"].tolist()
    with S3Emulator() as s3:
        s3.upload_folder(tmp_path / "syn", "syn")
        remote = read_annotations(f"precomputed://s3://{s3.bucket}/syn")
    pd.testing.assert_frame_equal(remote, df)
    info = annotations_info(tmp_path / "syn")
    assert info["count"] == n and info["by_id_sharded"]
    assert info["relationship_counts"]["post_segment"]["segments"] == syn["post"].nunique()


def test_annotations_cli(tmp_path, rng, capsys):
    w, _ = _ng_writer("point", rng)
    w.write(tmp_path / "ann")
    assert main(["annotations", "info", str(tmp_path / "ann")]) == 0
    out = capsys.readouterr().out
    assert "60 point annotations" in out and "score (float32)" in out
    assert "pre (60 links to 7 segments)" in out
    assert main(["annotations", "convert", str(tmp_path / "ann"), str(tmp_path / "a.parquet")]) == 0
    t = pd.read_parquet(tmp_path / "a.parquet")
    assert len(t) == 60 and list(t["post"].iloc[0]) == [9, 100]
    assert main(["annotations", "convert", str(tmp_path / "ann"), str(tmp_path / "a.csv"),
                 "--related", "pre=2"]) == 0  # fmt: skip
    t = pd.read_csv(tmp_path / "a.csv")
    assert len(t) == sum(1 for i in range(60) if i % 7 == 2)
    rc = main(["annotations", "info", str(tmp_path)])
    assert rc == 2 and "not a Neuroglancer precomputed folder" in capsys.readouterr().err


def test_viewer_serves_gz_fallback(tmp_path):
    import urllib.request

    from connectoscope.viewer import ViewerServer

    ds = tmp_path / "d"
    (ds / "ext").mkdir(parents=True)
    (ds / "ext" / "7:0.gz").write_bytes(gzip.compress(b'{"fragments": []}'))
    with ViewerServer(ds) as srv:
        req = urllib.request.Request(f"{srv.url}/data/ext/7:0")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.headers["Content-Encoding"] == "gzip"
            assert gzip.decompress(r.read()) == b'{"fragments": []}'
