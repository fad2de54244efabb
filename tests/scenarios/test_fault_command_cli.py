"""``meltproof fault``'s command line: fault parsing, its errors, and finding the stack."""

import json
import os
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from faults import FAULT_TYPES, LatencyFault, ProviderErrorsFault
from scenarios.cli import main
from scenarios.cli.fault_command import EXAMPLES, duration, family, parse_fault
from scenarios.console import EXIT_HARNESS_ERROR
from stack.ports import LOOPBACK, ephemeral_port


USAGE_ERROR = 2


def _fault(*args: str) -> Result:
    return CliRunner().invoke(main, ["fault", *args], prog_name="meltproof")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_fields_are_read_as_yaml_into_the_scenario_files_model() -> None:
    assert parse_fault("latency", ["link=provider", "latency_ms=300"]) == LatencyFault(
        link="provider", latency_ms=300
    )
    errors = parse_fault("provider_errors", ["rates={429: 0.5, 503: 0.1}", "retry_after_s=2"])
    assert errors == ProviderErrorsFault(rates={429: 0.5, 503: 0.1}, retry_after_s=2)


def test_an_unknown_kind_is_refused_with_a_suggestion_and_the_kinds() -> None:
    result = _fault("add", "latncy", "link=provider")
    assert result.exit_code == USAGE_ERROR
    assert "unknown fault kind 'latncy'; did you mean 'latency'?" in result.output
    assert all(kind in result.output for kind in FAULT_TYPES)


def test_a_bad_value_names_its_field_and_the_kind_s_fields() -> None:
    result = _fault("add", "latency", "link=provider", "latency_ms=-5")
    assert result.exit_code == USAGE_ERROR
    assert "latency_ms: Input should be greater than 0" in result.output
    assert "latency takes: link latency_ms [" in result.output


def test_unknown_and_missing_fields_are_named() -> None:
    result = _fault("add", "freeze", "servce=redis")
    assert result.exit_code == USAGE_ERROR
    assert "servce: unknown field" in result.output
    assert "service: Field required" in result.output


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("link", "'link': give each field as FIELD=VALUE"),
        ("=provider", "'=provider': give each field as FIELD=VALUE"),
        ("kind=bandwidth", "'kind=bandwidth': kind is given twice"),
        ("latency_ms=[1", "'latency_ms=[1': the value is not valid YAML"),
    ],
)
def test_malformed_fields_are_refused(field: str, message: str) -> None:
    result = _fault("add", "latency", "link=provider", field)
    assert result.exit_code == USAGE_ERROR
    assert message in result.output


def test_a_field_given_twice_is_refused() -> None:
    result = _fault("add", "latency", "link=provider", "latency_ms=1", "latency_ms=2")
    assert result.exit_code == USAGE_ERROR
    assert "latency_ms is given twice" in result.output


@pytest.mark.parametrize("value", ["0s", "soon", "-1s", "3 days"])
def test_a_bad_time_limit_is_refused(value: str) -> None:
    result = _fault("add", "freeze", "service=redis", "--for", value)
    assert result.exit_code == USAGE_ERROR
    assert "give a positive duration such as 30s, 500ms, 2m" in result.output


def test_a_bad_name_is_refused() -> None:
    result = _fault("add", "freeze", "service=redis", "--name", "my fault")
    assert result.exit_code == USAGE_ERROR
    assert "'my fault': use letters, digits" in result.output


def test_clear_needs_names_or_all() -> None:
    for args in ([], ["x", "--all"]):
        result = _fault("clear", *args)
        assert result.exit_code == USAGE_ERROR
        assert "name the faults to heal, or give --all" in result.output


def test_help_shows_an_example_per_family_and_every_kind_with_its_fields() -> None:
    result = _fault("add", "--help")
    assert result.exit_code == 0
    assert set(EXAMPLES) == {family(model) for model in FAULT_TYPES.values()}
    for example in EXAMPLES.values():
        assert example in result.output
        args = shlex.split(example)[3:]
        cut = args.index("--for") if "--for" in args else len(args)
        parse_fault(args[0], args[1:cut])  # every example is valid
    assert "slicer             link average_size_bytes [" in result.output
    assert "link: postgres|redis|provider; service: redis|postgres" in result.output


def test_without_a_running_stack_every_command_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["add", "freeze", "service=redis"], ["list"], ["clear", "--all"]):
        result = _fault(*args)
        assert result.exit_code == EXIT_HARNESS_ERROR
        assert "no running `meltproof up` found in .meltproof/runs/" in result.output
        assert "--run-dir" in result.output


