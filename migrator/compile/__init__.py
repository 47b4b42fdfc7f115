"""Plan + sources -> parts: everything `migrator plan` does, with no network.

Here: source readers (`sources`, `csvio`), value conversion and vectorised transforms (`convert`,
`transform`), the load graph of waves, hierarchy levels and pass 2 (`graph`, `hierarchy`), key sets
and refusals of rows whose parent cannot load (`keys`, `refusals`, `rowchunks`, `stepshape`), and
the planner that writes the CSV parts and the manifest (`planner`, `manifest`).

May import: `migrator.plan`, `migrator.errors`. Must not import: run, config, client, localorg,
api, cli. What it needs from the outside world (settings, credentials) is passed in by its callers.
"""
