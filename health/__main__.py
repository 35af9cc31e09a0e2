"""`python -m health …`: the command line."""

from health.cli import main

main()
