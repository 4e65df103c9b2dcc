"""Resumable, checksummed downloads against local HTTP servers on 127.0.0.1 started here:
one that drops the connection midway, one that ignores Range, one that serves the wrong bytes,
a Zenodo-API stand-in and a WebDAV stand-in. No network beyond 127.0.0.1."""

import hashlib
import json
import re
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectoscope.cli import main
from connectoscope.errors import DownloadError, InvalidParameterError
from connectoscope.fetch import Checksum, download, fetch, fetch_url, load_registry


class _Server:
    """Serves ``files`` (path -> bytes). ``mode``: ok | drop | norange | wrong."""

    def __init__(self, files, mode="ok", drop_times=2):
        self.files = dict(files)
        self.mode = mode
        self.drops_left = drop_times
        self.log = []  # (method, path, Range header, status)
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer._get(self)

            def do_PROPFIND(self):
                outer._propfind(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _get(self, h):
        rng = h.headers.get("Range")
        body = self.files.get(h.path)
        if body is None:
            self.log.append(("GET", h.path, rng, 404))
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if self.mode == "wrong":
            body = body[:-1] + bytes([body[-1] ^ 0xFF])
        start = 0
        status = 200
        if rng and self.mode != "norange":
            start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))
            if start >= len(body):
                self.log.append(("GET", h.path, rng, 416))
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(body)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            status = 206
        part = body[start:]
        self.log.append(("GET", h.path, rng, status))
        h.send_response(status)
        h.send_header("Content-Length", str(len(part)))
        h.send_header("Accept-Ranges", "bytes")
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        h.end_headers()
        if self.mode == "drop" and self.drops_left > 0:
            self.drops_left -= 1
            h.wfile.write(part[: len(part) // 3])  # then the connection dies
            h.wfile.flush()
            h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
            return
        h.wfile.write(part)

    def _propfind(self, h):
        n = int(h.headers.get("Content-Length") or 0)
        h.rfile.read(n)
        folder = h.path if h.path.endswith("/") else h.path + "/"
        entries = [
            f"<d:response><d:href>{folder}</d:href><d:propstat><d:prop><d:resourcetype>"
            "<d:collection/></d:resourcetype></d:prop></d:propstat></d:response>"
        ]
        subdirs = set()
        for p, body in self.files.items():
            if not p.startswith(folder):
                continue
            rest = p[len(folder) :]
            if "/" in rest:
                subdirs.add(rest.split("/")[0])
                continue
            entries.append(
                f"<d:response><d:href>{p}</d:href><d:propstat><d:prop><d:resourcetype/>"
                f"<d:getcontentlength>{len(body)}</d:getcontentlength></d:prop></d:propstat>"
                "</d:response>"
            )
        for d in sorted(subdirs):
            entries.append(
                f"<d:response><d:href>{folder}{d}/</d:href><d:propstat><d:prop><d:resourcetype>"
                "<d:collection/></d:resourcetype></d:prop></d:propstat></d:response>"
            )
        xml = (
            '<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">'
            + "".join(entries)
            + "</d:multistatus>"
        ).encode()
        self.log.append(("PROPFIND", h.path, h.headers.get("Depth"), 207))
        h.send_response(207)
        h.send_header("Content-Type", "application/xml")
        h.send_header("Content-Length", str(len(xml)))
        h.end_headers()
        h.wfile.write(xml)


def _blob(n=300_000, seed=0):
    return bytes((i * 7 + seed * 13 + (i >> 9)) % 251 for i in range(n))


def _sha(b):
    return hashlib.sha256(b).hexdigest()


def test_connection_dropped_midway_resumes_to_the_exact_file(tmp_path):
    body = _blob()
    with _Server({"/d/blob.bin": body}, mode="drop", drop_times=2) as srv:
        out = download(
            f"{srv.url}/d/blob.bin", tmp_path / "blob.bin", checksum=_sha(body), backoff_s=0.01
        )
    assert out.read_bytes() == body
    assert not (tmp_path / "blob.bin.part").exists()
    gets = [e for e in srv.log if e[0] == "GET"]
    assert len(gets) == 3 and gets[0][2] is None
    # each retry asks for the rest, from exactly the bytes already on disk
    assert gets[1][2] == f"bytes={len(body) // 3}-" and gets[1][3] == 206
    assert gets[2][2].startswith("bytes=") and gets[2][3] == 206


def test_a_server_that_ignores_range_restarts_cleanly(tmp_path):
    body = _blob(seed=1)
    dest = tmp_path / "x.bin"
    (tmp_path / "x.bin.part").write_bytes(body[:1000])  # an earlier, interrupted run
    with _Server({"/x.bin": body}, mode="norange") as srv:
        download(f"{srv.url}/x.bin", dest, checksum=f"sha256:{_sha(body)}", size=len(body))
    assert srv.log[0][2] == "bytes=1000-" and srv.log[0][3] == 200
    assert dest.read_bytes() == body  # not the first 1000 bytes twice


def test_wrong_checksum_names_file_expected_and_got_and_leaves_nothing(tmp_path):
    body = _blob(seed=2)
    dest = tmp_path / "bad.bin"
    with _Server({"/bad.bin": body}, mode="wrong") as srv, pytest.raises(DownloadError) as ei:
        download(f"{srv.url}/bad.bin", dest, checksum=f"md5:{hashlib.md5(body).hexdigest()}")
    msg = str(ei.value)
    served = body[:-1] + bytes([body[-1] ^ 0xFF])
    assert str(dest) in msg
    assert hashlib.md5(body).hexdigest() in msg and hashlib.md5(served).hexdigest() in msg
    assert not dest.exists() and not (tmp_path / "bad.bin.part").exists()


def test_a_complete_part_and_an_existing_good_file(tmp_path):
    body = _blob(5000, seed=3)
    dest = tmp_path / "f.bin"
    (tmp_path / "f.bin.part").write_bytes(body)  # complete but never renamed
    with _Server({"/f.bin": body}) as srv:
        download(f"{srv.url}/f.bin", dest, checksum=_sha(body))
        assert srv.log[-1][3] == 416  # nothing more to send
        n = len(srv.log)
        download(f"{srv.url}/f.bin", dest, checksum=_sha(body))  # already there: no request
        assert len(srv.log) == n
    assert dest.read_bytes() == body


def test_fetch_a_registry_dataset_reports_what_is_missing(tmp_path, capsys):
    a, b = _blob(4000, 4), _blob(7000, 5)
    with _Server({"/r/a.bin": a, "/r/b.bin": b}) as srv:
        reg = {
            "format": 1,
            "datasets": {
                "tiny": {
                    "description": "test",
                    "files": [
                        {
                            "name": "a.bin",
                            "url": f"{srv.url}/r/a.bin",
                            "sha256": _sha(a),
                            "size": len(a),
                        },
                        {
                            "name": "sub/b.bin",
                            "url": f"{srv.url}/r/b.bin",
                            "md5": hashlib.md5(b).hexdigest(),
                        },
                        {"name": "c.bin", "url": f"{srv.url}/r/c.bin"},
                    ],
                }
            },
        }
        path = tmp_path / "reg.json"
        path.write_text(json.dumps(reg))
        rep = fetch("tiny", tmp_path / "out", registry=load_registry(path), retries=0)
        assert (tmp_path / "out/tiny/a.bin").read_bytes() == a
        assert (tmp_path / "out/tiny/sub/b.bin").read_bytes() == b
        assert not rep.ok and rep.missing == ["c.bin"] and "404" in rep.failed["c.bin"]
        assert "c.bin" in rep.unverified
        s = rep.summary()
        assert "2 downloaded" in s and "1 missing" in s and "run the same command again" in s
        rep2 = fetch(
            "tiny", tmp_path / "out", registry=load_registry(path), retries=0, only=["*.bin"]
        )
        assert len(rep2.present) == 2 and rep2.downloaded == []
        with pytest.raises(InvalidParameterError, match="known: tiny"):
            fetch("nope", tmp_path, registry=load_registry(path))


def test_zenodo_checksums_come_from_the_records_api(tmp_path, monkeypatch):
    h5 = _blob(9000, 6)
    api = {
        "files": [
            {"key": "m.h5", "size": len(h5), "checksum": f"md5:{hashlib.md5(h5).hexdigest()}"}
        ]
    }
    files = {"/api/records/77": json.dumps(api).encode(), "/records/77/files/m.h5": h5}
    with _Server(files) as srv:
        monkeypatch.setenv("CONNECTOSCOPE_ZENODO_API", f"{srv.url}/api")
        reg = {
            "format": 1,
            "datasets": {
                "z": {
                    "description": "t",
                    "zenodo_record": 77,
                    "files": [{"name": "m.h5", "url": f"{srv.url}/records/77/files/m.h5"}],
                }
            },
        }
        (tmp_path / "reg.json").write_text(json.dumps(reg))
        entry = load_registry(tmp_path / "reg.json")["z"]
        (f,) = entry.resolve_files()
        assert str(f.checksum) == f"md5:{hashlib.md5(h5).hexdigest()}" and f.size == len(h5)
        assert "Zenodo" in f.checksum_note
        rep = fetch("z", tmp_path, registry={"z": entry})
        assert rep.ok and (tmp_path / "z/m.h5").read_bytes() == h5
        # a published md5 that the served file does not match: reported, nothing kept
        api["files"][0]["checksum"] = "md5:" + "0" * 32
        srv.files["/api/records/77"] = json.dumps(api).encode()
        shutil.rmtree(tmp_path / "z")
        rep = fetch("z", tmp_path, registry={"z": entry})
        assert rep.missing == ["m.h5"] and "0" * 32 in rep.failed["m.h5"]
        assert not (tmp_path / "z/m.h5").exists()


def test_webdav_listing_with_only(tmp_path):
    cube, other = _blob(3000, 7), _blob(100, 8)
    files = {
        "/webdav/em/x2y4z3.hdf5": cube,
        "/webdav/em/x1y1z1.hdf5": other,
        "/webdav/readme.pdf": other,
    }
    with _Server(files) as srv:
        reg = {
            "format": 1,
            "datasets": {
                "l4": {
                    "description": "t",
                    "webdav": {"url": f"{srv.url}/webdav", "include": ["*.hdf5"]},
                }
            },
        }
        (tmp_path / "reg.json").write_text(json.dumps(reg))
        r = load_registry(tmp_path / "reg.json")
        names = sorted(f.name for f in r["l4"].resolve_files())
        assert names == ["em/x1y1z1.hdf5", "em/x2y4z3.hdf5"]
        rep = fetch("l4", tmp_path, registry=r, only=["*x2y4z3.hdf5"])
    assert rep.ok and rep.unverified == ["em/x2y4z3.hdf5"]
    assert (tmp_path / "l4/em/x2y4z3.hdf5").read_bytes() == cube
    assert not (tmp_path / "l4/em/x1y1z1.hdf5").exists()


def test_registry_checksums_match_the_real_microns_tables(tmp_path, monkeypatch):
    """The packaged registry's sizes and SHA-256 are those of the real files (served here
    from ../shared/data through a local mirror)."""
    from connectoscope.testing import require_shared

    real = require_shared("microns-pinky100")
    entry = load_registry()["microns-tutorial-tables"]
    files = {}
    for f in entry.resolve_files():
        assert f.checksum is not None and f.checksum.algorithm == "sha256"
        path = "/" + f.url.split("://", 1)[1]
        files[path] = (real / f.name).read_bytes()
    with _Server(files) as srv:
        monkeypatch.setenv("CONNECTOSCOPE_FETCH_MIRROR", srv.url)
        rep = fetch("microns-tutorial-tables", tmp_path)
    assert rep.ok, rep.summary()
    assert len(rep.downloaded) == 2


def test_every_registry_entry_is_complete():
    reg = load_registry()
    assert {"microns-tutorial-tables", "microns-connectome-utilities", "l4dense"} <= set(reg)
    for e in reg.values():
        assert e.description and e.homepage and e.checksums
        assert e.files or e.webdav
        for f in e.files:
            assert f["url"].startswith("https://")
            assert f.get("sha256") or f.get("md5") or e.zenodo_record, (e.name, f["name"])


def test_cli_fetch_url_and_list(tmp_path, capsys):
    body = _blob(2000, 9)
    with _Server({"/p/data.csv": body}) as srv:
        rc = main(["fetch", f"{srv.url}/p/data.csv", "--sha256", _sha(body), "--to", str(tmp_path)])
        assert rc == 0 and "verified" in capsys.readouterr().out
        assert (tmp_path / "data.csv").read_bytes() == body
        rc = main(
            ["fetch", f"{srv.url}/p/data.csv", "--md5", "f" * 32, "--to", str(tmp_path / "b")]
        )
        err = capsys.readouterr().err
        assert rc == 2 and "md5 mismatch" in err and "f" * 32 in err
    assert main(["fetch", "--list"]) == 0
    assert "microns-connectome-utilities" in capsys.readouterr().out


def test_checksum_parsing():
    assert Checksum.parse("A" * 64).algorithm == "sha256"
    assert Checksum.parse("md5:" + "b" * 32).hexdigest == "b" * 32
    with pytest.raises(InvalidParameterError, match="sha256:HEX"):
        Checksum.parse("xyz")
    with pytest.raises(InvalidParameterError, match="64 hexadecimal"):
        Checksum("sha256", "00")
    with pytest.raises(InvalidParameterError, match="names no file"):
        fetch_url("http://127.0.0.1:1/", ".")


def test_names_that_leave_the_folder_are_refused(tmp_path):
    reg = {
        "format": 1,
        "datasets": {
            "evil": {
                "description": "t",
                "files": [
                    {"name": "../escape.bin", "url": "http://127.0.0.1:9/x", "md5": "0" * 32}
                ],
            }
        },
    }
    (tmp_path / "reg.json").write_text(json.dumps(reg))
    rep = fetch("evil", tmp_path / "to", registry=load_registry(tmp_path / "reg.json"))
    assert rep.missing == ["../escape.bin"] and "leaves" in rep.failed["../escape.bin"]
    assert not (tmp_path / "escape.bin").exists()
