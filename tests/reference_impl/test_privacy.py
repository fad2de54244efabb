"""PromptStore keeps consenting tenants' prompts only; request log fields never hold a prompt."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from reference_impl.privacy import PromptStore, request_log_fields


PRIVATE_PROMPT = "my card number is 4111-1111-1111-1111, zebra-quartz-7"


def chat(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]


def names_in(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_consenting_tenants_prompts_land_in_their_file(tmp_path: Path) -> None:
    store = PromptStore(tmp_path / "prompts", consenting=frozenset({"acme"}), clock=lambda: 1000.5)
    await store.start()

    assert store.offer(tenant="acme", fingerprint="fp-1", messages=chat("first"))
    assert store.offer(tenant="acme", fingerprint="fp-2", messages=chat("second"))
    await store.stop()

    records = read_lines(tmp_path / "prompts" / "acme.jsonl")
    assert records == [
        {"ts": 1000.5, "tenant": "acme", "fingerprint": "fp-1", "messages": chat("first")},
        {"ts": 1000.5, "tenant": "acme", "fingerprint": "fp-2", "messages": chat("second")},
    ]
    assert store.dropped == 0


async def test_prompt_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    store = PromptStore(tmp_path, consenting=frozenset({"acme"}))
    await store.start()
    store.offer(tenant="acme", fingerprint="fp", messages=chat("hello"))
    await store.stop()

    mode = (tmp_path / "acme.jsonl").stat().st_mode

    assert stat.S_IMODE(mode) & 0o077 == 0


async def test_later_batches_append_to_the_same_file(tmp_path: Path) -> None:
    store = PromptStore(tmp_path, consenting=frozenset({"acme"}))
    for text in ("one", "two"):
        await store.start()
        store.offer(tenant="acme", fingerprint=text, messages=chat(text))
        await store.stop()

    assert [record["fingerprint"] for record in read_lines(tmp_path / "acme.jsonl")] == [
        "one",
        "two",
    ]


async def test_non_consenting_tenants_are_never_written(tmp_path: Path) -> None:
    store = PromptStore(tmp_path, consenting=frozenset({"acme"}))
    await store.start()

    stored = store.offer(tenant="globex", fingerprint="fp", messages=chat(PRIVATE_PROMPT))
    store.offer(tenant="acme", fingerprint="fp", messages=chat("fine"))
    await store.stop()

    assert stored is False
    assert names_in(tmp_path) == ["acme.jsonl"]
    assert PRIVATE_PROMPT not in (tmp_path / "acme.jsonl").read_text(encoding="utf-8")


async def test_no_directory_stores_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = PromptStore(None, consenting=frozenset({"acme"}))
    await store.start()

    stored = store.offer(tenant="acme", fingerprint="fp", messages=chat(PRIVATE_PROMPT))
    await store.stop()

    assert stored is False
    assert names_in(tmp_path) == []


async def test_a_full_queue_drops_and_counts(tmp_path: Path) -> None:
    store = PromptStore(tmp_path, consenting=frozenset({"acme"}), max_pending=2)

    offered = [
        store.offer(tenant="acme", fingerprint=f"fp-{n}", messages=chat(str(n))) for n in range(4)
    ]
    await store.stop()

    assert offered == [True, True, False, False]
    assert store.dropped == 2
    fingerprints = [record["fingerprint"] for record in read_lines(tmp_path / "acme.jsonl")]
    assert fingerprints == ["fp-0", "fp-1"]


async def test_a_failed_write_is_counted_as_dropped(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "taken"
    not_a_directory.write_text("a file where the directory should be", encoding="utf-8")
    store = PromptStore(not_a_directory, consenting=frozenset({"acme"}))

    assert store.offer(tenant="acme", fingerprint="fp", messages=chat("lost"))
    await store.stop()

    assert store.dropped == 1


@pytest.mark.parametrize("tenant", ["../etc", ".hidden", "a/b", ""])
def test_tenant_names_that_are_not_plain_file_names_are_refused(tenant: str) -> None:
    with pytest.raises(ValueError, match="file names"):
        PromptStore(Path("prompts"), consenting=frozenset({"acme", tenant}))


def test_request_log_fields_are_identifiers_and_the_outcome_only() -> None:
    """The signature takes no prompt; that no prompt reaches a log line end to end is
    ``test_raw_prompts_are_stored_only_with_consent_and_never_logged``."""
    fingerprint = "3f2a9c"

    fields = request_log_fields(
        tenant="acme", fingerprint=fingerprint, model="gpt-4o", status=200, cache="miss", ms=12.34
    )

    assert fields == {
        "tenant": "acme",
        "fingerprint": fingerprint,
        "model": "gpt-4o",
        "status": 200,
        "cache": "miss",
        "ms": 12.3,
    }
