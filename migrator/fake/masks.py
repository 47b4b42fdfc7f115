"""Deterministic masks: a real value in, a fake one out, the same in every object and every run.

A value is keyed with the secret, then the key picks fake parts from fixed pools: so "ann@acme.com"
becomes the same "maria.lopez402871@acme.com" in Lead and in Contact, today and next month, and
nobody without the secret can tell which real address it was (or recompute the mapping from a
list of candidates). The secret never leaves memory: only a key id (an HMAC of a constant, which
says whether two runs used the same secret and reveals nothing of it) is written down.

Keying: each mask kind gets a 112-bit subkey, HMAC-SHA256(secret, kind); each value is hashed with
SipHash-2-4 under that subkey (pandas' C implementation, vectorised: HMAC in a Python loop costs
microseconds a value, too slow for millions). SipHash is a keyed pseudo-random function made for
short inputs: without the subkey its output cannot be predicted or inverted.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.util import hash_array

from migrator.errors import UsageError
from migrator.fake.draws import mix64, name_key
from migrator.fake.pools import ProviderError, build_pool
from migrator.plan.fakespec import MaskSpec

MIN_SECRET_CHARS = 16
KEY_VERSION = b"migrator-mask-v1"
MASK_POOL = 1000  # Faker values behind the built-in name and street masks (made once per process)
EMAIL_NUMBERS = 10_000_000  # the number in a masked address keeps distinct people apart
_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


@dataclass(frozen=True)
class MaskKey:
    """The masking secret, in memory only (never in a repr, a message or a file)."""

    secret: bytes = field(repr=False)
    source: str = "MIGRATOR_MASK_SECRET"  # where it came from (a variable name), for messages

    @classmethod
    def from_text(cls, text: str, source: str) -> MaskKey:
        if len(text) < MIN_SECRET_CHARS:
            raise UsageError(f"the masking secret in {source} is too short ({len(text)} characters); use at least "
                             f"{MIN_SECRET_CHARS}, e.g. the output of `openssl rand -hex 32`")
        return cls(text.encode("utf-8"), source)

    @property
    def key_id(self) -> str:
        """Names the secret without revealing it: equal ids, equal masks."""
        return hmac.new(self.secret, KEY_VERSION + b"\x00key-id", hashlib.sha256).hexdigest()[:12]

    def subkey(self, label: str) -> str:
        """The SipHash key of one mask kind: 16 ASCII characters (pandas encodes the key as text)."""
        digest = hmac.new(self.secret, KEY_VERSION + b"\x00" + label.encode("utf-8"), hashlib.sha256).digest()
        return "".join(chr(b & 0x7F) for b in digest[:16])


def _hash(values: pd.Series, key: str) -> np.ndarray:
    return hash_array(values.array, encoding="utf8", hash_key=key, categorize=False)


def _country_code(codes: np.ndarray, digit: np.ndarray) -> np.ndarray:
    """(characters x values) True on the 1 to 3 digits after a leading + that a separator ends."""
    plus, run = codes[0] == 43, np.zeros(codes.shape[1], dtype=np.int64)
    going = plus.copy()
    for column in range(1, min(codes.shape[0], 5)):
        going &= digit[column]
        run += going
    coded = plus & (run >= 1) & (run <= 3) & (run + 1 < codes.shape[0])
    rows = np.arange(codes.shape[0])[:, None]
    return coded[None, :] & (rows >= 1) & (rows <= run[None, :])


def _digit_keys(codes: np.ndarray, digit: np.ndarray) -> pd.Series:
    """Each value's digits alone, as the text the keyed hash reads: `11:5551234567` (count:number)."""
    number, count = np.zeros(codes.shape[1], dtype=np.uint64), np.zeros(codes.shape[1], dtype=np.int64)
    for column in range(codes.shape[0]):
        here = digit[column]
        number = np.where(here, number * np.uint64(10) + (codes[column] - 48).astype(np.uint64), number)
        count += here
    keys = pc.binary_join_element_wise(pa.array(count).cast(pa.string()), ":",
                                       pa.array(number).cast(pa.string()), "")
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([keys])), dtype=_TEXT)


