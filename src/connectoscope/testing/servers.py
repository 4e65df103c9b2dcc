"""Loopback servers for testing remote reads: a static HTTP server with Range support (and
faults on demand) and a local S3 emulator (moto's server mode).

Both bind 127.0.0.1 on a free port, run in a daemon thread and stop on ``close()`` (or as
context managers). Nothing here reaches beyond this machine.

>>> with StaticHTTPServer(folder) as srv:          # doctest: +SKIP
...     url = srv.url + "/layer"                    # http://127.0.0.1:PORT/layer
...     srv.requests, srv.bytes_sent                # what the client fetched
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["S3Emulator", "StaticHTTPServer"]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class StaticHTTPServer:
    """Serve a folder over HTTP on 127.0.0.1 with ``Range`` requests, counting traffic.

    Parameters
    ----------
    root : path-like
        The folder served at ``/``.
    delay_s : float
        Sleep this long before answering each request (a slow server).
    drop_first : int
        Close the connection without an answer for the first N requests (a dropping server).
    status : dict of str to int, optional
        Answer requests whose path starts with a key with that HTTP status (403, 404, 500).
    max_requests : int
        A bound on requests answered (then 503), so a runaway client cannot loop forever.

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:PORT``.
    requests, bytes_sent, dropped : int
        GET/HEAD requests answered, body bytes sent, connections dropped.
    paths : list of str
        Every path requested (in order).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        delay_s: float = 0.0,
        drop_first: int = 0,
        status: dict[str, int] | None = None,
        max_requests: int = 100_000,
    ) -> None:
        self.root = Path(root)
        self.delay_s = delay_s
        self.drop_first = drop_first
        self.status = dict(status or {})
        self.max_requests = max_requests
        self.requests = 0
        self.bytes_sent = 0
        self.dropped = 0
        self.paths: list[str] = []
        self._lock = threading.Lock()
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def reset_counts(self) -> None:
        with self._lock:
            self.requests = 0
            self.bytes_sent = 0
            self.dropped = 0
            self.paths.clear()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> StaticHTTPServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _make_handler(srv: StaticHTTPServer) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, *, body: bool) -> None:
            path = self.path.split("?", 1)[0]
            with srv._lock:
                srv.paths.append(path)
                if srv.drop_first > 0:
                    srv.drop_first -= 1
                    srv.dropped += 1
                    drop = True
                else:
                    drop = False
                    srv.requests += 1
                over = srv.requests > srv.max_requests
            if srv.delay_s:
                time.sleep(srv.delay_s)
            if drop:
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
            if over:
                return self._status(503)
            for prefix, code in srv.status.items():
                if path.startswith(prefix):
                    return self._status(code)
            f = (srv.root / path.lstrip("/")).resolve()
            if srv.root.resolve() not in (f, *f.parents) or not f.is_file():
                return self._status(404)
            data = f.read_bytes()
            n = len(data)
            rng = self.headers.get("Range")
            code = 200
            start, stop = 0, n
            if rng:
                m = _RANGE.match(rng.strip())
                if m is None:
                    return self._status(416)
                a, b = m.groups()
                if a == "":
                    start, stop = max(n - int(b), 0), n
                else:
                    start = int(a)
                    stop = min(int(b) + 1, n) if b else n
                if start >= n and n > 0:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{n}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                code = 206
            part = data[start:stop]
            self.send_response(code)
            self.send_header("Content-Length", str(len(part)))
            self.send_header("Accept-Ranges", "bytes")
            if code == 206:
                self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{n}")
            self.end_headers()
            if body:
                self.wfile.write(part)
                with srv._lock:
                    srv.bytes_sent += len(part)

        def _status(self, code: int) -> None:
            msg = f"status {code}\n".encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)

    return Handler


class S3Emulator:
    """A local S3 (moto's server mode) on 127.0.0.1 with a bucket, and the environment set
    for clients (``AWS_ENDPOINT_URL``, test credentials) while open.

    Attributes
    ----------
    endpoint : str
        ``http://127.0.0.1:PORT``.
    bucket : str
        A new bucket per emulator (moto's state lives as long as the process).
    """

    def __init__(self, bucket: str | None = None) -> None:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as err:  # pragma: no cover - moto is in the test extra
            raise ImportError("S3Emulator needs moto[server] (the test extra)") from err
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        import uuid

        # moto keeps its state per process: a fresh bucket name per emulator
        self.bucket = bucket or f"connectoscope-test-{uuid.uuid4().hex[:12]}"
        self._env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }
        self._saved = {k: os.environ.get(k) for k in self._env}
        os.environ.update(self._env)
        self.client().create_bucket(Bucket=self.bucket)

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

    def upload_folder(self, folder: str | os.PathLike[str], prefix: str) -> int:
        """Upload every file under ``folder`` to ``s3://bucket/prefix/...``; returns the count."""
        c = self.client()
        root = Path(folder)
        n = 0
        for f in sorted(root.rglob("*")):
            if f.is_file():
                key = f"{prefix.strip('/')}/{f.relative_to(root).as_posix()}"
                c.put_object(Bucket=self.bucket, Key=key, Body=f.read_bytes())
                n += 1
        return n

    def close(self) -> None:
        self._server.stop()
        for k, v in self._saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def __enter__(self) -> S3Emulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
