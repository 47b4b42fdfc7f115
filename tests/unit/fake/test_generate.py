"""Generated sources: values by row index, children per parent, distributions, scale, dates, refs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from migrator.errors import SourceDataError
from migrator.fake.generate import Generation
from migrator.plan.loader import load_plan

PLAN = """\
version: 1
name: g
variables: {today: "2026-03-31"}
defaults: {seed: 7, operation: insert}
objects:
  - object: Account
    source:
      generate:
        count: COUNT
        columns:
          key: {seq: "A{seed}-{:05d}"}
          rating: {choice: {Hot: 1, Warm: 3, Cold: 6}}
          size: {number: {min: -5, max: 20}}
          price: {number: {min: 0.5, max: 99.99}}
          founded: {date: {from: -1y, to: today}}
          seen: {datetime: {from: -2d, to: now}}
          city: {fake: city, blank: 0.25}
          label: {template: "{{ key }}/{{ rating | lower }}"}
    fields: {Name: key}
  - object: Contact
    source:
      generate:
        per: Account
        count: CHILDREN
        columns:
          key: {seq: "C-{:07d}"}
          account: {parent: key}
          rating: {parent: rating}
          friend: {ref: Account.key}
    fields: {LastName: key}
"""


def generation(tmp_path: Path, count: int = 2000, children: str = "2..5", scale: int = 1,
               variables: dict[str, str] | None = None, text: str = PLAN) -> Generation:
    path = tmp_path / "plan.yaml"
    path.write_text(text.replace("COUNT", str(count)).replace("CHILDREN", children), encoding="utf-8")
    plan = load_plan(path, variables)
    return Generation([s.source.generate for s in plan.objects if s.source.generate], scale=scale,
                      variables=plan.variables)


def whole(gen: Generation, step: str, chunk_rows: int = 50_000) -> pd.DataFrame:
    return pd.concat([frame for frame, _ in gen.chunks(step, chunk_rows)], ignore_index=True)


def test_chunks_do_not_change_values_and_rows_are_numbered_from_1(tmp_path):
    gen = generation(tmp_path, count=300)
    big = whole(gen, "Contact")
    small = whole(gen, "Contact", chunk_rows=7)
    pd.testing.assert_frame_equal(big, small)
    numbers = np.concatenate([rows for _, rows in gen.chunks("Contact", 7)])
    assert numbers[0] == 1 and np.array_equal(numbers, np.arange(1, len(big) + 1))
    assert list(whole(gen, "Account").columns) == ["key", "rating", "size", "price", "founded", "seen", "city",
                                                   "label"]


def test_the_first_rows_of_a_scaled_run_are_the_unscaled_run(tmp_path):
    plain, scaled = generation(tmp_path, count=200), generation(tmp_path, count=200, scale=3)
    assert scaled.total("Account") == 600 and scaled.total("Contact") > 2 * plain.total("Contact")
    accounts = whole(plain, "Account")
    pd.testing.assert_frame_equal(whole(scaled, "Account").iloc[:200].reset_index(drop=True), accounts)
    contacts, more = whole(plain, "Contact"), whole(scaled, "Contact")
    same = [c for c in contacts.columns if c != "friend"]  # a ref picks among all the rows of its step
    pd.testing.assert_frame_equal(more.iloc[:len(contacts)][same].reset_index(drop=True), contacts[same])


def test_children_per_parent_follow_the_range_and_the_weights(tmp_path):
    gen = generation(tmp_path, count=20_000)
    counts = gen.children_per_parent("Contact")
    assert counts.min() == 2 and counts.max() == 5
    assert np.allclose(np.bincount(counts, minlength=6)[2:] / len(counts), 0.25, atol=0.015)
    weighted = generation(tmp_path, count=20_000, children="{0: 2, 1: 4, 2: 3, 3: 1}").children_per_parent("Contact")
    assert np.allclose(np.bincount(weighted, minlength=4) / len(weighted), [0.2, 0.4, 0.3, 0.1], atol=0.015)
    assert abs(weighted.mean() - 1.3) < 0.03


def test_children_follow_their_parent_in_order_and_read_its_columns(tmp_path):
    gen = generation(tmp_path, count=500)
    accounts, contacts = whole(gen, "Account"), whole(gen, "Contact")
    keys = accounts.set_index("key")
    assert contacts["account"].is_monotonic_increasing
    assert (contacts["rating"] == keys.loc[contacts["account"], "rating"].to_numpy()).all()
    sizes = contacts.groupby("account").size()
    assert (sizes.to_numpy() == gen.children_per_parent("Contact")[gen.children_per_parent("Contact") > 0]).all()
    assert contacts["friend"].isin(accounts["key"]).all()
    assert contacts["friend"].nunique() > 300  # random rows, not the parent


def test_weighted_choices_numbers_and_blanks_within_tolerance(tmp_path):
    accounts = whole(generation(tmp_path, count=30_000), "Account")
    shares = accounts["rating"].value_counts(normalize=True)
    assert abs(shares["Hot"] - 0.1) < 0.01 and abs(shares["Warm"] - 0.3) < 0.01 and abs(shares["Cold"] - 0.6) < 0.01
    sizes = accounts["size"].astype(int)
    assert sizes.min() == -5 and sizes.max() == 20 and abs(sizes.mean() - 7.5) < 0.2
    prices = accounts["price"]
    assert prices.str.fullmatch(r"\d+\.\d\d").all()
    assert prices.astype(float).between(0.5, 99.99).all()
    assert abs((accounts["city"] == "").mean() - 0.25) < 0.01
    assert (accounts["label"] == accounts["key"] + "/" + accounts["rating"].str.lower()).all()
    assert accounts["key"].iloc[0] == "A7-00001" and accounts["key"].is_unique


def test_dates_count_from_the_anchor_variable(tmp_path):
    accounts = whole(generation(tmp_path, count=5000), "Account")
    founded = pd.to_datetime(accounts["founded"], format="%Y-%m-%d")
    assert founded.min() >= pd.Timestamp("2025-03-31") and founded.max() <= pd.Timestamp("2026-03-31")
    assert founded.max() - founded.min() > pd.Timedelta(days=350)
    seen = pd.to_datetime(accounts["seen"], format="%Y-%m-%dT%H:%M:%SZ")
    assert seen.min() >= pd.Timestamp("2026-03-29") and seen.max() <= pd.Timestamp("2026-03-31")
    moved = whole(generation(tmp_path, count=5000, variables={"today": "2030-01-01"}), "Account")
    assert pd.to_datetime(moved["founded"]).max() <= pd.Timestamp("2030-01-01")
    assert (moved["key"] == accounts["key"]).all() and (moved["founded"] != accounts["founded"]).mean() > 0.99


def test_another_seed_gives_other_values_and_keys(tmp_path):
    base = whole(generation(tmp_path, count=100), "Account")
    other = whole(generation(tmp_path, count=100, text=PLAN.replace("seed: 7", "seed: 8")), "Account")
    assert (other["key"] != base["key"]).all()
    assert (other["rating"] != base["rating"]).mean() > 0.3 and (other["city"] != base["city"]).mean() > 0.5


def test_a_template_that_fails_names_the_generated_row(tmp_path):
    text = PLAN.replace('{template: "{{ key }}/{{ rating | lower }}"}', '{template: "{{ (1 / (size | int)) }}"}')
    gen = generation(tmp_path, count=400, text=text)
    with pytest.raises(SourceDataError, match=r"generate:Account#\d+: column label: template failed: "
                                              r"ZeroDivisionError"):
        whole(gen, "Account")


def test_seq_formats_are_python_formats(tmp_path):
    text = textwrap.dedent("""\
        version: 1
        name: s
        defaults: {operation: insert}
        objects:
          - object: Account
            source:
              generate:
                count: 12
                seed: 5
                columns:
                  plain: {seq: "{}"}
                  padded: {seq: "X-{:04d}-{seed}"}
                  spaced: {seq: "{:4d}|"}
                  hexed: {seq: "{:x}", start: 250}
                  named: {seq: "{n}:{seed:03d}"}
            fields: {Name: plain}
        """)
    frame = whole(generation(tmp_path, text=text), "Account")
    assert frame.iloc[0].tolist() == ["1", "X-0001-5", "   1|", "fa", "1:005"]
    assert frame.iloc[11].tolist() == ["12", "X-0012-5", "  12|", "105", "12:005"]
