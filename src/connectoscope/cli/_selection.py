"""Selection options shared by every command (``--where``, ``--each``, ``--by``, ``--color``,
``--max-groups``). Commands call :func:`add_selection_options` on their parser and
:func:`selection_from_args` on the parsed arguments."""

from __future__ import annotations

import argparse

from ..segmentation import DEFAULT_MAX_GROUPS, Selection

__all__ = ["add_selection_options", "selection_from_args"]


def add_selection_options(p: argparse.ArgumentParser) -> None:
    """Add ChimeraX-style selection options to a parser."""
    g = p.add_argument_group("selection (ChimeraX semantics)")
    g.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="SPEC",
        help="3,7,8-10 (segment ids) | neuron (non-zero, grouped) | neuron=5-12,17; repeat to intersect",
    )
    g.add_argument("--each", default=None, metavar="KIND", help="one group per value of KIND")
    g.add_argument(
        "--by", default=None, metavar="KIND[:COLOR]", help="colour by another kind (0 grey)"
    )
    g.add_argument("--color", default=None, help="colour of the selection (name or #hex)")
    g.add_argument(
        "--max-groups",
        type=int,
        default=DEFAULT_MAX_GROUPS,
        metavar="N",
        help=f"refuse more groups than this without --each (default {DEFAULT_MAX_GROUPS})",
    )


def selection_from_args(args: argparse.Namespace) -> Selection:
    """The Selection described by parsed options."""
    return Selection.parse(
        args.where,
        each=args.each,
        by=args.by,
        color=args.color,
        max_groups=getattr(args, "max_groups", DEFAULT_MAX_GROUPS),
    )
