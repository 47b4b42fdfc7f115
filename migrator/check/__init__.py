"""The target's view of a plan: describe and org schema snapshots, target-aware checks, the
predicted outcome of a load, and the comparison behind changed-only loads.

Between run and config: a run may check before it sends. Reads the target through `client/`
(describe, limits, queries) or from snapshot files, and compiles through `compile/`.
"""
