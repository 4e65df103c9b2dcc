"""Selections with ChimeraX semantics, shared by every command and the Python API.

* ``where 3,7,8-10`` keeps those segment ids (each its own group).
* ``where neuron`` keeps segments whose ``neuron`` value is non-zero, grouped by that value.
* ``where neuron=5-12,17`` also filters by value.
* Several ``where`` clauses intersect.
* ``each neuron`` makes one group per ``neuron`` value (of the segments kept).
* ``by spinehead[:red]`` colours by another kind (0 = grey); ``color yellow`` is the colour
  of the selection.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import SelectionError
from ._maps import ObjectMaps

__all__ = ["DEFAULT_MAX_GROUPS", "MAX_ID_SPAN", "Selection", "WhereClause", "parse_ranges"]

_KIND = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Without ``each``, a selection may make at most this many groups (surfaces, files...).
DEFAULT_MAX_GROUPS = 1000
#: Plain id ranges may span at most this many ids when no volume says which exist.
MAX_ID_SPAN = 10_000_000


def parse_ranges(text: str) -> list[tuple[int, int]]:
    """``"3,7,8-10"`` -> ``[(3, 3), (7, 7), (8, 10)]`` (inclusive ranges).

    >>> parse_ranges("3,7,8-10")
    [(3, 3), (7, 7), (8, 10)]
    """
    out = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise SelectionError(
                f"cannot read {part!r} in {text!r}: expected ids and ranges such as 3,7,8-10"
            )
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) else a
        if b < a:
            raise SelectionError(f"range {part!r} runs backwards; write {b}-{a}")
        out.append((a, b))
    return out


def _in_ranges(values: np.ndarray, ranges: Sequence[tuple[int, int]]) -> np.ndarray:
    keep = np.zeros(values.shape, bool)
    for a, b in ranges:
        keep |= (values >= a) & (values <= b)
    return keep


@dataclass(frozen=True)
class WhereClause:
    """One ``where``: ``kind`` (None for plain segment ids) and optional value ranges."""

    kind: str | None
    ranges: tuple[tuple[int, int], ...] = ()

    @classmethod
    def parse(cls, text: str) -> WhereClause:
        text = text.strip()
        if not text:
            raise SelectionError("empty --where; examples: 3,7,8-10  neuron  neuron=5-12,17")
        if text[0].isdigit():
            return cls(None, tuple(parse_ranges(text)))
        kind, _, values = text.partition("=")
        kind = kind.strip()
        if not _KIND.match(kind):
            raise SelectionError(
                f"cannot read --where {text!r}; examples: 3,7,8-10  neuron  neuron=5-12,17"
            )
        return cls(kind, tuple(parse_ranges(values)) if values else ())


@dataclass(frozen=True)
class Selection:
    """A parsed selection. Build with :meth:`parse`; apply with :meth:`groups`.

    Examples
    --------
    >>> sel = Selection.parse(where=["neuron=1"], by="spinehead:red", color="yellow")
    >>> sel.by, sel.by_color, sel.color
    ('spinehead', 'red', 'yellow')
    """

    where: tuple[WhereClause, ...] = ()
    each: str | None = None
    by: str | None = None
    by_color: str | None = None
    color: str | None = None
    texts: tuple[str, ...] = field(default=(), compare=False)
    max_groups: int | None = DEFAULT_MAX_GROUPS

    @classmethod
    def parse(
        cls,
        where: Sequence[str] | str | None = (),
        *,
        each: str | None = None,
        by: str | None = None,
        color: str | None = None,
        max_groups: int | None = DEFAULT_MAX_GROUPS,
    ) -> Selection:
        """Parse ChimeraX-style selection words (see the module docstring).

        Parameters
        ----------
        where : str or sequence of str
            ``3,7,8-10``, ``neuron`` or ``neuron=5-12,17``; several intersect.
        each : str, optional
            Kind giving one group per value.
        by : str, optional
            ``KIND`` or ``KIND:COLOR``: colour by another kind.
        color : str, optional
            Colour of the selection (CSS name or hex).
        max_groups : int, optional
            Refuse selections making more groups than this unless ``each`` is given
            (None: no limit).
        """
        if isinstance(where, str):
            where = [where]
        clauses = tuple(WhereClause.parse(w) for w in (where or ()))
        by_kind, by_color = None, None
        if by:
            by_kind, _, c = by.partition(":")
            by_kind = by_kind.strip()
            by_color = c.strip() or None
            if not _KIND.match(by_kind):
                raise SelectionError(
                    f"--by needs a kind name, optionally with a colour (spinehead, "
                    f"spinehead:red), got {by!r}"
                )
        if each is not None and not _KIND.match(each):
            raise SelectionError(f"--each needs a kind name such as neuron, got {each!r}")
        if max_groups is not None and max_groups < 1:
            raise SelectionError(f"max_groups must be 1 or more, got {max_groups}")
        return cls(clauses, each, by_kind, by_color, color, tuple(where or ()), max_groups)

    @property
    def group_kind(self) -> str | None:
        """The kind whose values key the groups (``each``, else the first ``where`` kind);
        None when groups are single segment ids."""
        return self.each or next((c.kind for c in self.where if c.kind), None)

    @property
    def kinds(self) -> list[str]:
        """Every kind the selection refers to."""
        ks = [c.kind for c in self.where if c.kind]
        ks += [k for k in (self.each, self.by) if k]
        return list(dict.fromkeys(ks))

    @property
    def empty_spec(self) -> bool:
        """True when nothing restricts the selection (every segment)."""
        return not self.where and self.each is None

    def check(self, objects: ObjectMaps) -> None:
        """Raise SelectionError naming the kinds present when a kind is unknown."""
        for k in self.kinds:
            if k not in objects.kinds:
                have = (
                    ", ".join(objects.kinds) or "none (import with `connectoscope objects import`)"
                )
                raise SelectionError(f"unknown kind {k!r} in the selection; kinds present: {have}")

    def segments(self, objects: ObjectMaps, segment_ids: np.ndarray | None = None) -> np.ndarray:
        """Segment ids (uint64, sorted) kept by the ``where`` clauses."""
        self.check(objects)
        if segment_ids is None:
            pools = [objects.segments(k) for k in objects.kinds]
            cand = np.unique(np.concatenate(pools)) if pools else np.zeros(0, np.uint64)
            ids_from = [c for c in self.where if c.kind is None]
            if ids_from and not [c for c in self.where if c.kind] and self.each is None:
                span = min(sum(b - a + 1 for a, b in c.ranges) for c in ids_from)
                if span > MAX_ID_SPAN:
                    raise SelectionError(
                        f"--where {' '.join(self.texts)} spans {span:,} segment ids (limit "
                        f"{MAX_ID_SPAN:,}); narrow the ranges or add a kind (--where neuron)"
                    )
                cand = np.unique(
                    np.concatenate(
                        [
                            np.arange(a, b + 1, dtype=np.uint64)
                            for c in ids_from
                            for a, b in c.ranges
                        ]
                    )
                )
        else:
            cand = np.unique(np.asarray(segment_ids).astype(np.uint64))
        cand = cand[cand != 0]
        keep = np.ones(cand.shape, bool)
        for c in self.where:
            if c.kind is None:
                keep &= _in_ranges(cand, c.ranges)
            else:
                vals = objects.lookup(c.kind, cand)
                keep &= vals != 0
                if c.ranges:
                    keep &= _in_ranges(vals, c.ranges)
        if self.each is not None:
            keep &= objects.lookup(self.each, cand) != 0
        return cand[keep]

    def groups(
        self, objects: ObjectMaps, segment_ids: np.ndarray | None = None
    ) -> dict[int, np.ndarray]:
        """Groups of segment ids: key = object id (``each`` kind, else the first ``where``
        kind) or the segment id itself for plain id selections.

        Raises
        ------
        SelectionError
            Unknown kind, or nothing selected.
        """
        segs = self.segments(objects, segment_ids)
        if segs.size == 0:
            raise SelectionError(
                f"the selection {self.describe()} matches no segment; nothing written"
            )
        group_kind = self.group_kind
        if group_kind is None:
            self._check_size(int(segs.size), "segment id")
            return {int(s): np.array([s], np.uint64) for s in segs}
        keys = objects.lookup(group_kind, segs)
        order = np.argsort(keys, kind="stable")
        keys, segs = keys[order], segs[order]
        bounds = np.flatnonzero(np.diff(keys)) + 1
        self._check_size(len(bounds) + 1, f"{group_kind} value")
        return {
            int(k[0]): s for k, s in zip(np.split(keys, bounds), np.split(segs, bounds)) if k.size
        }

    def _check_size(self, n: int, what: str) -> None:
        if self.each is None and self.max_groups is not None and n > self.max_groups:
            kind = self.group_kind or "neuron"
            raise SelectionError(
                f"the selection {self.describe()} makes {n:,} groups (one per {what}), more "
                f"than the limit of {self.max_groups:,} without --each; to make them all, say "
                f"so with --each {kind} (or raise --max-groups), else narrow --where "
                f"(--where {kind}=1-10)"
            )

    def describe(self) -> str:
        """The selection as ChimeraX-like words."""
        words = [f"where {t}" for t in self.texts]
        if self.each:
            words.append(f"each {self.each}")
        if self.by:
            words.append(f"by {self.by}")
        return " ".join(words) or "(all segments)"
