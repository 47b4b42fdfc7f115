from pathlib import Path

import pytest

from migrator.errors import MigrationsError
from migrator.history.naming import Version, discover, parse_name


def test_versioned_and_repeatable_names_are_read_like_flyway():
    v = parse_name(Path("V1_2__add_contact_owners.yaml"))
    assert (v.kind, str(v.version), v.description, v.label) == ("versioned", "1.2", "add contact owners",
                                                                "V1.2 add contact owners")
    r = parse_name(Path("R__reference_data.yml"))
    assert (r.kind, r.version, r.description) == ("repeatable", None, "reference data")
    assert parse_name(Path("V3_contacts.yaml")) is None
    assert parse_name(Path("accounts.yaml")) is None
    assert parse_name(Path("V__nothing.yaml")) is None


def test_versions_compare_as_numbers_and_ignore_leading_and_trailing_zeros():
    assert Version.parse("10") > Version.parse("9")
    assert Version.parse("001") == Version.parse("1") == Version.parse("1.0")
    assert Version.parse("1.2") < Version.parse("1.10")
    assert str(Version.parse("V1_1")) == "1.1"
    with pytest.raises(ValueError, match="not a version"):
        Version.parse("one")


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_text("version: 1\n", encoding="utf-8")


def test_discover_orders_versions_numerically_then_repeatables(tmp_path):
    _touch(tmp_path, "V10__ten.yaml", "V2__two.yaml", "R__zeta.yaml", "R__alpha.yaml", "V1_5__one_and_a_half.yaml")
    (tmp_path / "README.md").write_text("notes", encoding="utf-8")
    (tmp_path / "data").mkdir()
    _touch(tmp_path / "data", "not_a_migration.yaml")
    names = [m.script for m in discover(tmp_path)]
    assert names == ["V1_5__one_and_a_half.yaml", "V2__two.yaml", "V10__ten.yaml", "R__alpha.yaml", "R__zeta.yaml"]


def test_discover_names_every_bad_file_and_duplicate_at_once(tmp_path):
    _touch(tmp_path, "V1__a.yaml", "V001__b.yaml", "V2_typo.yaml", "R__x.yaml", "R__X.yml")
    with pytest.raises(MigrationsError) as caught:
        discover(tmp_path)
    text = str(caught.value)
    assert "3 problems" in text
    assert "V2_typo.yaml: not a migration name" in text
    assert "version 1 is also V001__b.yaml" in text or "version 001 is also V1__a.yaml" in text
    assert "repeatable 'X' is also R__x.yaml" in text or "repeatable 'x' is also R__X.yml" in text


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(MigrationsError, match="does not exist"):
        discover(tmp_path / "nowhere")
