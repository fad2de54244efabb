"""The SLO rules and the Grafana dashboard in observability/ pass promtool.

``promtool check rules`` and ``promtool test rules`` (rules_test.yml shows every alert firing
and not firing); every dashboard query, with Grafana's variables replaced, is checked by
promtool as a recording rule. Without promtool these tests fail (CI installs it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from promtool_support import (
    RULES,
    RULES_TEST,
    as_recording_rules,
    concrete,
    dashboard_queries,
    find_promtool,
    load_dashboard,
    load_rules,
    promtool,
    rule_list,
    rule_queries,
    series_names,
)


@pytest.fixture(scope="module")
def promtool_binary() -> Path:
    return find_promtool()


@pytest.fixture(scope="module")
def rules() -> dict[str, Any]:
    return load_rules()


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return load_dashboard()


def test_the_rules_pass_promtool_check(promtool_binary):
    result = promtool(promtool_binary, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_pass_their_unit_tests(promtool_binary):
    result = promtool(promtool_binary, "test", "rules", str(RULES_TEST))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_unit_tests_show_every_alert_firing_and_not_firing(rules):
    alerts = {rule["alert"] for rule in rule_list(rules) if "alert" in rule}
    cases = [
        case
        for test in yaml.safe_load(RULES_TEST.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    silent = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert alerts == {
        "MeltproofGatewayErrorBudgetFastBurn",
        "MeltproofGatewayErrorBudgetSlowBurn",
        "MeltproofGatewayLatencyBudgetFastBurn",
        "MeltproofGatewayLatencyBudgetSlowBurn",
        "MeltproofGatewayTenantBudgetFastBurn",
        "MeltproofGatewayTenantBudgetExhausted",
        "MeltproofGatewayBreakerOpen",
    }
    assert alerts - firing == set(), "alerts never shown firing"
    assert alerts - silent == set(), "alerts never shown not firing"


def test_a_wrong_threshold_fails_the_unit_tests(promtool_binary, tmp_path):
    """The unit tests are sharp: a fast-burn threshold of 50x instead of 14.4x fails them."""
    text = RULES.read_text()
    assert text.count("ratio_rate1h > (14.4 * (1 - 0.99))") == 1
    (tmp_path / "rules.yml").write_text(
        text.replace("ratio_rate1h > (14.4 * (1 - 0.99))", "ratio_rate1h > (50 * (1 - 0.99))")
    )
    (tmp_path / "rules_test.yml").write_text(RULES_TEST.read_text())
    result = promtool(promtool_binary, "test", "rules", str(tmp_path / "rules_test.yml"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "alertname: MeltproofGatewayErrorBudgetFastBurn" in result.stdout + result.stderr


def test_every_dashboard_query_passes_promtool(promtool_binary, dashboard, tmp_path):
    queries = {name: concrete(expr) for name, expr in dashboard_queries(dashboard).items()}
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert all(panel["targets"] for panel in panels), "a panel without a query"
    assert len(queries) > len(panels)  # the variables' selectors too
    checked = tmp_path / "dashboard_queries.yml"
    checked.write_text(as_recording_rules(queries))
    result = promtool(promtool_binary, "check", "rules", str(checked))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_promtool_rejects_a_broken_dashboard_query(promtool_binary, tmp_path):
    """The check above can fail: an unbalanced query, written the same way, is refused."""
    checked = tmp_path / "broken.yml"
    checked.write_text(
        as_recording_rules(
            {"panel_1_A": "sum by (tenant) (rate(meltproof_gateway_tokens_total[1m])"}
        )
    )
    result = promtool(promtool_binary, "check", "rules", str(checked))
    assert result.returncode == 1
    assert "dashboard:panel_1_A" in result.stdout + result.stderr


def test_the_dashboard_reads_only_series_the_gateway_or_the_rules_make(rules, dashboard):
    recorded = {rule["record"] for rule in rule_list(rules) if "record" in rule}
    read = set().union(*(series_names(expr) for expr in dashboard_queries(dashboard).values()))
    assert {name for name in read if ":" in name} <= recorded


def test_the_rules_read_recorded_series_they_define(rules):
    recorded = {rule["record"] for rule in rule_list(rules) if "record" in rule}
    read = set().union(*(series_names(expr) for expr in rule_queries(rules).values()))
    assert {name for name in read if ":" in name} <= recorded


def test_the_dashboard_panels_have_unique_ids_and_use_the_datasource_variable(dashboard):
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_without_promtool_the_tests_fail_saying_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.delenv("MELTPROOF_PROMTOOL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("MELTPROOF_CACHE_DIR", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y --no-install-recommends"):
        find_promtool()


def test_promtool_is_found_in_a_release_unpacked_in_the_meltproof_cache(monkeypatch, tmp_path):
    binary = tmp_path / "prometheus-2.53.0.linux-amd64" / "promtool"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.delenv("MELTPROOF_PROMTOOL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("MELTPROOF_CACHE_DIR", str(tmp_path))
    assert find_promtool() == binary
