"""`python -m migrator`: the same command as `migrator`."""

from migrator.cli import main

main()
