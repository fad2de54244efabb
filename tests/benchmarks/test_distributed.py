"""Locust in distributed mode sends the engine's seeded schedule; its results become a history,
and the launcher prints the summary ``meltproof load`` prints."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

import benchmarks.distributed
from benchmarks.arrivals import Arrivals, Constant
from benchmarks.distributed.convert import read_results, store
from benchmarks.distributed.launch import main
from benchmarks.hdr import DurationHistogram
from benchmarks.history import read_history
from benchmarks.op import ErrorKind, Outcome
from benchmarks.summary_table import print_summary
from benchmarks.workload import EndpointShare, TenantShare, Workload
from stack.ports import ephemeral_port
from stack.provider_control import ProviderControl
from stack.python_service import PythonService


TTFT_S = 0.020
FAST_MODEL = {
    "name": "fast",
    "ttft_ms": TTFT_S * 1000,
    "tpot_ms": 2,
    "jitter": 0,
    "output_tokens_min": 6,
    "output_tokens_max": 6,
}


def _workload(rate_rps: float = 40) -> Workload:
    return Workload(
        arrivals=Arrivals(Constant(rate_rps), "regular"),
        tenants=(TenantShare("acme", 1), TenantShare("globex", 1)),
        endpoints=(EndpointShare("chat", 1), EndpointShare("chat_stream", 1)),
        model="fast",
        max_tokens=6,
        seed=11,
    )


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[str]:
    """The simulated provider alone, with a fast jitter-free model, stopped whatever happens."""
    config = tmp_path / "provider.json"
    config.write_text(json.dumps({"models": [FAST_MODEL]}))
    service = PythonService(
        "provider",
        "stack.provider",
        port=ephemeral_port(),
        log_dir=tmp_path,
        args=["--config", str(config)],
    )
    service.launch()
    try:
        service.wait_ready(time.monotonic() + 30)
        yield service.url
    finally:
        service.stop()


@pytest.mark.integration
def test_a_master_and_two_workers_send_every_scheduled_request_once(
    provider: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    workload, duration_s = _workload(), 3.0
    workload_file = tmp_path / "workload.json"
    workload_file.write_text(json.dumps(workload.to_dict()))
    monkeypatch.setenv("MELTPROOF_API_KEY", "sk-test")
    argv = ["--url", provider, "--workload", str(workload_file), "--duration", str(duration_s)]
    assert main([*argv, "--workers", "2", "--out", str(tmp_path / "run")]) == 0
    history = read_history(tmp_path / "run" / "history")
    printed = capsys.readouterr()
    summary = io.StringIO()
    print_summary(Console(file=summary, highlight=False, soft_wrap=True), history.summary)
    assert summary.getvalue() in printed.out
    assert f"history: {tmp_path / 'run' / 'history'}" in printed.out
    assert "all 120 requests reported" in printed.err
    schedule = workload.schedule(duration_s)
    ops = history.table.ops
    assert len(ops) == len(schedule) == 120
    assert np.array_equal(ops["row"], schedule.row)
    assert np.array_equal(ops["intended_s"], schedule.intended_s)
    not_ok = ops["outcome"] != Outcome.OK
    assert not not_ok.any(), history.table.op(int(np.argmax(not_ok)))
    assert (history.table.latency_s >= TTFT_S).all()
    assert (ops["sent_s"] >= ops["intended_s"]).all()
    assert history.plan.processes == 2
    assert history.meta["distributed"] == {"workers": 2, "pending_rows": 0, "silent_workers": []}
    assert history.table.models == ("fast",)
    for written in ("results.jsonl", "plan.json", "history/run.json"):
        assert "sk-test" not in (tmp_path / "run" / written).read_text()

    streams = ops[ops["endpoint"] == schedule.endpoints.index("chat_stream")]
    chats = ops[ops["endpoint"] == schedule.endpoints.index("chat")]
    assert len(streams) + len(chats) == len(ops)
    assert len(streams) > 0
    assert len(chats) > 0
    assert (streams["ttft_s"] >= TTFT_S).all()
    assert np.isfinite(streams["tpot_s"]).all()
    assert np.isnan(chats["ttft_s"]).all()
    assert history.itl.count == 5 * len(streams)  # six tokens, five gaps, one chunk each

    stats = ProviderControl(provider).stats()
    assert stats["total"]["requests"] == len(schedule)
    assert stats["total"]["status"] == {"200": len(schedule)}
    for code, tenant in enumerate(schedule.tenants):
        assert stats["tenants"][tenant]["requests"] == int((schedule.tenant == code).sum())
    assert stats["total"]["completion_tokens"] == int(ops["completion_tokens"].sum())


def _results_of_one_worker_of_two(path: Path, workload: Workload, duration_s: float) -> int:
    """A results file whose worker 1 died before reporting; returns worker 0's row count."""
    rows = workload.schedule(duration_s).slice_for(0, 2).row.tolist()
    count = len(rows)
    columns: dict[str, list[Any]] = {
        "row": rows,
        "sent_s": [0.5] * count,
        "end_s": [1.0] * count,
        "first_byte_s": [None] * count,
        "status": [200] * count,
        "outcome": [int(Outcome.OK)] * count,
        "error": [int(ErrorKind.NONE)] * count,
        "model": [0] * (count - 1) + [-1],
    }
    itl = DurationHistogram()
    itl.record(0.002)
    plan = {"workers": 2, "duration_s": duration_s, "workload": workload.to_dict()}
    records = [
        {"kind": "plan", **plan, "target": {"base_url": "http://127.0.0.1:9", "timeout_s": 5.0}},
        {"kind": "start", "started_at": 1_700_000_000.0},
        {"kind": "ops", "worker": 0, "sent": count, "models": ["fast"], "columns": columns},
        {"kind": "done", "worker": 0, "itl_hdr": itl.encode()},
    ]
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return count


