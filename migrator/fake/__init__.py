"""Fake data: generated sources (`source: {generate: ...}`) and deterministic masks (`mask:`).

Here: counter-based random draws keyed by (seed, step, column) (`draws`), Faker value pools
(`pools`), dates relative to an anchor (`dates`), column generators (`columns`), generated sources
read in chunks like files (`generate`), masks keyed by a secret (`masks`), and the checks that need
Faker (`checks`). Every value is a function of its row's index, never of the rows drawn before it,
so a chunk, a parent's row or the first N rows of a scaled run can be made on their own.

May import: `migrator.plan`, `migrator.errors`. Compile calls it: the planner reads a generated
source through it, and the transform masks with it.
"""
