"""A loopback HTTP server for the reliability tests: answers every GET/HEAD path with the same
body (optionally a ``Content-Disposition`` header), and logs what it was asked."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class AnyPathServer:
    def __init__(self, body: bytes = b"payload\n", disposition: str | None = None) -> None:
        self.body = body
        self.disposition = disposition
        self.paths: list[str] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _reply(self, head):
                outer.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.body)))
                if outer.disposition is not None:
                    self.send_header("Content-Disposition", outer.disposition)
                self.end_headers()
                if not head:
                    self.wfile.write(outer.body)

            def do_GET(self):
                self._reply(False)

            def do_HEAD(self):
                self._reply(True)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> AnyPathServer:
        self.thread.start()
        return self

    def __exit__(self, *a: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def files_under(root) -> set[str]:
    """Every file and link below ``root`` (relative names)."""
    from pathlib import Path

    root = Path(root)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}
