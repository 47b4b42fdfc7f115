"""SoqlError: every way a query can be rejected, shaped like Salesforce's REST error.

Salesforce puts the query line, a caret and ``ERROR at Row:r:Column:c`` in front of the reason when
it knows where the problem is; clients show that text verbatim, so we build the same layout. The
server returns ``[{"errorCode": e.error_code, "message": e.message}]``.
"""

from __future__ import annotations

MALFORMED_QUERY = "MALFORMED_QUERY"
INVALID_FIELD = "INVALID_FIELD"
INVALID_TYPE = "INVALID_TYPE"
INVALID_QUERY_FILTER_OPERATOR = "INVALID_QUERY_FILTER_OPERATOR"
NUMBER_OUTSIDE_VALID_RANGE = "NUMBER_OUTSIDE_VALID_RANGE"

NO_SUCH_COLUMN = (
    "No such column '{field}' on entity '{entity}'. If you are attempting to use a custom field, be sure "
    "to append the '__c' after the custom field name. Please reference your WSDL or the describe call for "
    "the appropriate names."
)
BAD_RELATIONSHIP = (
    "Didn't understand relationship '{name}' in field path. If you are attempting to use a custom "
    "relationship, be sure to append the '__r' after the custom relationship name. Please reference your "
    "WSDL or the describe call for the appropriate names."
)
UNSUPPORTED_OBJECT = (
    "sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to "
    "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)


class SoqlError(Exception):
    """A query the local org refuses.

    ``error_code`` is Salesforce's code, ``detail`` the one-line reason, ``position`` the 0-based
    offset in the query text (or None) and ``message`` the full Salesforce-style text.
    """

    def __init__(self, error_code: str, detail: str, position: int | None = None, query: str = ""):
        self.error_code = error_code
        self.detail = detail
        self.position = position
        self.query = query
        self.message = _salesforce_message(detail, position, query)
        super().__init__(self.message)

    def with_query(self, query: str) -> SoqlError:
        """The same error, its message rebuilt around `query` (raised deep inside, located at the top)."""
        return SoqlError(self.error_code, self.detail, self.position, query)

    @property
    def row_column(self) -> tuple[int, int] | None:
        """1-based (row, column) of `position`, as Salesforce prints it."""
        if self.position is None:
            return None
        return _row_column(self.query, self.position)


def _row_column(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    row = before.count("\n") + 1
    column = position - (before.rfind("\n") + 1) + 1
    return row, column


def _salesforce_message(detail: str, position: int | None, query: str) -> str:
    if position is None or not query:
        return detail
    position = max(0, min(position, len(query)))
    row, column = _row_column(query, position)
    line = query.split("\n")[row - 1]
    return f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{detail}"
