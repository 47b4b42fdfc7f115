"""Read YAML safely into plain Python data while remembering the line of every node.

Plan problems must point at a line, and PyYAML's constructed objects forget where they came from,
so this module composes the node tree with `yaml.SafeLoader` and builds the data itself, recording
the 1-based line of each node (and of each mapping key) under its path.

It also fixes the YAML 1.1 surprises that hurt data mappings:
- duplicate mapping keys are an error, not a silent overwrite;
- only `true`/`false` (any case) are booleans; `yes`, `no`, `on`, `off`, `y`, `n` stay text
  (the "Norway problem": `NO: Norway` in a value map must keep the key "NO");
- dates and timestamps stay text (the transform owns date parsing, with the plan's formats);
- mapping keys are always the raw scalar text (`007`, `1`, `NO`);
- values whose exact spelling matters (`map` entries, `value`, `default`, picklist `values`, a
  generated column's `choice` list, `variables`) keep their raw text, so `value: 1.50` is "1.50";
  `null`/`~`/empty there is None.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrator.errors import Problem

Path = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp", "value")}
_SCALAR_TAGS |= {"!"}
MAX_NODES = 200_000  # guards against alias "billion laughs" expansion
MAX_DEPTH = 64
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class _PlanResolver(yaml.resolver.Resolver):
    """YAML 1.1 resolution minus timestamps, with only true/false (any case) as booleans."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (f"{_TAG}bool", f"{_TAG}timestamp")]
        for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    }


_PlanResolver.add_implicit_resolver(f"{_TAG}bool", re.compile(r"^(?i:true|false)$"), list("tTfF"))


class _PlanLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
                  yaml.composer.Composer, SafeConstructor, _PlanResolver):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        SafeConstructor.__init__(self)
        _PlanResolver.__init__(self)


