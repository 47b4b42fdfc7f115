"""The same plan gives the same parts whatever its data sits in: CSV, Parquet, JSON Lines,
PostgreSQL (a real server) and SQLite. Issue 15's "done when", at small scale."""

from __future__ import annotations

from pathlib import Path

from migrator import api

from .support import legacy_data, load_sql, part_bytes, write_csv, write_jsonl, write_parquet, write_plan, write_sqlite


def _compile(plan: Path, out: Path, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return api.plan(plan, out_dir=out, project_dir=plan.parent, env=env or {})


def test_csv_parquet_jsonl_postgresql_and_sqlite_give_byte_identical_parts(tmp_path, postgres):
    data = legacy_data()
    project = tmp_path / "project"
    write_csv(data, project / "data")
    write_parquet(data, project / "data")
    write_jsonl(data, project / "data")
    write_sqlite(data, project / "data" / "legacy.db")
    with postgres.connect() as connection:
        load_sql(data, lambda sql, rows: connection.cursor().executemany(sql, rows) if rows else
                 connection.execute(sql))
    (project / "migrator.toml").write_text(f'[databases.erp]\nurl = "{postgres.url}"\npassword_env = "ERP_PW"\n')
    env = {"ERP_PW": postgres.password}
    kinds = {
        "csv": {t: f"{t}.csv" for t in data},
        "parquet": {t: f"{t}.parquet" for t in data},
        "jsonl": {t: f"{t}.jsonl" for t in data},
        "postgresql": {t: f"{{url: erp, table: {t}}}" for t in data},
        "sqlite": {t: f"{{url: 'sqlite:///legacy.db', query: 'SELECT * FROM {t} ORDER BY seq'}}" for t in data},
    }
    parts = {}
    for kind, sources in kinds.items():
        result = _compile(write_plan(project, sources, f"{kind}.yaml"), tmp_path / kind, env)
        assert result.manifest.totals()["rejected"] == 0, kind
        parts[kind] = part_bytes(tmp_path / kind)
    # the same parts, byte for byte (the accounts are a hierarchy: several level parts)
    assert len(parts["csv"]) >= 4 and sum(len(b) for b in parts["csv"].values()) > 10_000
    assert any("L1" in name for name in parts["csv"])
    for kind in kinds:
        assert parts[kind] == parts["csv"], kind
    # and the values really are the typed ones: decimals kept their scale, dates are ISO
    opportunities = next(b for n, b in parts["postgresql"].items() if n.startswith("Opportunity"))
    assert b'Amount' in opportunities and b'.00"' not in opportunities.split(b"\n")[0]


def test_each_kind_names_rows_its_own_way(tmp_path, postgres, monkeypatch):
    """The source index beside each part says where every row came from, in the kind's terms."""
    data = legacy_data(rows=50)
    project = tmp_path / "p"
    write_parquet(data, project / "data")
    with postgres.connect() as connection:
        load_sql(data, lambda sql, rows: connection.cursor().executemany(sql, rows) if rows else
                 connection.execute(sql))
    sources = {"accounts": "accounts.parquet", "contacts": f"{{url: '{postgres.url}', table: contacts}}",
               "opportunities": f"{{url: '{postgres.url}', query: 'SELECT * FROM opportunities ORDER BY seq'}}"}
    plan = write_plan(project, sources)
    monkeypatch.setenv("PGPASSWORD", postgres.password)  # a URL in the plan: libpq's own variable
    _compile(plan, tmp_path / "out")
    # rows are grouped by parent in the parts (lock-aware), so look for the first source row among them
    index = {p.parent.name: p.read_text().splitlines()[1:] for p in (tmp_path / "out").rglob("part-0001.source.csv")}
    assert '"data/accounts.parquet","row group 1, row 1"' in index["Account.L0"]
    assert '"erp.contacts","seq 1"' in index["Contact"]
    assert '"erp query","row 1"' in index["Opportunity"]
