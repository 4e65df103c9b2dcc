"""A loopback HTTP server for the reliability tests: answers every GET/HEAD path with the same
body (optionally a ``Content-Disposition`` header), and logs what it was asked."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest


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


# ---------------------------------------------------------------- fixtures (imported by tests)
def _mount_tmpfs(path, options):
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, f"cscope-{uuid.uuid4().hex[:8]}", str(path)],
        capture_output=True,
    )
    return r.returncode == 0


@contextlib.contextmanager
def tmpfs(path, options):
    if not _mount_tmpfs(path, options):
        yield None
        return
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def full_disk(tmp_path):
    """A 256 KiB file system (tmpfs), so writes fail with ENOSPC; skipped (with the reason)
    where this process may not mount one; the monkeypatched ENOSPC tests cover that case."""
    with tmpfs(tmp_path / "full", "size=256k") as p:
        if p is None:
            pytest.skip("cannot mount a tmpfs here (needs CAP_SYS_ADMIN)")
        yield p


@pytest.fixture
def readonly_dir(tmp_path):
    """A folder no write can go into: chmod 555 for a normal user; for root (who ignores
    permissions) a read-only tmpfs."""
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o555)
        yield d
        d.chmod(0o755)
        return
    with tmpfs(tmp_path / "ro", "ro,size=64k") as p:
        if p is None:
            pytest.skip("running as root without mount rights: no read-only folder possible")
        yield p


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    """``d.cscope`` with a 16x32x32 segmentation (ids 3 and 5) and an image."""
    import connectoscope as cs
    from connectoscope.volume import write_layer

    root = tmp_path_factory.mktemp("small")
    ds = cs.Dataset.create(root / "d.cscope", voxel_size=(4, 4, 40))
    lab = np.zeros((16, 32, 32), np.uint32)
    lab[:, :16] = 3
    lab[:, 16:] = 5
    write_layer(ds, "segmentation", lab, kind="segmentation")
    write_layer(
        ds, "image", (np.arange(lab.size) % 251).astype(np.uint8).reshape(lab.shape), kind="image"
    )
    np.save(root / "lab.npy", lab)
    return ds.path