def _mostly_distinct(values: pd.Series, sample: int = 2048) -> bool:
    """Whether the values barely repeat (emails, phones): then factorizing first would cost more than it saves."""
    head = values.iloc[:sample]
    return len(values) <= sample or head.nunique() > 0.7 * len(head)


def _series(array: pa.Array | np.ndarray, index: pd.Index) -> pd.Series:
    if isinstance(array, np.ndarray):
        return pd.Series(array, index=index, dtype=_TEXT)
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([array])), index=index).astype(_TEXT)


def _pick(pool: pa.Array, hashes: np.ndarray) -> pa.Array:
    return pool.take(pa.array((hashes % np.uint64(len(pool))).astype(np.int64)))


@cache
def _mask_pool(provider: str, locale: str, size: int, *, distinct: bool = True) -> pa.Array:
    """A fixed pool for masks: the same in every run, so the same input always maps the same way."""
    seed = name_key(f"mask|{provider}|{locale}") >> 1
    values = build_pool(provider, {}, locale, size, seed)
    return pa.array(list(dict.fromkeys(values)) if distinct else values, type=pa.string())


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return "".join(ch for ch in folded if ch.isalnum())


@cache
def _email_pool(provider: str, locale: str) -> pa.Array:
    names = [_ascii(v) for v in _mask_pool(provider, locale, MASK_POOL).to_pylist()]
    return pa.array(list(dict.fromkeys(n for n in names if n)) or ["user"], type=pa.string())


def _domains(addresses: pd.Series) -> pa.Array:
    """The domain of each (lower-cased) address; example.com for a value that has none."""
    parts = pc.split_pattern(pa.array(addresses.array).cast(pa.string()), "@", max_splits=1, reverse=True)
    if pc.min(pc.list_value_length(parts)).as_py() == 2:
        domains = pc.list_element(parts, 1)
    else:  # a value without @: its single part is no domain
        padded = pc.if_else(pc.equal(pc.list_value_length(parts), 2), parts, pa.scalar(["", ""], pa.list_(pa.string())))
        domains = pc.list_element(padded, 1)
    return pc.if_else(pc.equal(domains, ""), "example.com", domains) if pc.any(pc.equal(domains, "")).as_py() \
        else domains


