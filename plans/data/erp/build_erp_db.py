"""Build the legacy ERP database that plans/erp-sql.yaml reads: customers and their contacts.

    python plans/data/erp/build_erp_db.py                      # SQLite: plans/data/erp/erp.db
    ERP_DB_PASSWORD=... python plans/data/erp/build_erp_db.py --url postgresql://erp@127.0.0.1/erp

The same rows every time (a seeded generator), written through SQLAlchemy so that SQLite and
PostgreSQL hold the same typed values: integers, numeric(14, 2) revenues, dates, booleans and
NULLs, in a schema as an ERP keeps it (customer numbers and codes, a parent customer, a status code). A few
rows are wrong on purpose, as legacy data is: a contact without a last name, a malformed e-mail,
a contact of a closed customer. The tables are dropped and created anew; the SQLite file is
written beside itself and moved into place, so a reader never sees half a database.
"""

from __future__ import annotations

import argparse
import datetime
import decimal
import os
import random
import unicodedata
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
METADATA = sa.MetaData()
CUSTOMERS = sa.Table(
    "customers", METADATA,
    sa.Column("cust_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("cust_code", sa.String(12), nullable=False, unique=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("sector", sa.String(1)),
    # SQLite has no exact decimals: there money is kept as text, as the ERP's export would write it
    sa.Column("revenue", sa.Numeric(14, 2).with_variant(sa.String(20), "sqlite")),
    sa.Column("founded", sa.Date),
    sa.Column("city", sa.String(60)),
    sa.Column("country", sa.String(2)),
    sa.Column("parent_code", sa.String(12)),
    sa.Column("status", sa.String(1), nullable=False),
)
CONTACTS = sa.Table(
    "contacts", METADATA,
    sa.Column("contact_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("cust_code", sa.String(12), nullable=False),
    sa.Column("first_name", sa.String(40)),
    sa.Column("last_name", sa.String(80)),
    sa.Column("email", sa.String(120)),
    sa.Column("phone", sa.String(30)),
    sa.Column("birth_date", sa.Date),
    sa.Column("opted_out", sa.Boolean, nullable=False),
    sa.Column("notes", sa.Text),
)
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent",
             "Hooli", "Vandelay", "Wonka", "Müller & Söhne", "Dupont-Lefèvre", "Nakatomi"]
FORMS = ["Ltd", "GmbH", "S.A.", "Inc.", "AG"]
CITIES = [("Berlin", "DE"), ("Lyon", "FR"), ("Leeds", "GB"), ("Austin", "US"), ("Osaka", "JP"), ("Zürich", "CH")]
FIRST = ["Ana", "Bruno", "Chloé", "Dmitri", "Eva", "Farid", "Greta", "Hiro", "Inès", "Jonas", "Kai", "Léa"]
LAST = ["Schmidt", "Martin", "O'Brien", "Tanaka", "García", "Novak", "Rossi", "Dubois", "Weber", "Smith"]


def _ascii(name: str) -> str:
    """A name as the local part of an e-mail address: lower case, accents and apostrophes dropped."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return folded.lower().replace("'", "")


def _money(cents: int) -> decimal.Decimal:
    """An amount in whole currency units, kept with its two decimals as the ERP stores money
    (Salesforce's AnnualRevenue holds whole numbers: cents would be refused before sending)."""
    return decimal.Decimal(cents).scaleb(-2)


def _code(number: int) -> str:
    """A customer's code, as the ERP shows it and as other tables refer to a customer."""
    return f"K{10_000 + number}"


def rows(seed: int = 15) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """30 customers (a hierarchy: a customer's parent has a smaller number; customer 29 is closed)
    and 90 contacts, three of them wrong on purpose."""
    rng = random.Random(seed)
    customers = []
    for number in range(1, 31):
        city, country = rng.choice(CITIES)
        customers.append({
            "cust_no": number, "cust_code": _code(number),
            "name": f"{COMPANIES[(number - 1) % len(COMPANIES)]} {rng.choice(FORMS)} {number}",
            "sector": rng.choice(["T", "F", "M", None]),
            "revenue": _money(rng.randrange(10_000, 90_000_000) * 100) if number % 7 else None,
            "founded": datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(25_000)),
            "city": city, "country": country,
            "parent_code": _code(rng.randrange(1, number)) if number > 5 and rng.random() < 0.6 else None,
            "status": "X" if number == 29 else "A"})
    contacts = []
    for contact_id in range(1, 91):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        contacts.append({
            "contact_id": contact_id, "cust_code": _code(rng.randrange(1, 29)),
            "first_name": first, "last_name": last,
            "email": f"{_ascii(first)}.{_ascii(last)}{contact_id}@example.com",
            "phone": f"+49 30 {rng.randrange(1_000_000, 9_999_999)}" if rng.random() < 0.7 else None,
            "birth_date": datetime.date(1955, 1, 1) + datetime.timedelta(days=rng.randrange(18_000)),
            "opted_out": rng.random() < 0.2, "notes": None})
    customers[2]["revenue"] = _money(125_000_000)             # 1250000.00: the scale is kept
    contacts[16]["last_name"] = None                      # required in Salesforce: a reject
    contacts[41]["email"] = "jonas.weber(at)example.com"  # not an e-mail address: a reject
    contacts[63]["cust_code"] = _code(29)                         # its customer is closed: the account is not loaded
    contacts[5]["notes"] = "Prefers calls.\nNever on Fridays."
    return customers, contacts


def build(url: str | sa.URL) -> None:
    """Create the tables at `url` anew and fill them."""
    engine = sa.create_engine(url)
    customers, contacts = rows()
    if engine.dialect.name == "sqlite":
        customers = [{**c, "revenue": None if c["revenue"] is None else str(c["revenue"])} for c in customers]
    try:
        with engine.begin() as conn:
            METADATA.drop_all(conn)
            METADATA.create_all(conn)
            conn.execute(CUSTOMERS.insert(), customers)
            conn.execute(CONTACTS.insert(), contacts)
    finally:
        engine.dispose()


def build_sqlite(file: Path) -> Path:
    """The database as a SQLite file, written beside it and moved into place."""
    partial = file.with_name(f".{file.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    build(f"sqlite:///{partial}")
    partial.replace(file)
    return file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a database URL without a password (default: SQLite, plans/data/erp/erp.db); "
                                      "the password comes from ERP_DB_PASSWORD")
    args = parser.parse_args()
    if not args.url:
        print(f"built {build_sqlite(HERE / 'erp.db')}")
        return
    url = sa.make_url(args.url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if os.environ.get("ERP_DB_PASSWORD"):
        url = url.set(password=os.environ["ERP_DB_PASSWORD"])
    build(url)
    print(f"built {url.render_as_string(hide_password=True)}")


if __name__ == "__main__":
    main()
