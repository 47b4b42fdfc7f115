"""The plan file as data: what the user wrote, checked and typed, before any source row is read.

Here: the frozen model (`model`), YAML loading that keeps every node's line (`positions`), the JSON
Schema (`schema`), semantic checks with did-you-mean (`checks`, `suggest`), and the two small
languages a plan may contain: `where:` filters (`where`) and sandboxed field templates
(`templating`, `textops`).

May import: `migrator.errors`. Must not import: compile, run, config, client, localorg, api, cli.
Reading source data is the compile stage's job; the source header check receives a reader from it.
"""
