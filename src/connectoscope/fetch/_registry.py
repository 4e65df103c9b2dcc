"""The registry of public datasets (``connectoscope/data/datasets.json``) and ``fetch``.

Each dataset lists files with a URL and, where the publisher gives them, a size and a
checksum. Where a checksum is published by a repository's API rather than written into the
registry (Zenodo publishes an md5 for every file), the entry names the record and the
checksum is read from the API when fetching. Where none is published (the L4dense WebDAV
repository), the entry says so and only sizes from the server's listing are checked.

Environment: ``CONNECTOSCOPE_ZENODO_API`` replaces ``https://zenodo.org/api`` (a mirror, or a
test server); ``CONNECTOSCOPE_FETCH_MIRROR`` maps each file URL onto a mirror
(``https://host/path/file`` -> ``MIRROR/host/path/file``).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import DownloadError, InvalidParameterError
from ._download import Checksum, download
from ._names import content_disposition_filename, safe_basename, safe_target

__all__ = [
    "DatasetEntry",
    "FetchReport",
    "FileEntry",
    "fetch",
    "fetch_url",
    "load_registry",
]

_DAV_NS = "{DAV:}"


@dataclass(frozen=True)
class FileEntry:
    """One file of a dataset: where it lives inside the dataset folder and where it comes from."""

    name: str
    url: str
    size: int | None = None
    checksum: Checksum | None = None
    checksum_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "url": self.url}
        if self.size is not None:
            d["size"] = self.size
        if self.checksum is not None:
            d[self.checksum.algorithm] = self.checksum.hexdigest
        if self.checksum_note:
            d["checksum_note"] = self.checksum_note
        return d


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset of the registry (see ``connectoscope fetch --list``)."""

    name: str
    description: str
    homepage: str = ""
    license: str = ""
    citation: str = ""
    checksums: str = ""
    files: tuple[dict[str, Any], ...] = ()
    zenodo_record: int | None = None
    webdav: dict[str, Any] | None = None

    def resolve_files(self) -> list[FileEntry]:
        """The files, with checksums and sizes from Zenodo or the WebDAV listing when the
        entry says they come from there (network access)."""
        published: dict[str, dict[str, Any]] = {}
        if self.zenodo_record is not None:
            published = _zenodo_files(self.zenodo_record)
        out = [_file_entry(f, published) for f in self.files]
        if self.webdav is not None:
            out += _webdav_files(self.webdav)
        return out


@dataclass
class FetchReport:
    """What :func:`fetch` did, file by file; ``missing`` lists what is not there yet."""

    dataset: str
    folder: Path
    downloaded: list[Path] = field(default_factory=list)
    present: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    unverified: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        return sorted(self.failed)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """A few lines for people: counts, what failed and why, what to run next."""
        lines = [
            f"{self.dataset}: {len(self.downloaded)} downloaded, {len(self.present)} already "
            f"present, {len(self.failed)} missing, in {self.folder}"
        ]
        if self.unverified:
            lines.append(
                f"  no published checksum for {len(self.unverified)} file(s) (size checked only): "
                + ", ".join(self.unverified[:5])
                + (" ..." if len(self.unverified) > 5 else "")
            )
        for name, why in sorted(self.failed.items()):
            lines.append(f"  missing {name}: {why}")
        if self.failed:
            lines.append("  run the same command again to resume the missing files")
        return "\n".join(lines)


def load_registry(path: str | os.PathLike[str] | None = None) -> dict[str, DatasetEntry]:
    """The datasets the toolkit knows (the package's ``data/datasets.json``, or ``path``)."""
    if path is None:
        text = resources.files("connectoscope").joinpath("data/datasets.json").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    raw = json.loads(text)
    out = {}
    for name, d in raw["datasets"].items():
        out[name] = DatasetEntry(
            name=name,
            description=d["description"],
            homepage=d.get("homepage", ""),
            license=d.get("license", ""),
            citation=d.get("citation", ""),
            checksums=d.get("checksums", ""),
            files=tuple(d.get("files", ())),
            zenodo_record=d.get("zenodo_record"),
            webdav=d.get("webdav"),
        )
    return out


