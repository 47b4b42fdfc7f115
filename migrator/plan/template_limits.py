"""Bounds on what one row's template may build and how much work it may do, whatever it says.

Jinja's sandbox stops templates from reaching Python's internals, not from exhausting the machine:
`{{ 'x' | center(50000000) }}`, `{{ '%50000000s' | format(a) }}`, a string doubled in a loop, or
two nested `range(100000)` loops run for minutes or build tens of MB per row. Here every way a
template can build something big or run for long is bounded, for one row:

- size: no string the template builds (by an operator, a filter, a method, `~`, or its output) may
  exceed `MAX_TEXT` characters, nor a list or mapping `MAX_TEXT` items in all. Operations whose
  result size is known beforehand (widths of `center`, `format`, `indent`, `%`; `replace`, `join`,
  `*`, `**`) are refused before they allocate; the others are checked on their result.
- work: loop iterations, calls, filters and operators charge a per-row budget of `MAX_WORK` units
  (one a step, `CALL_COST` a call, plus the size of what a step reads and builds); past it the row
  stops, after about a second of work at most.

A row over a bound fails with `TemplateLimitError`, which the transform turns into a reject with
the reason. Counting is deterministic (no clock), so the same row always gets the same answer.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from functools import wraps
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame

MAX_TEXT = 131_072        # characters of any string a template builds, and of its output (a field's limit)
MAX_WORK = 500_000        # work units for one row: steps, plus characters or items read and built
CALL_COST = 10            # a call (a macro, a method, a global) costs as much as ten loop steps
MAX_INT_BITS = 100_000    # about 30,000 digits
TICK = "__migrator_tick__"

_WIDTH = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")
_NUMBER = re.compile(r"\d+")


class TemplateLimitError(Exception):
    """A row's template went past a bound: it would build too much or work too long."""


class _Budget:
    def __init__(self) -> None:
        self.used = 0

    def charge(self, units: int) -> None:
        self.used += units
        if self.used > MAX_WORK:
            raise TemplateLimitError(f"the template does more than {MAX_WORK:,} steps of work for one row")


_BUDGET: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


class row_budget:
    """A fresh work budget for rendering one row."""

    def __enter__(self) -> None:
        self._token = _BUDGET.set(_Budget())

    def __exit__(self, *exc: object) -> None:
        _BUDGET.reset(self._token)


def charge(units: int = 1) -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.charge(units)


