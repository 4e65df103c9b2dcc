"""Worker processes that die with their parent.

A ``kill -9`` of ``connectoscope ingest --local processes`` used to leave its spawned workers
(about 300 MB each) running for minutes. :func:`watch_parent`, the initialiser of every
worker process we start (:func:`process_pool`), ends the worker as soon as its parent is
gone, two ways:

* on Linux, ``prctl(PR_SET_PDEATHSIG)`` (through ``ctypes``) asks the kernel for a signal
  when the parent dies. The kernel sends it when the *thread* that spawned the worker ends,
  which may be a short-lived thread of a live parent, so the signal is ``SIGUSR2`` whose
  handler checks that the parent really is gone before exiting;
* everywhere, a daemon thread polls every ``poll_s`` seconds whether the parent is still the
  parent (an orphan is re-parented) or, when it never was the direct parent, still alive. It
  also covers a worker whose main thread is inside a long C call.

Either way the worker ends with ``os._exit`` (no cleanup handlers that could wait on the dead
parent). This module imports nothing from the package.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from typing import Any

__all__ = ["EXIT_ORPHANED", "process_pool", "set_parent_death_signal", "watch_parent"]

#: Exit status of a worker that ended because its parent died.
EXIT_ORPHANED = 75
_PR_SET_PDEATHSIG = 1
_WATCHED: dict[str, Any] = {}


def set_parent_death_signal(sig: int) -> bool:
    """Ask the Linux kernel to send ``sig`` to this process when its parent dies.

    Returns
    -------
    bool
        True when the request was accepted (Linux with a usable libc), False elsewhere.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0
    except (OSError, AttributeError):  # pragma: no cover - no libc / no prctl
        return False


def _parent_alive(parent_pid: int, direct: bool) -> bool:
    if direct:
        return os.getppid() == parent_pid
    try:
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a pid reused by another user
        return True
    return True


def _die() -> None:
    os._exit(EXIT_ORPHANED)


def watch_parent(parent_pid: int, poll_s: float = 0.5, use_prctl: bool = True) -> None:
    """Initialiser of a worker process: end this process when ``parent_pid`` dies.

    Parameters
    ----------
    parent_pid : int
        The process that started the pool (``os.getpid()`` there).
    poll_s : float
        Seconds between two checks of the polling thread.
    use_prctl : bool
        Also use Linux's parent-death signal (immediate); False leaves only the polling.
    """
    direct = os.getppid() == parent_pid
    _WATCHED.update(parent=parent_pid, direct=direct)
    if use_prctl and direct and threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, frame: Any) -> None:
            if not _parent_alive(parent_pid, direct):
                _die()

        signal.signal(signal.SIGUSR2, on_signal)
        set_parent_death_signal(signal.SIGUSR2)
    if not _parent_alive(parent_pid, direct):  # it died before the watch was in place
        _die()

    def poll() -> None:
        ev = threading.Event()
        while not ev.wait(poll_s):
            if not _parent_alive(parent_pid, direct):
                _die()

    threading.Thread(target=poll, name="connectoscope-parent-watch", daemon=True).start()


def process_pool(n: int) -> Any:
    """A ``ProcessPoolExecutor`` of ``n`` spawned workers that die with this process."""
    import concurrent.futures as cf
    import multiprocessing as mp

    return cf.ProcessPoolExecutor(
        max_workers=n,
        mp_context=mp.get_context("spawn"),
        initializer=watch_parent,
        initargs=(os.getpid(),),
    )