def test_rows_of_a_worker_that_died_stay_pending_and_are_reported(tmp_path: Path) -> None:
    workload, duration_s = _workload(rate_rps=10), 2.0
    results = tmp_path / "results.jsonl"
    reported = _results_of_one_worker_of_two(results, workload, duration_s)
    collected = read_results(results)
    store(collected, tmp_path / "history")
    history = read_history(tmp_path / "history")
    ops = history.table.ops
    assert len(ops) == 20
    assert collected.pending_rows == 20 - reported == 10
    assert collected.silent_workers == (1,)
    assert "10 of 20 scheduled requests" in (collected.problems() or "")
    assert history.meta["distributed"] == {"workers": 2, "pending_rows": 10, "silent_workers": [1]}
    assert (ops["outcome"][1::2] == Outcome.PENDING).all()
    assert (ops["outcome"][0::2] == Outcome.OK).all()
    assert np.array_equal(ops["intended_s"], workload.schedule(duration_s).intended_s)
    assert math.isnan(float(ops["first_byte_s"][0]))
    assert history.table.op(0).model == "fast"
    assert history.table.op(18).model is None
    assert history.started_at == 1_700_000_000.0
    assert history.itl.count == 1


def test_only_the_locust_modules_import_locust_or_gevent() -> None:
    package = Path(benchmarks.distributed.__file__).parent
    names = sorted(path.stem for path in package.glob("*.py") if path.stem != "__init__")
    assert {"locustfile", "locust_master", "locust_worker"} <= set(names)
    others = [f"benchmarks.distributed.{name}" for name in names if not name.startswith("locust")]
    check = (
        f"import sys, benchmarks.distributed, scenarios.load_engines, {', '.join(others)}; "
        "assert not {'locust', 'gevent'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", check], check=True, timeout=60)


@pytest.mark.parametrize(
    ("workload_text", "options", "message"),
    [
        ("{", ["--workers", "1"], "cannot read the workload"),
        (None, ["--workers", "0"], "need at least one worker"),
        (None, ["--workers", "1", "--master-port", "0"], "TCP port"),
    ],
)
def test_the_launcher_refuses_what_cannot_work_before_starting_anything(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    workload_text: str | None,
    options: list[str],
    message: str,
) -> None:
    workload_file = tmp_path / "workload.json"
    workload_file.write_text(workload_text or json.dumps(_workload().to_dict()))
    argv = ["--url", "http://127.0.0.1:9", "--workload", str(workload_file), "--duration", "1"]
    with pytest.raises(SystemExit) as exited:
        main([*argv, *options, "--out", str(tmp_path / "run")])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_the_launcher_never_overwrites_a_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workload_file = tmp_path / "workload.json"
    workload_file.write_text(json.dumps(_workload().to_dict()))
    (tmp_path / "run" / "history").mkdir(parents=True)
    argv = ["--url", "http://127.0.0.1:9", "--workload", str(workload_file), "--duration", "1"]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--workers", "1", "--out", str(tmp_path / "run")])
    assert exited.value.code == 2
    assert "exists; runs are never overwritten" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["history"]
