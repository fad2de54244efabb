"""``python -m scenarios``: the ``meltproof`` command line."""

from .cli import main


main(prog_name="meltproof")
