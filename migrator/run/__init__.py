"""Parts -> target -> outcomes: everything `migrator run`, `retry` and `status` do after compiling.

Here: the run directory and its checkpoint (`rundir`, `checkpoint`), the executor that sends parts
as Bulk jobs wave by wave with retries (`executor`, `failed_keys`), per-row outcomes joined by key
(`outcomes`, `step_results`), run results (`results`), the runner that ties plan, target and
executor together (`runner`), and what people see: live progress (`progress`) and the terminal
summary and HTML report (`report`, `templates/`).

May import: `migrator.compile`, `migrator.plan`, `migrator.config`, `migrator.client`,
`migrator.errors`. Must not import: api, cli.
"""
