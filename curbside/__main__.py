"""`python -m curbside` is the `curbside` command."""

from curbside.cli import main

main()