def _file_entry(f: dict[str, Any], published: dict[str, dict[str, Any]]) -> FileEntry:
    checksum = None
    for algo in ("sha256", "md5"):
        if f.get(algo):
            checksum = Checksum(algo, f[algo])
    size = f.get("size")
    note = f.get("checksum_note", "")
    pub = published.get(f.get("zenodo_key", f["name"]))
    if pub is not None:
        algo, _, hexd = str(pub.get("checksum", "")).partition(":")
        if hexd:
            checksum = Checksum(algo, hexd)
            note = note or "published by Zenodo (read from the record's API)"
        size = pub.get("size", size)
    return FileEntry(f["name"], f["url"], size, checksum, note)


def _get_json(url: str, timeout: float = 60.0) -> Any:
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise DownloadError(f"{url}: cannot read ({getattr(e, 'reason', e)})") from None


def _zenodo_files(record: int) -> dict[str, dict[str, Any]]:
    """``key -> {"checksum": "md5:...", "size": ...}`` from Zenodo's records API."""
    api = os.environ.get("CONNECTOSCOPE_ZENODO_API", "https://zenodo.org/api").rstrip("/")
    meta = _get_json(f"{api}/records/{record}")
    files = meta.get("files", [])
    if isinstance(files, dict):  # newer API shape: {"entries": {...}}
        files = list(files.get("entries", {}).values())
    return {str(f["key"]): f for f in files}


