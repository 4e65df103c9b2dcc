"""File names that come from outside (a URL path, a ``Content-Disposition`` header, a registry
entry, an archive member) made safe before anything is written under them.

A name from outside is either reduced to a safe base name (:func:`safe_basename`: the last
part of a path, after decoding ``%2F`` and ``\\``) or refused with
:class:`~connectoscope.errors.InvalidParameterError` naming it: empty, ``.``/``..``, NUL or
other control characters, over 255 bytes, a Windows-reserved device name (``CON``, ``NUL``,
``COM1``...), a drive letter. A relative path with folders (registry entries and archive
members) keeps its folders only when every part is safe (:func:`safe_relpath`), and
:func:`safe_target` resolves the final path, refusing one that would land outside the
destination folder through a symlinked folder, or that is itself a symlink (a planted link
would redirect the write).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

from ..errors import InvalidParameterError

__all__ = [
    "content_disposition_filename",
    "safe_basename",
    "safe_relpath",
    "safe_target",
]

MAX_NAME_BYTES = 255
_WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(10)),
    *(f"LPT{i}" for i in range(10)),
    "CONIN$",
    "CONOUT$",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _decode(name: str) -> str:
    """Percent-decode until stable (a double-encoded ``%252F`` is a ``/`` too)."""
    for _ in range(4):
        dec = urllib.parse.unquote(name)
        if dec == name:
            break
        name = dec
    return name


def _check_part(part: str, original: str, what: str) -> str:
    why = None
    if part in ("", ".", ".."):
        why = "names no file (empty, '.' or '..')"
    elif _CONTROL.search(part):
        why = "contains a NUL or control character"
    elif len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        why = f"is longer than {MAX_NAME_BYTES} bytes"
    elif part.split(".")[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
        why = "is a reserved device name on Windows"
    elif part.endswith((" ", ".")):
        why = "ends in a space or a dot"
    elif re.fullmatch(r"[A-Za-z]:.*", part):
        why = "starts with a drive letter"
    if why:
        raise InvalidParameterError(
            f"{what} {original!r}: the file name {part!r} {why}; refused (give the file a "
            "plain name, for example with a URL that ends in one)"
        )
    return part


def safe_basename(name: str, *, what: str = "file name") -> str:
    """The last part of ``name`` (a URL path or a header value), safe to create in a folder.

    Parameters
    ----------
    name : str
        Possibly percent-encoded; ``/`` and ``\\`` both separate folders.
    what : str
        What the name is, for the message (``"URL"``, ``"Content-Disposition"``...).

    Returns
    -------
    str
        A single file name: no separator, not ``.``/``..``, no control character, at most
        255 bytes, not reserved on Windows.

    Raises
    ------
    InvalidParameterError
        Nothing safe is left.

    >>> safe_basename("..%2F..%2Fvictim.cfg")
    'victim.cfg'
    """
    dec = _decode(name)
    base = re.split(r"[/\\]", dec)[-1]
    return _check_part(base, name, what)


def safe_relpath(name: str, *, what: str = "file name") -> str:
    """A relative path with folders (``em/x1.h5``) whose every part is safe, else refused.

    Absolute paths, ``..`` anywhere, backslashes and drive letters are refused rather than
    reduced: a registry or archive that names them is not trustworthy.
    """
    dec = _decode(name)
    if dec.startswith(("/", "\\")) or "\\" in dec or re.match(r"[A-Za-z]:", dec):
        raise InvalidParameterError(
            f"{what} {name!r}: an absolute or Windows path leaves the destination folder; refused"
        )
    parts = [p for p in dec.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise InvalidParameterError(
            f"{what} {name!r}: the name leaves the destination folder ('..'); refused"
        )
    return "/".join(_check_part(p, name, what) for p in parts)


def safe_target(folder: str | os.PathLike[str], rel: str, *, what: str = "file name") -> Path:
    """``folder/rel`` after checking that writing it stays inside ``folder``.

    ``rel`` is checked with :func:`safe_relpath`; the existing part of the target's folder is
    resolved (symlinks followed) and must stay inside the resolved ``folder``; the target and
    its ``.part`` must not be symlinks.

    Raises
    ------
    InvalidParameterError
        The write would leave ``folder`` or go through a symlink.
    """
    root = Path(folder).resolve()
    rel = safe_relpath(rel, what=what)
    target = root / rel
    # the deepest existing ancestor, resolved, must stay inside root
    anc = target.parent
    while not anc.exists() and anc != root and root in anc.parents:
        anc = anc.parent
    real = anc.resolve()
    if real != root and root not in real.parents:
        raise InvalidParameterError(
            f"{what} {rel!r}: {anc} is a link to {real}, outside {root}; refused"
        )
    for p in (target, target.with_name(target.name + ".part")):
        if p.is_symlink():
            raise InvalidParameterError(
                f"{what} {rel!r}: {p} is a symbolic link (to {os.readlink(p)}); a download "
                "never writes through a link: remove it and run again"
            )
    return target


def content_disposition_filename(header: str | None) -> str | None:
    """The ``filename``/``filename*`` of a ``Content-Disposition`` header, made safe with
    :func:`safe_basename`, or None when the header gives none.

    >>> content_disposition_filename('attachment; filename="../../etc/passwd"')
    'passwd'
    """
    if not header:
        return None
    m = re.search(r"filename\*\s*=\s*([^']*)'[^']*'([^;]+)", header, re.I)
    if m:
        raw = urllib.parse.unquote(m.group(2).strip().strip('"'), encoding=m.group(1) or "utf-8")
    else:
        m = re.search(r'filename\s*=\s*("((?:[^"\\]|\\.)*)"|[^;]+)', header, re.I)
        if not m:
            return None
        raw = m.group(2) if m.group(2) is not None else m.group(1).strip()
        raw = re.sub(r"\\(.)", r"\1", raw)
    return safe_basename(raw, what="Content-Disposition file name")
