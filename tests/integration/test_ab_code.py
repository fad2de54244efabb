"""``meltproof ab --baseline-ref`` compares two codes: each side's gateway runs from its own
tree, and a slowdown planted in a real candidate commit is caught.

The test clones this repository, commits a chat handler that sleeps 200 ms, and runs the
comparison from the clone, as a reviewer would. If both sides ran the candidate's code (the
working directory shadowing the baseline's tree on ``sys.path``), the verdict would be SAME.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree


pytestmark = [pytest.mark.integration, pytest.mark.long]

REPO = Path(__file__).resolve().parents[2]
HANDLER = "async def chat_completions(request: web.Request) -> web.StreamResponse:\n"
SLEEP = '    """Answer like OpenAI, 200 ms late."""\n    await __import__("asyncio").sleep(0.2)\n'
SCENARIO = """\
name: short_chat
description: two seconds of chat, no faults
seed: 5
duration_s: 2
target:
  gateway: {profile: hardened}
  timeout_s: 5
provider:
  models:
    - {name: gpt-4o-mini, ttft_ms: 40, tpot_ms: 1, jitter: 0.05, slots: 64,
       output_tokens_min: 4, output_tokens_max: 8}
    - {name: local-llm, ttft_ms: 10, tpot_ms: 1, jitter: 0.05, slots: 16}
    - {name: text-embedding-3-small, kind: embedding, dimensions: 8, ttft_ms: 5}
workload:
  arrivals:
    shape: {kind: constant, rate_rps: 10}
  prompts: {templates: 20, entities: 500, skew: 0}
  max_tokens: 8
steady_state:
  enabled: false
checks:
  errors:
    kind: error_rate
    max: 0.01
"""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=cwd, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def slowed_clone(tmp_path: Path) -> Path:
    """A clone of this repository whose last commit slows the chat handler by 200 ms."""
    clone = tmp_path / "candidate"
    git(tmp_path, "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone))
    handler = clone / "reference_impl" / "chat.py"
    source = handler.read_text()
    assert HANDLER in source
    handler.write_text(source.replace(HANDLER, HANDLER + SLEEP, 1))
    git(clone, "commit", "--quiet", "-am", "chat: 200 ms late")
    return clone


@pytest.mark.timeout(300)
def test_a_planted_slowdown_in_the_candidate_commit_is_caught(slowed_clone: Path) -> None:
    (slowed_clone / "short.yaml").write_text(SCENARIO)
    out = slowed_clone / ".meltproof" / "ab"
    done = subprocess.run(
        [sys.executable, "-P", "-m", "scenarios", "ab", "short.yaml", "--baseline-ref",
         "HEAD~1", "--runs", "6", "--out", str(out), "--junit", str(out / "junit.xml")],
        cwd=slowed_clone, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    comparison = json.loads((out / "comparison.json").read_text())
    p95 = next(
        m for m in comparison["scenarios"]["short_chat[hardened]"] if m["metric"] == "p95_ms"
    )
    assert p95["verdict"] == "worse"
    assert p95["candidate_median"] - p95["baseline_median"] > 150
    [baseline] = comparison["baseline"]["code"]
    [candidate] = comparison["candidate"]["code"]
    assert baseline == {
        "code_path": str((out / "baseline-src" / "reference_impl").resolve()),
        "commit": git(slowed_clone, "rev-parse", "HEAD~1"),
        "dirty": False,
    }
    assert candidate == {
        "code_path": str(slowed_clone.resolve() / "reference_impl"),
        "commit": git(slowed_clone, "rev-parse", "HEAD"),
        "dirty": False,
    }
    cases = etree.parse(str(out / "junit.xml")).getroot().iter("testcase")
    failed = {case.get("name") for case in cases if case.find("failure") is not None}
    assert "short_chat[hardened]: p95_ms" in failed
