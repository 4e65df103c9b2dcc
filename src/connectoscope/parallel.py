"""Dask integration: local by default, a cluster address when given; handed over once.

Work is a Dask task graph: one task per output shard (so parallel writers never share a
shard), pyramid tasks depending on the tasks of the finer level they are built from.

The executor is handed over once, not threaded through every signature (in the style of
navis's ``compute`` module). Every parallel step inside the block runs on it:

>>> import connectoscope as cs
>>> with cs.executor("tcp://10.0.0.5:8786"):           # doctest: +SKIP
...     cs.ingest("cubes/", "l4.cscope", layer="segmentation")
>>> with cs.executor(workers=2, local="processes"):  # doctest: +SKIP
...     ...

Without a block, :func:`current_executor` falls back to the config options ``scheduler``
and ``workers`` (``CONNECTOSCOPE_SCHEDULER``, ``CONNECTOSCOPE_WORKERS``). :func:`run_graph`
executes a graph

* on a ``distributed`` cluster when the executor names a scheduler address or a ``Client``;
* otherwise on Dask's local scheduler, with threads (``mode="threads"``: for kernels that
  release the GIL, such as tensorstore writes and our numba kernels) or with processes
  (``mode="processes"``: a pool of spawned workers that stays warm for the life of this
  process, so consecutive graphs and pyramid levels pay the start-up once). Each step
  names the mode that suits its kernels; ``executor(local=...)`` overrides it.

:func:`run_tasks` is the flat form (independent tasks, results in order) on top of it.
"""

from __future__ import annotations

import atexit
import contextvars
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from ._config import config
from ._progress import progress
from ._workers import process_pool
from .errors import InvalidParameterError

__all__ = [
    "Executor",
    "current_executor",
    "default_workers",
    "executor",
    "get_client",
    "run_graph",
    "run_tasks",
    "shutdown_pool",
]

Mode = Literal["processes", "threads", "sync"]
_MODES = ("processes", "threads", "sync")


@dataclass(frozen=True)
class Executor:
    """Where parallel work runs.

    Attributes
    ----------
    scheduler : str or distributed.Client or None
        A Dask scheduler address (``tcp://host:8786``) or a client; None runs locally.
    workers : int or None
        Local workers (default: the ``workers`` option, else the number of usable cores).
    local : {"threads", "processes", "sync"} or None
        Local execution mode for every step (None: each step's own choice).
    """

    scheduler: Any = None
    workers: int | None = None
    local: Mode | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and int(self.workers) < 1:
            raise InvalidParameterError(f"workers must be >= 1, got {self.workers}")
        if self.local is not None and self.local not in _MODES:
            raise InvalidParameterError(
                f"local must be one of {', '.join(_MODES)}, got {self.local!r}"
            )

    def describe(self) -> str:
        """One line for logs and provenance (never a client's credentials)."""
        if self.scheduler is not None:
            where = self.scheduler if isinstance(self.scheduler, str) else "a Dask client"
            return f"Dask cluster {where}"
        return f"local {self.local or 'default'} x {self.workers or default_workers()}"


_CURRENT: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "connectoscope_executor", default=None
)


def current_executor() -> Executor:
    """The executor handed over by the innermost :func:`executor` block, else the one the
    config options describe (``scheduler``, ``workers``)."""
    ex = _CURRENT.get()
    if ex is not None:
        return ex
    return Executor(scheduler=config.get("scheduler") or None, workers=config.get("workers"))


@contextmanager
def executor(
    scheduler: Any = None, *, workers: int | None = None, local: Mode | None = None
) -> Iterator[Executor]:
    """Run every parallel step inside the block on this executor.

    Parameters
    ----------
    scheduler : str or distributed.Client, optional
        A Dask scheduler address or client (one task per output shard runs there).
    workers : int, optional
        Local workers.
    local : {"threads", "processes", "sync"}, optional
        Force one local execution mode.
    """
    ex = Executor(scheduler=scheduler, workers=workers, local=local)
    token = _CURRENT.set(ex)
    try:
        yield ex
    finally:
        _CURRENT.reset(token)


def default_workers() -> int:
    """Number of local workers: the ``workers`` option, else the number of usable cores."""
    w = config.get("workers")
    if w:
        return int(w)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextmanager
def get_client(
    scheduler: str | Any | None = None,
    *,
    workers: int | None = None,
    processes: bool = True,
) -> Iterator[Any]:
    """Yield a ``distributed.Client``.

    Parameters
    ----------
    scheduler : str or Client, optional
        A scheduler address (``tcp://host:8786``) or an existing client (used as is and not
        closed). When omitted, a local cluster with ``workers`` processes is started and
        closed on exit.
    workers : int, optional
        Local workers (default :func:`default_workers`).
    processes : bool
        Local workers are processes (True) or threads (False).
    """
    from distributed import Client, LocalCluster

    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler
        return
    if scheduler:
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or default_workers()
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=processes,
        dashboard_address=None,
        host="127.0.0.1",
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


# ---------------------------------------------------------------------------- warm pool
_POOL: Any = None
_POOL_N = 0
_POOL_LOCK = threading.Lock()


def _warm_pool(n: int) -> Any:
    """A spawned process pool of ``n`` workers, reused across calls (started once)."""
    global _POOL, _POOL_N

    with _POOL_LOCK:
        broken = _POOL is not None and getattr(_POOL, "_broken", False)
        if _POOL is None or _POOL_N != n or broken:
            if _POOL is not None:
                _POOL.shutdown(wait=False, cancel_futures=True)
            _POOL = process_pool(n)  # spawned workers that die with this process
            _POOL_N = n
        return _POOL


