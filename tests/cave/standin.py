"""A minimal stand-in of the CAVE services on 127.0.0.1, speaking the endpoints caveclient
calls for datastack info, materialization versions, table metadata and table queries (found
by reading caveclient's ``endpoints.py`` and logging its requests). Tables live in memory as
DataFrames; queries honour ``filter_in_dict`` / ``filter_equal_dict``, ``limit`` and the
200,000-row cap of unfiltered queries, and answer Arrow IPC streams (``data.arrow``)."""

from __future__ import annotations

import gzip
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa

ROW_CAP = 200_000


class CaveStandIn:
    def __init__(
        self,
        datastack,
        tables,
        *,
        versions=(1, 2),
        token="5e1f0c0ffee0ddba11d0ed5a1adbeef0",
        voxel_resolution=(4.0, 4.0, 40.0),
        synapse_table="synapses",
        soma_table="cells",
        skeletons=None,
        pcg_table="teststack_pcg",
    ):
        self.datastack = datastack
        self.tables = dict(tables)
        self.versions = list(versions)
        self.token = token
        self.resolution = list(voxel_resolution)
        self.synapse_table = synapse_table
        self.soma_table = soma_table
        # root id -> skeleton dict in the skeleton service's "flatdict" shape
        self.skeletons = dict(skeletons or {})
        self.pcg_table = pcg_table
        self.log: list[tuple[str, str, dict, bytes]] = []
        # failure injection: fail_after=N answers N table queries, then drops the connection
        # of every later one (a server gone away); drop_every=K drops every K-th request of
        # any kind once (a flaky network: caveclient's retries get through)
        self.fail_after: int | None = None
        self.drop_every = 0
        # hold_after=N answers N table queries, then holds every later one until `release`
        # is set (and then drops it): a client stuck mid-way, to be killed deterministically
        self.hold_after: int | None = None
        self.release = threading.Event()
        self.answered_queries = 0
        self.dropped = 0
        self._n_requests = 0
        self._lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):  # caveclient sends a body with some GETs (valid_nodes)
                n = int(self.headers.get("Content-Length") or 0)
                outer._handle(self, self.rfile.read(n) if n else b"")

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                outer._handle(self, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *a):
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------------ responses
    def _send(self, h, status, body, ctype="application/json", headers=None):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def _info(self):
        return {
            "datastack_name": self.datastack,
            "aligned_volume": {
                "name": self.datastack + "_av",
                "image_source": "precomputed://x",
                "id": 1,
                "description": "stand-in",
            },
            "segmentation_source": "graphene://"
            + self.url
            + "/segmentation/table/"
            + self.pcg_table,
            "synapse_table": self.synapse_table,
            "soma_table": self.soma_table,
            "local_server": self.url,
            "analysis_database": None,
            "viewer_site": None,
            "viewer_resolution_x": self.resolution[0],
            "viewer_resolution_y": self.resolution[1],
            "viewer_resolution_z": self.resolution[2],
        }

    def _roots(self):
        roots = set(self.skeletons)
        for t in self.tables.values():
            for c in ("pt_root_id", "pre_pt_root_id", "post_pt_root_id"):
                if c in t.columns:
                    roots.update(int(i) for i in t[c])
        return roots

    def _skeleton(self, h, version, root, fmt):
        """The skeleton service's answer: gzip-compressed JSON of the skeleton's arrays
        (``flatdict``) or a gzip-compressed SWC text (``swccompressed``)."""
        if version not in (-1, 0, 1, 2, 3, 4):
            return self._send(h, 400, {"message": f"unknown skeleton version {version}"})
        sk = self.skeletons.get(root)
        if sk is None:
            return self._send(h, 404, {"message": f"no skeleton for root id {root}"})
        if fmt == "flatdict":
            text = json.dumps(
                {k: np.asarray(v).tolist() if not np.isscalar(v) else v for k, v in sk.items()}
            )
        else:
            v, e = np.asarray(sk["vertices"]), np.asarray(sk["edges"])
            parent = np.full(len(v), -1)
            parent[e[:, 0]] = e[:, 1]
            rows = [
                f"{i} {int(sk['compartment'][i])} {v[i, 0]} {v[i, 1]} {v[i, 2]} "
                f"{sk['radius'][i]} {parent[i]}"
                for i in range(len(v))
            ]
            text = "\n".join(rows)
        return self._send(h, 200, gzip.compress(text.encode()), ctype="application/octet-stream")

    def _graphene_info(self):
        """The chunkedgraph's precomputed-style info (what CloudVolume reads for graphene://):
        12 layers, 8 layer bits, as MICrONS (root ids 0x0C... are layer 12)."""
        return {
            "app": {"supported_api_versions": [0, 1]},
            "data_dir": self.url + "/ws",
            "type": "segmentation",
            "data_type": "uint64",
            "num_channels": 1,
            "graph": {
                "chunk_size": [256, 256, 512],
                "n_layers": 12,
                "n_bits_for_layer_id": 8,
                "spatial_bit_masks": {str(i): 10 for i in range(1, 13)},
            },
            "mesh": "graphene_meshes",
            "scales": [
                {
                    "key": "8_8_40",
                    "resolution": [8, 8, 40],
                    "size": [1000, 1000, 100],
                    "voxel_offset": [0, 0, 0],
                    "chunk_sizes": [[64, 64, 64]],
                    "encoding": "compressed_segmentation",
                    "compressed_segmentation_block_size": [8, 8, 8],
                }
            ],
        }

    def _table_meta(self, name):
        return {
            "table_name": name,
            "schema": "synapse" if name == self.synapse_table else "cell_type_local",
            "schema_type": "synapse" if name == self.synapse_table else "cell_type_local",
            "voxel_resolution_x": self.resolution[0],
            "voxel_resolution_y": self.resolution[1],
            "voxel_resolution_z": self.resolution[2],
            "voxel_resolution": self.resolution,
            "aligned_volume": self.datastack + "_av",
            "valid": True,
            "reference_table": None,
            "description": "stand-in table",
        }

    def _drop(self, h):
        """Close the connection without an answer (the client sees it dropped)."""
        self.dropped += 1
        h.close_connection = True

    def _handle(self, h, body):
        self.log.append((h.command, h.path, dict(h.headers), body))
        with self._lock:
            self._n_requests += 1
            if self.drop_every and self._n_requests % self.drop_every == 0:
                return self._drop(h)
        public = h.path.startswith("/ws/")  # the watershed bucket is public storage
        if not public and h.headers.get("Authorization") != f"Bearer {self.token}":
            return self._send(h, 401, {"error": "missing or wrong token"})
        u = urlsplit(h.path)
        p = u.path
        q = parse_qs(u.query)
        ds = re.escape(self.datastack)
        if p == "/info/version" or (p.endswith("/api/versions") and p.startswith("/info")):
            return self._send(h, 200, "4.3.2")
        if p == "/skeletoncache/api/version":
            return self._send(h, 200, "0.22.5")
        if p == "/skeletoncache/api/versions":
            return self._send(h, 200, [-1, 0, 1, 2, 3, 4])
        if p == "/segmentation/api/versions":
            return self._send(h, 200, [1])
        if p == "/segmentation/api/version":
            return self._send(h, 200, "2.18.0")
        if p == f"/segmentation/table/{self.pcg_table}/info":
            return self._send(h, 200, self._graphene_info())
        m = re.fullmatch(rf"/segmentation/api/v1/table/{re.escape(self.pcg_table)}/valid_nodes", p)
        if m:
            asked = [int(i) for i in json.loads(body or b"{}").get("node_ids", [])]
            return self._send(h, 200, {"valid_roots": [i for i in asked if i in self._roots()]})
        m = re.fullmatch(
            rf"/skeletoncache/api/v1/{ds}/(?:async/get_skeleton|precomputed/skeleton)"
            rf"/(-?\d+)/(\d+)/(flatdict|swccompressed)",
            p,
        )
        if m:
            return self._skeleton(h, int(m.group(1)), int(m.group(2)), m.group(3))
        if p == "/ws/provenance":  # the watershed layer's provenance CloudVolume reads
            return self._send(h, 200, {"sources": [], "owners": [], "processing": []})
        if p == "/l2cache/api/v1/table_mapping":
            return self._send(
                h, 200, {self.pcg_table: {"l2cache_id": "l2c", "cv_path": "gs://x/l2"}}
            )
        if p == "/materialize/version":
            return self._send(h, 200, "5.13.0")
        if p == "/materialize/api/versions":
            return self._send(h, 200, [2, 3])
        if re.fullmatch(rf"/info/api/v2/datastack/full/{ds}", p):
            return self._send(h, 200, self._info())
        if re.fullmatch(rf"/materialize/api/v[23]/datastack/{ds}/versions", p):
            return self._send(h, 200, self.versions)
        m = re.fullmatch(rf"/materialize/api/v[23]/datastack/{ds}/version/(\d+)", p)
        if m:
            v = int(m.group(1))
            if v not in self.versions:
                return self._send(h, 404, {"message": f"version {v} not found"})
            return self._send(
                h,
                200,
                {
                    "version": v,
                    "valid": True,
                    "expires_on": "2099-01-01T00:00:00.000000",
                    "time_stamp": "2024-01-01T00:00:00.000000",
                    "datastack": self.datastack,
                },
            )
        if re.fullmatch(rf"/materialize/api/v[23]/datastack/{ds}/metadata", p):
            return self._send(
                h,
                200,
                [
                    {
                        "version": v,
                        "valid": True,
                        "expires_on": "2099-01-01T00:00:00.000000",
                        "time_stamp": "2024-01-01T00:00:00.000000",
                    }
                    for v in self.versions
                ],
            )
        m = re.fullmatch(rf"/materialize/api/v[23]/datastack/{ds}/version/(\d+)/tables/metadata", p)
        if m:
            return self._send(h, 200, [self._table_meta(t) for t in self.tables])
        m = re.fullmatch(rf"/materialize/api/v[23]/datastack/{ds}/version/(\d+)/tables", p)
        if m:
            return self._send(h, 200, list(self.tables))
        m = re.fullmatch(
            rf"/materialize/api/v[23]/datastack/{ds}/version/(\d+)/table/([^/]+)/metadata", p
        )
        if m:
            return self._send(h, 200, self._table_meta(m.group(2)))
        m = re.fullmatch(
            rf"/materialize/api/v[23]/datastack/{ds}/version/(\d+)/table/([^/]+)/query", p
        )
        if m and h.command == "POST":
            with self._lock:
                if self.fail_after is not None and self.answered_queries >= self.fail_after:
                    return self._drop(h)
                held = self.hold_after is not None and self.answered_queries >= self.hold_after
                if not held:
                    self.answered_queries += 1
            if held:
                self.release.wait(30)
                return self._drop(h)
            return self._query(h, int(m.group(1)), m.group(2), json.loads(body or b"{}"), q)
        return self._send(h, 404, {"message": f"stand-in: no endpoint {h.command} {p}"})

    def _query(self, h, version, table, spec, q):
        if version not in self.versions:
            return self._send(h, 404, {"message": f"version {version} not found"})
        if table not in self.tables:
            return self._send(h, 404, {"message": f"table {table} not found"})
        df = self.tables[table]
        keep = np.ones(len(df), bool)
        filtered = False
        for col, vals in (spec.get("filter_in_dict") or {}).get(table, {}).items():
            keep &= df[col].isin([int(v) for v in vals]).to_numpy()
            filtered = True
        for col, val in (spec.get("filter_equal_dict") or {}).get(table, {}).items():
            keep &= (df[col] == val).to_numpy()
            filtered = True
        out = df[keep]
        limit = int(q.get("limit", [0])[0] or spec.get("limit") or 0)
        cap = ROW_CAP if not filtered else None
        if limit:
            out = out.head(limit)
        headers = {}
        if cap is not None and len(out) > cap:
            out = out.head(cap)
            headers["Warning"] = f"201 - Query limited to {cap} rows"
        cols = spec.get("select_columns")
        if isinstance(cols, dict):
            cols = cols.get(table)
        if cols:
            out = out[[c for c in cols if c in out.columns]]
        out = out.reset_index(drop=True)
        res = np.asarray(self.resolution, float)
        want = spec.get("desired_resolution")
        scale = res / np.asarray(want, float) if want else np.ones(3)
        split = q.get("split_positions", ["False"])[0] == "True"
        for c in [c for c in out.columns if c.endswith("_position")]:
            vals = out[c].to_numpy()
            xyz = (np.stack(vals).astype(float) if len(vals) else np.zeros((0, 3))) * scale
            if split:
                out = out.drop(columns=c)
                for i, a in enumerate("xyz"):
                    out[f"{c}_{a}"] = xyz[:, i]
            else:
                out[c] = list(xyz)
        if want:
            headers["dataframe_resolution"] = ", ".join(str(float(v)) for v in want)
        sink = pa.BufferOutputStream()
        t = pa.Table.from_pandas(out, preserve_index=False)
        with pa.ipc.new_stream(sink, t.schema) as w:
            w.write_table(t)
        return self._send(h, 200, sink.getvalue().to_pybytes(), ctype="data.arrow", headers=headers)