class Masker:
    """One field's mask; call it with the non-blank values to mask (any index)."""

    def __init__(self, spec: MaskSpec, key: MaskKey):
        self.spec = spec
        label = f"fake:{spec.provider}" if spec.kind == "fake" else spec.kind
        self._key = key.subkey(label)
        self._apply: Callable[[pd.Series], pa.Array | np.ndarray] = getattr(self, f"_{spec.kind}")
        if spec.kind == "fake":  # made now, so that a failing provider is reported before any row
            try:
                self._pool = pa.array(build_pool(str(spec.provider), spec.args, spec.locale, spec.pool,
                                                 name_key(f"mask|fake|{spec.provider}") >> 1), type=pa.string())
            except ProviderError as exc:
                raise UsageError(f"{spec.location}: mask: {exc}") from None

    def __call__(self, values: pd.Series) -> pd.Series:
        text = values if values.dtype == _TEXT else values.astype(_TEXT)
        if text.empty:
            return text
        if not _mostly_distinct(text):  # names, cities, companies: mask each distinct value once
            codes, uniques = pd.factorize(text)
            masked = self._apply(pd.Series(uniques, dtype=_TEXT))
            picked = masked.take(pa.array(codes)) if isinstance(masked, pa.Array) else np.asarray(masked)[codes]
            return _series(picked, values.index)
        return _series(self._apply(text), values.index)

    def _keyed(self, normalized: pd.Series) -> np.ndarray:
        return _hash(normalized, self._key)

    def _names(self, values: pd.Series) -> tuple[pa.Array, pa.Array, np.ndarray]:
        hashes = self._keyed(values.str.strip().str.lower())
        firsts, lasts = _mask_pool("first_name", self.spec.locale, MASK_POOL), \
            _mask_pool("last_name", self.spec.locale, MASK_POOL)
        rest = hashes // np.uint64(len(firsts))
        return _pick(firsts, hashes), _pick(lasts, rest), rest // np.uint64(len(lasts))

    def _name(self, values: pd.Series) -> pa.Array:
        first, last, _ = self._names(values)
        return pc.binary_join_element_wise(first, last, " ")

    def _pooled(self, provider: str, values: pd.Series) -> pa.Array:
        return _pick(_mask_pool(provider, self.spec.locale, MASK_POOL), self._keyed(values.str.strip().str.lower()))

    def _first_name(self, values: pd.Series) -> pa.Array:
        return self._pooled("first_name", values)

    def _last_name(self, values: pd.Series) -> pa.Array:
        return self._pooled("last_name", values)

    def _street(self, values: pd.Series) -> pa.Array:
        return self._pooled("street_address", values)

    def _email(self, values: pd.Series) -> pa.Array:
        normalized = values.str.strip().str.lower()
        hashes = self._keyed(normalized)
        firsts, lasts = _email_pool("first_name", self.spec.locale), _email_pool("last_name", self.spec.locale)
        rest = hashes // np.uint64(len(firsts))
        number = (rest // np.uint64(len(lasts))) % np.uint64(EMAIL_NUMBERS)
        domain = self.spec.domain if self.spec.domain is not None else _domains(normalized)
        return pc.binary_join_element_wise(_pick(firsts, hashes), ".", _pick(lasts, rest),
                                           pa.array(number.astype(np.int64)).cast(pa.string()), "@", domain, "")

    def _phone(self, values: pd.Series) -> np.ndarray:
        """Every digit replaced, everything else (spaces, brackets, dashes, `ext`) kept, and so is the
        country code written after a leading + and before a separator (`+1 555...`, `+44 20...`); a
        first replaced digit that is 0 (a trunk prefix) stays 0, any other stays non-zero. The same
        digits give the same number in any format. Columns of characters are worked on one at a time,
        each across all the values (a phone number is a few dozen characters at most)."""
        text = values.to_numpy(dtype=str)
        width = max(text.dtype.itemsize // 4, 1)
        codes = np.ascontiguousarray(text.astype(f"<U{width}").view(np.uint32).reshape(len(text), width).T)
        digit = (codes >= 48) & (codes <= 57)
        replaced = digit & ~_country_code(codes, digit)
        hashes = self._keyed(_digit_keys(codes, digit))
        out, remaining, used = codes.copy(), hashes.copy(), np.zeros(len(text), dtype=np.int64)
        for column in range(width):
            here = replaced[column]
            if not here.any():
                continue
            drawn = (remaining % np.uint64(10)).astype(np.uint32)
            first = here & (used == 0)
            drawn = np.where(first, np.where(codes[column] == 48, 0, drawn % 9 + 1), drawn)
            out[column] = np.where(here, drawn + 48, codes[column])
            used += here
            remaining = np.where(here, remaining // np.uint64(10), remaining)
            spent = here & (used % 19 == 0)  # 19 digits drawn from these 64 bits: re-mix them for more
            if spent.any():
                remaining = np.where(spent, mix64(hashes ^ used.astype(np.uint64)), remaining)
        return np.ascontiguousarray(out.T).view(f"<U{width}").ravel()

    def _hash(self, values: pd.Series) -> np.ndarray:
        """16 hex digits (64 bits): distinct values stay distinct, equal ones equal."""
        hashes = self._keyed(values.str.strip())
        return np.frombuffer(binascii.hexlify(hashes.astype(">u8").tobytes()), dtype="S16").astype("U16")

    def _redact(self, values: pd.Series) -> np.ndarray:
        return np.full(len(values), self.spec.text, dtype=object)

    def _null(self, values: pd.Series) -> np.ndarray:
        return np.full(len(values), "", dtype=object)

    def _fake(self, values: pd.Series) -> pa.Array:
        return _pick(self._pool, self._keyed(values.str.strip()))
