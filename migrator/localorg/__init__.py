"""The local org: a Salesforce-like server (Bulk API 2.0 and 1.0, REST query, OAuth) over SQLite.

Here: the FastAPI app and its routes (`app`, `web_*`, `bulk1_web`), the org and its workers (`org`,
`server`), the store, schema and DML engine (`store`, `orgschema`, `dml_*`), SOQL (`soql/`),
faults, and `migrator serve` (`serve_command`).

Imports nothing from the rest of migrator, not even `migrator.errors`: it is an independent
implementation of the wire protocol, so a client bug cannot hide behind a matching server bug.
"""