def format_path(path: Path) -> str:
    """`("objects", 2, "fields", "Name")` -> `objects[2].fields.Name`; odd keys are quoted."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def keeps_raw_text(path: Path) -> bool:
    """True where the exact spelling of a scalar matters (see the module docstring)."""
    if len(path) >= 2 and path[-2] == "map" and isinstance(path[-1], str):
        return True
    if len(path) >= 2 and path[-2] in ("values", "choice") and isinstance(path[-1], int):
        return True
    if len(path) == 2 and path[0] == "variables":
        return True
    return bool(path) and path[-1] in ("value", "default")


@dataclass
class PositionedDocument:
    """Plain data plus the line of every node, keyed by path tuple."""

    data: object
    lines: dict[Path, int] = field(default_factory=dict)
    key_lines: dict[Path, int] = field(default_factory=dict)
    block_scalars: set[Path] = field(default_factory=set)

    def line_of(self, path: Path, *, key: bool = False) -> int | None:
        """Line of the node at `path` (of its key with key=True), else of its nearest ancestor."""
        path = tuple(path)
        if key and path in self.key_lines:
            return self.key_lines[path]
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def text_line(self, path: Path, inner_line: int) -> int | None:
        """Plan line of line `inner_line` (1-based) of the text scalar at `path`.

        Block scalars (`|`, `>`) start on the line after their indicator; other scalars are taken
        to start on their own line (folded flow scalars are approximated).
        """
        base = self.line_of(path)
        if base is None:
            return None
        offset = 1 if path in self.block_scalars else 0
        return base + offset + max(inner_line, 1) - 1


class _Builder:
    def __init__(self, doc: PositionedDocument, problems: list[Problem], file: str | None):
        self.doc, self.problems, self.file = doc, problems, file
        self.constructor = SafeConstructor()
        self.count = 0
        self.active: set[int] = set()

    def problem(self, node: Node, path: Path, message: str) -> None:
        self.problems.append(Problem(message, file=self.file, line=node.start_mark.line + 1,
                                     path=format_path(path) or None))

    def build(self, node: Node, path: Path) -> object:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(node)
        self.doc.lines.setdefault(path, node.start_mark.line + 1)
        if len(path) > MAX_DEPTH:
            self.problem(node, path, f"nested deeper than {MAX_DEPTH} levels")
            return None
        if id(node) in self.active:
            self.problem(node, path, "an alias refers to itself (recursive structure)")
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if node.tag != f"{_TAG}seq":
                    self.problem(node, path, f"YAML tag {node.tag!r} is not allowed in a plan")
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, MappingNode)
            if node.tag != f"{_TAG}map":
                self.problem(node, path, f"YAML tag {node.tag!r} is not allowed in a plan")
            return self.mapping(node, path)
        finally:
            self.active.discard(id(node))

    def scalar(self, node: ScalarNode, path: Path) -> object:
        if node.style in ("|", ">"):
            self.doc.block_scalars.add(path)
        tag = node.tag
        if tag not in _SCALAR_TAGS:
            self.problem(node, path, f"YAML tag {tag!r} is not allowed in a plan")
            return node.value
        if keeps_raw_text(path) and tag != f"{_TAG}str":
            return None if tag == f"{_TAG}null" else node.value
        try:
            if tag == f"{_TAG}int":
                return self.constructor.construct_yaml_int(node)
            if tag == f"{_TAG}float":
                return self.constructor.construct_yaml_float(node)
            if tag == f"{_TAG}bool":
                return node.value.lower() == "true"
            if tag == f"{_TAG}null":
                return None
        except (ValueError, TypeError, ArithmeticError):
            self.problem(node, path, f"{node.value!r} cannot be read as {tag.removeprefix(_TAG)}")
        return node.value

    def mapping(self, node: MappingNode, path: Path) -> dict[str, object]:
        result: dict[str, object] = {}
        seen: dict[str, int] = {}
        merged: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == f"{_TAG}merge":
                merged.extend(self.merge_pairs(value_node, path))
                continue
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, path, "mapping keys must be plain text, not lists or mappings")
                continue
            key = key_node.value
            key_line = key_node.start_mark.line + 1
            if key in seen:
                self.problems.append(Problem(
                    f"duplicate key {key!r} (first defined on line {seen[key]})", file=self.file,
                    line=key_line, path=format_path((*path, key))))
                continue
            seen[key] = key_line
            self.doc.key_lines[(*path, key)] = key_line
            result[key] = self.build(value_node, (*path, key))
        for key_node, value_node in merged:  # explicit keys win over merged ones; earlier merges win
            if isinstance(key_node, ScalarNode) and key_node.value not in result:
                self.doc.key_lines[(*path, key_node.value)] = key_node.start_mark.line + 1
                result[key_node.value] = self.build(value_node, (*path, key_node.value))
        return result

    def merge_pairs(self, value: Node, path: Path) -> Iterator[tuple[Node, Node]]:
        sources = value.value if isinstance(value, SequenceNode) else [value]
        for source in sources:
            if not isinstance(source, MappingNode):
                self.problem(source, path, "a merge key (<<) needs a mapping or a list of mappings")
                continue
            if id(source) in self.active:
                self.problem(source, path, "an alias refers to itself (recursive structure)")
                continue
            for key_node, value_node in source.value:
                if key_node.tag == f"{_TAG}merge":
                    yield from self.merge_pairs(value_node, path)
                else:
                    yield key_node, value_node


class _TooBig(Exception):
    def __init__(self, node: Node):
        self.node = node


def _line_of_offset(text: str, offset: int) -> int:
    return text.count("\n", 0, max(offset, 0)) + 1


def load_positioned(text: str, file: str | None = None) -> tuple[PositionedDocument | None, list[Problem]]:
    """Parse one YAML document. Returns (document or None if unreadable, problems found).

    Never raises for bad input: every YAML error becomes a Problem with the line it was found on.
    Duplicate keys and refused tags are reported while the rest of the document is still built.
    """
    problems: list[Problem] = []
    loader: _PlanLoader | None = None
    try:
        loader = _PlanLoader(text)
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        context = exc.context or ""
        if exc.context_mark and mark and exc.context_mark.line != mark.line:
            context += f" started on line {exc.context_mark.line + 1},"
        message = " ".join(str(p) for p in (context, exc.problem) if p) or "invalid YAML"
        return None, [Problem(f"YAML syntax error: {message}", file=file,
                              line=mark.line + 1 if mark else None)]
    except yaml.reader.ReaderError as exc:
        return None, [Problem(f"YAML syntax error: {exc.reason} (character #x{exc.character:04x})",
                              file=file, line=_line_of_offset(text, exc.position))]
    except yaml.YAMLError as exc:
        return None, [Problem(f"YAML syntax error: {exc}", file=file)]
    except RecursionError:
        return None, [Problem("YAML nested too deeply to read", file=file)]
    finally:
        if loader is not None:
            loader.dispose()
    doc = PositionedDocument(data=None)
    if root is None:
        return doc, problems
    builder = _Builder(doc, problems, file)
    try:
        doc.data = builder.build(root, ())
    except _TooBig as exc:
        return None, [Problem(f"the document expands to more than {MAX_NODES} nodes (aliases?)",
                              file=file, line=exc.node.start_mark.line + 1)]
    except RecursionError:
        return None, [Problem("YAML nested too deeply to read", file=file)]
    return doc, problems
