"""Check tests use the run suite's fixtures: a fresh local org over loopback HTTPS per test and a
project whose migrator.toml targets it (`test`), with the example plans copied in."""

from tests.integration.run.conftest import FAST, ROOT, SCHEMA, Org, org  # noqa: F401
