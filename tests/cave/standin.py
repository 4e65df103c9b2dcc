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
        token="token-for-tests",
        voxel_resolution=(4.0, 4.0, 40.0),
        synapse_table="synapses",
        soma_table="cells",
    ):
        self.datastack = datastack
        self.tables = dict(tables)
        self.versions = list(versions)
        self.token = token
        self.resolution = list(voxel_resolution)
        self.synapse_table = synapse_table
        self.soma_table = soma_table
        self.log: list[tuple[str, str, dict, bytes]] = []
        # failure injection: fail_after=N answers N table queries, then drops the connection
        # of every later one (a server gone away); drop_every=K drops every K-th request of
        # any kind once (a flaky network: caveclient's retries get through)
        self.fail_after: int | None = None
        self.drop_every = 0
        self.answered_queries = 0
        self.dropped = 0
        self._n_requests = 0
        self._lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                outer._handle(self, b"")

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
            "segmentation_source": "graphene://" + self.url + "/segmentation/table/x",
            "synapse_table": self.synapse_table,
            "soma_table": self.soma_table,
            "local_server": self.url,
            "analysis_database": None,
            "viewer_site": None,
            "viewer_resolution_x": self.resolution[0],
            "viewer_resolution_y": self.resolution[1],
            "viewer_resolution_z": self.resolution[2],
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
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return self._send(h, 401, {"error": "missing or wrong token"})
        u = urlsplit(h.path)
        p = u.path
        q = parse_qs(u.query)
        ds = re.escape(self.datastack)
        if p == "/info/version" or (p.endswith("/api/versions") and p.startswith("/info")):
            return self._send(h, 200, "4.3.2")
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
                self.answered_queries += 1
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
            xyz = np.stack(out[c].to_numpy()).astype(float) * scale
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
