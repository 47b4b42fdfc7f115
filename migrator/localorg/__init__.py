"""The local org: a Bulk API 2.0 / 1.0 server over SQLite. Imports nothing from the rest of migrator."""
