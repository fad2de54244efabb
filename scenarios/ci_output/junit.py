"""JUnit XML, the test report format every CI system reads: suites of cases, written to a file.

The file follows the Jenkins xUnit plugin's ``junit-10.xsd``: a ``<testsuites>`` root with one
``<testsuite>`` per scenario (or comparison) and one ``<testcase>`` per check, each ``passed``
or carrying a ``<failure>``, an ``<error>`` or a ``<skipped>``. Every ``<testsuite>`` counts
its tests, failures, errors and skipped cases; the root counts tests, failures and errors (the
schema gives it no ``skipped``). Text that XML 1.0 cannot hold (control characters such as
ESC, lone surrogates) is replaced by U+FFFD, so any check's wording makes a valid file.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


Outcome = Literal["passed", "failed", "error", "skipped"]
"""``failed``: the target broke a limit; ``error``: no verdict (harness, undecided check);
``skipped``: nothing to judge (a check not applicable to the target, a metric without
enough runs)."""

_NOT_IN_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ELEMENT_OF: dict[Outcome, str] = {"failed": "failure", "error": "error", "skipped": "skipped"}


@dataclass(frozen=True)
class JUnitCase:
    """One test case: a check, or a metric of a comparison."""

    name: str
    classname: str
    outcome: Outcome
    message: str = ""
    """One line on why it did not pass (the element's ``message``)."""
    details: str = ""
    """The longer story: the failure's text, or the passed case's ``<system-out>``."""
    time_s: float = 0.0


@dataclass(frozen=True)
class JUnitSuite:
    """One test suite: a scenario run, or a comparison."""

    name: str
    cases: Sequence[JUnitCase]
    time_s: float = 0.0

    def count(self, outcome: Outcome) -> int:
        """How many cases ended in ``outcome``."""
        return sum(case.outcome == outcome for case in self.cases)


def write_junit(path: Path, suites: Sequence[JUnitSuite]) -> None:
    """Write ``suites`` to ``path`` as one JUnit XML file (UTF-8, with an XML declaration)."""
    root = ET.Element("testsuites", {"name": "meltproof", **_totals(suites)})
    for suite in suites:
        root.append(_suite_element(suite))
    tree = ET.ElementTree(root)
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def xml_text(value: str) -> str:
    """``value`` with every character XML 1.0 cannot hold replaced by U+FFFD."""
    return _NOT_IN_XML.sub("\ufffd", value)


def _totals(suites: Sequence[JUnitSuite]) -> dict[str, str]:
    return {
        "tests": str(sum(len(suite.cases) for suite in suites)),
        "failures": str(sum(suite.count("failed") for suite in suites)),
        "errors": str(sum(suite.count("error") for suite in suites)),
        "time": _seconds(sum(suite.time_s for suite in suites)),
    }


def _suite_element(suite: JUnitSuite) -> ET.Element:
    attributes = {
        "name": xml_text(suite.name),
        **_totals([suite]),
        "skipped": str(suite.count("skipped")),
    }
    element = ET.Element("testsuite", attributes)
    for case in suite.cases:
        element.append(_case_element(case))
    return element


def _case_element(case: JUnitCase) -> ET.Element:
    element = ET.Element(
        "testcase",
        name=xml_text(case.name),
        classname=xml_text(case.classname),
        time=_seconds(case.time_s),
    )
    if case.outcome == "passed":
        if case.details:
            ET.SubElement(element, "system-out").text = xml_text(case.details)
        return element
    verdict = ET.SubElement(element, _ELEMENT_OF[case.outcome], message=xml_text(case.message))
    if case.details:
        verdict.text = xml_text(case.details)
    return element


def _seconds(value: float) -> str:
    """Seconds with three decimals (the schema's time pattern allows no more)."""
    return f"{max(value, 0.0):.3f}"
