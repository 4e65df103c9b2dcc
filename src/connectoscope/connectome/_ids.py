"""Exact 64-bit ids: conversion, validation and dtype unification.

Root ids are int64 by default. uint64 is kept only when a value does not fit int64 (above
2**63 - 1), and then every id array that meets it is converted to uint64 (exact, since ids
are never negative). No id ever passes through float64: a float id column is accepted only
when every value is a whole number below 2**53; otherwise it has already lost precision
and we say so. NaN and negative ids are refused with the count and the first row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataFormatError

__all__ = ["as_id_array", "common_id_dtype", "to_id_dtype"]

_I64_MAX = np.iinfo(np.int64).max


def as_id_array(values: Any, *, name: str = "id", source: str = "table") -> np.ndarray:
    """Convert a column of ids to an exact int64 (or, above 2**63 - 1, uint64) array.

    Parameters
    ----------
    values : array-like
        Integer, float (whole numbers below 2**53 only), nullable-integer or object (Python
        ints / decimal strings) ids.
    name, source : str
        Used in error messages (column and table).

    Returns
    -------
    numpy.ndarray
        int64, or uint64 when some id is above 2**63 - 1.

    Raises
    ------
    DataFormatError
        NaN, negative, fractional or precision-lost float ids, non-integer values.
    """
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        if s.isna().any():
            bad = s.isna().to_numpy()
            raise DataFormatError(
                f"{source}: column {name!r} has {int(bad.sum())} missing (NaN) ids, first at row "
                f"{int(np.flatnonzero(bad)[0])}; drop those rows or fill them before loading"
            )
        try:
            py = [int(v) for v in s]
        except (TypeError, ValueError, OverflowError) as e:
            raise DataFormatError(
                f"{source}: column {name!r} holds values that are not integer ids ({e})"
            ) from e
        if any(v < 0 for v in py):
            n = sum(1 for v in py if v < 0)
            first = next(i for i, v in enumerate(py) if v < 0)
            raise DataFormatError(
                f"{source}: column {name!r} has {n} negative ids, first at row {first}"
            )
        big = any(v > _I64_MAX for v in py)
        try:
            return np.array(py, dtype=np.uint64 if big else np.int64)
        except OverflowError as e:
            raise DataFormatError(f"{source}: column {name!r} has ids above 2**64 - 1") from e
    if pd.api.types.is_float_dtype(s.dtype):
        f = s.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(f)
        if bad.any():
            raise DataFormatError(
                f"{source}: column {name!r} has {int(bad.sum())} missing (NaN) ids, first at row "
                f"{int(np.flatnonzero(bad)[0])}; drop those rows or fill them before loading"
            )
        if np.any(f < 0):
            neg = f < 0
            raise DataFormatError(
                f"{source}: column {name!r} has {int(neg.sum())} negative ids, first at row "
                f"{int(np.flatnonzero(neg)[0])}"
            )
        if np.any(f != np.round(f)) or np.any(f >= 2**53):
            raise DataFormatError(
                f"{source}: column {name!r} holds ids as floating point numbers above 2**53 or "
                "with fractions: they have lost precision (64-bit root ids do not fit a "
                "float64). Read the file with integer dtypes (for CSV: dtype={'"
                + name
                + "': 'int64'}, and no NaN in the column)"
            )
        return f.astype(np.int64)
    if pd.api.types.is_integer_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        if isinstance(s.dtype, pd.api.extensions.ExtensionDtype):
            if s.isna().any():
                bad = s.isna().to_numpy()
                raise DataFormatError(
                    f"{source}: column {name!r} has {int(bad.sum())} missing ids, first at row "
                    f"{int(np.flatnonzero(bad)[0])}"
                )
            s = s.astype(str(s.dtype).lower())
        raw = np.asarray(s.to_numpy())
        if raw.dtype.kind == "u":
            if raw.dtype == np.uint64 and raw.size and int(raw.max()) > _I64_MAX:
                return raw.astype(np.uint64, copy=False)
            return raw.astype(np.int64)
        arr = raw.astype(np.int64, copy=False)
        neg = arr < 0
        if neg.any():
            raise DataFormatError(
                f"{source}: column {name!r} has {int(neg.sum())} negative ids, first at row "
                f"{int(np.flatnonzero(neg)[0])}"
            )
        return arr
    raise DataFormatError(f"{source}: column {name!r} has dtype {s.dtype}; expected integer ids")


def common_id_dtype(*arrays: np.ndarray) -> np.dtype[Any]:
    """uint64 when any array is uint64, else int64 (ids are never negative)."""
    return np.dtype(np.uint64) if any(a.dtype == np.uint64 for a in arrays) else np.dtype(np.int64)


def to_id_dtype(a: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """Cast validated (non-negative) ids to ``dtype`` exactly (int64 <-> uint64)."""
    if a.dtype == dtype:
        return a
    if dtype == np.int64 and a.size and a.dtype == np.uint64 and int(a.max()) > _I64_MAX:
        raise DataFormatError("ids above 2**63 - 1 cannot be stored as int64")
    return a.astype(dtype)
