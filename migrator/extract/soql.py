"""The SOQL an extract sends: a step's fields with conditions, IN lists of Ids, Id ranges.

Conditions are SOQL the user wrote (`--where Account="Industry = 'Technology'"`) or built here from
record Ids, so Ids are quoted as literals and IN lists are cut to stay within the statement length
limit (`client.bulk2_query.in_lists`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from migrator.client.bulk2_query import SOQL_MAX_CHARS, in_lists, soql_literal
from migrator.extract.readback import StepReadBack


def select(readback: StepReadBack) -> str:
    return f"SELECT {', '.join(readback.select)} FROM {readback.object}"


def statement(readback: StepReadBack, conditions: Sequence[str] = (), *, limit: int | None = None) -> str:
    """The step's SELECT with every condition ANDed (each in parentheses); with `limit`, the first
    records by Id (a stable sample, the same on every run)."""
    text = select(readback)
    wanted = [c for c in conditions if c and c.strip()]
    if wanted:
        text += " WHERE " + " AND ".join(f"({c})" for c in wanted)
    if limit is not None:
        text += f" ORDER BY Id LIMIT {int(limit)}"
    return text


def in_statements(readback: StepReadBack, field: str, ids: Iterable[str],
                  conditions: Sequence[str] = ()) -> Iterator[str]:
    """`field IN (...)` statements covering every Id, each within the SOQL length limit."""
    base = statement(readback, conditions)
    budget = SOQL_MAX_CHARS - len(base) - len(field) - 32
    joiner = " AND " if " WHERE " in base else " WHERE "
    for group in in_lists(sorted(set(ids)), budget):
        yield f"{base}{joiner}{field} IN ({','.join(group)})"


def id_range(low: str | None, high: str | None) -> str:
    """``Id >= 'low' AND Id < 'high'``; an open end has no bound."""
    parts = []
    if low is not None:
        parts.append(f"Id >= {soql_literal(low)}")
    if high is not None:
        parts.append(f"Id < {soql_literal(high)}")
    return " AND ".join(parts)