def measure(value: Any, limit: int = MAX_TEXT) -> int:
    """Characters plus items in `value`, counted up to just past `limit` (never a full walk of a
    huge structure): what turning it into text, or walking it, would cost."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes | range):
            total += len(item)
        elif isinstance(item, Mapping):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            stack.extend(item)
        else:
            total += 1
    return total


def refuse_size(size: int, what: str = "value") -> None:
    if size > MAX_TEXT:
        raise TemplateLimitError(f"the template builds a {what} too long (over {MAX_TEXT:,} characters or items)")


def _refuse_bits(bits: float) -> None:
    if bits > MAX_INT_BITS:
        raise TemplateLimitError(f"the template builds a number too large (over {MAX_INT_BITS:,} bits)")


def checked(value: Any) -> Any:
    """`value` if it is within the size bound (its size charged as work); iterators come back
    wrapped, so that every item drawn from them is charged."""
    if isinstance(value, Iterator):
        return _counted(value)
    size = measure(value)
    refuse_size(size)
    charge(size)
    if isinstance(value, int) and not isinstance(value, bool):
        _refuse_bits(value.bit_length())
    return value


def _counted(items: Iterator[Any]) -> Iterator[Any]:
    for item in items:
        charge()
        yield item


# --- sizes known before the work is done ----------------------------------------------------------


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _format_widths(text: str, args: Iterable[Any]) -> None:
    """Widths and precisions of `%` formatting, written or passed as `*`."""
    if "%" not in text:
        return
    for width, precision in _WIDTH.findall(text):
        for part in (width, precision):
            if part.isdigit():
                refuse_size(int(part), "formatted value")
            elif part == "*":
                for arg in args:
                    refuse_size(abs(_int(arg)), "formatted value")


def _brace_widths(text: str, args: Iterable[Any]) -> None:
    """Widths of `str.format` fields, written or passed as nested fields."""
    for _, _, spec, _ in string.Formatter().parse(text):
        if not spec:
            continue
        for number in _NUMBER.findall(spec):
            refuse_size(int(number), "formatted value")
        if "{" in spec:
            for arg in args:
                refuse_size(abs(_int(arg)), "formatted value")


def _sized_call(name: str, subject: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse, before it runs, a string operation whose result would be too big."""
    text = subject if isinstance(subject, str) else str(subject) if name in ("center", "indent") else None
    values = [*args, *kwargs.values()]
    if name in ("center", "ljust", "rjust", "zfill"):
        refuse_size(max([_int(v) for v in values] + [0]), "padded string")
    elif name == "expandtabs" and text is not None:
        tab = _int(values[0]) if values else 8
        refuse_size(len(text) + text.count("\t") * tab, "string")
    elif name == "indent" and text is not None:
        width = values[0] if values else 4
        pad = len(width) if isinstance(width, str) else _int(width)
        refuse_size(len(text) + (text.count("\n") + 1) * pad, "indented string")
    elif name == "replace" and text is not None and len(values) >= 2:
        old, new = str(values[0]), str(values[1])
        count = text.count(old) if old else len(text) + 1
        refuse_size(len(text) + count * max(0, len(new) - len(old)), "string")
    elif name == "join":
        items = subject if not isinstance(subject, str) else (values[0] if values else ())
        separator = subject if isinstance(subject, str) else (str(values[0]) if values else "")
        if isinstance(items, list | tuple | range | set | frozenset):
            refuse_size(measure(list(items)) + len(separator) * max(0, len(items) - 1), "joined string")
    elif name == "wordwrap" and text is not None:
        width = max(1, _int(values[0]) if values else 79)
        wrap = next((str(v) for v in values[3:4]), "\n") if len(values) > 3 else str(kwargs.get("wrapstring", "\n"))
        refuse_size(len(text) + (len(text) // width + 1) * len(wrap), "wrapped string")
    elif name == "translate" and text is not None and values and isinstance(values[0], Mapping):
        longest = max((len(v) for v in values[0].values() if isinstance(v, str)), default=1)
        refuse_size(len(text) * longest, "string")
    elif name in ("batch", "slice"):
        refuse_size(_int(values[0]) if values else 0, "list")
    elif name == "format" and isinstance(subject, str):
        _format_widths(subject, values)
    elif name == "tojson":
        refuse_size(_int(kwargs.get("indent", values[0] if values else 0)) * 1000, "JSON text")


def guard_operator(operator: str, left: Any, right: Any) -> None:
    """Refuse `*`, `**`, `+` and `%` whose result would be too big, before computing it."""
    charge()
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(count, int):
                refuse_size(measure(seq) * max(count, 0), "repeated value")
        if isinstance(left, int) and isinstance(right, int):
            _refuse_bits(left.bit_length() + right.bit_length())
    elif operator == "**":
        if isinstance(right, int | float) and isinstance(left, int | float):
            _refuse_bits(max(abs(int(left)), 2).bit_length() * abs(right))
    elif operator == "+":
        if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            refuse_size(measure(left) + measure(right))
    elif operator == "%" and isinstance(left, str):
        _format_widths(left, right if isinstance(right, tuple) else (right,))


def guard_method(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Before a call: a method of a string is checked like the filter of the same name."""
    charge(CALL_COST)
    method = getattr(method, "__wrapped__", method)  # the sandbox wraps str.format at attribute access
    subject = getattr(method, "__self__", None)
    if isinstance(subject, str):
        name = getattr(method, "__name__", "")
        if name in ("format", "format_map"):
            _brace_widths(subject, [*args, *kwargs.values(), *(args[0].values() if name == "format_map" and args
                                                                and isinstance(args[0], Mapping) else ())])
        else:
            _sized_call(name, subject, args, kwargs)


def guard_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Every filter wrapped: charged for what it reads, refused before it builds too much,
    its result checked."""
    return {name: _guarded_filter(name, function) for name, function in filters.items()}


def _guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    passes = getattr(function, "jinja_pass_arg", None)
    skip = 0 if passes is None else 1  # context, eval context or environment comes first

    @wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        value, rest = (args[skip], args[skip + 1:]) if len(args) > skip else (None, ())
        charge(1 + measure(value))
        _sized_call(name, value, tuple(rest), kwargs)
        return checked(function(*args, **kwargs))

    return guarded


def joined(parts: Iterable[Any]) -> str:
    """`~` and the template's own output: text joined within the size bound."""
    pieces, total = [], 0
    for part in parts:
        if not isinstance(part, str):
            refuse_size(measure(part))
            part = str(part)
        total += len(part)
        refuse_size(total, "text")
        pieces.append(part)
    charge(total)
    return "".join(pieces)


def finalized(value: Any) -> Any:
    """Each `{{ ... }}` value, measured before it is turned into text."""
    refuse_size(measure(value), "text")
    return value


def tick() -> bool:
    """Called by every loop iteration and every loop filter test (see `count_loops`)."""
    charge()
    return True


def count_loops(tree: nodes.Template) -> nodes.Template:
    """Make every `for` loop charge a step for each item it looks at, in its body and in its
    `if` test, recursive loops too: loops are the one way a template repeats work by itself."""
    for loop in tree.find_all(nodes.For):
        call = nodes.Call(nodes.Name(TICK, "load"), [], [], None, None)
        loop.body = [nodes.ExprStmt(call), *loop.body]
        if loop.test is not None:
            loop.test = nodes.And(nodes.Call(nodes.Name(TICK, "load"), [], [], None, None), loop.test)
    return tree


class LimitedCodeGenerator(CodeGenerator):
    """Compiles `~` to a bounded join instead of Python's `"".join`."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

