"""Resumable, checksummed downloads over HTTP(S) with the standard library.

A download goes to ``<name>.part`` beside the final file. When a ``.part`` exists the
download resumes with an HTTP ``Range`` request; a server that ignores ``Range`` (replies
200 instead of 206) makes us start the file again from byte 0, cleanly. A connection dropped
midway is retried (``retries`` times, resuming each time). The finished file is checked
against its size and checksum (SHA-256 or MD5) and only then renamed, atomically, to its
final name; a wrong checksum deletes the ``.part`` and raises :class:`DownloadError` naming
the file, the expected and the received digest.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._progress import progress
from ..errors import DownloadError, InvalidParameterError

__all__ = ["Checksum", "download", "file_digest"]

_CHUNK = 1 << 20
_USER_AGENT = "connectoscope-fetch (+https://github.com/connectoscope/connectoscope)"


@dataclass(frozen=True)
class Checksum:
    """An expected digest: ``algorithm`` is ``sha256`` or ``md5``, ``hexdigest`` lowercase."""

    algorithm: str
    hexdigest: str

    def __post_init__(self) -> None:
        if self.algorithm not in ("sha256", "md5"):
            raise InvalidParameterError(
                f"checksum algorithm must be sha256 or md5, got {self.algorithm!r}"
            )
        n = 64 if self.algorithm == "sha256" else 32
        if not re.fullmatch(f"[0-9a-f]{{{n}}}", self.hexdigest):
            raise InvalidParameterError(
                f"{self.algorithm}: expected {n} hexadecimal digits, got {self.hexdigest!r}"
            )

    @classmethod
    def parse(cls, text: str) -> Checksum:
        """``sha256:HEX``, ``md5:HEX`` or bare HEX (64 digits: SHA-256, 32: MD5)."""
        t = text.strip().lower()
        if ":" in t:
            algo, _, hexd = t.partition(":")
            return cls(algo, hexd)
        if len(t) == 64:
            return cls("sha256", t)
        if len(t) == 32:
            return cls("md5", t)
        raise InvalidParameterError(
            f"checksum {text!r}: give sha256:HEX (64 digits) or md5:HEX (32 digits)"
        )

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hexdigest}"


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _open(url: str, start: int, timeout: float) -> Any:
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _total_size(resp: Any, start: int) -> int | None:
    cr = resp.headers.get("Content-Range")
    if cr:
        m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", cr.strip())
        if m and m.group(3) != "*":
            return int(m.group(3))
    cl = resp.headers.get("Content-Length")
    return start + int(cl) if cl is not None else None


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    checksum: Checksum | str | None = None,
    size: int | None = None,
    retries: int = 5,
    timeout: float = 60.0,
    backoff_s: float = 0.5,
) -> Path:
    """Download ``url`` to ``dest``, resumably, and verify it.

    Parameters
    ----------
    url : str
        ``http://`` or ``https://`` URL.
    dest : path-like
        Final file. An existing file that matches ``checksum`` (or ``size`` when no checksum
        is known) is kept and nothing is downloaded.
    checksum : Checksum or str, optional
        ``sha256:HEX`` / ``md5:HEX``. Without it only the size is checked (when known).
    size : int, optional
        Expected size in bytes.
    retries : int
        How many times a dropped connection is retried (each retry resumes).
    timeout : float
        Seconds of socket inactivity before a connection counts as dropped.
    backoff_s : float
        Wait before the first retry; doubles each time.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    DownloadError
        The server refused, the connection kept failing, or the size or checksum is wrong
        (then nothing is left under the final name and the ``.part`` is removed).
    """
    if not re.match(r"https?://", url):
        raise InvalidParameterError(f"{url!r}: only http:// and https:// URLs can be fetched")
    want = Checksum.parse(checksum) if isinstance(checksum, str) else checksum
    dest = Path(dest)
    if dest.exists() and _matches(dest, want, size):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    attempt = 0
    total = size
    while True:
        start = part.stat().st_size if part.exists() else 0
        if total is not None and start > total:  # a stale, longer .part: start again
            part.unlink()
            start = 0
        if total is not None and start == total:
            break
        try:
            resp = _open(url, start, timeout)
        except urllib.error.HTTPError as e:
            if e.code == 416 and start:  # nothing left to send: the .part may be complete
                break
            raise DownloadError(
                f"{url}: the server answered HTTP {e.code} {e.reason}; check the URL "
                f"(or the dataset entry) and try again"
            ) from None
        except (urllib.error.URLError, OSError) as e:
            attempt += 1
            if attempt > retries:
                raise DownloadError(
                    f"{url}: cannot connect ({getattr(e, 'reason', e)}) after {retries} retries; "
                    f"{part.name} keeps {start} bytes, run the same command again to resume"
                ) from None
            time.sleep(backoff_s * 2 ** (attempt - 1))
            continue
        with resp:
            status = resp.status
            if start and status == 200:  # Range ignored: the body is the whole file
                start = 0
            elif start and status == 206:
                m = re.match(r"bytes (\d+)-", resp.headers.get("Content-Range", ""))
                if not m or int(m.group(1)) != start:
                    raise DownloadError(
                        f"{url}: asked for bytes from {start}, the server sent "
                        f"{resp.headers.get('Content-Range')!r}; delete {part} and try again"
                    )
            total = _total_size(resp, start) if total is None else total
            got = start
            with (
                _open_part(part, append=bool(start)) as f,
                progress(
                    total=total,
                    initial=start,
                    desc=dest.name,
                    unit="B",
                    unit_scale=True,
                ) as bar,
            ):
                while True:
                    try:
                        chunk = resp.read(_CHUNK)
                    except (TimeoutError, http.client.IncompleteRead, ConnectionError, OSError):
                        break  # keep what arrived; resume below
                    if not chunk:
                        break
                    f.write(chunk)  # a full disk or a lost folder is not retried
                    got += len(chunk)
                    bar.update(len(chunk))
        if total is None or got >= total:
            if total is None:
                break
            if got == total:
                break
        attempt += 1
        if attempt > retries:
            raise DownloadError(
                f"{url}: the connection kept dropping ({got} of {total} bytes after {retries} "
                f"retries); {part.name} is kept, run the same command again to resume"
            )
        time.sleep(backoff_s * 2 ** (attempt - 1))
    _verify(part, dest, want, size if size is not None else total)
    os.replace(part, dest)
    return dest


def _open_part(part: Path, *, append: bool) -> Any:
    """Open the ``.part`` for writing without following a symlink planted in its place."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(part, flags, 0o666)
    except OSError as e:
        if part.is_symlink():
            raise DownloadError(
                f"{part}: is a symbolic link; a download never writes through a link: remove it"
            ) from None
        raise DownloadError(f"{part}: cannot write ({e.strerror})") from None
    return os.fdopen(fd, "ab" if append else "wb")


def _matches(path: Path, want: Checksum | None, size: int | None) -> bool:
    if size is not None and path.stat().st_size != size:
        return False
    if want is not None:
        return file_digest(path, want.algorithm) == want.hexdigest
    return size is not None


def _verify(part: Path, dest: Path, want: Checksum | None, size: int | None) -> None:
    got_size = part.stat().st_size
    if size is not None and got_size != size:
        part.unlink()
        raise DownloadError(
            f"{dest}: expected {size} bytes, got {got_size}; the partial file was removed, "
            "run the command again"
        )
    if want is not None:
        got = file_digest(part, want.algorithm)
        if got != want.hexdigest:
            part.unlink()
            raise DownloadError(
                f"{dest}: {want.algorithm} mismatch: expected {want.hexdigest}, got {got}. "
                "The download was removed (nothing kept under the final name); the server's "
                "file differs from the published one: try again later or another mirror."
            )
