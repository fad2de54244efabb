"""promtool and the PromQL of observability/: finding promtool, the queries of the rules and the
dashboard, and what those queries name (metrics, label matchers, grouping labels).

promtool comes from ``MELTPROOF_PROMTOOL``, PATH, or the meltproof cache (``promtool``, or a
Prometheus release unpacked there as ``prometheus-*/promtool``). Without it the tests fail:
CI installs it (Debian's ``prometheus`` package, see ``.ci/run``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack.config import cache_dir_of


REPO = Path(__file__).resolve().parents[2]
OBSERVABILITY = REPO / "observability"
RULES = OBSERVABILITY / "prometheus" / "rules.yml"
RULES_TEST = OBSERVABILITY / "prometheus" / "rules_test.yml"
DASHBOARD = OBSERVABILITY / "grafana" / "meltproof-gateway.json"
PREFIX = "meltproof_gateway_"

INSTALL_HINT = (
    "promtool (Prometheus's rule checker) is needed to check observability/: install it with "
    "`apt-get install -y --no-install-recommends prometheus` (Debian/Ubuntu), or put a "
    "Prometheus release's promtool on PATH, in the meltproof cache, or in MELTPROOF_PROMTOOL"
)

# Grafana's variables in the dashboard's queries, and the concrete values they are checked with.
GRAFANA_VALUES = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "6h",
    "$job": ".+",
    "$tenant": ".*",
}

PROCESS_PREFIX = "process_"
"""The gateway's per-worker process metrics (standard names, labelled by pid)."""

_NAME = re.compile(r"(?<![\w:])[a-zA-Z_:][\w:]*")
_SELECTOR = re.compile(r"(?<![\w:])((?:meltproof_gateway_|process_)\w+)\s*\{([^}]*)\}")
_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_LABEL_VALUES = re.compile(r"^label_values\((.+),\s*(\w+)\)$")


def find_promtool() -> Path:
    """The promtool binary, or a test failure that says how to install it."""
    configured = os.environ.get("MELTPROOF_PROMTOOL")
    if configured:
        if not Path(configured).is_file():
            pytest.fail(f"MELTPROOF_PROMTOOL={configured} does not exist; {INSTALL_HINT}")
        return Path(configured)
    on_path = shutil.which("promtool")
    if on_path:
        return Path(on_path)
    cache = cache_dir_of(os.environ)
    for candidate in [cache / "promtool", *sorted(cache.glob("prometheus-*/promtool"))]:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(f"promtool not found; {INSTALL_HINT}")


def promtool(
    binary: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``promtool ARGS``; the caller checks the exit code."""
    return subprocess.run(
        [str(binary), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def load_rules() -> dict[str, Any]:
    """rules.yml as data."""
    return dict(yaml.safe_load(RULES.read_text()))


def load_dashboard() -> dict[str, Any]:
    """The Grafana dashboard as data."""
    return dict(json.loads(DASHBOARD.read_text()))


def rule_list(rules: dict[str, Any]) -> list[dict[str, Any]]:
    """Every recording and alerting rule, over all groups."""
    return [rule for group in rules["groups"] for rule in group["rules"]]


def rule_queries(rules: dict[str, Any]) -> dict[str, str]:
    """Each rule's expression, by the rule's name (``record`` or ``alert``)."""
    return {rule.get("record") or rule["alert"]: rule["expr"] for rule in rule_list(rules)}


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_queries(dashboard: dict[str, Any]) -> dict[str, str]:
    """Every PromQL query of the dashboard, Grafana variables still in, by where it is: panel
    targets (``panel_<id>_<refId>``) and the selectors of ``label_values`` variables."""
    queries = {}
    for panel in _panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            queries[f"panel_{panel['id']}_{target['refId']}"] = target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        found = _LABEL_VALUES.match(text.strip())
        if found is None:
            raise ValueError(f"variable {variable['name']}: not label_values(...): {text}")
        queries[f"variable_{variable['name']}"] = found.group(1)
    return queries


def concrete(query: str) -> str:
    """The query with Grafana's variables replaced by values; unknown variables raise."""
    for variable in sorted(GRAFANA_VALUES, key=len, reverse=True):
        query = query.replace(variable, GRAFANA_VALUES[variable])
    if "$" in query:
        raise ValueError(f"a Grafana variable without a test value in: {query}")
    return query


def as_recording_rules(queries: dict[str, str]) -> str:
    """A rules file with one recording rule per query, for ``promtool check rules``."""
    rules = [{"record": f"dashboard:{name}", "expr": expr} for name, expr in queries.items()]
    return yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]})


def _without_strings(query: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)


def series_names(query: str) -> set[str]:
    """Metric and recorded-series names the query reads (the gateway's, its workers'
    ``process_*`` and recorded ones)."""
    names = set(_NAME.findall(_without_strings(query)))
    return {name for name in names if PREFIX in name or name.startswith(PROCESS_PREFIX)}


def matchers(query: str) -> Iterator[tuple[str, str, str, str]]:
    """(metric, label, operator, value) of every label matcher on a gateway metric."""
    for metric, inside in _SELECTOR.findall(query):
        for label, operator, value in _MATCHER.findall(inside):
            yield metric, label, operator, value.replace("\\\\", "\\")


def grouping_labels(query: str) -> set[str]:
    """Labels named in by/without/on/ignoring/group_left/group_right clauses."""
    labels: set[str] = set()
    for inside in _GROUPING.findall(_without_strings(query)):
        labels |= {label.strip() for label in inside.split(",") if label.strip()}
    return labels
