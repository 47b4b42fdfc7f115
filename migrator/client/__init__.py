"""Talking to an org: the authenticated HTTP session, OAuth flows, Bulk API 2.0 and 1.0 clients.

Here: `http` (the session), `auth` (every sign-in flow), `error_mapping` (THE mapping of answers to
`migrator.errors`, and secret scrubbing), `bulk2`, `bulk1*` (raw calls, batches, results, XML,
PK-chunked queries) and `ingest` (the one interface the executor sees for both).

May import: `migrator.errors`. Must not import anything else of migrator: a client knows nothing
of plans, runs or the local org, so it can be tested against any server speaking the protocol.
"""
