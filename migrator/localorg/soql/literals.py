"""Decoding SOQL literal text: strings with backslash escapes, numbers, dates, datetimes, record Ids.

Pure functions. Each raises ``ValueError`` with a one-line reason; the parser turns that into a
MALFORMED_QUERY at the literal's position.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_INT64_MAX = 2**63 - 1
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_RE = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):?(\d{2}))", re.I)


def decode_string(quoted: str, for_like: bool = False) -> str:
    """The value of a quoted SOQL string literal.

    With `for_like`, ``\\%`` and ``\\_`` stay escaped and a literal backslash is doubled, ready for
    SQLite's ``LIKE ? ESCAPE '\\'``; elsewhere ``\\%``/``\\_`` keep their backslash, as Salesforce does.
    """
    body = quoted[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt.lower() in _SIMPLE_ESCAPES and nxt:
            value = _SIMPLE_ESCAPES[nxt.lower()] if nxt.isalpha() else _SIMPLE_ESCAPES[nxt]
            out.append("\\\\" if for_like and value == "\\" else value)
            i += 2
        elif nxt in ("%", "_"):
            out.append("\\" + nxt)
            i += 2
        elif nxt in ("u", "U") and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2:i + 6]):
            value = chr(int(body[i + 2:i + 6], 16))
            if 0xD800 <= ord(value) <= 0xDFFF:
                sequence = body[i:i + 6]
                raise ValueError(f"Illegal character sequence '{sequence}' in string literal.")
            out.append("\\\\" if for_like and value == "\\" else value)
            i += 6
        else:
            raise ValueError(f"Illegal character sequence '\\{nxt}' in string literal.")
    return "".join(out)


def like_to_plain(pattern: str) -> str:
    """Undo `decode_string(for_like=True)` escaping (used when a LIKE value lands in `=`)."""
    return re.sub(r"\\(.)", r"\1", pattern)


def parse_number(text: str) -> int | float:
    """An int when the literal is integral and fits SQLite's 64-bit integers, else a float."""
    if re.fullmatch(r"[+-]?\d+", text) and len(text.lstrip("+-")) <= 18:
        return int(text)
    if re.fullmatch(r"[+-]?\d+", text) and len(text) < 40 and abs(int(text)) <= _INT64_MAX:
        return int(text)
    return float(text)  # never raises for our NUMBER shapes; huge values become inf


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid date: {text}") from None


def parse_datetime(text: str) -> str:
    """The UTC storage text (``YYYY-MM-DDTHH:MM:SS.mmmZ``) of a SOQL datetime literal."""
    m = _DATETIME_RE.fullmatch(text)
    if not m:
        raise ValueError(f"invalid dateTime: {text}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    millis = int((m.group(7) or "0")[:3].ljust(3, "0"))
    try:
        offset = timedelta(0)
        if not m.group(8):
            sign = 1 if m.group(9) == "+" else -1
            offset = sign * timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        moment = datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=timezone(offset))
        return format_datetime(moment.astimezone(UTC))
    except (ValueError, OverflowError):
        raise ValueError(f"invalid dateTime: {text}") from None


def format_datetime(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def midnight_utc(day: date) -> str:
    return f"{day.isoformat()}T00:00:00.000Z"


def normalize_id(text: str) -> str:
    """An 18-character record Id for a 15- or 18-character literal; ValueError if not an Id.

    15-character Ids get Salesforce's case-checksum suffix, so they match the stored 18-character Id.
    """
    if not _ID_RE.fullmatch(text):
        raise ValueError(f"invalid ID field: {text}")
    if len(text) == 18:
        return text
    suffix = ""
    for block in range(3):
        flags = 0
        for bit, ch in enumerate(text[block * 5:block * 5 + 5]):
            if "A" <= ch <= "Z":
                flags |= 1 << bit
        suffix += _ID_ALPHABET[flags]
    return text + suffix


def quote_string(value: str) -> str:
    """`value` as a SOQL string literal (the inverse of `decode_string`), for queries the server builds."""
    escaped = (value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
               .replace("\t", "\\t"))
    return f"'{escaped}'"
