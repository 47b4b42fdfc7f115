"""Versioned migrations: ordered plans, a history kept per org, checksums that catch drift.

A migrations folder holds ordinary plans named like Flyway scripts (``V001__accounts.yaml``,
``R__reference_data.yaml``). `migrate` applies the pending ones in order, each as a normal run, and
records each application in the org's history (the ``Migrator_Migration__c`` object, or a JSON file
per org id that the team commits), keyed by the org's Id from userinfo. `info`, `baseline` and
`repair` read and mend that history; a lock record keeps two runs from writing it at once.

This package sits above run/: it may import run, compile, plan, config, client and errors, never
api or cli (which call it), nor extract/ beside it.
"""
