"""`where:` filters: a small, safe expression language over source columns, evaluated per column.

The text is parsed with Python's `ast` (mode="eval") and every node is checked against a strict
whitelist, then evaluated with pandas operations on whole columns: nothing is ever passed to
eval() or DataFrame.query(), and no per-row Python runs.

Language:
- columns by bare name, or in backticks for names with spaces or punctuation: `first name`;
- literals: 'text', "text", numbers, True/False/None (also true/false/null), vars.NAME;
- comparisons == != < <= > >= (a single `=` also means equality), chained (1 < x < 5);
- `x in ('a', 'b')`, `x not in [1, 2]`; `and`, `or`, `not`, parentheses;
- functions blank(x), lower(x), upper(x), trim(x), len(x), number(x).

Rules that keep it predictable: comparing a column with a number (a literal, len() or number())
compares numerically, and values that are not numbers compare unequal to everything; comparing
with text compares text; `x == null` means x is blank; `x == true` compares the text with "true"
ignoring case. Type mistakes (`not amount`, `blank(a) > 3`) are errors when the filter is compiled.
"""

from __future__ import annotations

import ast
import keyword
import operator
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from migrator.errors import SourceDataError, UsageError
from migrator.plan import textops

Value = pd.Series | str | float | bool | None

_ORDER_OPS: dict[type, Callable[[object, object], object]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}
_EQ_OPS: dict[type, Callable[[object, object], object]] = {ast.Eq: operator.eq, ast.NotEq: operator.ne}
_FUNCTIONS = {"blank": "bool", "lower": "text", "upper": "text", "trim": "text", "len": "number",
              "number": "number"}
_WORD_CONSTANTS = {"true": True, "false": False, "null": None}
_PYTHON_KEYWORDS = frozenset(keyword.kwlist) - {"and", "or", "not", "in", "is", "True", "False", "None"}


