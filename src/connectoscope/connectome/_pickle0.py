"""A tiny, safe reader for the protocol-0 pickles that pandas/PyTables store in HDF5
attributes (``values_block_0_kind = b"(lp0\\nVname\\np1\\na."``).

It understands only containers and literals (lists, tuples, dicts, str, bytes, int, float,
bool, None) and refuses every opcode that could import or call anything, so a hostile file
cannot run code: we never call :func:`pickle.loads`.
"""

from __future__ import annotations

import ast
from typing import Any

from ..errors import DataFormatError

__all__ = ["loads_protocol0"]


class _Mark:
    pass


_MARK = _Mark()


def loads_protocol0(data: bytes) -> Any:
    """Decode a protocol-0 (or plain protocol-1/2 container) pickle of literals.

    Raises
    ------
    DataFormatError
        Any opcode other than literals and containers (``c`` GLOBAL, ``R`` REDUCE, ``i``
        INST, ``o`` OBJ, ``b`` BUILD ...), or malformed input.
    """
    if isinstance(data, str):
        data = data.encode("latin-1")
    stack: list[Any] = []
    memo: dict[int, Any] = {}
    pos = 0
    n = len(data)

    def line() -> bytes:
        nonlocal pos
        end = data.find(b"\n", pos)
        if end < 0:
            raise DataFormatError("pickled attribute: truncated line")
        out = data[pos:end]
        pos = end + 1
        return out

    def pop_mark() -> list[Any]:
        for k in range(len(stack) - 1, -1, -1):
            if stack[k] is _MARK:
                items = stack[k + 1 :]
                del stack[k:]
                return items
        raise DataFormatError("pickled attribute: no mark")

    while pos < n:
        op = data[pos : pos + 1]
        pos += 1
        if op == b".":
            if len(stack) != 1:
                raise DataFormatError("pickled attribute: bad stack at STOP")
            return stack[0]
        if op == b"(":
            stack.append(_MARK)
        elif op == b"l":
            stack.append(pop_mark())
        elif op == b"t":
            stack.append(tuple(pop_mark()))
        elif op == b"d":
            items = pop_mark()
            stack.append(dict(zip(items[::2], items[1::2])))
        elif op == b"]":
            stack.append([])
        elif op == b")":
            stack.append(())
        elif op == b"}":
            stack.append({})
        elif op == b"a":
            v = stack.pop()
            stack[-1].append(v)
        elif op == b"e":
            items = pop_mark()
            stack[-1].extend(items)
        elif op == b"s":
            v = stack.pop()
            k = stack.pop()
            stack[-1][k] = v
        elif op == b"u":
            items = pop_mark()
            stack[-1].update(zip(items[::2], items[1::2]))
        elif op == b"p":
            memo[int(line())] = stack[-1]
        elif op == b"g":
            stack.append(memo[int(line())])
        elif op == b"q":  # BINPUT
            memo[data[pos]] = stack[-1]
            pos += 1
        elif op == b"h":  # BINGET
            stack.append(memo[data[pos]])
            pos += 1
        elif op == b"N":
            stack.append(None)
        elif op == b"I":
            s = line()
            stack.append(True if s == b"01" else False if s == b"00" else int(s))
        elif op == b"L":
            stack.append(int(line().rstrip(b"L")))
        elif op == b"F":
            stack.append(float(line()))
        elif op == b"V":
            stack.append(line().decode("raw-unicode-escape"))
        elif op == b"S":
            try:
                stack.append(ast.literal_eval(line().decode("latin-1")))
            except (ValueError, SyntaxError) as e:
                raise DataFormatError(f"pickled attribute: bad string ({e})") from e
        elif op == b"\x88":
            stack.append(True)
        elif op == b"\x89":
            stack.append(False)
        elif op == b"\x80":  # PROTO n
            pos += 1
        elif op == b"0":
            stack.pop()
        elif op == b"2":
            stack.append(stack[-1])
        else:
            raise DataFormatError(
                f"pickled attribute: opcode {op!r} at byte {pos - 1} is not a literal or "
                "container; refusing to evaluate it (we never unpickle)"
            )
    raise DataFormatError("pickled attribute: no STOP opcode")
