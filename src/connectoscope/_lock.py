"""Long-held advisory locks of a dataset: one writer at a time, readers never see a half-written
layer.

Two kinds of lock, both ``flock`` on small files inside the dataset (the kernel drops them
when the holder dies, so a killed writer never leaves a lock behind; the file's text names
the last holder, which is how a stale one is recognised and reported):

* the **writer lock** (:func:`writer_lock`), held for a whole layer write (``ingest``,
  ``objects map``, ``write_array``...). A second writer is refused at once with the holder's
  pid, host, command and start time (:class:`DatasetBusyError`) instead of deleting the
  first run's temporary files. Re-entrant within one process.
* a **layer lock** per volume layer: readers take it shared for each read
  (:func:`layer_read_lock`), a writer takes it exclusive for as long as it rewrites the
  layer (:func:`layer_write_lock`). A reader therefore sees the old layer or the new one,
  never a mix: while a layer is rewritten (``ingest --overwrite``) reads wait (up to
  ``timeout_s``, then :class:`DatasetBusyError`), and an overwrite waits for reads in
  progress to end.

Locks are per host: on a network file system without ``flock`` support, ``fcntl`` emulation
(Linux NFS) still applies; the holder text then also names the host.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from ._store import Layout
from .errors import ConnectoscopeError

__all__ = [
    "DatasetBusyError",
    "holder",
    "holds_layer",
    "layer_lock_path",
    "layer_read_lock",
    "layer_write_lock",
    "stale_holder",
    "writer_lock",
    "writer_lock_path",
]


class DatasetBusyError(ConnectoscopeError, BlockingIOError):
    """Another process is writing this dataset (or rewriting the layer being read)."""


def writer_lock_path(dataset: str | os.PathLike[str]) -> Path:
    """The writer lock file of a dataset directory."""
    return Layout(Path(dataset)).writer_lock


def layer_lock_path(dataset: str | os.PathLike[str], layer: str) -> Path:
    """The lock file of one volume layer."""
    return Layout(Path(dataset)).layer_lock(layer)


# this process's held locks: path -> [fd, depth, mode]; one acquisition at a time per path
_HELD: dict[str, list[Any]] = {}
_HELD_LOCK = threading.Lock()
_ACQUIRING: dict[str, threading.Lock] = {}


def _command() -> str:
    argv = [os.path.basename(sys.argv[0]) if sys.argv else "python", *sys.argv[1:]]
    text = " ".join(argv)
    return text if len(text) <= 300 else text[:297] + "..."


def _stamp(what: str) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": _command(),
        "what": what,
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def holder(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The last holder recorded in a lock file (None when unreadable)."""
    try:
        return dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's process
        return True
    return True


def _describe(h: dict[str, Any] | None) -> str:
    if not h:
        return "another process"
    return (
        f"pid {h.get('pid')} on {h.get('host')} ({h.get('command')!s}, {h.get('what')}, "
        f"since {h.get('since')})"
    )


def _open(path: Path, *, create: bool = True) -> int | None:
    """A descriptor on the lock file (read-write, created when missing; read-only where
    that is all this user may do); None when it cannot be opened at all."""
    if create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            pass
    try:
        return os.open(path, os.O_RDONLY)
    except OSError:
        return None


def _write_holder(fd: int, what: str) -> None:
    data = json.dumps(_stamp(what)).encode()
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    except OSError:  # a read-only descriptor: the lock holds, the holder is not recorded
        pass


def _release(key: str) -> None:
    """Drop one use of a held lock; the last use unlocks and closes it."""
    with _HELD_LOCK:
        held = _HELD[key]
        held[1] -= 1
        if held[1] > 0:
            return
        del _HELD[key]
    fcntl.flock(held[0], fcntl.LOCK_UN)
    os.close(held[0])


