"""Checks of a volume layer's grid and completeness.

A store knows its completeness: every shard write leaves a completion record with the
shard's size and CRC32C (0 bytes: all background, no file). :func:`check_layer` compares
each shard with its record (``connectoscope verify``), :func:`check_region` does so for the
shards a read touches (a hole is an error, never zeros) and :func:`forget_shards` drops the
records of bad shards so that resuming the write rewrites them (``verify --repair``).

:func:`check_grid` refuses chunk and shard shapes that cannot work (zero, negative) and warns,
with the number of files it would create, about shapes that would bury a store under tiny
files (``--chunk 7,7,7``: over 100,000 files for a 1 GB volume).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._store import Layout, Store
from ..errors import ConnectoscopeWarning, InvalidParameterError, MissingDataError

__all__ = [
    "MANY_FILES",
    "LayerCheck",
    "ShardProblem",
    "check_grid",
    "check_layer",
    "check_region",
    "count_files",
    "forget_shards",
    "resolved_source",
    "source_identity",
    "volume_layers",
    "warn_file_count",
]

#: More files than this in one layer write gets a warning naming the count.
MANY_FILES = 10_000


def check_grid(
    chunk_xyz: Sequence[int] | None,
    shard_xyz: Sequence[int] | None,
    shape_zyx: Sequence[int] | None = None,
) -> None:
    """Refuse a chunk or shard shape with a zero, negative or non-integer edge, and an empty
    volume (an axis of length 0).

    Raises
    ------
    InvalidParameterError
        Names the option (``--chunk``/``--shard``) and the value, or the empty shape.
    """
    if shape_zyx is not None and (len(shape_zyx) != 3 or min(shape_zyx) < 1):
        raise InvalidParameterError(
            f"the source volume is empty (shape z, y, x = {tuple(shape_zyx)}); nothing to write"
        )
    for opt, val in (("--chunk", chunk_xyz), ("--shard", shard_xyz)):
        if val is None:
            continue
        vals = list(val)
        ok = len(vals) == 3 and all(
            isinstance(v, int | float) and float(v).is_integer() and int(v) >= 1 for v in vals
        )
        if not ok:
            raise InvalidParameterError(
                f"{opt} {','.join(map(str, vals))}: expected three positive whole numbers of "
                "voxels x,y,z, for example 64,64,64"
            )


def count_files(levels: Sequence[Any]) -> int:
    """Shard files a layer write creates: per level, the number of shards of its grid."""
    total = 0
    for lev in levels:
        total += math.prod(-(-int(n) // int(s)) for n, s in zip(lev.shape_zyx, lev.shard_zyx))
    return total


def warn_file_count(
    levels: Sequence[Any], chunk_xyz: Sequence[int] | None, shard_xyz: Sequence[int] | None
) -> None:
    """Warn (:class:`ConnectoscopeWarning`) when the chosen chunk/shard shapes make more than
    :data:`MANY_FILES` files."""
    if chunk_xyz is None and shard_xyz is None:
        return
    n = count_files(levels)
    if n > MANY_FILES:
        given = " ".join(
            f"{opt} {','.join(map(str, v))}"
            for opt, v in (("--chunk", chunk_xyz), ("--shard", shard_xyz))
            if v is not None
        )
        warnings.warn(
            f"{given}: this layer would be written as {n:,} files over {len(levels)} levels; "
            "slow to write, copy and delete. Choose larger shapes (64,64,64 chunks in "
            "256,256,256 shards is typical) or leave them out for the defaults",
            ConnectoscopeWarning,
            stacklevel=3,
        )


# ---------------------------------------------------------------------------- completeness
@dataclass(frozen=True)
class ShardProblem:
    """One shard that is not what its completion record says.

    ``problem`` is ``missing`` (recorded with data, no file), ``truncated`` (another size),
    ``corrupt`` (other bytes: CRC32C differs), ``unexpected`` (a file where the record says
    background) or ``unfinished`` (no record: never written, in a layer marked complete).
    """

    layer: str
    level: int
    index: int
    path: Path
    problem: str
    detail: str

    def __str__(self) -> str:
        return f"{self.layer} level {self.level} shard {self.index} ({self.path}): {self.detail}"


@dataclass
class LayerCheck:
    """What :func:`check_layer` found in one volume layer."""

    layer: str
    complete: bool
    shards: int = 0
    with_data: int = 0
    background: int = 0
    unknown: int = 0  # old empty records: no size was recorded
    not_written: int = 0
    problems: list[ShardProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        state = "complete" if self.complete else "INCOMPLETE (an ingest was interrupted)"
        line = (
            f"{self.layer}: {state}; {self.shards} shards: {self.with_data} with data, "
            f"{self.background} background"
        )
        if self.unknown:
            line += f", {self.unknown} without a recorded size (written by an older version)"
        if self.not_written:
            line += f", {self.not_written} not written yet"
        if self.problems:
            kinds: dict[str, int] = {}
            for p in self.problems:
                kinds[p.problem] = kinds.get(p.problem, 0) + 1
            line += "; PROBLEMS: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        return line


def _layer_paths(store: Store, name: str) -> tuple[dict[str, Any], Path, Path]:
    desc = store.layer(name)
    relpath = str(desc["path"])
    prog = "image" if name == "image" else Path(relpath).name
    return desc, store.path / relpath, Layout(store.path).progress(prog)


def _crc_of(path: Path) -> int:
    import google_crc32c

    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            crc = int(google_crc32c.extend(crc, chunk))
    return crc


def _inspect_shard(
    name: str, li: int, i: int, shard: Path, rec: dict[str, int] | None, *, checksums: bool
) -> ShardProblem | None:
    if rec is None or not rec:
        return None
    try:
        size = shard.stat().st_size
    except FileNotFoundError:
        size = None
    want = rec["bytes"]
    if want == 0:
        if size is not None:
            return ShardProblem(
                name,
                li,
                i,
                shard,
                "unexpected",
                f"a {size}-byte file where the record says background",
            )
        return None
    if size is None:
        return ShardProblem(
            name, li, i, shard, "missing", f"missing (recorded with {want} bytes of data)"
        )
    if size != want:
        return ShardProblem(
            name,
            li,
            i,
            shard,
            "truncated",
            f"{size} bytes, recorded {want} (truncated or replaced)",
        )
    if checksums and _crc_of(shard) != rec["crc32c"]:
        return ShardProblem(name, li, i, shard, "corrupt", "CRC32C differs from the record")
    return None


def check_layer(store: Store, name: str, *, checksums: bool = False) -> LayerCheck:
    """Compare every shard of a volume layer with its completion record.

    Parameters
    ----------
    store : Store
    name : str
        A volume layer (``image``, ``segmentation``, ``mapped_<kind>``...).
    checksums : bool
        Also read every shard and compare its CRC32C (slow: reads the whole layer).
    """
    from ._omezarr import LevelSpec
    from ._shardio import read_record, shard_path

    desc, root, prog = _layer_paths(store, name)
    out = LayerCheck(name, bool(desc.get("complete")))
    for li, d in enumerate(desc["levels"]):
        lev = LevelSpec.from_dict(d)
        gz, gy, gx = lev.shard_grid()
        for i in range(gz * gy * gx):
            k, rem = divmod(i, gy * gx)
            j, x = divmod(rem, gx)
            shard = shard_path(root / str(li), (k, j, x))
            rec = read_record(prog / str(li) / f"{i}.done")
            out.shards += 1
            if rec is None:
                out.not_written += 1
                if out.complete:
                    out.problems.append(
                        ShardProblem(
                            name,
                            li,
                            i,
                            shard,
                            "unfinished",
                            "no completion record in a layer marked complete",
                        )
                    )
                continue
            if not rec:
                out.unknown += 1
            elif rec["bytes"]:
                out.with_data += 1
            else:
                out.background += 1
            p = _inspect_shard(name, li, i, shard, rec, checksums=checksums)
            if p is not None:
                out.problems.append(p)
    return out


def volume_layers(store: Store) -> list[str]:
    """The dataset's volume layers (those with pyramid levels)."""
    return [
        n
        for n, d in store.layers.items()
        if isinstance(d, dict)
        and d.get("levels")
        and isinstance(d["levels"][0], dict)
        and "shard_zyx" in d["levels"][0]
        and "path" in d
    ]


