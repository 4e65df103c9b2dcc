"""A small static file server for the viewer: 127.0.0.1 only, HTTP Range, CORS.

Serves two roots under a random token: ``/<token>/data/...`` is the dataset directory,
``/<token>/...`` the Neuroglancer web client bundled in the ``neuroglancer`` wheel (so the
viewer works with no internet). Only regular files inside a root are served: paths are
resolved (symlinks too) and must stay inside the root; directories are never listed.

Only its user can read it: the token (as Jupyter does) keeps other local users and web pages
that do not know the URL out (403), the ``Host`` header must name 127.0.0.1 or localhost (a
DNS-rebinding page cannot use it), and CORS answers only loopback origins, never ``*``.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import DependencyMissingError, InvalidParameterError

__all__ = ["ViewerServer", "client_dir"]

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript",
    ".css": "text/css",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".map": "application/json",
}


def client_dir() -> Path:
    """Folder of the Neuroglancer web client shipped in the ``neuroglancer`` package."""
    try:
        import neuroglancer
    except ImportError:  # pragma: no cover
        raise DependencyMissingError(
            "the viewer needs the neuroglancer package: pip install neuroglancer"
        ) from None
    p = Path(neuroglancer.__file__).parent / "static" / "client"
    if not (p / "index.html").is_file():
        raise DependencyMissingError(f"{p}: the neuroglancer package has no bundled web client")
    return p


def _safe_path(root: Path, rel: str) -> Path | None:
    """``root/rel`` if it is a regular file inside ``root`` (after resolving), else None."""
    if "\x00" in rel:
        return None
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    cand = (root / "/".join(parts)).resolve()
    try:
        cand.relative_to(root)
    except ValueError:
        return None
    return cand if cand.is_file() else None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _cors(self) -> None:
        origin = self.headers.get("Origin")
        if origin and _LOOPBACK_ORIGIN.fullmatch(origin):
            self.send_header("Access-Control-Allow-Origin", origin)
        self.send_header("Vary", "Origin")
        self.send_header("Access-Control-Allow-Headers", "range, x-requested-with")
        self.send_header(
            "Access-Control-Expose-Headers", "content-range, content-length, accept-ranges"
        )

    def _authorised(self) -> str | None:
        """The request path without the token, or None after answering 403."""
        host = (self.headers.get("Host") or "").strip().lower()
        path = unquote(urlsplit(self.path).path)
        prefix = f"/{self.server.token}/"
        ok = _LOOPBACK_HOST.fullmatch(host) is not None and path.startswith(prefix)
        if not ok:
            self.server.requests.append((path, 403))
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return "/" + path[len(prefix) :]

    def do_OPTIONS(self) -> None:
        if self._authorised() is None:
            return
        self.send_response(204)
        self._cors()
        self.end_headers()

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, *, head: bool) -> None:
        path = self._authorised()
        if path is None:
            return
        gz = False
        if path.startswith("/data/"):
            f = _safe_path(self.server.data_root, path[len("/data/") :])
            if f is None and not path.endswith(".gz"):  # foreign layers store X as X.gz
                f = _safe_path(self.server.data_root, path[len("/data/") :] + ".gz")
                gz = f is not None
        else:
            rel = path.lstrip("/") or "index.html"
            f = _safe_path(self.server.client_root, rel)
        self.server.requests.append((path, 404 if f is None else 200))
        if f is None:
            self.send_response(404)
            self._cors()
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = f.stat().st_size
        start, end = 0, size - 1
        status = 200
        rng = self.headers.get("Range")
        if rng:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if not m or (m.group(1) == "" and m.group(2) == ""):
                self.send_response(416)
                self._cors()
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return
            if m.group(1) == "":  # suffix range: last N bytes
                n = int(m.group(2))
                start, end = max(0, size - n), size - 1
            else:
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            if start >= size or start > end:
                self.send_response(416)
                self._cors()
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return
            status = 206
        self.send_response(status)
        self._cors()
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", _TYPES.get(f.suffix, "application/octet-stream"))
        if gz:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(end - start + 1))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head:
            return
        with open(f, "rb") as fh:
            fh.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = fh.read(min(left, 1 << 20))
                if not chunk:
                    break
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return
                left -= len(chunk)


_LOOPBACK_HOST = re.compile(r"(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?")
_LOOPBACK_ORIGIN = re.compile(r"https?://(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    token: str
    data_root: Path
    client_root: Path
    requests: list[tuple[str, int]]


class ViewerServer:
    """Serve a dataset and the Neuroglancer client on ``127.0.0.1:port`` in a thread.

    Use as a context manager or call :meth:`start` / :meth:`stop`. Every URL carries the
    random ``token`` (:attr:`url` includes it); requests without it, or with a ``Host`` other
    than 127.0.0.1/localhost, get 403.

    Parameters
    ----------
    dataset_dir : path-like
    port : int
        0 picks a free port.
    token : str, optional
        Default: 32 random URL-safe characters (``secrets.token_urlsafe``).
    """

    def __init__(
        self, dataset_dir: str | os.PathLike[str], *, port: int = 0, token: str | None = None
    ) -> None:
        self.token = token or secrets.token_urlsafe(24)
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,}", self.token):
            raise ValueError("the viewer token must be at least 16 URL-safe characters")
        try:
            self.httpd = _Server(("127.0.0.1", int(port)), _Handler)
        except OverflowError:
            raise InvalidParameterError(
                f"--port {port}: a port is 0-65535 (0 picks any free one)"
            ) from None
        except OSError as e:
            if e.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
            why = "is already in use" if e.errno == errno.EADDRINUSE else "needs privileges"
            raise InvalidParameterError(
                f"--port {port}: 127.0.0.1:{port} {why}; pass another --port (0 picks any free one)"
            ) from None
        self.httpd.token = self.token
        self.httpd.data_root = Path(dataset_dir).resolve()
        self.httpd.client_root = client_dir().resolve()
        self.httpd.requests = []
        self._thread: threading.Thread | None = None

    @property
    def requests(self) -> list[tuple[str, int]]:
        """``(path, status)`` of every request so far (path without the token; 200, 206, 404
        for a missing or refused file, 403 without the token)."""
        return list(self.httpd.requests)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/TOKEN``: the root every served path hangs under."""
        return f"http://127.0.0.1:{self.port}/{self.token}"

    def start(self) -> ViewerServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ViewerServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
