"""``python -m reriskmc``: the command line, as the ``reriskmc`` script runs it."""

from .cli import main

main(prog_name="reriskmc")