def shutdown_pool() -> None:
    """Stop the warm local worker processes (they restart on the next parallel call)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.shutdown(wait=True, cancel_futures=True)
            _POOL = None


atexit.register(shutdown_pool)


# ---------------------------------------------------------------------------- graphs
def run_graph(
    graph: Mapping[Any, Any],
    keys: Sequence[Any],
    *,
    workers: int | None = None,
    mode: Mode = "threads",
    on_done: Callable[[Any, Any], None] | None = None,
    poll: Callable[[], float] | None = None,
) -> list[Any]:
    """Execute a Dask task graph and return the results of ``keys``.

    Parameters
    ----------
    graph : mapping
        A Dask graph: ``{key: (func, arg, other_key, ...)}``; keys named in a task's
        arguments are replaced by their results.
    keys : sequence
        Keys whose results are returned (every other result is freed as soon as its
        dependents have run).
    workers : int, optional
        Local workers (default: the executor's, else :func:`default_workers`); ``1`` runs in
        this thread.
    mode : {"threads", "processes", "sync"}
        This step's local execution mode (the executor's ``local`` overrides it): Dask's
        threaded scheduler, Dask's multiprocessing scheduler on a warm pool of spawned
        processes, or one by one in this thread.
    on_done : callable, optional
        ``on_done(key, result)`` in this process as each local task finishes (progress).
    poll : callable, optional
        On a cluster (where results of inner tasks stay remote): called about 5 times a
        second while the graph runs, returns how many tasks are done (for example by
        counting completion records), passed to ``on_done(None, count)``.

    Returns
    -------
    list
        Results of ``keys``, in order.
    """
    keys = list(keys)
    if not keys:
        return []
    ex = current_executor()
    if ex.scheduler is not None:
        return _run_distributed(graph, keys, ex.scheduler, on_done, poll)
    import dask.local

    mode = ex.local or mode
    n = workers or ex.workers or default_workers()
    callbacks = None
    if on_done is not None:
        cb = on_done

        def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            cb(key, result)

        callbacks = [(None, None, None, posttask, None)]
    if mode == "sync" or n <= 1:
        out = dask.local.get_sync(dict(graph), keys, callbacks=callbacks)
    elif mode == "threads":
        import dask.threaded

        out = dask.threaded.get(dict(graph), keys, num_workers=n, callbacks=callbacks)
    elif mode == "processes":
        import dask.multiprocessing

        out = dask.multiprocessing.get(
            dict(graph),
            keys,
            num_workers=n,
            pool=_warm_pool(n),
            optimize_graph=False,
            callbacks=callbacks,
        )
    else:
        raise ValueError(f"mode must be 'threads', 'processes' or 'sync', got {mode!r}")
    return list(out)


def _run_distributed(
    graph: Mapping[Any, Any],
    keys: list[Any],
    scheduler: Any,
    on_done: Callable[[Any, Any], None] | None,
    poll: Callable[[], float] | None,
) -> list[Any]:
    from distributed import wait

    with get_client(scheduler) as client:
        futures = client.get(dict(graph), keys, sync=False)
        pending = set(futures)
        last: float = -1.0
        while pending:
            try:
                done, not_done = wait(list(pending), timeout=0.2, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished in this interval
                done, not_done = set(), pending
            pending = set(not_done)
            if on_done is not None:
                if poll is not None:
                    count = poll()
                    if count != last:
                        on_done(None, count)
                        last = count
                else:
                    for fut in done:
                        on_done(fut.key, fut.result())
        return list(client.gather(futures))


def run_tasks(
    func: Callable[..., Any],
    items: Sequence[Any],
    *,
    workers: int | None = None,
    mode: Mode = "processes",
    desc: str = "",
    unit: str = "task",
    on_result: Callable[[Any, Any], None] | None = None,
) -> list[Any]:
    """Run ``func(item)`` for every item, in parallel on Dask, with a progress bar.

    Parameters
    ----------
    func : callable
        A picklable top-level function (runs in worker processes).
    items : sequence
        One item per task (for stores: one output shard per item).
    workers : int, optional
        Local workers (default: the executor's); ``1`` runs in this process.
    mode : {"processes", "threads", "sync"}
        Local execution mode (see :func:`run_graph`). Tasks run on the executor handed
        over with :func:`executor` (a Dask cluster when it names one).
    desc, unit : str
        Progress bar label and unit.
    on_result : callable, optional
        Called as ``on_result(item, result)`` in this process as each task finishes (in
        completion order), for example to write a completion record.

    Returns
    -------
    list
        Results in the order of ``items``.
    """
    n_items = len(items)
    if n_items == 0:
        return []
    keys = [f"task-{i}" for i in range(n_items)]
    graph = {k: (func, item) for k, item in zip(keys, items)}
    index = {k: i for i, k in enumerate(keys)}
    with progress(total=n_items, desc=desc, unit=unit) as bar:

        def done(key: Any, result: Any) -> None:
            if key is None:
                return
            if on_result is not None:
                on_result(items[index[key]], result)
            bar.update(1)

        t0 = time.perf_counter()
        results = run_graph(graph, keys, workers=workers, mode=mode, on_done=done)
        bar.set_postfix_str(f"{time.perf_counter() - t0:.1f} s", refresh=False)
    return results
