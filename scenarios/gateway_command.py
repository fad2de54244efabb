"""``meltproof gateway``: run the reference gateway, as ``python -m reference_impl`` does."""

from __future__ import annotations

from reference_impl.__main__ import DESCRIPTION, OPTIONS, main

from .table_command import table_command


gateway = table_command(
    "gateway", DESCRIPTION, OPTIONS, lambda argv: main(argv, prog="meltproof gateway")
)