class WhereSyntaxError(Exception):
    """A where filter that cannot be compiled; `offset` is the 1-based character position."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message if offset is None else f"{message} (at character {offset})")
        self.message, self.offset = message, offset


def _rewrite(text: str) -> tuple[str, list[int], dict[str, str]]:
    """Replace `quoted names` with placeholders and a lone `=` with `==`, outside string literals.

    Returns the new text, the original index of each new character, and placeholder -> column.
    """
    prefix = "__col"
    while prefix in text:
        prefix += "_"
    out: list[str] = []
    origin: list[int] = []
    names: dict[str, str] = {}
    i = 0

    def emit(chunk: str, at: int) -> None:
        out.append(chunk)
        origin.extend([at] * len(chunk))

    while i < len(text):
        char = text[i]
        if char in "'\"":
            j = i + 1
            while j < len(text) and text[j] != char:
                j += 2 if text[j] == "\\" else 1
            for k in range(i, min(j + 1, len(text))):
                emit(text[k], k)
            i = j + 1
        elif char == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise WhereSyntaxError("unclosed backtick: a `quoted column` needs a closing `", i + 1)
            name = text[i + 1: j]
            if not name:
                raise WhereSyntaxError("empty column name between backticks", i + 1)
            placeholder = next((p for p, n in names.items() if n == name), f"{prefix}{len(names)}__")
            names[placeholder] = name
            emit(placeholder, i)
            i = j + 1
        elif char == "=" and (i == 0 or text[i - 1] not in "=!<>") and text[i + 1: i + 2] != "=":
            emit("==", i)
            i += 1
        else:
            emit(char, i)
            i += 1
    return "".join(out), origin, names


@dataclass(frozen=True)
class _Typed:
    node: ast.AST
    kind: str  # text | number | bool | null


class _Checker:
    """Checks the tree against the whitelist and infers the kind of every expression."""

    def __init__(self, source: str, origin: list[int], names: Mapping[str, str]):
        self.source, self.origin, self.names = source, origin, names
        self.columns: set[str] = set()
        self.variables: set[str] = set()
        self.kinds: dict[int, str] = {}

    def fail(self, node: ast.AST, message: str) -> WhereSyntaxError:
        lines = self.source.splitlines(keepends=True)
        line_no = getattr(node, "lineno", 1)
        column = len(lines[line_no - 1].encode()[: getattr(node, "col_offset", 0)].decode(errors="ignore")) \
            if line_no <= len(lines) else 0
        index = sum(len(x) for x in lines[: line_no - 1]) + column
        for placeholder, name in self.names.items():
            message = message.replace(placeholder, f"`{name}`")
        return WhereSyntaxError(message, self.origin[min(index, len(self.origin) - 1)] + 1
                                if self.origin else None)

    def kind(self, node: ast.AST) -> str:
        result = self._kind(node)
        self.kinds[id(node)] = result
        return result

    def _kind(self, node: ast.AST) -> str:
        if isinstance(node, ast.Constant):
            value = node.value
            if value is None:
                return "null"
            if isinstance(value, bool):
                return "bool"
            if isinstance(value, int | float):
                return "number"
            if isinstance(value, str):
                return "text"
            raise self.fail(node, f"{value!r} is not a supported literal")
        if isinstance(node, ast.Name):
            if node.id in _WORD_CONSTANTS:
                return {True: "bool", False: "bool", None: "null"}[_WORD_CONSTANTS[node.id]]
            if node.id == "vars":
                raise self.fail(node, "use vars.NAME to read a plan variable")
            self.columns.add(self.names.get(node.id, node.id))
            return "text"
        if self._variable_name(node) is not None:
            self.variables.add(self._variable_name(node) or "")
            return "text"
        if isinstance(node, ast.UnaryOp):
            inner = self.kind(node.operand)
            if isinstance(node.op, ast.Not) and inner == "bool":
                return "bool"
            if isinstance(node.op, ast.USub | ast.UAdd) and inner == "number":
                return "number"
            raise self.fail(node, "`not` needs a condition" if isinstance(node.op, ast.Not)
                            else "a sign (-, +) needs a number")
        if isinstance(node, ast.BoolOp):
            if any(self.kind(v) != "bool" for v in node.values):
                raise self.fail(node, "`and` / `or` combine conditions such as x == 'a'; a bare column "
                                "is not a condition (use blank(x) or not blank(x))")
            return "bool"
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Compare):
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                self._comparison(left, op, right)
                left = right
            return "bool"
        if isinstance(node, ast.Attribute | ast.Subscript):
            raise self.fail(node, f"{ast.unparse(node)!r}: only vars.NAME may use . or [ ]; put column "
                            "names with dots or brackets in `backticks`")
        raise self.fail(node, f"{type(node).__name__} is not allowed in a where filter "
                        "(only columns, literals, comparisons, in, and/or/not, vars.NAME and "
                        "blank/lower/upper/trim/len/number)")

    @staticmethod
    def _variable_name(node: ast.AST) -> str | None:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "vars":
            return node.attr
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "vars" \
                and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            return node.slice.value
        return None

    def _call(self, node: ast.Call) -> str:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in _FUNCTIONS:
            raise self.fail(node, f"unknown function {name or ast.unparse(node.func)!r}; available: "
                            + ", ".join(_FUNCTIONS))
        if len(node.args) != 1 or node.keywords:
            raise self.fail(node, f"{name}() takes exactly one argument")
        argument = self.kind(node.args[0])
        if argument != "text" and not (name == "number" and argument == "number"):
            raise self.fail(node, f"{name}() needs a column or text")
        return _FUNCTIONS[name]

    def _comparison(self, left: ast.AST, op: ast.cmpop, right: ast.AST) -> None:
        if isinstance(op, ast.In | ast.NotIn):
            if not isinstance(right, ast.Tuple | ast.List) or not right.elts:
                raise self.fail(right, "`in` needs a list of values, e.g. x in ('a', 'b')")
            if self.kind(left) not in ("text", "number"):
                raise self.fail(left, "`in` needs a column or text on its left")
            for item in right.elts:
                if self.kind(item) not in ("text", "number", "null") or not self._is_literal(item):
                    raise self.fail(item, "items of an `in` list must be text, numbers, null or vars.NAME")
            return
        if isinstance(op, ast.Is | ast.IsNot):
            raise self.fail(left, "use == and != instead of `is`")
        kinds = {self.kind(left), self.kind(right)}
        if isinstance(op, ast.Eq | ast.NotEq):
            if kinds in ({"bool", "number"}, {"null"}, {"null", "bool"}):
                raise self.fail(left, f"cannot compare {' with '.join(sorted(kinds))}")
            return
        if not kinds <= {"text", "number"}:
            raise self.fail(left, "<, <=, > and >= compare text or numbers only")

    def _is_literal(self, node: ast.AST) -> bool:
        if isinstance(node, ast.UnaryOp):
            return self._is_literal(node.operand)
        return isinstance(node, ast.Constant) or self._variable_name(node) is not None or (
            isinstance(node, ast.Name) and node.id in _WORD_CONSTANTS)


def _numeric(value: Value) -> Value:
    if isinstance(value, pd.Series):
        if value.dtype.kind in "if":
            return value
        return pd.to_numeric(textops.as_text(value).str.strip(), errors="coerce")
    if isinstance(value, bool) or value is None:
        return np.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _negate(value: Value) -> Value:
    return ~value if isinstance(value, pd.Series) else not value


def _blank(value: Value) -> Value:
    if isinstance(value, pd.Series):
        return textops.as_text(value).str.strip() == ""
    return value is None or str(value).strip() == ""


class WhereFilter:
    """A compiled where filter. Build with `compile_where`."""

    def __init__(self, text: str):
        if not text.strip():
            raise WhereSyntaxError("the where filter is empty", 1)
        rewritten, origin, names = _rewrite(text)
        # Parenthesised so that filters may span lines (YAML folded text) and start with spaces.
        rewritten = f"({rewritten}\n)"
        origin = [0, *origin, len(text) - 1, len(text) - 1]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(rewritten, mode="eval")
        except SyntaxError as exc:
            raise self._syntax_error(exc, rewritten, origin, names) from None
        except (ValueError, RecursionError, MemoryError) as exc:
            raise WhereSyntaxError(f"cannot parse the filter: {exc}", 1) from None
        checker = _Checker(rewritten, origin, names)
        try:
            kind = checker.kind(tree.body)
        except RecursionError:
            raise WhereSyntaxError("the filter is nested too deeply", 1) from None
        if kind != "bool":
            raise WhereSyntaxError("a where filter must be a condition, e.g. status == 'active'", 1)
        self.text = text
        self.columns: frozenset[str] = frozenset(checker.columns)
        self.variables: frozenset[str] = frozenset(checker.variables)
        self._tree, self._kinds, self._names = tree.body, checker.kinds, names

    @staticmethod
    def _syntax_error(exc: SyntaxError, rewritten: str, origin: list[int], names: Mapping[str, str]
                      ) -> WhereSyntaxError:
        lines = rewritten.splitlines(keepends=True)
        index = sum(len(x) for x in lines[: (exc.lineno or 1) - 1]) + max((exc.offset or 1) - 1, 0)
        offset = origin[min(index, len(origin) - 1)] + 1 if origin else None
        message = exc.msg or "invalid syntax"
        words = set(re.findall(r"[A-Za-z_]\w*", rewritten))
        if "forgot a comma" in message or words & _PYTHON_KEYWORDS:
            message = "invalid syntax; put column names with spaces, punctuation or keywords in `backticks`"
        for placeholder, name in names.items():
            message = message.replace(placeholder, f"`{name}`")
        return WhereSyntaxError(message, offset)

    def __repr__(self) -> str:
        return f"WhereFilter({self.text!r})"

    def mask(self, frame: pd.DataFrame, variables: Mapping[str, str]) -> pd.Series:
        """True for the rows the filter keeps; a bool Series aligned with frame.index."""
        missing = sorted(self.columns - set(frame.columns))
        if missing:
            raise SourceDataError(f"column {missing[0]!r} used in the where filter is not in the source",
                                  field="where")
        unset = sorted(self.variables - set(variables))
        if unset:
            raise UsageError(f"where filter: variable {unset[0]!r} has no value")
        result = _Evaluator(frame, variables, self._kinds, self._names).value(self._tree)
        if isinstance(result, pd.Series):
            return result.fillna(False).astype(bool)
        return pd.Series(bool(result), index=frame.index, dtype=bool)


class _Evaluator:
    def __init__(self, frame: pd.DataFrame, variables: Mapping[str, str], kinds: Mapping[int, str],
                 names: Mapping[str, str]):
        self.frame, self.variables, self.kinds, self.names = frame, variables, kinds, names

    def value(self, node: ast.AST) -> Value:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in _WORD_CONSTANTS:
                return _WORD_CONSTANTS[node.id]
            return textops.as_text(self.frame[self.names.get(node.id, node.id)])
        name = _Checker._variable_name(node)
        if name is not None:
            return str(self.variables[name])
        if isinstance(node, ast.UnaryOp):
            inner = self.value(node.operand)
            if isinstance(node.op, ast.Not):
                return _negate(inner)
            return -inner if isinstance(node.op, ast.USub) else inner  # type: ignore[operator]
        if isinstance(node, ast.BoolOp):
            combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
            result = self.value(node.values[0])
            for item in node.values[1:]:
                result = combine(result, self.value(item))  # type: ignore[arg-type]
            return result
        if isinstance(node, ast.Call):
            return self.call(node)
        assert isinstance(node, ast.Compare)
        result: Value = True
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            result = result & self.compare(left, op, right)  # type: ignore[operator]
            left = right
        return result

    def call(self, node: ast.Call) -> Value:
        name = node.func.id  # type: ignore[attr-defined]
        argument = self.value(node.args[0])
        if name == "blank":
            return _blank(argument)
        if name == "number":
            return _numeric(argument)
        if name == "len":
            return argument.str.len() if isinstance(argument, pd.Series) else len(str(argument))
        if isinstance(argument, pd.Series):
            return textops.apply(argument, name)
        return textops.PYTHON[name](str(argument))

    def compare(self, left_node: ast.AST, op: ast.cmpop, right_node: ast.AST) -> Value:
        left, left_kind = self.value(left_node), self.kinds[id(left_node)]
        if isinstance(op, ast.In | ast.NotIn):
            found = self.member(left, left_kind, right_node)
            return found if isinstance(op, ast.In) else _negate(found)
        right, right_kind = self.value(right_node), self.kinds[id(right_node)]
        kinds = {left_kind, right_kind}
        if "null" in kinds:
            other = right if left_kind == "null" else left
            blank = _blank(other) if (left_kind, right_kind) != ("null", "null") else True
            return blank if isinstance(op, ast.Eq) else _negate(blank)
        if kinds == {"text", "bool"}:
            text, flag = (left, right) if left_kind == "text" else (right, left)
            text = text.str.casefold() if isinstance(text, pd.Series) else str(text).casefold()
            left, right = text, ("true" if flag else "false")
        elif "number" in kinds:
            left, right = _numeric(left), _numeric(right)
        function = _EQ_OPS.get(type(op)) or _ORDER_OPS[type(op)]
        if not isinstance(left, pd.Series) and isinstance(right, pd.Series):
            swapped = {operator.lt: operator.gt, operator.le: operator.ge, operator.gt: operator.lt,
                       operator.ge: operator.le}
            return swapped.get(function, function)(right, left)
        return function(left, right)

    def member(self, left: Value, left_kind: str, items_node: ast.AST) -> Value:
        items = [(self.kinds[id(n)], self.value(n)) for n in items_node.elts]  # type: ignore[attr-defined]
        texts = [str(v) for k, v in items if k == "text"] if left_kind == "text" else []
        numbers = [_numeric(v) for k, v in items if k == "number" or (k == "text" and left_kind == "number")]
        series = left if isinstance(left, pd.Series) else pd.Series([left])
        found = textops.as_text(series).isin(texts) if texts else pd.Series(False, index=series.index)
        if any(not pd.isna(n) for n in numbers):
            found |= _numeric(series).isin([n for n in numbers if not pd.isna(n)])  # type: ignore[union-attr]
        if any(k == "null" for k, _ in items):
            found |= _blank(series)  # type: ignore[operator]
        return found if isinstance(left, pd.Series) else bool(found.iloc[0])


def compile_where(text: str) -> WhereFilter:
    """Compile a where filter; raises WhereSyntaxError(message, offset) if it is not valid."""
    return WhereFilter(text)
