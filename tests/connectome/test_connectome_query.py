"""Spatial, compartment and target queries on synapse tables (``query_synapses`` and
``connectoscope connectome query``), checked against brute-force numpy computations."""

import json
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectoscope.cli import main
from connectoscope.connectome import (
    SynapseTable,
    box_mask,
    nearest_skeleton_vertex,
    parse_box,
    query_synapses,
    radius_mask,
)
from connectoscope.connectome._query import SWC_COMPARTMENTS, TARGET_COLUMNS
from connectoscope.errors import DataFormatError, InvalidParameterError
from connectoscope.morphology import COMPARTMENTS, Neuron, Skeleton, write_swc
from connectoscope.morphology import TARGET_COLUMNS as MORPHOLOGY_TARGET_COLUMNS
from connectoscope.testing import run_benchmark

BIG = 864691135000000000


# ---------------------------------------------------------------------------- helpers
def _table(rng, n, *, integer=False, span=10_000.0):
    if integer:  # coordinates on a grid: many points exactly on box faces and spheres
        pos = rng.integers(0, 21, (n, 3)).astype(np.float64) * 500.0
    else:
        pos = rng.uniform(0, span, (n, 3))
    return SynapseTable(
        pd.DataFrame(
            {
                "pre": BIG + rng.integers(0, 50, n),
                "post": BIG + rng.integers(0, 50, n),
                "size": rng.integers(1, 1000, n),
                "x_nm": pos[:, 0],
                "y_nm": pos[:, 1],
                "z_nm": pos[:, 2],
                "tag": rng.choice(["spine", "shaft", "soma", "Spine"], n),
            }
        )
    )


def _pos(t):
    return t.df[["x_nm", "y_nm", "z_nm"]].to_numpy()


def _brute_box(p, lo, hi):
    return np.all((p >= np.asarray(lo)) & (p < np.asarray(hi)), axis=1)


