"""`python -m bridge` is the `printbridge` command."""

from bridge.cli import main

main()