def test_a_stopped_up_is_not_taken_for_a_running_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / ".meltproof" / "runs" / "20250101-000000"
    run_dir.mkdir(parents=True)
    control = {"url": "http://127.0.0.1:1", "token": "t", "pid": _dead_pid()}
    (run_dir / "control.json").write_text(json.dumps(control))
    monkeypatch.chdir(tmp_path)
    assert "no running `meltproof up` found" in _fault("list").output
    result = _fault("list", "--run-dir", str(run_dir))
    assert result.exit_code == EXIT_HARNESS_ERROR
    assert f"its `meltproof up` (pid {control['pid']}) is no longer running" in result.output


def test_a_run_dir_without_a_control_file_is_not_a_running_up(tmp_path: Path) -> None:
    result = _fault("list", "--run-dir", str(tmp_path))
    assert result.exit_code == EXIT_HARNESS_ERROR
    assert "no control.json; this is not the run dir of a running `meltproof up`" in result.output


def test_a_control_endpoint_that_does_not_answer_is_an_error(tmp_path: Path) -> None:
    control = {"url": f"http://127.0.0.1:{ephemeral_port()}", "token": "t", "pid": os.getpid()}
    (tmp_path / "control.json").write_text(json.dumps(control))
    result = _fault("clear", "--all", "--run-dir", str(tmp_path))
    assert result.exit_code == EXIT_HARNESS_ERROR
    assert f"DELETE {control['url']}/faults: unreachable: " in result.output


class _Answering(ThreadingHTTPServer):
    """Answers every request with ``status`` and ``body``, as a broken fault control might."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((LOOPBACK, 0), _AnswerHandler)
        self.status = 200
        self.body = b""


class _AnswerHandler(BaseHTTPRequestHandler):
    server: _Answering

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


@pytest.fixture
def answering(tmp_path: Path) -> Iterator[_Answering]:
    """A control endpoint that answers what a test sets, announced in ``tmp_path``."""
    server = _Answering()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    control = {"url": f"http://{LOOPBACK}:{server.server_address[1]}", "token": "t",
               "pid": os.getpid()}  # fmt: skip
    (tmp_path / "control.json").write_text(json.dumps(control))
    yield server
    server.shutdown()
    server.server_close()


ACTIVE = {"name": "pause", "kind": "freeze", "params": {"service": "redis"}, "age_s": 1.0,
          "remaining_s": None}  # fmt: skip
ADD = ["add", "freeze", "service=redis"]
EVERY_COMMAND = [ADD, ["list"], ["clear", "pause"], ["clear", "--all"]]
NOT_ACTIVE = {"name": "pause"}
WRONG_TYPE = ACTIVE | {"age_s": "old"}


@pytest.mark.parametrize(
    ("answer", "problem", "commands"),
    [
        (b"<html>502 Bad Gateway</html>", "the answer is not JSON", EVERY_COMMAND),
        (b"", "an unexpected answer", EVERY_COMMAND),
        ([], "an unexpected answer", EVERY_COMMAND),
        ({}, "an unexpected answer", EVERY_COMMAND),
        ({"fault": ACTIVE}, "/faults: an unexpected answer: replaced: Field required", [ADD]),
        ({"fault": NOT_ACTIVE, "faults": [NOT_ACTIVE], "replaced": None}, "kind: Field required",
         EVERY_COMMAND),
        ({"fault": WRONG_TYPE, "faults": [WRONG_TYPE], "replaced": None}, "age_s: Input should",
         EVERY_COMMAND),
    ],
    ids=["html", "empty", "a-list", "no-keys", "no-replaced", "fields-missing", "wrong-type"],
)  # fmt: skip
def test_an_answer_that_is_not_the_control_s_is_an_error(
    answering: _Answering, tmp_path: Path, answer: object, problem: str, commands: list[list[str]]
) -> None:
    answering.body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    for args in commands:
        result = _fault(*args, "--run-dir", str(tmp_path))
        assert result.exit_code == EXIT_HARNESS_ERROR, (args, result.output, result.exception)
        assert "error: the fault control of `meltproof up`" in result.output, (args, result.output)
        assert problem in result.output, (args, result.output)


def test_an_error_answer_that_is_not_json_shows_its_status_and_text(
    answering: _Answering, tmp_path: Path
) -> None:
    answering.status, answering.body = 502, b"<html>Bad Gateway</html>"
    result = _fault("list", "--run-dir", str(tmp_path))
    assert result.exit_code == EXIT_HARNESS_ERROR
    assert "HTTP 502: <html>Bad Gateway</html>" in result.output


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.04, "0.0 s"), (4.25, "4.2 s"), (9.94, "9.9 s"), (9.96, "10 s"), (12.4, "12 s"),
     (59.6, "1 min 00 s"), (65, "1 min 05 s")],
)  # fmt: skip
def test_durations_show_tenths_below_ten_seconds_and_whole_seconds_above(
    seconds: float, shown: str
) -> None:
    assert duration(seconds) == shown