def _webdav_files(spec: dict[str, Any]) -> list[FileEntry]:
    """Files under a WebDAV folder: PROPFIND with depth 1, starting at ``url`` and the
    ``folders`` listed, recursing into sub-folders unless ``recursive`` is false."""
    import defusedxml.ElementTree as ET

    root = spec["url"].rstrip("/") + "/"
    include = spec.get("include", ["*"])
    out: list[FileEntry] = []
    todo = [""] + [f.strip("/") + "/" for f in spec.get("folders", [])]
    seen: set[str] = set()
    while todo:
        rel = todo.pop(0)
        if rel in seen:
            continue
        seen.add(rel)
        url = root + rel
        body = (
            b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop>'
            b"<d:getcontentlength/><d:resourcetype/></d:prop></d:propfind>"
        )
        req = urllib.request.Request(
            url, data=body, method="PROPFIND", headers={"Depth": "1", "Content-Type": "text/xml"}
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                tree = ET.fromstring(r.read())
        except (urllib.error.URLError, OSError) as e:
            raise DownloadError(
                f"{url}: cannot list the WebDAV folder ({getattr(e, 'reason', e)})"
            ) from None
        base_path = urllib.parse.urlsplit(root).path
        for resp in tree.iter(f"{_DAV_NS}response"):
            href = urllib.parse.unquote(resp.findtext(f"{_DAV_NS}href") or "")
            path = urllib.parse.urlsplit(href).path
            if not path.startswith(base_path):
                continue
            name = path[len(base_path) :]
            if name.rstrip("/") == rel.rstrip("/"):
                continue  # the folder itself
            is_dir = resp.find(f".//{_DAV_NS}collection") is not None
            if is_dir:
                if spec.get("recursive", True):
                    todo.append(name.rstrip("/") + "/")
                continue
            if not any(fnmatch.fnmatch(Path(name).name, pat) for pat in include):
                continue
            length = resp.findtext(f".//{_DAV_NS}getcontentlength")
            out.append(
                FileEntry(
                    name=name,
                    url=root + urllib.parse.quote(name),
                    size=int(length) if length else None,
                    checksum=None,
                    checksum_note=spec.get("checksum_note", "no checksum published"),
                )
            )
    return out


def _mirror(url: str) -> str:
    m = os.environ.get("CONNECTOSCOPE_FETCH_MIRROR")
    if not m:
        return url
    parts = urllib.parse.urlsplit(url)
    return f"{m.rstrip('/')}/{parts.netloc}{parts.path}"


def fetch(
    name: str,
    to: str | os.PathLike[str] = ".",
    *,
    only: list[str] | None = None,
    registry: dict[str, DatasetEntry] | None = None,
    retries: int = 5,
    timeout: float = 60.0,
) -> FetchReport:
    """Download a dataset of the registry into ``to/<name>/``.

    Parameters
    ----------
    name : str
        A dataset name (``connectoscope fetch --list``).
    to : path-like
        Parent folder; files land in ``to/<name>/<file name>``.
    only : list of str, optional
        Shell patterns (``x2y4z3*``, ``*.csv``): fetch only matching files.
    registry : dict, optional
        Another registry (default: :func:`load_registry`).
    retries, timeout
        See :func:`connectoscope.fetch.download`.

    Returns
    -------
    FetchReport
        Files downloaded, already present and missing (with the reason); a file that fails
        does not stop the others.

    Raises
    ------
    InvalidParameterError
        Unknown dataset name (the message lists the known ones), or ``only`` matches nothing.
    """
    reg = registry if registry is not None else load_registry()
    if name not in reg:
        raise InvalidParameterError(
            f"unknown dataset {name!r}; known: {', '.join(sorted(reg))} "
            "(connectoscope fetch --list), or give a URL"
        )
    entry = reg[name]
    files = entry.resolve_files()
    if only:
        files = [f for f in files if any(fnmatch.fnmatch(f.name, p) for p in only)]
        if not files:
            raise InvalidParameterError(
                f"{name}: no file matches {only}; files: "
                + ", ".join(f.name for f in entry.resolve_files()[:10])
            )
    folder = Path(to) / name
    report = FetchReport(name, folder)
    for f in files:
        try:
            dest = safe_target(folder, f.name, what=f"{name}: registry file")
        except InvalidParameterError as e:
            report.failed[f.name] = f"refused: the name leaves the dataset folder ({e})"
            continue
        if f.checksum is None:
            report.unverified.append(f.name)
        before = dest.stat().st_mtime_ns if dest.exists() else None
        try:
            download(
                _mirror(f.url),
                dest,
                checksum=f.checksum,
                size=f.size,
                retries=retries,
                timeout=timeout,
            )
        except DownloadError as e:
            report.failed[f.name] = str(e)
            continue
        kept = before is not None and dest.stat().st_mtime_ns == before
        (report.present if kept else report.downloaded).append(dest)
    return report


def fetch_url(
    url: str,
    to: str | os.PathLike[str] = ".",
    *,
    checksum: str | None = None,
    size: int | None = None,
    retries: int = 5,
    timeout: float = 60.0,
) -> Path:
    """Download one URL into the folder ``to``.

    The file is named after the URL's last path part (percent-decoded, reduced to a base
    name), or, when the URL ends in ``/``, after the server's ``Content-Disposition``
    ``filename``. A name that is not safe (``..``, NUL, over-long, reserved on Windows, a
    symlink in the way) is refused: nothing is written outside ``to``.

    See :func:`connectoscope.fetch.download` for resuming and verification.

    Raises
    ------
    InvalidParameterError
        The URL (and the server) name no safe file.
    """
    path = urllib.parse.urlsplit(url).path
    last = path.rsplit("/", 1)[-1]
    if last and urllib.parse.unquote(last) not in (".", ".."):
        fname = safe_basename(last, what=f"{url}: URL path")
    else:
        fname = _disposition_name(url, timeout) or ""
        if not fname:
            raise InvalidParameterError(
                f"{url}: the URL names no file; give a URL ending in a name"
            )
    dest = safe_target(to, fname, what=f"{url}: file name")
    return download(url, dest, checksum=checksum, size=size, retries=retries, timeout=timeout)


def _disposition_name(url: str, timeout: float) -> str | None:
    """The safe ``Content-Disposition`` file name of ``url`` (HEAD request), or None."""
    if not re.match(r"https?://", url):
        return None
    req = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            header = r.headers.get("Content-Disposition")
    except (urllib.error.URLError, OSError):
        return None
    return content_disposition_filename(header)
