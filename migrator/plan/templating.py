"""Field templates: sandboxed Jinja over one source row and the plan's variables.

A template sees only its row (each column by bare name, or `row['name with spaces']`) and the
plan variables (`vars.NAME`). It runs in Jinja's ImmutableSandboxedEnvironment with
StrictUndefined, so a misspelt column is an error instead of a silent blank, `''.__class__` is
refused, and the row cannot be modified.

Most templates only glue columns together (`{{ first }} {{ last | upper }}`). Those are
recognised from the template's syntax tree and rendered as whole-column string operations, which
is two orders of magnitude faster than rendering row by row and gives identical text. Anything
else renders through Jinja once per distinct combination of the columns it reads, with each
row's failure caught as that row's error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2 import Template as JinjaTemplate
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment
from jinja2.utils import Namespace

from migrator.plan import template_limits as limits
from migrator.plan import textops


class TemplateError(Exception):
    """A template that cannot be compiled; `lineno` is the line inside the template (1-based)."""

    def __init__(self, message: str, lineno: int | None = None):
        super().__init__(message)
        self.message, self.lineno = message, lineno


class _RowSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with every operator, call, filter, `~`, loop and output bounded per row
    (see `template_limits`)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = limits.LimitedCodeGenerator
    concat = staticmethod(limits.joined)  # the output of templates, blocks and macros
    bounded_join = staticmethod(limits.joined)  # `~`

    def call_binop(self, context, operator_name, left, right):  # type: ignore[no-untyped-def, override]
        limits.guard_operator(operator_name, left, right)
        return limits.checked(self.binop_table[operator_name](left, right))

    def call(__self, __context, __obj, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        if __obj is limits.tick:
            return limits.tick()  # a loop's own step: one unit, not a call's
        limits.guard_method(__obj, args, kwargs)
        return limits.checked(super().call(__context, __obj, *args, **kwargs))


def _environment() -> SandboxedEnvironment:
    env = _RowSandbox(undefined=StrictUndefined, autoescape=False, finalize=limits.finalized)
    # Only pure helpers: no lorem ipsum, and no `random`, whose output would differ between runs.
    env.globals = {"range": env.globals["range"], "dict": dict, "namespace": Namespace, limits.TICK: limits.tick}
    env.filters.pop("random", None)
    env.filters = limits.guard_filters(env.filters)
    return env


_ENV = _environment()
_ROW, _VARS = "row", "vars"
_SIMPLE_FILTERS = textops.OPERATIONS
_DEFAULT_FILTERS = frozenset({"default", "d"})
_DICT_METHODS = frozenset(dir(dict))  # row.items() reads the whole row, not a column "items"
_FORBIDDEN = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)


@dataclass(frozen=True)
class _Piece:
    """One part of a simple template: literal text, or a column/variable and its filters."""

    text: str | None = None
    column: str | None = None
    variable: str | None = None
    filters: tuple[tuple[str, str, bool], ...] = ()  # (name, default value, default boolean)


class _Analysis:
    """What a template reads, found by walking its syntax tree."""

    def __init__(self, tree: nodes.Template):
        undeclared = meta.find_undeclared_variables(tree)
        self.row_name = _ROW in undeclared
        self.vars_name = _VARS in undeclared
        self.columns = {n for n in undeclared if n not in (_ROW, _VARS) and n not in _ENV.globals}
        self.variables: set[str] = set()
        self.dynamic = False
        self._walk(tree)

    def keyed(self, node: nodes.Node) -> tuple[str, str] | None:
        """('row'|'vars', key) for row.x, row['x'], row.get('x') and the same on vars."""
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr) \
                and node.node.attr == "get" and len(node.args) == 1 and not node.kwargs \
                and isinstance(node.args[0], nodes.Const) and isinstance(node.args[0].value, str):
            base = self._base(node.node.node)
            return (base, node.args[0].value) if base else None
        if isinstance(node, nodes.Getattr) and node.attr not in _DICT_METHODS:
            base = self._base(node.node)
            return (base, node.attr) if base else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, str):
            base = self._base(node.node)
            return (base, node.arg.value) if base else None
        return None

    def _base(self, node: nodes.Node) -> str | None:
        if isinstance(node, nodes.Name) and node.ctx == "load":
            if node.name == _ROW and self.row_name:
                return _ROW
            if node.name == _VARS and self.vars_name:
                return _VARS
        return None

    def _walk(self, node: nodes.Node) -> None:
        if isinstance(node, _FORBIDDEN):
            raise TemplateError("extends, include and import are not available in plan templates",
                                node.lineno)
        found = self.keyed(node)
        if found:
            base, key = found
            (self.columns if base == _ROW else self.variables).add(key)
            return
        if self._base(node):
            self.dynamic = True  # e.g. {% for k in row %} or row[some_expression]
            return
        for child in node.iter_child_nodes():
            self._walk(child)


def _simple_pieces(tree: nodes.Template, analysis: _Analysis) -> tuple[_Piece, ...] | None:
    """The template as literal/column pieces, or None if it does more than substitute."""
    pieces: list[_Piece] = []
    for statement in tree.body:
        if not isinstance(statement, nodes.Output):
            return None
        for node in statement.nodes:
            if isinstance(node, nodes.TemplateData):
                pieces.append(_Piece(text=node.data))
            elif isinstance(node, nodes.Const) and isinstance(node.value, str):
                pieces.append(_Piece(text=node.value))
            else:
                piece = _simple_expression(node, analysis)
                if piece is None:
                    return None
                pieces.append(piece)
    return tuple(pieces)


def _simple_expression(node: nodes.Node, analysis: _Analysis) -> _Piece | None:
    filters: list[tuple[str, str, bool]] = []
    while isinstance(node, nodes.Filter) and node.node is not None:
        spec = _simple_filter(node)
        if spec is None:
            return None
        filters.append(spec)
        node = node.node
    filters.reverse()
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name in analysis.columns:
        return _Piece(column=node.name, filters=tuple(filters))
    found = analysis.keyed(node)
    if found is None:
        return None
    base, key = found
    if base == _ROW:
        return _Piece(column=key, filters=tuple(filters))
    return _Piece(variable=key, filters=tuple(filters))


def _simple_filter(node: nodes.Filter) -> tuple[str, str, bool] | None:
    if node.dyn_args or node.dyn_kwargs:
        return None
    if node.name in _SIMPLE_FILTERS and not node.args and not node.kwargs:
        return node.name, "", False
    if node.name not in _DEFAULT_FILTERS:
        return None
    args = list(node.args)
    kwargs = {k.key: k.value for k in node.kwargs}
    if len(args) > 2 or set(kwargs) - {"default_value", "boolean"}:
        return None
    values = dict(zip(("default_value", "boolean"), args, strict=False)) | kwargs
    default = values.get("default_value", nodes.Const(""))
    boolean = values.get("boolean", nodes.Const(False))
    if not (isinstance(default, nodes.Const) and isinstance(default.value, str)
            and isinstance(boolean, nodes.Const) and isinstance(boolean.value, bool)):
        return None
    return "default", default.value, boolean.value


class Template:
    """A compiled field template. Build with `compile_template`."""

    def __init__(self, text: str):
        try:
            tree = _ENV.parse(text)
            analysis = _Analysis(tree)
            self._pieces = None if analysis.dynamic else _simple_pieces(tree, analysis)
            self._jinja: JinjaTemplate = _ENV.from_string(limits.count_loops(tree))
        except TemplateSyntaxError as exc:
            raise TemplateError(exc.message or "invalid template", exc.lineno) from None
        self.text = text
        self.columns: frozenset[str] = frozenset(analysis.columns)
        self.variables: frozenset[str] = frozenset(analysis.variables)
        self.reads_any_column = analysis.dynamic

    @property
    def is_simple(self) -> bool:
        """True when the template renders by whole-column string operations."""
        return self._pieces is not None

    def __repr__(self) -> str:
        return f"Template({self.text!r})"

    def render_column(self, frame: pd.DataFrame, variables: Mapping[str, str]
                      ) -> tuple[pd.Series, pd.Series]:
        """Render every row. Returns (values, errors), both str Series aligned with frame.index;
        errors is '' where the row rendered and the reason where it did not."""
        available = set(frame.columns)
        if self._pieces is not None and self.columns <= available and self.variables <= set(variables):
            values = self._render_vectorised(frame, variables)
            return values, pd.Series("", index=frame.index, dtype="str")
        return self.render_rows(frame, variables)

    def _render_vectorised(self, frame: pd.DataFrame, variables: Mapping[str, str]) -> pd.Series:
        result: pd.Series | str = ""
        for piece in self._pieces or ():
            value: pd.Series | str
            if piece.text is not None:
                value = piece.text
            elif piece.variable is not None:
                value = str(variables[piece.variable])
                for name, default, boolean in piece.filters:
                    value = (default if boolean and not value else value) if name == "default" \
                        else textops.PYTHON[name](value)
            else:
                value = textops.as_text(frame[piece.column])
                for name, default, boolean in piece.filters:
                    if name != "default":
                        value = textops.apply(value, name)
                    elif boolean:
                        value = value.mask(value == "", default)
            result = value if isinstance(result, str) and result == "" else result + value
        if isinstance(result, str):
            return pd.Series(result, index=frame.index, dtype="str")
        return result.astype("str")

    def render_rows(self, frame: pd.DataFrame, variables: Mapping[str, str]
                    ) -> tuple[pd.Series, pd.Series]:
        """Render through Jinja once per distinct combination of the columns read.

        This is the reference path: `render_column` uses it for templates that are not simple,
        and tests compare the vectorised path against it."""
        names = list(frame.columns) if self.reads_any_column else \
            [c for c in frame.columns if c in self.columns]
        vars_ns = SimpleNamespace(**{str(k): str(v) for k, v in variables.items()})
        if names:
            sub = frame[names].astype("str").fillna("")
            codes, uniques = pd.MultiIndex.from_frame(sub).factorize()
            combos: list[tuple[str, ...]] = list(uniques)
        else:
            codes, combos = np.zeros(len(frame), dtype=np.intp), [()]
        rendered, failures = zip(*self._render_each(names, combos, vars_ns), strict=True) \
            if combos else ((), ())
        values = np.asarray(rendered, dtype=object)[codes] if len(frame) else np.empty(0, object)
        errors = np.asarray(failures, dtype=object)[codes] if len(frame) else np.empty(0, object)
        return (pd.Series(values, index=frame.index, dtype="str"),
                pd.Series(errors, index=frame.index, dtype="str"))

    def _render_each(self, names: list[str], combos: list[tuple[str, ...]], vars_ns: SimpleNamespace
                     ) -> Iterator[tuple[str, str]]:
        for combo in combos:
            row = dict(zip(names, combo, strict=True))
            context: dict[str, object] = {**row, _ROW: row, _VARS: vars_ns}
            try:
                with limits.row_budget():
                    yield self._jinja.render(context), ""
            except limits.TemplateLimitError as exc:
                yield "", f"template stopped: {exc}"
            except Exception as exc:  # any failure is this row's error, never a crash
                yield "", f"{type(exc).__name__}: {exc}"


def compile_template(text: str) -> Template:
    """Compile a field template; raises TemplateError(message, lineno) if it cannot be compiled."""
    return Template(text)