def check_region(
    store: Store,
    name: str,
    level: int,
    shard_zyx: Sequence[int],
    grid_zyx: Sequence[int],
    start_zyx: Sequence[int],
    stop_zyx: Sequence[int],
    records: dict[int, Any] | None = None,
) -> None:
    """Before a read: every shard the box ``[start, stop)`` (voxels ``[z, y, x]``) touches
    must be as its record says; a hole is an error, never zeros.

    Raises
    ------
    MissingDataError
        A shard recorded with data is missing or has another size (names the file and the
        fix: ``connectoscope verify DATASET --repair``).

    ``records`` caches the completion records of this level between reads (the caller
    clears it when the layer is rewritten); the shard files are looked at every time.
    """
    from ._shardio import read_record, shard_path

    _, root, prog = _layer_paths(store, name)
    gz, gy, gx = (int(g) for g in grid_zyx)
    lo = [int(a) // int(s) for a, s in zip(start_zyx, shard_zyx)]
    hi = [-(-int(b) // int(s)) for b, s in zip(stop_zyx, shard_zyx)]
    base = os.path.join(str(root), str(level), "c")  # plain strings: pathlib costs more here
    recdir = os.path.join(str(prog), str(level))
    for k in range(lo[0], min(hi[0], gz)):
        for j in range(lo[1], min(hi[1], gy)):
            for x in range(lo[2], min(hi[2], gx)):
                i = (k * gy + j) * gx + x
                if records is not None and i in records:
                    rec = records[i]
                else:
                    rec = read_record(Path(recdir, f"{i}.done"))
                    if records is not None and rec is not None:
                        records[i] = rec
                if not rec or not rec["bytes"]:
                    continue  # unfinished, of unknown size, or background: nothing to check
                try:
                    size: int | None = os.stat(f"{base}/{k}/{j}/{x}").st_size
                except FileNotFoundError:
                    size = None
                if size == rec["bytes"]:
                    continue
                p = _inspect_shard(
                    name,
                    level,
                    i,
                    shard_path(root / str(level), (k, j, x)),
                    rec,
                    checksums=False,
                )
                if p is not None:
                    raise MissingDataError(
                        f"{store.path}: layer {name!r} level {level}: shard "
                        f"{p.path.relative_to(store.path)} is {p.detail}; its data would read "
                        f"as zeros. Run `connectoscope verify {store.path} --repair` to "
                        "rewrite it from the source"
                    )


def forget_shards(store: Store, problems: Sequence[ShardProblem]) -> list[str]:
    """Remove the records (and files) of bad shards and mark their layers incomplete, so that
    resuming the layer's write (the same ``ingest``) rewrites exactly those shards. Returns
    the layers affected."""
    from .._atomic import clean_stale_parts

    layers = sorted({p.layer for p in problems})
    for p in problems:
        _, _, prog = _layer_paths(store, p.layer)
        (prog / str(p.level) / f"{p.index}.done").unlink(missing_ok=True)
        if p.problem in ("truncated", "corrupt", "unexpected"):
            p.path.unlink(missing_ok=True)
    for name in layers:
        desc = dict(store.layer(name))
        desc["complete"] = False
        store.set_layer(name, desc)
        clean_stale_parts(store.path / str(desc["path"]))
    store.reload()
    return layers


# ---------------------------------------------------------------------------- resume identity
def resolved_source(source: Any) -> str:
    """The source's description with its path made absolute and real (``file.h5:/inner``
    keeps the inner path): what ``verify --repair`` re-opens, from any working folder."""
    path = getattr(source, "path", None)
    desc = str(getattr(source, "description", path))
    if path is None or not Path(path).exists():
        return desc
    rest = desc[len(str(path)) :] if desc.startswith(str(path)) else ""
    return str(Path(path).resolve()) + rest


def source_identity(source: Any) -> str:
    """What a source *is*, not how its path was spelled: the resolved real path, plus the
    size and modification time of each of its files (a folder: every file below it), plus
    the inner HDF5 path. Resuming an interrupted ingest compares this, so ``./cubes`` and
    ``/data/cubes`` are the same source, and a source changed since is refused.

    Sources that are not files (an in-memory array) keep their description.
    """
    import json

    path = getattr(source, "path", None)
    desc = str(getattr(source, "description", path))
    if path is None or not Path(path).exists():
        return desc
    real = Path(path).resolve()
    inner = desc.split(":/", 1)[1] if ":/" in desc and not Path(desc).exists() else ""
    if real.is_dir():
        files = sorted(p for p in real.rglob("*") if p.is_file() and not p.name.startswith("."))
        stats = [
            (p.relative_to(real).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files
        ]
    else:
        st = real.stat()
        stats = [("", st.st_size, st.st_mtime_ns)]
    return json.dumps({"real_path": str(real), "inner": inner, "files": stats})