def _brute_radius(p, centres, r):
    c = np.asarray(centres, np.float64).reshape(-1, 3)
    d2 = ((p[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
    return (d2 <= r * r).any(axis=1)


def _skeleton(rng, n=300, span=10_000.0, labels=True):
    """A random tree: vertex i hangs from a random earlier vertex; compartments by region."""
    v = rng.uniform(0, span, (n, 3))
    parent = np.r_[-1, [rng.integers(0, i) for i in range(1, n)]]
    comp = np.where(v[:, 0] < span / 2, 2, 3).astype(np.int32)  # axon left, dendrite right
    comp[v[:, 1] > 0.8 * span] = 4
    comp[0] = 1
    feats = {"compartment": comp if labels else np.zeros(n, np.int32)}
    return Skeleton.from_parents(
        np.arange(1, n + 1), np.where(parent < 0, -1, parent + 1), v, features=feats, name="cell"
    )


def _brute_nearest(p, sk):
    d2 = ((p[:, None, :] - sk.vertices[None, :, :]) ** 2).sum(axis=2)
    j = d2.argmin(axis=1)
    return j, np.sqrt(d2[np.arange(len(p)), j])


# ---------------------------------------------------------------------------- brute force
def test_box_matches_brute_force_on_faces(rng):
    t = _table(rng, 5000, integer=True)
    lo, hi = (1000.0, 500.0, 2500.0), (6000.0, 9000.0, 7000.0)
    r = query_synapses(t, box_nm=(lo, hi))
    want = _brute_box(_pos(t), lo, hi)
    assert want.sum() > 100 and (~want).sum() > 100
    # half-open: points on the min face in, on the max face out (grid points land on both)
    assert (_pos(t)[:, 0] == 6000).any() and (_pos(t)[:, 0] == 1000).any()
    np.testing.assert_array_equal(r.mask, want)
    np.testing.assert_array_equal(r.rows, np.flatnonzero(want))
    pd.testing.assert_frame_equal(r.df, t.df[want].reset_index(drop=True))
    np.testing.assert_array_equal(box_mask(_pos(t), lo, hi), want)


def test_radius_one_and_several_centres_match_brute_force(rng):
    t = _table(rng, 4000, integer=True)
    t.df.loc[0, ["x_nm", "y_nm", "z_nm"]] = 5000.0  # one point on the centre
    p = _pos(t)
    on_sphere = ((p - 5000.0) ** 2).sum(axis=1) == 2500.0**2
    assert on_sphere.sum() > 2  # grid points exactly on the first sphere: inclusive
    for centres, radius in (
        ((5000.0, 5000.0, 5000.0), 2500.0),  # grid points lie exactly on this sphere
        ([(0.0, 0.0, 0.0), (5000.0, 5000.0, 5000.0), (9500.0, 500.0, 3000.0)], 3000.0),
        (rng.uniform(0, 10_000, (40, 3)), 1200.0),
        ((5000.0, 5000.0, 5000.0), 0.0),  # only exact coincidence
    ):
        want = _brute_radius(p, centres, radius)
        got = query_synapses(t, center_nm=centres, radius_nm=radius).mask
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(radius_mask(p, centres, radius), want)
    assert query_synapses(t, center_nm=(5000, 5000, 5000), radius_nm=2500).mask[on_sphere].all()
    assert query_synapses(t, center_nm=(5000, 5000, 5000), radius_nm=0).rows.tolist() == [0] + [
        i for i in np.flatnonzero((p == 5000.0).all(axis=1)) if i
    ]


def test_compartment_and_max_dist_match_brute_force(rng):
    t = _table(rng, 3000)
    sk = _skeleton(rng)
    p = _pos(t)
    j, d = _brute_nearest(p, sk)
    comp = sk.features["compartment"][j]
    r = query_synapses(t, skeleton=sk, compartment="axon")
    np.testing.assert_array_equal(r.mask, comp == 2)
    np.testing.assert_array_equal(r.df["skeleton_vertex"], j[comp == 2])
    np.testing.assert_allclose(r.df["skeleton_distance_nm"], d[comp == 2], rtol=1e-12)
    assert (r.df["skeleton_compartment"] == 2).all()
    cap = float(np.median(d))
    r = query_synapses(t, skeleton=sk, compartment=["dendrite", 4], max_dist_nm=cap)
    np.testing.assert_array_equal(r.mask, np.isin(comp, [3, 4]) & (d <= cap))
    vert, dist = nearest_skeleton_vertex(p, sk, cap)
    np.testing.assert_array_equal(vert, np.where(d <= cap, j, -1))
    assert np.isinf(dist[d > cap]).all()
    # the skeleton alone with a cap: near any compartment; a Neuron is taken as its skeleton
    r = query_synapses(t, skeleton=Neuron.build(sk), max_dist_nm=cap)
    np.testing.assert_array_equal(r.mask, d <= cap)


def test_target_where_and_all_filters_combine_with_and(rng):
    t = _table(rng, 6000)
    p, df = _pos(t), t.df
    sk = _skeleton(rng)
    j, d = _brute_nearest(p, sk)
    lo, hi = (1000.0, 0.0, 0.0), (9000.0, 8000.0, 9500.0)
    masks = {
        "box": _brute_box(p, lo, hi),
        "target": df["tag"].str.lower().isin(["spine", "soma"]).to_numpy(),
        "size": (df["size"] > 300).to_numpy(),
        "radius": _brute_radius(p, (5000.0, 4000.0, 5000.0), 4500.0),
        "compartment": (sk.features["compartment"][j] == 3) & (d <= 1500.0),
    }
    r = query_synapses(
        t,
        box_nm=(lo, hi),
        target="spine,SOMA",
        where=[("size", "gt", 300)],
        center_nm=(5000.0, 4000.0, 5000.0),
        radius_nm=4500.0,
        skeleton=sk,
        compartment="dendrite",
        max_dist_nm=1500.0,
    )
    want = np.logical_and.reduce(list(masks.values()))
    assert 0 < want.sum() < 1000
    np.testing.assert_array_equal(r.mask, want)
    # each step counts the rows left so far, in the order applied
    order = ["box", "target", "size", "radius", "compartment"]
    left = [int(np.logical_and.reduce([masks[k] for k in order[: i + 1]]).sum()) for i in range(5)]
    assert [n for _, n in r.steps] == left
    assert r.counts()["kept"] == int(want.sum()) and r.counts()["total"] == 6000
    assert r.summary().startswith(f"{int(want.sum()):,} of 6,000 synapses kept (box [")
    # exact 64-bit ids come through
    assert r.df["pre"].dtype == np.int64 and (r.df["pre"] >= BIG).all()
    assert r.table.pre.tolist() == df["pre"][want].tolist()


def test_nan_positions_match_nothing_and_categorical_target(rng):
    t = _table(rng, 500)
    t.df.loc[::7, "y_nm"] = np.nan
    t.df.loc[::5, "tag"] = None  # missing targets match no value
    for tags in (t.df["tag"].copy(), t.df["tag"].astype("category")):
        t.df["tag"] = tags
        r = query_synapses(t, box_nm="-inf,-inf,-inf:inf,inf,inf", target="shaft,soma")
        want = t.df["y_nm"].notna().to_numpy() & t.df["tag"].isin(["shaft", "soma"]).to_numpy()
        assert want.sum() > 50
        np.testing.assert_array_equal(r.mask, want)
    for centres in ((0, 0, 0), [(0, 0, 0), (5000, 5000, 5000)]):  # one centre; a KD-tree
        far = query_synapses(t, center_nm=centres, radius_nm=1e9).mask
        np.testing.assert_array_equal(far, t.df["y_nm"].notna().to_numpy())


def test_shared_vocabulary_with_morphology():
    assert SWC_COMPARTMENTS == COMPARTMENTS
    assert tuple(MORPHOLOGY_TARGET_COLUMNS) == TARGET_COLUMNS


# ---------------------------------------------------------------------------- laws
_coord = st.integers(-20, 20).map(lambda v: v * 250.0)
_triple = st.tuples(_coord, _coord, _coord)
_POINTS = np.random.default_rng(7).integers(-20, 21, (600, 3)).astype(np.float64) * 250.0
_T = SynapseTable(
    pd.DataFrame(
        {
            "pre": np.arange(600),
            "post": np.arange(600),
            "x_nm": _POINTS[:, 0],
            "y_nm": _POINTS[:, 1],
            "z_nm": _POINTS[:, 2],
        }
    )
)


@given(_triple, _triple, st.integers(0, 2), _coord)
def test_box_laws(a, b, axis, cut):
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    m = query_synapses(_T, box_nm=(lo, hi)).mask
    np.testing.assert_array_equal(m, _brute_box(_POINTS, lo, hi))
    # a plane inside the box splits its points into two boxes exactly (half-open faces)
    c = min(max(cut, lo[axis]), hi[axis])
    hi1, lo2 = hi.copy(), lo.copy()
    hi1[axis] = lo2[axis] = c
    m1 = query_synapses(_T, box_nm=(lo, hi1)).mask
    m2 = query_synapses(_T, box_nm=(lo2, hi)).mask
    assert not (m1 & m2).any()
    np.testing.assert_array_equal(m1 | m2, m)
    # a larger box keeps a superset; AND of two boxes is the box of their intersection
    assert not (m & ~query_synapses(_T, box_nm=(lo - 250, hi + 250)).mask).any()
    lo3, hi3 = np.maximum(lo, a), np.minimum(hi, np.add(a, 2000))
    if (lo3 <= hi3).all():
        both = query_synapses(_T, box_nm=(lo, hi)).mask & query_synapses(_T, box_nm=(lo3, hi3)).mask
        np.testing.assert_array_equal(both, query_synapses(_T, box_nm=(lo3, hi3)).mask & m)
        np.testing.assert_array_equal(both, _brute_box(_POINTS, lo3, hi3))


@given(_triple, st.integers(0, 40).map(lambda v: v * 125.0), st.integers(0, 40).map(float))
def test_radius_laws(c, r, grow):
    m = query_synapses(_T, center_nm=c, radius_nm=r).mask
    np.testing.assert_array_equal(m, _brute_radius(_POINTS, c, r))
    # monotone in the radius; inside the closed box of the sphere; AND with a box commutes
    assert not (m & ~query_synapses(_T, center_nm=c, radius_nm=r + grow).mask).any()
    cc = np.asarray(c)
    assert _brute_box(_POINTS[m], cc - r, np.nextafter(cc + r, np.inf)).all()
    box = (cc - 1000, cc + 500)
    both = query_synapses(_T, center_nm=c, radius_nm=r, box_nm=box).mask
    np.testing.assert_array_equal(both, m & query_synapses(_T, box_nm=box).mask)
    # several centres: the union of the single-centre answers
    c2 = cc + 1000
    two = query_synapses(_T, center_nm=[cc, c2], radius_nm=r).mask
    np.testing.assert_array_equal(two, m | query_synapses(_T, center_nm=c2, radius_nm=r).mask)


# ---------------------------------------------------------------------------- scale
def test_million_points_vectorised(rng):
    """10^6 synapses through every filter: answers equal brute force, well inside 5 s."""
    n = 1_000_000
    t = _table(rng, n, span=100_000.0)
    sk = _skeleton(rng, n=5000, span=100_000.0)
    t0 = time.perf_counter()
    r = query_synapses(
        t,
        box_nm=((10_000.0, 0.0, 0.0), (90_000.0, 100_000.0, 80_000.0)),
        target="spine",
        center_nm=(50_000.0, 50_000.0, 40_000.0),
        radius_nm=35_000.0,
        skeleton=sk,
        compartment="axon,dendrite",
        max_dist_nm=4000.0,
    )
    seconds = time.perf_counter() - t0
    p = _pos(t)
    pre = (
        _brute_box(p, (10_000.0, 0.0, 0.0), (90_000.0, 100_000.0, 80_000.0))
        & t.df["tag"].str.lower().eq("spine").to_numpy()
        & _brute_radius(p, (50_000.0, 50_000.0, 40_000.0), 35_000.0)
    )
    kept = np.flatnonzero(r.mask)
    assert not (r.mask & ~pre).any() and kept.size > 1000
    # the skeleton step on a sample of the candidates, by a full distance matrix
    sample = rng.choice(np.flatnonzero(pre), 1000, replace=False)
    j, d = _brute_nearest(p[sample], sk)
    ok = np.isin(sk.features["compartment"][j], [2, 3]) & (d <= 4000.0)
    np.testing.assert_array_equal(r.mask[sample], ok)
    assert seconds < 5.0, f"10^6 synapses took {seconds:.1f} s"


# ---------------------------------------------------------------------------- errors
def test_bad_inputs_raise_clear_errors(rng):
    t = _table(rng, 50)
    with pytest.raises(InvalidParameterError, match="min 9 > max 1 on y"):
        query_synapses(t, box_nm="0,9,0:1,1,1")
    with pytest.raises(InvalidParameterError, match="x0,y0,z0:x1,y1,z1"):
        parse_box("0,0:1,1,1")
    with pytest.raises(InvalidParameterError, match="not a value of column 'tag'"):
        query_synapses(t, target="spnie")
    with pytest.raises(DataFormatError, match="no column 'cleft'"):
        query_synapses(t, where=[("cleft", "gt", 3)])
    with pytest.raises(DataFormatError, match="no column 'kind'"):
        query_synapses(t, target="spine", target_column="kind")
    no_tag = SynapseTable(t.df.drop(columns="tag"))
    with pytest.raises(DataFormatError, match="no target column"):
        query_synapses(no_tag, target="spine")
    no_pos = SynapseTable(t.df.drop(columns=["x_nm", "y_nm", "z_nm"]))
    with pytest.raises(DataFormatError, match="no synapse positions"):
        query_synapses(no_pos, center_nm=(0, 0, 0), radius_nm=5)
    with pytest.raises(DataFormatError, match="no compartment labels"):
        query_synapses(t, skeleton=_skeleton(rng, labels=False), compartment="axon")
    with pytest.raises(InvalidParameterError, match="unknown; use undefined, soma, axon"):
        query_synapses(t, skeleton=_skeleton(rng), compartment="axom")
    soma_only = _skeleton(rng)
    soma_only.features["compartment"][:] = 1
    with pytest.raises(InvalidParameterError, match="no vertex of skeleton 'cell' has it; its la"):
        query_synapses(t, skeleton=soma_only, compartment="axon,dendrite")
    with pytest.raises(InvalidParameterError, match="need a skeleton"):
        query_synapses(t, compartment="axon")
    with pytest.raises(InvalidParameterError, match="go together"):
        query_synapses(t, center_nm=(0, 0, 0))
    with pytest.raises(InvalidParameterError, match=">= 0"):
        query_synapses(t, center_nm=(0, 0, 0), radius_nm=-1)


# ---------------------------------------------------------------------------- CLI
@pytest.fixture
def files(tmp_path, rng):
    n = 3000
    vx = rng.integers(0, 2500, (n, 3))
    df = pd.DataFrame(
        {
            "pre_pt_root_id": BIG + rng.integers(0, 40, n),
            "post_pt_root_id": BIG + rng.integers(0, 40, n),
            "size": rng.integers(1, 900, n),
            "ctr_pt_position_x": vx[:, 0],
            "ctr_pt_position_y": vx[:, 1],
            "ctr_pt_position_z": vx[:, 2] // 10,
            "tag": rng.choice(["spine", "shaft", "soma"], n),
        }
    )
    df.to_parquet(tmp_path / "syn.parquet")
    sk = _skeleton(rng, span=10_000.0)
    write_swc(sk, tmp_path / "cell.swc", units=1.0)
    write_swc(_skeleton(rng, labels=False), tmp_path / "bare.swc", units=1.0)
    return tmp_path, sk


def test_cli_round_trip(files, capsys):
    d, sk = files
    args = [
        "connectome",
        "query",
        str(d / "syn.parquet"),
        "--voxel-size",
        "4,4,40",
        "--box",
        "500,0,0:8000,9000,9000",
        "--target",
        "spine",
        "--where",
        "size>200",
        "--skeleton",
        str(d / "cell.swc"),
        "--skeleton-units",
        "1",
        "--compartment",
        "dendrite,apical dendrite",
        "--max-dist",
        "3000",
    ]
    assert main([*args, "-o", str(d / "out.parquet")]) == 0
    line = capsys.readouterr().out.strip()
    assert len(line.splitlines()) == 1 and "synapses kept" in line
    t = SynapseTable.read(d / "syn.parquet", voxel_size=(4, 4, 40))
    want = query_synapses(
        t,
        box_nm=((500, 0, 0), (8000, 9000, 9000)),
        target="spine",
        where=[("size", "gt", 200)],
        skeleton=sk,
        compartment=[3, 4],
        max_dist_nm=3000,
    )
    assert 0 < len(want) < len(t)
    got = pd.read_parquet(d / "out.parquet")
    pd.testing.assert_frame_equal(got, want.df)
    assert line.startswith(f"{d / 'syn.parquet'}: {len(want):,} of 3,000 synapses kept")
    # CSV and --json; an existing output needs --overwrite
    assert main([*args, "-o", str(d / "out.csv"), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["kept"] == len(want) and counts["total"] == 3000
    assert [s["rows"] for s in counts["steps"]] == [n for _, n in want.steps]
    csv = pd.read_csv(d / "out.csv")
    assert csv["pre"].tolist() == want.df["pre"].tolist()  # exact ids above 2**53
    assert main([*args, "-o", str(d / "out.csv")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "-o", str(d / "out.csv"), "--overwrite"]) == 0
    assert not list(d.glob(".*.part"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--box", "9,0,0:1,1,1"], "--box: min 9 > max 1 on x"),
        (["--target", "spiny"], "not a value of column 'tag'"),
        (["--where", "cleft>3"], "no column 'cleft'"),
        (["--where", "size>abc"], "cannot compare column 'size' (int64) with 'abc'"),
        (["--center", "1,2", "--radius", "5"], "--center: expected three numbers"),
        (["--target-column", "kind", "--target", "spine"], "no column 'kind'"),
        (["--skeleton", "{d}/bare.swc", "--compartment", "axon"], "no compartment labels"),
        (["--center", "0,0,0"], "go together"),
        (["--compartment", "axon"], "need a skeleton"),
        (["-o", "{d}/out.txt"], ".parquet or .csv"),
        (["--no-voxel-size", "--radius", "5", "--center", "1,1,1"], "no synapse positions"),
    ],
)
def test_cli_bad_inputs_exit_2(files, capsys, extra, message):
    d, _ = files
    args = ["connectome", "query", str(d / "syn.parquet")]
    if "--no-voxel-size" in extra:
        extra = [e for e in extra if e != "--no-voxel-size"]
    else:
        args += ["--voxel-size", "4,4,40"]
    assert main([*args, *[e.format(d=d) for e in extra]]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_bench_query_smoke():
    out = run_benchmark(
        "benchmarks/bench_query.py",
        "--smoke",
        timeout=120,
        expect=(
            "query box, 100000 synapses",
            "query radius, 100000 synapses",
            "query box + target spine, 100000 synapses",
            "query compartment dendrite within 5000 nm",
            "query streamed box + target spine, 100000 synapses in 10 Parquet files",
            "query streamed peak RSS of all processes",
        ),
    )
    assert out.count("ratio") == 5


# ---------------------------------------------------------------------------- streamed
def _folder(tmp_path, rng, n=5000, parts=4):
    df = pd.DataFrame(
        {
            "pre_pt_root_id": np.uint64(2**63) + rng.integers(0, 1000, n).astype(np.uint64),
            "post_pt_root_id": BIG + rng.integers(0, 40, n),
            "size": rng.integers(1, 900, n),
            "ctr_pt_position_x": rng.integers(0, 2500, n),
            "ctr_pt_position_y": rng.integers(0, 2500, n),
            "ctr_pt_position_z": rng.integers(0, 250, n),
            "tag": rng.choice(["spine", "shaft", "soma"], n),
        }
    )
    df = df.sort_values("ctr_pt_position_x", kind="stable", ignore_index=True)
    # only in the first file (whose batches lie outside the box below)
    df.loc[:2, "tag"] = "axon initial segment"
    folder = tmp_path / "syn"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(n), parts)):
        df.iloc[part].to_parquet(folder / f"part-{i:03d}.parquet", index=False)
    return folder


def test_streamed_query_equals_in_memory(tmp_path, rng):
    from connectoscope.connectome import query_table_file

    folder = _folder(tmp_path, rng)
    sk = _skeleton(rng)
    filters = dict(
        box_nm=((3000, 0, 0), (9000, 9000, 9000)),  # whole batches of low x lie outside
        target="spine,axon initial segment",
        where=[("size", "gt", 100)],
        center_nm=[(5000, 5000, 5000), (1000, 1000, 1000)],
        radius_nm=4000,
        skeleton=sk,
        compartment="axon,dendrite",
        max_dist_nm=2500,
    )
    t = SynapseTable.read(folder, voxel_size=(4, 4, 40))
    want = query_synapses(t, **filters)
    assert 50 < len(want) < 2000
    # the later batches never see "axon initial segment": no error for them
    for name in ("out.parquet", "out.csv"):
        r = query_table_file(
            folder, tmp_path / name, voxel_size=(4, 4, 40), batch_rows=300, **filters
        )
        assert r.batches > 16 and r.n_total == 5000 and r.n_kept == len(want)
        assert r.steps == want.steps and r.summary() == want.summary()
        got = (pd.read_parquet if name.endswith("parquet") else pd.read_csv)(tmp_path / name)
        if name.endswith("csv"):
            got["pre"] = got["pre"].astype(np.uint64)
        pd.testing.assert_frame_equal(got, want.df, check_dtype=name.endswith("parquet"))
        assert got["pre"].dtype == np.uint64 and (got["pre"] >= 2**63).all()
    # nothing kept: an empty table with the in-memory answer's columns
    none = dict(box_nm=((0, 0, 0), (1, 1, 1)), target="spine")
    r = query_table_file(folder, tmp_path / "none.parquet", voxel_size=(4, 4, 40), **none)
    assert r.n_kept == 0 and r.steps == [(r.steps[0][0], 0), (r.steps[1][0], 0)]
    empty = pd.read_parquet(tmp_path / "none.parquet")
    assert len(empty) == 0 and list(empty.columns) == list(query_synapses(t, **none).df.columns)
    # a value found in no batch is refused at the end, and no output is left
    with pytest.raises(InvalidParameterError, match="'dendritic shaft': not a value"):
        query_table_file(
            folder,
            tmp_path / "bad.parquet",
            voxel_size=(4, 4, 40),
            batch_rows=300,
            target="dendritic shaft",
        )
    assert not (tmp_path / "bad.parquet").exists() and not list(tmp_path.glob(".*.part"))


def test_streamed_query_cli_and_bad_folders(tmp_path, rng, capsys):
    folder = _folder(tmp_path, rng)
    args = [
        "connectome",
        "query",
        str(folder),
        "--voxel-size",
        "4,4,40",
        "--center",
        "5000,5000,5000",
        "--radius",
        "3000",
        "--target",
        "soma",
    ]
    assert (
        main([*args, "--stream", "on", "--batch-rows", "700", "-o", str(tmp_path / "s.parquet")])
        == 0
    )
    streamed = capsys.readouterr().out
    assert main([*args, "--stream", "off", "-o", str(tmp_path / "m.parquet")]) == 0
    in_memory = capsys.readouterr().out
    assert streamed.split(" -> ")[0] == in_memory.split(" -> ")[0]
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "s.parquet"), pd.read_parquet(tmp_path / "m.parquet")
    )
    # a file whose columns differ from the others': named, exit 2
    pd.read_parquet(folder / "part-002.parquet").rename(columns={"size": "cleft"}).to_parquet(
        folder / "part-002.parquet", index=False
    )
    assert main([*args, "--stream", "on"]) == 2
    err = capsys.readouterr().err
    assert "part-002.parquet: columns differ" in err and "cleft" in err


def test_streamed_error_leaves_no_output(tmp_path, rng):
    from connectoscope.connectome import query_table_file

    folder = _folder(tmp_path, rng)
    with pytest.raises(InvalidParameterError, match="cannot compare column 'size'"):
        query_table_file(
            folder,
            tmp_path / "x.parquet",
            voxel_size=(4, 4, 40),
            batch_rows=100,
            where=[("size", "gt", "abc")],
        )
    assert not (tmp_path / "x.parquet").exists() and not list(tmp_path.glob(".*.part"))


def test_cli_streams_automatically_above_the_threshold(tmp_path, rng, monkeypatch, capsys):
    import connectoscope.connectome as cc

    folder = _folder(tmp_path, rng)
    calls = []
    real = cc.query_table_file

    def spy(*a, **k):
        calls.append(k["batch_rows"])
        return real(*a, **k)

    monkeypatch.setattr(cc, "query_table_file", spy)
    args = ["connectome", "query", str(folder), "--voxel-size", "4,4,40", "--target", "soma"]
    assert main(args) == 0 and calls == []  # 5,000 rows: in memory
    whole = capsys.readouterr().out
    monkeypatch.setattr(cc, "STREAM_ROWS", 1000)
    assert main([*args, "--batch-rows", "512"]) == 0 and calls == [512]
    assert capsys.readouterr().out == whole
    assert main([*args, "--stream", "off"]) == 0 and calls == [512]
