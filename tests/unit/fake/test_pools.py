"""Faker pools: made once, reproducible, and never from providers that read the clock."""

from __future__ import annotations

import pytest

from migrator.fake.pools import ProviderError, build_pool, date_alias, text_of


def test_a_pool_is_the_same_for_the_same_seed_and_another_for_another():
    first = build_pool("company", {}, "en_US", 50, seed=1)
    assert build_pool("company", {}, "en_US", 50, seed=1) == first
    assert build_pool("company", {}, "en_US", 50, seed=2) != first
    assert len(first) == 50 and all(isinstance(v, str) and v for v in first)


def test_locales_and_arguments_are_used():
    german = build_pool("city", {}, "de_DE", 200, seed=3)
    assert german != build_pool("city", {}, "en_US", 200, seed=3)
    codes = build_pool("bothify", {"text": "??-####"}, "en_US", 30, seed=4)
    assert all(len(c) == 7 and c[2] == "-" and c[3:].isdigit() for c in codes)
    numbers = build_pool("random_int", {"min": 3, "max": 5}, "en_US", 100, seed=5)
    assert set(numbers) == {"3", "4", "5"}


@pytest.mark.parametrize("provider", ["credit_card_expire", "date_this_year", "credit_card_full", "date_of_birth",
                                      "passport_dates", "unix_time", "am_pm"])
def test_providers_that_read_the_clock_are_refused(provider):
    with pytest.raises(ProviderError, match="tomorrow"):
        build_pool(provider, {}, "en_US", 5, seed=1)


@pytest.mark.parametrize("provider, args, message", [
    ("compnay", {}, "has no provider 'compnay'"),
    ("company", {}, "unknown Faker locale"),
    ("bothify", {"txt": "##"}, "bothify(txt='##') failed: TypeError"),
    ("pylist", {}, "returns list, not one value"),
])
def test_unknown_providers_bad_arguments_and_lists_are_refused(provider, args, message):
    locale = "xx_YY" if message.startswith("unknown Faker locale") else "en_US"
    with pytest.raises(ProviderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_pool(provider, args, locale, 5, seed=1)


def test_date_providers_become_anchored_date_draws():
    assert date_alias("date_between", {}) == ("-30y", "today", False)
    assert date_alias("date_between", {"start_date": "-1y", "end_date": 30}) == ("-1y", "+30d", False)
    assert date_alias("date_time_between", {"start_date": "2024-01-01"}) == ("2024-01-01", "now", True)
    assert date_alias("date_of_birth", {"minimum_age": 18, "maximum_age": 65}) == ("-66y +1d", "-18y", False)
    assert date_alias("company", {}) is None
    with pytest.raises(ProviderError, match="takes start_date and end_date"):
        date_alias("date_between", {"start": "-1y"})


def test_values_become_csv_text():
    import datetime as dt
    from decimal import Decimal

    assert text_of(True) == "true" and text_of(3) == "3" and text_of(Decimal("1.50")) == "1.50"
    assert text_of(dt.date(2024, 2, 29)) == "2024-02-29"
    assert text_of(dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))) == "2024-01-01T10:00:00Z"
    with pytest.raises(ProviderError):
        text_of({"a": 1})
