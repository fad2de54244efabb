"""Tables for a log (no terminal): plain columns, a row's long note on its own line below it.

Rich fits a table to the console's width (80 columns without a terminal), which cuts a long
column into narrow pieces; a log has no width to fit, so here nothing is ever wrapped.
"""

from __future__ import annotations

from collections.abc import Sequence


NOTE_INDENT = "    "


def log_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], notes: Sequence[str]
) -> list[str]:
    """The table's lines: columns padded to their widest cell, each non-empty note indented
    on the line below its row."""
    widths = [max(map(len, column)) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    lines = [line(header).rstrip()]
    for cells, note in zip(rows, notes, strict=True):
        lines.append(line(cells).rstrip())
        if note:
            lines.append(NOTE_INDENT + note)
    return lines
