"""Viewer and data-access benchmarks, ours vs the references, side by side in one process.

1. Synapse annotations: ours (sharded indices, multi-level spatial index) vs neuroglancer's
   own ``write_annotations.AnnotationWriter`` (one file per annotation and per segment, a
   single-cell spatial index) on the same synapses; time, peak traced memory, files written,
   and how many synapses the coarsest level holds (what a viewer loads first).
2. Downloads from a 127.0.0.1 server: ours (``connectoscope.fetch.download``, with SHA-256
   verification) vs ``urllib.request.urlretrieve`` (no verification); then ours resuming a
   download whose connection dropped at one third.

    python benchmarks/bench_viewer.py            # 200,000 synapses, 1,000,000 ours only, 256 MB
    python benchmarks/bench_viewer.py --quick    # 20,000 synapses, 32 MB
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import sys
import tempfile
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import measure, neuroglancer_annotations, ratio_line
from connectoscope.connectome import SynapseTable
from connectoscope.fetch import download
from connectoscope.precomputed import write_synapse_annotations


def synapses(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "pre": 2**60 + rng.integers(0, max(1, n // 50), n),
            "post": 2**60 + 10**7 + rng.integers(0, max(1, n // 20), n),
            "size": rng.integers(20, 3000, n),
            "x_nm": rng.uniform(0, 400_000, n),
            "y_nm": rng.uniform(0, 300_000, n),
            "z_nm": rng.uniform(0, 80_000, n),
        }
    )


def n_files(folder: Path) -> int:
    return sum(1 for f in folder.rglob("*") if f.is_file())


def bench_annotations(n: int, big: int | None, tmp: Path) -> None:
    df = synapses(n)
    table = SynapseTable(df)
    k = [0]

    def ours() -> Path:
        k[0] += 1
        return write_synapse_annotations(table, tmp / f"ours{k[0]}", overwrite=True)

    def ref() -> Path:
        k[0] += 1
        out = tmp / f"ref{k[0]}"
        neuroglancer_annotations(df, out)
        return out

    t_ours, m_ours, out_ours = measure(ours)
    t_ref, m_ref, out_ref = measure(ref)
    print(ratio_line(f"annotations write {n} synapses", t_ours, t_ref, "s"))
    print(f"annotations peak memory: ours {m_ours:.0f} MB, reference {m_ref:.0f} MB (tracemalloc)")
    info = json.loads((out_ours / "info").read_text())
    print(
        f"annotations files: ours {n_files(out_ours)}, reference {n_files(out_ref)}; spatial "
        f"levels: ours {len(info['spatial'])}, reference 1; coarsest level holds: ours "
        f"{info['spatial'][0]['limit']} of {n}, reference {n} of {n}"
    )
    if big:
        t, m, out = measure(
            lambda: write_synapse_annotations(
                SynapseTable(synapses(big, 1)), tmp / "big", overwrite=True
            )
        )
        info = json.loads((out / "info").read_text())
        print(
            f"annotations write {big} synapses (ours only): {t:.2f} s, peak {m:.0f} MB, "
            f"{n_files(out)} files, {len(info['spatial'])} spatial levels"
        )


class _Blob(BaseHTTPRequestHandler):
    body = b""
    drop_once = False

    def log_message(self, *a: object) -> None:
        return

    def do_GET(self) -> None:
        rng = self.headers.get("Range")
        start = int(rng.split("=")[1].rstrip("-")) if rng else 0
        part = memoryview(self.body)[start:]
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(part)))
        if rng:
            self.send_header(
                "Content-Range", f"bytes {start}-{len(self.body) - 1}/{len(self.body)}"
            )
        self.end_headers()
        if type(self).drop_once and not rng:
            type(self).drop_once = False
            self.wfile.write(part[: len(part) // 3])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        for i in range(0, len(part), 1 << 20):
            self.wfile.write(part[i : i + (1 << 20)])


def bench_download(mb: int, tmp: Path) -> None:
    from connectoscope import config

    body = np.random.default_rng(0).integers(0, 256, mb << 20, dtype=np.uint8).tobytes()
    sha = hashlib.sha256(body).hexdigest()
    _Blob.body = body
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Blob)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/blob"
    k = [0]

    def ours() -> None:
        k[0] += 1
        download(url, tmp / f"o{k[0]}.bin", checksum=sha)

    def ref() -> None:
        k[0] += 1
        urllib.request.urlretrieve(url, tmp / f"r{k[0]}.bin")

    with config.set(progress=False):
        t_ours, _, _ = measure(ours)
        t_ref, _, _ = measure(ref)
        print(
            ratio_line(
                f"download {mb} MB over 127.0.0.1 (ours verifies sha256)", t_ours, t_ref, "s"
            )
        )
        _Blob.drop_once = True
        import time

        t0 = time.perf_counter()
        download(url, tmp / "resumed.bin", checksum=sha, backoff_s=0.0)
        t = time.perf_counter() - t0
        ok = (tmp / "resumed.bin").stat().st_size == len(body)
        print(f"download {mb} MB dropped at 1/3 then resumed (ours): {t:.3f} s, complete {ok}")
    httpd.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, big, mb = (20_000, None, 32) if args.quick else (200_000, 1_000_000, 256)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        bench_annotations(n, big, tmp)
        bench_download(mb, tmp)


if __name__ == "__main__":
    main()
