"""Dask integration: local by default, a cluster address when given.

Work is expressed as one task per output shard (so parallel writers never share a shard)
and run through :func:`run_tasks`, which uses a ``distributed`` client when a scheduler
address (or a client) is given and a local process or thread pool otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from ._config import config
from ._progress import progress

__all__ = ["default_workers", "get_client", "run_tasks"]


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


def run_tasks(
    func: Callable[..., Any],
    items: Sequence[Any],
    *,
    scheduler: str | Any | None = None,
    workers: int | None = None,
    mode: Literal["processes", "threads", "sync"] = "processes",
    desc: str = "",
    unit: str = "task",
    on_result: Callable[[Any, Any], None] | None = None,
) -> list[Any]:
    """Run ``func(item)`` for every item, in parallel, with a progress bar.

    Parameters
    ----------
    func : callable
        A picklable top-level function (runs in worker processes).
    items : sequence
        One item per task (for stores: one output shard per item).
    scheduler : str or Client, optional
        Dask distributed scheduler address or client; when given, tasks run there.
    workers : int, optional
        Local workers (default :func:`default_workers`); ``1`` runs in this process.
    mode : {"processes", "threads", "sync"}
        Local execution mode when no scheduler is given.
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
    results: list[Any] = [None] * n_items
    if n_items == 0:
        return results
    n = workers or default_workers()
    with progress(total=n_items, desc=desc, unit=unit) as bar:
        if scheduler is not None:
            from distributed import as_completed

            with get_client(scheduler) as client:
                futures = client.map(func, list(items), pure=False)
                index = {f.key: i for i, f in enumerate(futures)}
                for fut in as_completed(futures):
                    i = index[fut.key]
                    results[i] = fut.result()
                    if on_result is not None:
                        on_result(items[i], results[i])
                    bar.update(1)
            return results
        if mode == "sync" or n <= 1:
            for i, item in enumerate(items):
                results[i] = func(item)
                if on_result is not None:
                    on_result(item, results[i])
                bar.update(1)
            return results
        import concurrent.futures as cf

        pool: cf.Executor
        if mode == "threads":
            pool = cf.ThreadPoolExecutor(max_workers=n)
        else:
            import multiprocessing as mp

            pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn"))
        with pool:
            fmap = {pool.submit(func, item): i for i, item in enumerate(items)}
            try:
                for fut in cf.as_completed(fmap):
                    i = fmap[fut]
                    results[i] = fut.result()
                    if on_result is not None:
                        on_result(items[i], results[i])
                    bar.update(1)
            except BaseException:
                for f in fmap:
                    f.cancel()
                raise
    return results
