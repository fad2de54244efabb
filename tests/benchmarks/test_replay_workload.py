"""Replaying a trace: its schedule, and requests that keep its repetition and sizes."""

import json
from pathlib import Path

import numpy as np
import pytest
from test_replay_trace import batch, line, write_lines

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.oracle import min_upstream_calls
from benchmarks.recording import OpRecorder
from benchmarks.replay import Replay
from benchmarks.workload import Workload
from stack.provider.tokens import chat_prompt_tokens, count


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_lines(
        tmp_path / "access.log",
        line(ts=100.0, fingerprint="aaaa", prompt_tokens=300, output_tokens=20),
        line(ts=100.5, fingerprint="bbbb", tenant="globex", prompt_tokens=45, temperature=0.7),
        line(ts=101.0, fingerprint="aaaa", cache="hit", stream=True, prompt_tokens=300),
        line(ts=102.0, fingerprint="aaaa", prompt_version="v2", prompt_tokens=300),
        line(ts=103.0, fingerprint="cccc", endpoint="embeddings", model="text-embedding-3-large",
             max_tokens=None, temperature=None, prompt_tokens=12, output_tokens=None),
        line(ts=104.0, fingerprint="aaaa", prompt_tokens=300, output_tokens=20),
    )  # fmt: skip


def bodies(workload: Workload, duration_s: float = 60.0) -> list[tuple[dict, dict]]:
    """Each scheduled request's JSON body and headers."""
    schedule = workload.schedule(duration_s)
    recorder = OpRecorder(workload, schedule, api_key=None)
    requests = [recorder.request(i) for i in range(len(schedule))]
    return [(json.loads(r.body), dict(r.headers)) for r in requests]


def test_the_schedule_keeps_the_recorded_times_at_the_given_speed(log: Path) -> None:
    workload = Workload.replaying(Replay(str(log), speed=2.0), api_keys={"acme": "sk-acme"})
    schedule = workload.schedule(10.0)
    assert schedule.intended_s.tolist() == [0.0, 0.25, 0.5, 1.0, 1.5, 2.0]
    assert schedule.tenants == ("acme", "globex")
    assert [t.name for t in workload.tenants] == ["acme", "globex"]
    assert workload.tenants[0].api_key == "sk-acme"
    # The last request repeats the first; the oracle counts the streamed one apart.
    assert min_upstream_calls(schedule, float("inf")) == 5
    assert len(workload.schedule(1.5)) == 4  # a shorter run replays the beginning


def test_each_request_has_one_body_and_distinct_requests_distinct_ones(log: Path) -> None:
    sent = bodies(Workload.replaying(Replay(str(log)), api_keys={}))
    first, other_tenant, streamed, versioned, embedded, again = sent
    assert again == first
    assert streamed[0]["messages"] == first[0]["messages"]
    assert streamed[0]["stream"] is True
    assert versioned[1]["x-prompt-version"] == "v2"
    assert "x-prompt-version" not in first[1]
    assert other_tenant[0]["messages"] != first[0]["messages"]
    assert (first[0]["temperature"], other_tenant[0]["temperature"]) == (0, 0.7)
    assert first[0]["max_tokens"] == 20  # the recorded answer's length
    assert embedded[0]["model"] == "text-embedding-3-large"
    assert set(embedded[0]) == {"model", "input"}


def test_synthetic_prompts_have_the_recorded_token_counts(log: Path) -> None:
    sent = bodies(Workload.replaying(Replay(str(log)), api_keys={}))
    assert chat_prompt_tokens(sent[0][0]["messages"]) == 300
    assert chat_prompt_tokens(sent[1][0]["messages"]) == 45
    assert count(sent[4][0]["input"]) == 12


def test_another_seed_sends_other_prompts_with_the_same_structure(log: Path) -> None:
    one = bodies(Workload.replaying(Replay(str(log)), api_keys={}, seed=1))
    two = bodies(Workload.replaying(Replay(str(log)), api_keys={}, seed=2))
    assert [b["messages"] for b, _ in one[:4]] != [b["messages"] for b, _ in two[:4]]
    assert one[0][0]["messages"] == one[5][0]["messages"]
    assert two[0][0]["messages"] == two[5][0]["messages"]


def test_a_batch_file_sends_its_prompts_on_the_given_arrivals(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "batch.jsonl",
        *(batch(str(i), f"Question {i % 3}", max_tokens=40, temperature=0) for i in range(12)),
    )
    replay = Replay(str(path))
    with pytest.raises(ValueError, match="no arrival times: give arrivals"):
        Workload.replaying(replay, api_keys={})
    workload = Workload.replaying(replay, api_keys={}, arrivals=Arrivals(Constant(10.0), "regular"))
    schedule = workload.schedule(0.55)
    np.testing.assert_allclose(schedule.intended_s, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    sent = bodies(workload, 0.55)
    assert sent[0][0]["messages"][1]["content"] == "Question 0"
    assert sent[3][0] == sent[0][0]
    assert sent[0][0]["max_tokens"] == 40
    assert len(bodies(workload, 5.0)) == 12  # the file ends before the run


def test_the_dict_form_names_the_file_and_reads_it_only_when_needed(log: Path) -> None:
    workload = Workload.replaying(Replay(str(log), speed=3.0), api_keys={})
    data = json.loads(json.dumps(workload.to_dict()))
    assert data["replay"] == {"source": str(log), "speed": 3.0}
    log.rename(log.with_suffix(".moved"))
    again = Workload.from_dict(data)  # a stored run stays readable without its file
    assert again.replay == Replay(str(log), speed=3.0)
    log.with_suffix(".moved").rename(log)
    assert again.schedule(60.0).fingerprint() == workload.schedule(60.0).fingerprint()
