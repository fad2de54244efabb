"""The report of one scenario run: a versioned ``Report``, written as JSON, rendered as
Markdown and as HTML.

``build_report`` turns a stored run and its check results into a ``Report``, the source of
truth (``Report.to_dict`` is the JSON document with its ``schema_version``,
``Report.from_dict`` reads it back); ``render_markdown`` and ``render_html`` read the
``Report`` only; ``write_reports`` writes all three next to the run.
"""

from .document import build_report
from .files import ReportPaths, write_reports
from .html import render_html
from .markdown import render_markdown
from .record import REPORT_SCHEMA_VERSION, Report, ReportSchemaError


__all__ = [
    "REPORT_SCHEMA_VERSION",
    "Report",
    "ReportPaths",
    "ReportSchemaError",
    "build_report",
    "render_html",
    "render_markdown",
    "write_reports",
]
