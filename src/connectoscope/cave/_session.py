"""CAVE (live MICrONS-style services) through caveclient: batched synapse and cell queries
for given root ids, one pinned materialization version, results as our tables.

The token comes from ``token=``, the ``CONNECTOSCOPE_CAVE_TOKEN`` or ``CAVE_TOKEN``
environment variable, or caveclient's own secret file (``~/.cloudvolume/secrets/
cave-secret.json``, written by ``client.auth.save_token``). It is handed to caveclient only:
never printed, logged, stored in provenance or put into an error message.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._progress import progress
from .._store import Store
from ..connectome import CellTable, SynapseTable, as_id_array
from ..errors import (
    ConnectoscopeError,
    ConnectoscopeWarning,
    DependencyMissingError,
    InvalidParameterError,
)
from ._cache import BatchCache

if TYPE_CHECKING:  # pragma: no cover
    from ..connectome import CellTable, SynapseTable

__all__ = ["TOKEN_ENV", "CaveError", "CaveSession"]

#: Environment variables searched for a token, in order.
TOKEN_ENV = ("CONNECTOSCOPE_CAVE_TOKEN", "CAVE_TOKEN")
#: Rows a CAVE materialization server returns at most for one query.
ROW_CAP = 200_000
_NM = [1, 1, 1]


class CaveError(ConnectoscopeError, RuntimeError):
    """A CAVE service refused or failed a request (the message never holds the token)."""


def _token_from_env() -> str | None:
    for name in TOKEN_ENV:
        v = os.environ.get(name)
        if v:
            return v
    return None


def _scrub(text: str, token: str | None) -> str:
    return text.replace(token, "<token>") if token else text


class CaveSession:
    """One datastack on a CAVE server, pinned to one materialization version.

    Parameters
    ----------
    datastack : str
        Datastack name (``minnie65_public``).
    server_address : str, optional
        The CAVE global server (default: caveclient's, ``https://global.daf-apis.com``).
    version : int, optional
        Materialization version to pin; default the most recent one at connection time. Every
        query of this session uses it, and :meth:`record` writes it into a dataset's provenance.
    token : str, optional
        Default: ``CONNECTOSCOPE_CAVE_TOKEN`` / ``CAVE_TOKEN``, else caveclient's secret file.
    batch_size : int
        Root ids per request (about 20 keeps each answer well under the server's row cap).
    synapse_table, cell_table : str, optional
        Default: the datastack's ``synapse_table`` and ``soma_table`` from its info record.
    cache : path-like, optional
        A folder keeping every batch's answer as its own Parquet part (see
        :class:`~connectoscope.cave.BatchCache`): a rerun after an interruption asks the
        server only for the batches not yet there. The folder records the materialization
        version the first time; later sessions on it reuse that version (``version=None``) or
        refuse a different one.
    concurrency : int
        Requests in flight at once (threads; each answer is kept in the cache as it arrives).

    Raises
    ------
    DependencyMissingError
        caveclient is not installed (``pip install 'connectoscope[cave]'``).
    CaveError
        The server refused (wrong token, unknown datastack or version).
    """

    def __init__(
        self,
        datastack: str,
        *,
        server_address: str | None = None,
        version: int | None = None,
        token: str | None = None,
        batch_size: int = 20,
        synapse_table: str | None = None,
        cell_table: str | None = None,
        cache: str | os.PathLike[str] | None = None,
        concurrency: int = 4,
    ) -> None:
        try:
            import caveclient
        except ImportError:  # pragma: no cover - the extra is installed in CI
            raise DependencyMissingError(
                "the CAVE adapter needs caveclient: pip install 'connectoscope[cave]'"
            ) from None
        if batch_size < 1:
            raise InvalidParameterError(f"batch_size must be >= 1, got {batch_size}")
        if concurrency < 1:
            raise InvalidParameterError(f"concurrency must be >= 1, got {concurrency}")
        self.concurrency = int(concurrency)
        self.datastack = datastack
        self.batch_size = int(batch_size)
        self.cache = BatchCache(cache) if cache is not None else None
        if self.cache is not None:
            version = self.cache.check_version(version)
        tok = token or _token_from_env()
        self._token = tok
        self.token_source = (
            "argument" if token else "environment" if tok else "caveclient secret file"
        )
        kw: dict[str, Any] = {"write_server_cache": False}
        if server_address:
            kw["server_address"] = server_address
        if tok:
            kw["auth_token"] = tok
        try:
            self._client = caveclient.CAVEclient(datastack, **kw)
            self.server_address = str(self._client.server_address)
            pinned = (
                int(version)
                if version is not None
                else int(self._client.materialize.most_recent_version())
            )
            self._client.version = pinned
            info = self._client.info.get_datastack_info()
        except ConnectoscopeError:
            raise
        except Exception as e:
            raise self._error(e, "connecting") from None
        self.version = pinned
        if self.cache is not None:
            self.cache.bind(self.server_address, datastack, pinned)
            self.cache.clean()
        self.synapse_table = synapse_table or info.get("synapse_table")
        self.cell_table = cell_table or info.get("soma_table")

    def __repr__(self) -> str:  # no token here
        return (
            f"CaveSession({self.datastack!r}, server={self.server_address!r}, "
            f"version={self.version}, token from {self.token_source})"
        )

    def _error(self, e: Exception, what: str) -> CaveError:
        status = getattr(getattr(e, "response", None), "status_code", None)
        hint = ""
        if status in (401, 403):
            hint = (
                " The token was refused: set CONNECTOSCOPE_CAVE_TOKEN (or CAVE_TOKEN) or save "
                "one with caveclient (client.auth.save_token)."
            )
        msg = f"CAVE {self.datastack}: {what} failed ({type(e).__name__}: {e}).{hint}"
        return CaveError(_scrub(msg, getattr(self, "_token", None)))

    # ------------------------------------------------------------------ queries
    def _batches(self, root_ids: Iterable[Any], size: int | None = None) -> list[list[int]]:

        ids = as_id_array(pd.Series(list(root_ids)), name="root_ids", source="CAVE query")
        uniq = [int(i) for i in pd.unique(ids)]
        if not uniq:
            raise InvalidParameterError("give at least one root id")
        k = int(size or self.batch_size)
        return [uniq[i : i + k] for i in range(0, len(uniq), k)]

    def _fetch_and_keep(self, table: str, column: str, batch: list[int]) -> pd.DataFrame:
        df = self._fetch(table, column, batch)
        if self.cache is not None:
            self.cache.write(table, column, batch, df)
        return df

    def _query_all(self, table: str, jobs: list[tuple[str, list[int]]]) -> pd.DataFrame:
        """Every ``(column, batch)`` query as one table: cached batches read back, the others
        fetched, ``concurrency`` requests in flight, each answer kept in the cache as soon as
        it arrives (so a failure or an interruption loses none of them)."""
        results: list[pd.DataFrame | None] = [None] * len(jobs)
        todo = []
        for i, (column, batch) in enumerate(jobs):
            got = self.cache.get(table, column, batch) if self.cache is not None else None
            if got is None:
                todo.append(i)
            results[i] = got
        if todo:
            with (
                progress(
                    total=len(jobs),
                    initial=len(jobs) - len(todo),
                    desc=f"CAVE {table}",
                    unit="batch",
                ) as bar,
                warnings.catch_warnings(),  # caveclient's chatter; entered and left here only
            ):
                warnings.simplefilter("ignore")
                if self.concurrency <= 1 or len(todo) == 1:
                    for i in todo:
                        results[i] = self._fetch_and_keep(table, *jobs[i])
                        bar.update(1)
                else:
                    self._fetch_concurrently(table, jobs, todo, results, bar)
            if self.cache is not None:
                self.cache.fetched += len(todo)
            for i in todo:
                n = len(results[i])  # type: ignore[arg-type]
                if n >= ROW_CAP:
                    warnings.warn(
                        f"CAVE {table}: a batch of {len(jobs[i][1])} ids returned {n} rows, "
                        "the server's cap; the answer may be cut: use a smaller batch_size",
                        ConnectoscopeWarning,
                        stacklevel=3,
                    )
        parts = [r for r in results if r is not None and len(r)]
        if not parts:  # keep the columns of an empty answer
            return results[0].iloc[:0] if results and results[0] is not None else pd.DataFrame()
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    def _fetch_concurrently(
        self,
        table: str,
        jobs: list[tuple[str, list[int]]],
        todo: list[int],
        results: list[pd.DataFrame | None],
        bar: Any,
    ) -> None:
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="cave")
        try:
            futures = {pool.submit(self._fetch_and_keep, table, *jobs[i]): i for i in todo}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for f in done:
                    results[futures[f]] = f.result()  # raises the first failure
                    bar.update(1)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # none left running or queued

    def _fetch(self, table: str, column: str, batch: list[int]) -> pd.DataFrame:
        try:
            df = self._client.materialize.query_table(
                table,
                filter_in_dict={column: batch},
                desired_resolution=_NM,
                split_positions=True,
            )
        except Exception as e:
            raise self._error(e, f"query of {table!r}") from None
        return pd.DataFrame(df)

    def query_synapses(self, root_ids: Iterable[Any], *, side: str = "both") -> pd.DataFrame:
        """Rows of the synapse table whose pre (``side="pre"``), post or either partner is
        one of ``root_ids``, each synapse once; positions in nm (``*_position_x/y/z``)."""
        if side not in ("pre", "post", "both"):
            raise InvalidParameterError(f"side must be pre, post or both, got {side!r}")
        if not self.synapse_table:
            raise InvalidParameterError(
                f"{self.datastack}: no synapse table in the datastack info; pass synapse_table="
            )
        sides = ("pre", "post") if side == "both" else (side,)
        batches = self._batches(root_ids)
        jobs = [(f"{s}_pt_root_id", b) for s in sides for b in batches]
        df = self._query_all(self.synapse_table, jobs)
        key = "id" if "id" in df.columns else None
        if key is not None:
            df = df.drop_duplicates(subset=key).sort_values(key, kind="stable")
        return df.reset_index(drop=True)

    def synapses(self, root_ids: Iterable[Any], *, side: str = "both") -> SynapseTable:
        """:meth:`query_synapses` as a :class:`~connectoscope.connectome.SynapseTable`
        (``pre``/``post`` exact int64 root ids, ``size``, ``x_nm, y_nm, z_nm`` from the
        synapse centre ``ctr_pt_position``)."""

        df = self.query_synapses(root_ids, side=side)
        cols = {"pre": "pre_pt_root_id", "post": "post_pt_root_id"}
        if all(f"ctr_pt_position_{a}" in df.columns for a in "xyz"):
            cols.update({a: f"ctr_pt_position_{a}" for a in "xyz"})
        return SynapseTable.from_frame(
            df,
            columns=cols,
            voxel_size=(1, 1, 1) if "x" in cols else None,
            source=f"CAVE {self.datastack}/{self.synapse_table} v{self.version}",
        )

    def cells(
        self,
        root_ids: Iterable[Any],
        *,
        table: str | None = None,
        duplicates: str = "error",
        batch_size: int | None = None,
    ) -> CellTable:
        """Rows of a cell table (default the datastack's soma table) for ``root_ids`` as a
        :class:`~connectoscope.connectome.CellTable`; soma positions in nm. ``batch_size``:
        root ids per request (default the session's; a cell table has about one row per id,
        so a few hundred fit one answer)."""

        name = table or self.cell_table
        if not name:
            raise InvalidParameterError(
                f"{self.datastack}: no cell table in the datastack info; pass table="
            )
        jobs = [("pt_root_id", b) for b in self._batches(root_ids, batch_size)]
        df = self._query_all(name, jobs)
        return CellTable(
            df,
            duplicates=duplicates,
            voxel_size=(1, 1, 1),
            id_column="pt_root_id",
            source=f"CAVE {self.datastack}/{name} v{self.version}",
        )

    # ------------------------------------------------------------------ provenance
    def record(self, dataset: Store, step: str, **params: Any) -> None:
        """Append a provenance step naming the server, datastack and pinned version (never
        the token)."""
        dataset.record_step(
            step,
            source="CAVE",
            server=self.server_address,
            datastack=self.datastack,
            materialization_version=self.version,
            **params,
        )


def id_list(text: str) -> np.ndarray:
    """Root ids from ``1,2,3`` text or a file with one id per line (exact 64-bit)."""
    from pathlib import Path

    looks_like_ids = all(c.isdigit() or c in ", " for c in text)
    p = Path(text)
    items = (
        text.replace(",", " ").split()
        if looks_like_ids or not p.is_file()
        else p.read_text().replace(",", " ").split()
    )
    try:
        return as_id_array(pd.Series([int(x) for x in items]), name="ids", source=text)
    except ValueError:
        raise InvalidParameterError(
            f"ids {text!r}: give comma-separated integers or a file with one id per line"
        ) from None
