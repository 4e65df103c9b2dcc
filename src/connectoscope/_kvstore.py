"""Locations of foreign data: local paths and URLs as tensorstore key-value stores.

One place turns what a user types (``PATH``, ``file://PATH``, ``http(s)://...``,
``gs://bucket/path``, ``s3://bucket/path``, optionally behind a ``precomputed://`` or
``zarr://`` scheme) into a tensorstore kvstore spec, and turns tensorstore's errors into
one-line connectoscope errors that name the URL. Credentials come from the usual
environment (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_PROFILE`` for S3,
``GOOGLE_APPLICATION_CREDENTIALS`` or gcloud's defaults for GCS) and are never printed;
a URL's query string (which may carry a token) is never shown either.

Network reads retry with exponential backoff (tensorstore's request-retry resources);
``CONNECTOSCOPE_REMOTE_RETRIES`` sets the number of retries (default 5).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import (
    ConnectoscopeError,
    DataFormatError,
    InvalidParameterError,
    SourceNotFoundError,
)

__all__ = [
    "Location",
    "RemoteAccessError",
    "is_url",
    "parse_location",
    "ts_context",
    "ts_error",
]

_SCHEMES = ("file://", "http://", "https://", "gs://", "s3://")
_FORMAT_SCHEMES = ("precomputed://", "zarr://", "zarr3://", "n5://")


class RemoteAccessError(ConnectoscopeError, OSError):
    """A remote location answered with an error (denied, unavailable, timed out)."""


def is_url(text: str) -> bool:
    """True for ``scheme://`` locations (``file://`` included)."""
    t = text.lower()
    return t.startswith(_SCHEMES) or t.startswith(_FORMAT_SCHEMES)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]  # never show user:password@
    out = f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else url
    return out + ("?..." if parts.query else "")


@dataclass(frozen=True)
class Location:
    """A folder-like location: a tensorstore kvstore spec whose ``path`` ends in ``/``.

    Attributes
    ----------
    url : str
        What to show the user (no query string, no credentials).
    scheme : str
        ``file``, ``http``, ``https``, ``gs`` or ``s3``.
    format : str or None
        The format prefix given (``precomputed``, ``zarr``), else None.
    spec : dict
        tensorstore kvstore spec of the folder (JSON-ready, picklable).
    """

    url: str
    scheme: str
    format: str | None
    spec: dict[str, Any]

    @property
    def local_path(self) -> Path | None:
        """The folder on this machine, for ``file`` locations."""
        return Path(self.spec["path"]) if self.scheme == "file" else None

    @property
    def is_remote(self) -> bool:
        return self.scheme != "file"

    def child(self, relpath: str) -> Location:
        """The location of a sub-folder (``relpath`` relative, ``/`` separated)."""
        rel = relpath.strip("/")
        if not rel:
            return self
        spec = dict(self.spec)
        spec["path"] = spec.get("path", "") + rel + "/"
        return Location(self.url.rstrip("/") + "/" + rel, self.scheme, self.format, spec)

    def kvstore(self) -> Any:
        """The opened tensorstore ``KvStore`` (cached per process)."""
        return _open_kvstore(self.spec)

    def read(self, key: str) -> bytes | None:
        """The bytes under ``key`` (relative to the folder), or None when absent."""
        try:
            r = self.kvstore().read(key).result()
        except Exception as err:  # tensorstore raises ValueError/RuntimeError with a status
            raise ts_error(err, f"{self.url.rstrip('/')}/{key}") from None
        return bytes(r.value) if r.state == "value" else None

    def exists(self, key: str) -> bool:
        return self.read(key) is not None


def parse_location(text: str | os.PathLike[str]) -> Location:
    """Parse a path or URL into a :class:`Location`.

    Parameters
    ----------
    text : str or path-like
        ``PATH``, ``file://PATH``, ``http(s)://HOST/PATH``, ``gs://BUCKET/PATH``,
        ``s3://BUCKET/PATH``, each optionally prefixed by ``precomputed://`` (or
        ``zarr://``) as Neuroglancer writes them. For ``s3://`` the endpoint comes from
        ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` when set (an S3-compatible
        server), the region from ``AWS_REGION``/``AWS_DEFAULT_REGION``.

    Raises
    ------
    InvalidParameterError
        An unsupported scheme.
    """
    raw = os.fspath(text)
    fmt: str | None = None
    low = raw.lower()
    for pre in _FORMAT_SCHEMES:
        if low.startswith(pre):
            fmt = pre[:-3]
            raw = raw[len(pre) :]
            low = raw.lower()
            break
    if "|" in raw:  # Neuroglancer's newer "URL|format:" pipelines: keep the base URL
        raw = raw.split("|", 1)[0]
        low = raw.lower()
    if low.startswith("file://"):
        path = str(Path(raw[len("file://") :]).absolute())
        return Location(f"file://{path}", "file", fmt, {"driver": "file", "path": path + "/"})
    if low.startswith(("http://", "https://")):
        parts = urlsplit(raw)
        base = f"{parts.scheme}://{parts.netloc}"
        path = parts.path.rstrip("/") + "/"
        spec: dict[str, Any] = {"driver": "http", "base_url": base, "path": path}
        if parts.query:
            spec["base_url"] = base
            spec["path"] = path
            spec["query"] = parts.query
        return Location(_redact(raw.rstrip("/")), parts.scheme.lower(), fmt, _http_spec(spec))
    if low.startswith(("gs://", "s3://")):
        scheme = low[:2]
        rest = raw[5:]
        bucket, _, path = rest.partition("/")
        if not bucket:
            raise InvalidParameterError(f"{raw}: no bucket name; write {scheme}://BUCKET/PATH")
        p = path.strip("/")
        spec = {
            "driver": "gcs" if scheme == "gs" else "s3",
            "bucket": bucket,
            "path": (p + "/") if p else "",
        }
        if scheme == "s3":
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            if endpoint:
                spec["endpoint"] = endpoint.rstrip("/")
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            if region or endpoint:
                spec["aws_region"] = region or "us-east-1"
        return Location(f"{scheme}://{bucket}/{p}".rstrip("/"), scheme, fmt, spec)
    if "://" in raw:
        scheme = raw.split("://", 1)[0]
        raise InvalidParameterError(
            f"{raw}: unsupported scheme {scheme}://; use a path, file://, http(s)://, gs:// or s3://"
        )
    path = str(Path(raw).absolute())
    return Location(path, "file", fmt, {"driver": "file", "path": path + "/"})


