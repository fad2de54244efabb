"""The report of one scenario run: a JSON document, rendered as Markdown and as HTML.

``build_report`` turns a stored run and its check results into the JSON document (with a
``schema_version``), the source of truth; ``render_markdown`` and ``render_html`` read that
document only; ``write_reports`` writes all three next to the run.
"""

from .document import REPORT_SCHEMA_VERSION, build_report
from .files import ReportPaths, write_reports
from .html import render_html
from .markdown import render_markdown


__all__ = [
    "REPORT_SCHEMA_VERSION",
    "ReportPaths",
    "build_report",
    "render_html",
    "render_markdown",
    "write_reports",
]
