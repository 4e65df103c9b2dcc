"""Streaming readers of synapse tables larger than memory: Parquet (a file or a folder of
files, read by row groups), Feather / Arrow IPC files (memory-mapped) and CSV / TSV
(parsed block by block). Each yields Arrow record batches of the requested columns, so the
out-of-core passes never hold a whole table.

CSV id columns are parsed as uint64 (exact for every valid root id, where type inference
would turn ids above 2**63 into floats).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import DataFormatError, SourceNotFoundError

__all__ = ["count_rows", "inspect_file", "iter_batches", "table_files", "table_format"]

_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".feather": "feather",
    ".arrow": "feather",
    ".ipc": "feather",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".csv.gz": "csv",
    ".tsv.gz": "csv",
}
_CSV_BLOCK = 64 << 20


def _suffix(path: Path) -> str:
    s = path.suffix.lower()
    if s == ".gz":
        return "".join(path.suffixes[-2:]).lower()
    return s


def table_format(path: Path) -> str:
    """``parquet``, ``feather`` or ``csv`` from the file name."""
    fmt = _FORMATS.get(_suffix(path))
    if fmt is None:
        raise SourceNotFoundError(
            f"{path}: unsupported table format {_suffix(path)!r}; use .parquet, .feather or .csv"
        )
    return fmt


def table_files(src: Path) -> list[Path]:
    """The table files of ``src``: itself, or the files of a folder (searched recursively;
    names starting with ``_`` or ``.`` are ignored), Parquet first, else Feather, else CSV."""
    if not src.exists():
        raise SourceNotFoundError(f"{src}: no such file or folder")
    if src.is_file():
        table_format(src)
        return [src]
    found: dict[str, list[Path]] = {"parquet": [], "feather": [], "csv": []}
    for f in sorted(src.rglob("*")):
        rel = f.relative_to(src).parts
        if f.is_file() and not any(p.startswith(("_", ".")) for p in rel):
            fmt = _FORMATS.get(_suffix(f))
            if fmt:
                found[fmt].append(f)
    for fmt in ("parquet", "feather", "csv"):
        if found[fmt]:
            return found[fmt]
    raise SourceNotFoundError(f"{src}: no .parquet, .feather or .csv files")


def _csv_options(path: Path, id_columns: Sequence[str], columns: Sequence[str] | None) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    delim = "\t" if _suffix(path).startswith(".tsv") else ","
    return (
        pcsv.ReadOptions(block_size=_CSV_BLOCK),
        pcsv.ParseOptions(delimiter=delim),
        pcsv.ConvertOptions(
            column_types={c: pa.uint64() for c in id_columns},
            include_columns=list(columns) if columns is not None else None,
        ),
    )


def inspect_file(path: Path, id_columns: Sequence[str] = ()) -> tuple[Any, list[int], bool]:
    """(Arrow schema, rows per row group, exact): the row count of a CSV file is an estimate
    from its size and its first block."""
    import pyarrow as pa

    fmt = table_format(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            md = pf.metadata
            return (
                pf.schema_arrow,
                [md.row_group(g).num_rows for g in range(md.num_row_groups)],
                True,
            )
        if fmt == "feather":
            with pa.memory_map(str(path)) as src:
                reader = pa.ipc.open_file(src)
                rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
                return reader.schema, [rows], True
        import pyarrow.csv as pcsv

        ro, po, _ = _csv_options(path, (), None)
        ro = pcsv.ReadOptions(block_size=1 << 20)
        reader = pcsv.open_csv(path, read_options=ro, parse_options=po)
        schema = reader.schema
        try:
            first = reader.read_next_batch()
            n_first = first.num_rows
        except StopIteration:
            return schema, [0], True
        size = path.stat().st_size
        per_row = max(1.0, min(size, 1 << 20) / max(n_first, 1))
        names = list(schema.names)
        fields = [pa.field(n, pa.uint64()) if n in id_columns else schema.field(n) for n in names]
        return pa.schema(fields), [int(size / per_row * 1.05) + 1], False
    except (OSError, pa.ArrowException) as e:
        raise DataFormatError(f"{path}: not a readable {fmt} table ({e})") from e


def iter_batches(
    path: Path,
    columns: Sequence[str],
    batch_rows: int,
    *,
    row_groups: Sequence[int] | None = None,
    id_columns: Sequence[str] = (),
) -> Iterator[Any]:
    """Record batches of ``columns`` (in that order), at most ``batch_rows`` rows each."""
    import pyarrow as pa

    fmt = table_format(path)
    cols = list(columns)

    def select(b: Any) -> Any:
        return pa.RecordBatch.from_arrays([b.column(c) for c in cols], names=cols)

    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            groups = list(range(pf.num_row_groups)) if row_groups is None else list(row_groups)
            if groups:
                yield from pf.iter_batches(batch_size=batch_rows, columns=cols, row_groups=groups)
            return
        if fmt == "feather":
            with pa.memory_map(str(path)) as src:
                reader = pa.ipc.open_file(src)
                for i in range(reader.num_record_batches):
                    b = select(reader.get_batch(i))
                    for a in range(0, b.num_rows, batch_rows):
                        yield b.slice(a, batch_rows)
            return
        import pyarrow.csv as pcsv

        ro, po, co = _csv_options(path, [c for c in id_columns if c in cols], cols)
        reader = pcsv.open_csv(path, read_options=ro, parse_options=po, convert_options=co)
        for b in reader:
            b = select(b)
            for a in range(0, b.num_rows, batch_rows):
                yield b.slice(a, batch_rows)
    except pa.ArrowInvalid as e:
        raise DataFormatError(f"{path}: {e}") from e


def count_rows(src: str | Path) -> int:
    """Rows of a table file or folder (CSV: an estimate from the file size)."""
    return int(sum(sum(inspect_file(f)[1]) for f in table_files(Path(src))))