def _http_spec(spec: dict[str, Any]) -> dict[str, Any]:
    query = spec.pop("query", None)
    if query:  # tensorstore's http kvstore keeps the query on the base URL
        spec["base_url"] = spec["base_url"] + spec["path"].rstrip("/") + "?" + query
        spec["path"] = ""
    return spec


def _retries() -> dict[str, Any]:
    try:
        n = int(os.environ.get("CONNECTOSCOPE_REMOTE_RETRIES", "5"))
    except ValueError:
        n = 5
    return {"max_retries": max(n, 0), "initial_delay": "0.2s", "max_delay": "4s"}


_CTX_LOCK = threading.Lock()
_CTX: dict[tuple[int, str], Any] = {}
_KV: dict[str, Any] = {}


def ts_context() -> Any:
    """One tensorstore Context per process: retries with backoff, a 256 MB chunk cache."""
    import tensorstore as ts

    r = _retries()
    key = (os.getpid(), str(r))
    with _CTX_LOCK:
        ctx = _CTX.get(key)
        if ctx is None:
            ctx = ts.Context(
                {
                    "http_request_retries": r,
                    "gcs_request_retries": r,
                    "s3_request_retries": r,
                    "cache_pool": {"total_bytes_limit": 256 << 20},
                }
            )
            _CTX[key] = ctx
        return ctx


def _open_kvstore(spec: dict[str, Any]) -> Any:
    import json

    import tensorstore as ts

    key = f"{os.getpid()}:{_retries()}:{json.dumps(spec, sort_keys=True)}"
    kv = _KV.get(key)
    if kv is None:
        try:
            kv = ts.KvStore.open(spec, context=ts_context()).result()
        except Exception as err:
            raise ts_error(err, _spec_url(spec)) from None
        _KV[key] = kv
    return kv


def _spec_url(spec: dict[str, Any]) -> str:
    d = spec.get("driver")
    if d == "file":
        return str(spec.get("path", ""))
    if d == "http":
        return _redact(str(spec.get("base_url", "")) + str(spec.get("path", "")))
    if d in ("gcs", "s3"):
        return f"{'gs' if d == 'gcs' else 's3'}://{spec.get('bucket')}/{spec.get('path', '')}"
    return str(spec)


def ts_error(err: BaseException, url: str) -> ConnectoscopeError:
    """A connectoscope error for a tensorstore failure at ``url`` (one line, with the fix)."""
    text = str(err)
    first = text.splitlines()[0] if text else type(err).__name__
    if len(first) > 300:
        first = first[:300] + "..."
    up = text.upper()
    if "PERMISSION_DENIED" in up or "UNAUTHENTICATED" in up or " 403" in text or " 401" in text:
        return RemoteAccessError(
            f"{url}: access denied ({first}). For s3:// set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE); for gs:// set GOOGLE_APPLICATION_CREDENTIALS "
            "or run `gcloud auth application-default login`; for http(s):// check the URL's access"
        )
    if "NOT_FOUND" in up and "MISSING" in up:
        return DataFormatError(f"{url}: {first}")
    if "NOT_FOUND" in up or " 404" in text:
        return SourceNotFoundError(f"{url}: not found ({first})")
    if any(s in up for s in ("UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED", "RESOURCE_EXHAUSTED")):
        return RemoteAccessError(
            f"{url}: the server did not answer after retries ({first}); try again later or "
            "raise CONNECTOSCOPE_REMOTE_RETRIES"
        )
    if "DATA_LOSS" in up or "INVALID_ARGUMENT" in up or "FAILED_PRECONDITION" in up:
        return DataFormatError(f"{url}: unreadable ({first})")
    return RemoteAccessError(f"{url}: read failed ({first})")
