"""Salesforce record Ids: 15-character case-sensitive keys plus the 3-character checksum suffix.

An Id is ``<key prefix (3)><instance (2)><reserved "0"><counter (9, base 62)>`` and its 18-character
form appends one checksum character per 5-character chunk: bit i of chunk c is set when character i
is an upper-case letter, and the 5-bit number indexes ``A..Z0..5``. Clients rely on the suffix (they
compare Ids case-insensitively), so every Id the local org hands out is the 18-character form.
Allocation is vectorised with numpy because a million-row insert needs a million Ids.
"""

from __future__ import annotations

import numpy as np

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
INSTANCE = "Lo"  # the two "pod" characters of every local-org Id
COUNTER_DIGITS = 9
MAX_COUNTER = 62**COUNTER_DIGITS - 1

_BASE62_CODES = np.frombuffer(BASE62.encode(), dtype=np.uint8)
_SUFFIX_CODES = np.frombuffer(SUFFIX_ALPHABET.encode(), dtype=np.uint8)
_ALNUM = frozenset(BASE62)


def checksum_suffix(id15: str) -> str:
    """The three checksum characters Salesforce appends to a 15-character Id."""
    suffix = []
    for chunk in range(3):
        flags = 0
        for position, char in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= char <= "Z":
                flags |= 1 << position
        suffix.append(SUFFIX_ALPHABET[flags])
    return "".join(suffix)


def normalize_id(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character Id, or None when `value` is not an Id.

    An 18-character Id must carry the right suffix (compared case-insensitively, as Salesforce does).
    """
    if len(value) not in (15, 18) or not _ALNUM.issuperset(value):
        return None
    head = value[:15]
    suffix = checksum_suffix(head)
    if len(value) == 18 and value[15:].upper() != suffix:
        return None
    return head + suffix


def id_counter(value: str) -> tuple[str, int] | None:
    """(key prefix, counter) of an Id the local org made (``<prefix>Lo0<counter>``), else None."""
    full = normalize_id(value)
    if full is None or full[3:6] != INSTANCE + "0":
        return None
    counter = 0
    for char in full[6:15]:
        counter = counter * 62 + BASE62.index(char)
    return full[:3], counter


def make_id(prefix: str, counter: int) -> str:
    """One Id (see `make_ids`)."""
    return make_ids(prefix, counter, 1)[0]


def make_ids(prefix: str, first_counter: int, count: int) -> list[str]:
    """`count` consecutive 18-character Ids with key `prefix`, counters from `first_counter`."""
    if len(prefix) != 3:
        raise ValueError(f"key prefix must have 3 characters: {prefix!r}")
    if count <= 0:
        return []
    if first_counter < 0 or first_counter + count - 1 > MAX_COUNTER:
        raise ValueError("Id counter out of range")
    counters = np.arange(first_counter, first_counter + count, dtype=np.int64)
    chars = np.empty((19, count), dtype=np.uint8)  # one row per character: contiguous, so numpy is fast
    chars[:6] = np.frombuffer((prefix + INSTANCE + "0").encode(), dtype=np.uint8)[:, None]
    chars[18] = 0x1F  # a separator after each Id: one split makes the list
    low, high = (counters % 62**5).astype(np.int32), (counters // 62**5).astype(np.int32)
    for position in range(14, 5, -1):  # base-62 digits, least significant last, in int32 halves
        part = low if position > 9 else high
        chars[position] = _BASE62_CODES[part % 62]
        part //= 62
    upper = ((chars[:15] >= ord("A")) & (chars[:15] <= ord("Z"))).astype(np.uint8)
    for chunk in range(3):
        flags = np.zeros(count, dtype=np.uint8)
        for bit in range(5):
            flags |= upper[chunk * 5 + bit] << bit
        chars[15 + chunk] = _SUFFIX_CODES[flags]
    text = chars.T.tobytes().decode("ascii")
    return text[:-1].split("\x1f")  # one decode and one split: cheaper than slices or numpy's str arrays