@contextmanager
def _hold(path: Path, mode: int, *, what: str, timeout_s: float, busy: str) -> Iterator[None]:
    key = str(path)
    with _HELD_LOCK:
        gate = _ACQUIRING.setdefault(key, threading.Lock())
    with gate:  # threads of this process share one flock per path (counted uses)
        with _HELD_LOCK:
            held = _HELD.get(key)
            if held is not None and (held[2] == fcntl.LOCK_EX or mode == fcntl.LOCK_SH):
                held[1] += 1  # already held by this process, strongly enough
                acquired = True
            else:
                acquired = False
        if not acquired:
            fd = _open(path)
            if fd is None:
                if mode == fcntl.LOCK_EX:
                    raise PermissionError(
                        f"{path}: cannot create the lock file; is the dataset writable?"
                    )
                fd = -1  # a reader of a dataset it cannot lock: read unguarded
            else:
                deadline = time.monotonic() + timeout_s
                while True:
                    try:
                        fcntl.flock(fd, mode | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            os.close(fd)
                            raise DatasetBusyError(
                                busy.format(who=_describe(holder(path)), path=path)
                            ) from None
                        time.sleep(0.05)
                if mode == fcntl.LOCK_EX:
                    _write_holder(fd, what)
            if fd == -1:
                acquired_fd = None
            else:
                acquired_fd = fd
                with _HELD_LOCK:
                    _HELD[key] = [fd, 1, mode]
    if not acquired and acquired_fd is None:
        yield
        return
    try:
        yield
    finally:
        _release(key)


def stale_holder(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The recorded holder of a lock that nobody holds any more and whose process is gone
    (a killed writer), or None. Only meaningful for a lock file of this host."""
    h = holder(path)
    if not h or h.get("host") != socket.gethostname():
        return None
    pid = h.get("pid")
    if not isinstance(pid, int) or _pid_alive(pid):
        return None
    fd = _open(Path(path), create=False)
    if fd is None:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return h
    finally:
        os.close(fd)


@contextmanager
def writer_lock(
    dataset: str | os.PathLike[str], what: str, *, timeout_s: float = 0.0
) -> Iterator[dict[str, Any] | None]:
    """Hold the dataset's writer lock for a whole write; yields the stale holder a killed
    earlier writer left (or None).

    Raises
    ------
    DatasetBusyError
        Another live process holds it (the message names it) after ``timeout_s`` seconds.
    """
    path = writer_lock_path(dataset)
    stale = stale_holder(path) if path.exists() else None
    with _hold(
        path,
        fcntl.LOCK_EX,
        what=what,
        timeout_s=timeout_s,
        busy=(
            f"{Path(dataset)}: {{who}} is writing this dataset; one writer at a time: wait for "
            f"it to finish (or stop it), then run this again ({what})"
        ),
    ):
        yield stale


@contextmanager
def layer_write_lock(
    dataset: str | os.PathLike[str], layer: str, *, timeout_s: float = 60.0
) -> Iterator[None]:
    """Hold a layer exclusively while it is (re)written; waits up to ``timeout_s`` for reads
    in progress to end."""
    with _hold(
        layer_lock_path(dataset, layer),
        fcntl.LOCK_EX,
        what=f"writing layer {layer}",
        timeout_s=timeout_s,
        busy=(
            f"{Path(dataset)}: layer {layer!r} is being read ({{who}} or a reader still has "
            f"it open) for over {timeout_s:g} s; close the viewer or wait, then run this again"
        ),
    ):
        yield


@contextmanager
def layer_read_lock(
    dataset: str | os.PathLike[str], layer: str, *, timeout_s: float = 30.0
) -> Iterator[None]:
    """Hold a layer shared for one read; waits up to ``timeout_s`` while it is rewritten."""
    path = layer_lock_path(dataset, layer)
    if not path.parent.exists():  # never written under a lock: nothing to wait for
        yield
        return
    with _hold(
        path,
        fcntl.LOCK_SH,
        what=f"reading layer {layer}",
        timeout_s=timeout_s,
        busy=(
            f"{Path(dataset)}: layer {layer!r} is being rewritten by {{who}}; it is readable "
            "again when that write ends (reads wait up to "
            f"{timeout_s:g} s, so no half-written layer is ever read)"
        ),
    ):
        yield


_P = ParamSpec("_P")
_R = TypeVar("_R")


def holds_layer(what: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorator of ``fn(store, name, ...)``: run it under the dataset's writer lock and the
    layer's write lock (both re-entrant, so decorated functions may call each other)."""

    def deco(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(fn)
        def inner(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            store, name = args[0], str(args[1])
            path = Path(str(getattr(store, "path", store)))
            with writer_lock(path, f"{what} {name}"), layer_write_lock(path, name):
                return fn(*args, **kwargs)

        return inner

    return deco
