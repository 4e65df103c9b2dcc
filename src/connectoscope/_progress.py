"""Progress bars (tqdm on stderr), switched off by ``config.set(progress=False)``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from ._config import config

T = TypeVar("T")

__all__ = ["progress"]


def progress(
    iterable: Iterable[T] | None = None,
    *,
    total: float | None = None,
    desc: str = "",
    unit: str = "it",
    unit_scale: bool = False,
    **kw: Any,
) -> Any:
    """A tqdm progress bar that respects the ``progress`` config option.

    Use it as an iterator wrapper or as a context manager with ``.update(n)``.
    """
    from tqdm.auto import tqdm

    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=unit_scale,
        disable=not config.get("progress"),
        dynamic_ncols=True,
        leave=False,
        **kw,
    )
