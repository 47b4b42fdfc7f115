"""Extract and copy: datasets out of an org in the plan's own source layout, org-to-org copies of a
plan's records (whole or a subset with its closure), and cleanup before seeding.

One plan describes a dataset in both directions: `readback.py` reads a plan's steps backwards,
`gather.py` decides which records to read, `download.py` reads them page by page into a resumable
extract directory (`state.py`), `shape.py` and `write.py` turn pages into sorted source files, and
`manifest.py` says what was written. `copy_command.py` runs an extract and a load in one run
directory; `delete_command.py` deletes a plan's records (children first) by their keys.

It sits above run (a copy is an extract, then a run; a delete is a run of a generated plan) beside
history: it may import run, check, config, compile, plan, client and errors, and not history.
"""
