"""Synthetic request sizes and temperatures: distributions drawn once per prompt, seeded."""

import dataclasses
import json

import numpy as np
import pytest

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.recording import OpRecorder
from benchmarks.token_lengths import LogNormal, TemperatureMix, Uniform
from benchmarks.workload import Workload
from stack.provider.tokens import chat_prompt_tokens


PLAIN = Workload(Arrivals(Constant(400.0)), seed=3)


def sent(workload: Workload, duration_s: float = 5.0) -> list[tuple[int, bytes]]:
    """(prompt id, body) of every scheduled request."""
    schedule = workload.schedule(duration_s)
    recorder = OpRecorder(workload, schedule, api_key=None)
    return [(int(schedule.prompt[i]), recorder.request(i).body) for i in range(len(schedule))]


def per_prompt(workload: Workload) -> dict[int, dict]:
    """Each distinct prompt's body; a repeated prompt must send the same body each time."""
    bodies: dict[int, bytes] = {}
    for prompt, body in sent(workload):
        assert bodies.setdefault(prompt, body) == body
    return {prompt: json.loads(body) for prompt, body in bodies.items()}


def test_a_workload_without_sizes_sends_what_it_always_sent() -> None:
    prompt, body = sent(PLAIN, 0.1)[0]
    text = PLAIN.prompts.text(prompt)
    expected = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": text}],
        "temperature": 0,
        "max_tokens": 64,
    }
    assert body == json.dumps(expected).encode()


def test_prompt_tokens_follow_the_distribution_and_leave_the_schedule_alone() -> None:
    sized = dataclasses.replace(PLAIN, prompt_tokens=LogNormal(median=300, p95=1200))
    assert sized.schedule(5.0).fingerprint() == PLAIN.schedule(5.0).fingerprint()
    tokens = [chat_prompt_tokens(body["messages"]) for body in per_prompt(sized).values()]
    assert len(tokens) > 500
    assert np.median(tokens) == pytest.approx(300, rel=0.1)
    assert np.percentile(tokens, 95) == pytest.approx(1200, rel=0.15)


def test_max_tokens_and_temperature_are_drawn_once_per_prompt() -> None:
    mixed = dataclasses.replace(
        PLAIN,
        max_tokens=Uniform(16, 64),
        temperature=TemperatureMix(((0, 0.7), (0.7, 0.3))),
    )
    bodies = per_prompt(mixed).values()
    limits = [body["max_tokens"] for body in bodies]
    assert min(limits) >= 16
    assert max(limits) <= 64
    assert len(set(limits)) > 40
    warm = [body["temperature"] for body in bodies]
    assert set(warm) == {0, 0.7}
    assert warm.count(0.7) / len(warm) == pytest.approx(0.3, abs=0.05)


def test_the_same_seed_draws_the_same_sizes_and_another_seed_others() -> None:
    sized = dataclasses.replace(PLAIN, prompt_tokens=Uniform(100, 2000))
    assert sent(sized) == sent(sized)
    other = dataclasses.replace(sized, seed=4)
    ours, theirs = per_prompt(sized), per_prompt(other)
    shared = sorted(set(ours) & set(theirs))[:50]
    assert [ours[p] for p in shared] != [theirs[p] for p in shared]


def test_the_dict_form_keeps_the_distributions() -> None:
    workload = dataclasses.replace(
        PLAIN,
        prompt_tokens=LogNormal(300, 1200),
        max_tokens=Uniform(16, 64),
        temperature=TemperatureMix(((0, 0.7), (0.7, 0.3))),
    )
    data = json.loads(json.dumps(workload.to_dict()))
    assert Workload.from_dict(data) == workload
    assert Workload.from_dict(PLAIN.to_dict()) == PLAIN


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: LogNormal(300, 100), "p95 \\(100\\) must be >= median \\(300\\)"),
        (lambda: Uniform(0, 10), "min must be an int in \\[1, "),
        (lambda: TemperatureMix(((3, 1.0),)), "temperature must be in \\[0, 2\\], got 3"),
        (lambda: TemperatureMix(((0, 0.0),)), "weight of temperature 0 must be > 0"),
        (lambda: TemperatureMix(()), "at least one temperature"),
    ],
)
def test_bad_sizes_are_refused(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()
