"""Case 6 of issue 16: the viewer's data server serves only its user: a random token in the
URL path, the Host header checked, no wildcard CORS; the printed URL carries the token."""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.request

import numpy as np

import connectoscope as cs
from connectoscope.viewer import ViewerServer


def _get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), b""


def _raw(port, path, host):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.putrequest("GET", path, skip_host=True)
    c.putheader("Host", host)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def test_a_request_without_the_token_gets_403(tmp_path):
    ds = tmp_path / "d.cscope"
    ds.mkdir(mode=0o700)
    (ds / "secret.bin").write_bytes(b"private data")
    with ViewerServer(ds) as srv:
        root = f"http://127.0.0.1:{srv.port}"
        assert re.fullmatch(rf"{root}/[A-Za-z0-9_-]{{32}}", srv.url)
        # with the token: served
        st, _, body = _get(f"{srv.url}/data/secret.bin")
        assert st == 200 and body == b"private data"
        # without it, or with a wrong one, or a guessed prefix: 403 and nothing served
        for path in (
            "/data/secret.bin",
            "/index.html",
            "/",
            f"/{srv.token[:-1]}/data/secret.bin",
            f"/{srv.token}x/data/secret.bin",
            f"/x/{srv.token}/data/secret.bin",
        ):
            st, _, body = _get(root + path)
            assert st == 403 and body == b"", path
        st, _, _ = _get(root + "/data/secret.bin", {"Range": "bytes=0-3"})
        assert st == 403
        assert ("/data/secret.bin", 403) in srv.requests


def test_host_header_must_be_loopback(tmp_path):
    ds = tmp_path / "d.cscope"
    ds.mkdir()
    (ds / "a.bin").write_bytes(b"abc")
    with ViewerServer(ds) as srv:
        path = f"/{srv.token}/data/a.bin"
        for host in (f"127.0.0.1:{srv.port}", f"localhost:{srv.port}", "localhost"):
            assert _raw(srv.port, path, host) == (200, b"abc"), host
        # DNS rebinding: a page on evil.example resolving to 127.0.0.1
        for host in ("evil.example", f"evil.example:{srv.port}", "127.0.0.1.evil.example", ""):
            st, body = _raw(srv.port, path, host)
            assert st == 403 and body == b"", host


def test_no_wildcard_cors(tmp_path):
    ds = tmp_path / "d.cscope"
    ds.mkdir()
    (ds / "a.bin").write_bytes(b"abc")
    with ViewerServer(ds) as srv:
        st, h, _ = _get(f"{srv.url}/data/a.bin", {"Origin": "https://evil.example"})
        assert st == 200 and "Access-Control-Allow-Origin" not in h
        st, h, _ = _get(f"{srv.url}/data/a.bin")
        assert h.get("Access-Control-Allow-Origin") != "*"
        st, h, _ = _get(f"{srv.url}/data/a.bin", {"Origin": "http://localhost:8080"})
        assert h["Access-Control-Allow-Origin"] == "http://localhost:8080"
        req = urllib.request.Request(f"{srv.url}/data/a.bin", method="OPTIONS")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 204
        bad = urllib.request.Request(f"http://127.0.0.1:{srv.port}/data/a.bin", method="OPTIONS")
        try:
            urllib.request.urlopen(bad, timeout=10)
            raise AssertionError("OPTIONS without the token was answered")
        except urllib.error.HTTPError as e:
            assert e.code == 403


def test_view_puts_the_token_in_the_state_and_the_printed_url(tmp_path):
    from connectoscope.viewer import view
    from connectoscope.volume import write_layer

    d = cs.Dataset.create(tmp_path / "v.cscope", voxel_size=(4, 4, 40))
    write_layer(d, "segmentation", np.ones((2, 8, 8), np.uint32), kind="segmentation")
    handle, url = view(d, annotations=False)
    try:
        tok = handle.server.token
        assert handle.data_url.endswith(f"/{tok}/data")
        state = handle.viewer.state.to_json()
        sources = str(state["layers"])
        assert f"/{tok}/data/" in sources
        # the viewer URL itself carries neuroglancer's own random token
        assert re.search(r"/v/[0-9a-f]{20,}/", url), url
        st, _, _ = _get(f"http://127.0.0.1:{handle.server.port}/data/connectoscope.json")
        assert st == 403
        st, _, body = _get(f"{handle.data_url}/connectoscope.json")
        assert st == 200 and b"segmentation" in body
    finally:
        handle.stop()