def synthetic_tables(n_cells=60, n_syn=3000, seed=0):
    """A synapse table and a cell-type table in MICrONS layout (ids above 2**53, positions in
    4 x 4 x 40 nm voxels as x, y, z triples in one ``*_position`` column)."""
    rng = np.random.default_rng(seed)
    roots = (864691135000000000 + rng.choice(10**9, n_cells, replace=False)).astype(np.int64)
    pre = rng.choice(roots, n_syn)
    post = rng.choice(roots, n_syn)
    pos = np.stack(
        [
            rng.integers(100000, 200000, n_syn),
            rng.integers(50000, 150000, n_syn),
            rng.integers(15000, 25000, n_syn),
        ],
        axis=1,
    )
    syn = pd.DataFrame(
        {
            "id": np.arange(1, n_syn + 1, dtype=np.int64) + 10**8,
            "valid": True,
            "pre_pt_root_id": pre,
            "post_pt_root_id": post,
            "pre_pt_supervoxel_id": pre + 7,
            "post_pt_supervoxel_id": post + 9,
            "size": rng.integers(50, 5000, n_syn),
            "ctr_pt_position": list(pos),
            "pre_pt_position": list(pos - 3),
            "post_pt_position": list(pos + 3),
        }
    )
    types = np.array(["23P", "4P", "BC", "MC"])
    ct = types[rng.integers(0, 4, n_cells)]
    cells = pd.DataFrame(
        {
            "id": np.arange(1, n_cells + 1, dtype=np.int64),
            "valid": True,
            "pt_root_id": roots,
            "pt_supervoxel_id": roots + 1,
            "cell_type": ct,
            "classification_system": np.where(
                np.isin(ct, ["23P", "4P"]), "excitatory", "inhibitory"
            ),
            "pt_position": list(
                np.stack(
                    [
                        rng.integers(100000, 200000, n_cells),
                        rng.integers(50000, 150000, n_cells),
                        rng.integers(15000, 25000, n_cells),
                    ],
                    axis=1,
                )
            ),
        }
    )
    return syn, cells


