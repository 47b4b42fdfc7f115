"""The target's view of a plan: describe and org schema snapshots, target-aware checks, the
predicted outcome of a load, and the comparison behind changed-only loads.

Sits between run and config (a run may check before it sends): it may import config, compile,
plan, client and errors, and reads the target through `client/` (describe, limits, queries) or
from snapshot files.
"""
