"""A ``flag`` event on a scenario's timeline, beside the faults."""

import textwrap
from pathlib import Path

from scenario_file_support import error_of, write

from faults.gateway.flag import FlagFault
from scenarios.loader import load_scenario


def scenario(target: str, flags: Path) -> str:
    return textwrap.dedent(
        """\
        name: t
        duration_s: 10
        target:
        {target}
        workload:
          arrivals: {{shape: {{kind: constant, rate_rps: 2}}}}
        faults:
          - name: new model
            at_s: 3
            for_s: 4
            fault: {{kind: flag, file: {flags}, flag: model, split: {{stable: 50, canary: 50}}}}
        checks:
          errors: {{kind: error_rate, max: 0.1}}
        """
    ).format(target=textwrap.indent(target, "  "), flags=flags)


def test_a_flag_event_on_our_gateway_loads(tmp_path: Path) -> None:
    flags = tmp_path / "flags.json"
    target = f"gateway: {{settings: {{flags: {{file: {flags}}}}}}}"
    spec = load_scenario(write(tmp_path, scenario(target, flags)))
    [event] = spec.faults
    assert isinstance(event.fault, FlagFault)
    assert (event.label, event.at_s, event.for_s) == ("new model", 3, 4)
    assert event.fault.split == {"stable": 50, "canary": 50}


def test_a_flag_event_needs_our_gateway(tmp_path: Path) -> None:
    command = 'command: {name: proxy, argv: [proxy, --port, "{port}", "{provider_url}"]}'
    text = scenario(command, tmp_path / "flags.json")
    assert "flips a flag in our gateway's flags file" in error_of(write(tmp_path, text))