def synthetic_cell(root, partners, *, n_in=300, n_out=120, n_autapse=3, seed=1, first_id=5 * 10**8):
    """One cell in the skeleton service's ``flatdict`` shape (v4: ``vertices`` nm, ``edges``
    as [child, parent] vertex pairs, ``root`` the soma vertex, ``compartment`` SWC codes,
    ``radius`` nm, ``lvl2_ids``, ``mesh_to_skel_map``, ``meta``), its synapses in MICrONS
    layout (positions in 4 x 4 x 40 nm voxels) and a synapse-target table (``target_id``,
    ``tag``). Inputs sit within 50 nm of dendrite or soma vertices, outputs of axon vertices;
    the truth (the vertex each synapse was placed at) is returned with them."""
    rng = np.random.default_rng(seed)
    soma = np.array([600_000.0, 400_000.0, 800_000.0])
    verts, parent, comp = [soma], [-1], [1]

    def branch(start, direction, n, code, step=1500.0):
        p = start
        for _ in range(n):
            d = direction + rng.normal(0, 0.15, 3)
            d /= np.linalg.norm(d)
            verts.append(verts[p] + d * step)
            parent.append(p)
            comp.append(code)
            p = len(verts) - 1
        return p

    for d in ([0, -1, 0], [1, 0.3, 0], [-1, 0.2, 0.3], [0.2, 0.5, -1]):
        tip = branch(0, np.array(d, float), 40, 3)
        branch(tip - 20, np.array([1.0, -0.5, 0.2]), 15, 3)  # a side branch
    branch(0, np.array([0.1, 1.0, 0.0]), 80, 2)  # the axon
    v = np.asarray(verts)
    parent = np.asarray(parent)
    comp = np.asarray(comp)
    n = len(v)
    kids = np.arange(1, n)
    edges = np.stack([kids, parent[kids]], axis=1)
    sk = {
        "meta": {
            "root_id": int(root),
            "soma_pt_x": soma[0],
            "soma_pt_y": soma[1],
            "soma_pt_z": soma[2],
            "soma_radius": 7500,
            "skeleton_type": "pcg_skel",
            "meta": {"datastack": "stand-in", "space": "l2cache"},
            "sk_dict_structure_version": 4,
            "skeleton_version": 4,
        },
        "edges": edges,
        "mesh_to_skel_map": np.repeat(np.arange(n), 2),
        "root": 0,
        "vertices": v,
        "compartment": comp,
        "radius": rng.uniform(100, 400, n).round(3),
        "lvl2_ids": 173056326983745934 + np.arange(n) * 7,
    }
    den = np.flatnonzero(comp != 2)
    axon = np.flatnonzero(comp == 2)
    at_in = rng.choice(den, n_in)
    at_out = rng.choice(axon, n_out)
    at_aut = rng.choice(den, n_autapse)
    at = np.concatenate([at_in, at_out, at_aut])
    jitter = rng.normal(0, 1, (len(at), 3))
    jitter *= 40 / np.linalg.norm(jitter, axis=1, keepdims=True)
    pos_nm = v[at] + jitter
    pos_vox = np.round(pos_nm / [4, 4, 40]).astype(np.int64)
    k = len(at)
    pre = np.concatenate([rng.choice(partners, n_in), np.full(n_out + n_autapse, root)])
    post = np.concatenate(
        [np.full(n_in, root), rng.choice(partners, n_out), np.full(n_autapse, root)]
    )
    ids = first_id + rng.permutation(k).astype(np.int64)
    syn = pd.DataFrame(
        {
            "id": ids,
            "valid": True,
            "pre_pt_root_id": pre.astype(np.int64),
            "post_pt_root_id": post.astype(np.int64),
            "pre_pt_supervoxel_id": pre.astype(np.int64) + 7,
            "post_pt_supervoxel_id": post.astype(np.int64) + 9,
            "size": rng.integers(50, 5000, k),
            "ctr_pt_position": list(pos_vox),
            "pre_pt_position": list(pos_vox - 3),
            "post_pt_position": list(pos_vox + 3),
        }
    )
    tags = np.where(comp[at] == 1, "soma", rng.choice(["spine", "shaft"], k, p=[0.7, 0.3]))
    has_tag = rng.random(k) > 0.05  # some synapses have no prediction
    targets = pd.DataFrame(
        {
            "id": np.arange(1, has_tag.sum() + 1, dtype=np.int64),
            "valid": True,
            "target_id": ids[has_tag],
            "tag": tags[has_tag],
            "pt_position": list(pos_vox[has_tag]),
        }
    )
    truth = pd.DataFrame({"id": ids, "vertex": at, "tag": np.where(has_tag, tags, "unknown")})
    return sk, syn, targets, truth
