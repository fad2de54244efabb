"""The embedding worker's pure parts: batch planning, response parsing, failure classes, metrics.

The database side (the outbox, locking, exactly-once effect) is tested against real
PostgreSQL in tests/integration/test_embedding_worker.py.
"""

import base64
import json
import math

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from click.testing import CliRunner

from reference_impl.embedding_worker import (
    Call,
    Embedded,
    Job,
    Rejected,
    Unavailable,
    WorkerMetrics,
    WorkerSettings,
    parse_embeddings,
    plan_calls,
    request_embeddings,
)
from reference_impl.retrieval.documents import QueueStats, content_sha256
from scenarios.cli import main as meltproof


def job(job_id: int, chunk_id: int, *, tenant: str = "acme", attempts: int = 0, embedded=False):
    text = f"chunk {chunk_id}"
    return Job(
        id=job_id,
        chunk_id=chunk_id,
        attempts=attempts,
        tenant_id=tenant,
        content=text,
        content_sha256=content_sha256(text),
        embedded=embedded,
    )


def settings(**changes) -> WorkerSettings:
    fields = {"dsn": "postgresql:///x", "provider_url": "http://p", "dimensions": 3} | changes
    return WorkerSettings(**fields)


def test_a_tenant_s_chunks_share_one_call_and_duplicate_jobs_one_input():
    jobs = [job(1, 10), job(2, 11, tenant="globex"), job(3, 10), job(4, 12)]
    done, calls = plan_calls(jobs)
    assert done == []
    assert [(c.tenant_id, [j.chunk_id for j in c.chunks], c.job_ids) for c in calls] == [
        ("acme", [10, 12], (1, 3, 4)),
        ("globex", [11], (2,)),
    ]


def test_jobs_already_embedded_need_no_call_and_failed_ones_get_a_call_each():
    jobs = [job(1, 10, embedded=True), job(2, 11, attempts=1), job(3, 12), job(4, 13, attempts=2)]
    done, calls = plan_calls(jobs)
    assert done == [1]
    assert sorted(c.job_ids for c in calls) == [(2,), (3,), (4,)]


def test_a_chunk_with_one_failed_job_is_isolated_with_all_its_jobs():
    _, calls = plan_calls([job(1, 10), job(2, 10, attempts=1), job(3, 11)])
    assert sorted(c.job_ids for c in calls) == [(1, 2), (3,)]


def vectors_payload(vectors, *, as_base64: bool, order=None):
    order = order or range(len(vectors))
    data = []
    for index in order:
        vector = np.asarray(vectors[index], dtype="<f4")
        encoded = base64.b64encode(vector.tobytes()).decode() if as_base64 else vector.tolist()
        data.append({"index": index, "embedding": encoded})
    return {"data": data}


@pytest.mark.parametrize("as_base64", [True, False])
def test_embeddings_are_decoded_in_input_order(as_base64):
    vectors = [[0.5, -1.0, 2.0], [1.0, 0.0, 0.25]]
    payload = vectors_payload(vectors, as_base64=as_base64, order=[1, 0])
    parsed = parse_embeddings(payload, count=2, dimensions=3)
    assert [v.tolist() for v in parsed] == vectors
    assert all(v.dtype == np.float32 for v in parsed)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"data": [{"index": 0, "embedding": [1, 2, 3]}]}, "expected 2"),
        ({"data": [{"index": 0, "embedding": [1, 2, 3]}] * 2}, "repeated"),
        ({"data": [{"index": 0, "embedding": [1, 2, 3]}, {"index": 5, "embedding": [1]}]}, "range"),
        ({"data": [{"index": 0, "embedding": [1, 2]}, {"index": 1, "embedding": [1, 2, 3]}]}, "3"),
        (
            {"data": [{"index": 0, "embedding": [1, 2, math.nan]}, {"index": 1, "embedding": []}]},
            "finite",
        ),
        ({"data": [{"index": 0, "embedding": "not base64!"}, {"index": 1}]}, "undecodable"),
        ({"data": [{"index": 0, "embedding": {"x": 1}}, {"index": 1}]}, "neither"),
        ([1, 2], "expected 2"),
    ],
)
def test_malformed_embeddings_are_refused(payload, message):
    with pytest.raises(ValueError, match=message):
        parse_embeddings(payload, count=2, dimensions=3)


@pytest.mark.parametrize(
    "url", ["http://p:1", "http://p:1/", "http://p:1/v1", "http://p:1/v1/"]
)  # fmt: skip
def test_the_provider_url_may_name_the_api_root_or_not(url):
    assert settings(provider_url=url).embeddings_url == "http://p:1/v1/embeddings"


@pytest.mark.parametrize(
    "changes",
    [{"batch_size": 0}, {"batch_size": 2049}, {"dimensions": 0}, {"idle_poll_s": 0}],
)
def test_settings_refuse_impossible_values(changes):
    with pytest.raises(ValueError, match="must"):
        settings(**changes)


@pytest.fixture
async def provider(aiohttp_server):
    """A provider answering with ``answer`` (status, headers, body) and recording requests."""
    seen = []
    answer = {"status": 200, "headers": {}, "body": b""}

    async def embeddings(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), await request.json()))
        return web.Response(status=answer["status"], headers=answer["headers"], body=answer["body"])

    app = web.Application()
    app.router.add_post("/v1/embeddings", embeddings)
    server = await aiohttp_server(app)
    return server, answer, seen


CALL = Call(tenant_id="globex", chunks=(job(1, 10), job(2, 11)), job_ids=(1, 2))


async def ask(server, **changes):
    url = str(server.make_url("/"))
    async with aiohttp.ClientSession() as http:
        return await request_embeddings(http, settings(provider_url=url, **changes), CALL)


async def test_a_call_sends_the_tenant_the_model_the_size_and_asks_for_base64(provider):
    server, answer, seen = provider
    payload = vectors_payload([[1, 2, 3], [4, 5, 6]], as_base64=True)
    answer["body"] = json.dumps(payload).encode()
    outcome = await ask(server)
    assert isinstance(outcome, Embedded)
    assert [v.tolist() for v in outcome.vectors] == [[1, 2, 3], [4, 5, 6]]
    headers, body = seen[0]
    assert headers["X-Tenant-Id"] == "globex"
    assert body == {
        "model": "text-embedding-3-small",
        "input": ["chunk 10", "chunk 11"],
        "dimensions": 3,
        "encoding_format": "base64",
    }


@pytest.mark.parametrize("status", [400, 413, 422])
async def test_input_errors_blame_the_jobs(provider, status):
    server, answer, _ = provider
    answer.update(status=status, body=b'{"error": {"message": "too long"}}')
    outcome = await ask(server)
    assert isinstance(outcome, Rejected)
    assert "too long" in outcome.reason


async def test_a_malformed_answer_blames_the_jobs(provider):
    server, answer, _ = provider
    answer["body"] = b'{"data": [}'
    assert isinstance(await ask(server), Rejected)


@pytest.mark.parametrize("status", [401, 404, 429, 500, 503])
async def test_provider_trouble_does_not_blame_the_jobs(provider, status):
    server, answer, _ = provider
    answer.update(status=status, headers={"retry-after-ms": "1500"})
    outcome = await ask(server)
    assert outcome == Unavailable(f"HTTP {status}", 1.5)


async def test_an_unreachable_provider_does_not_blame_the_jobs(unused_tcp_port):
    async with aiohttp.ClientSession() as http:
        outcome = await request_embeddings(
            http, settings(provider_url=f"http://127.0.0.1:{unused_tcp_port}"), CALL
        )
    assert isinstance(outcome, Unavailable)
    assert outcome.retry_after_s is None


def test_metrics_count_batches_by_outcome_and_show_the_queue():
    metrics = WorkerMetrics()
    metrics.batch(outcome="ok", done=64, duration_s=0.2)
    metrics.batch(outcome="provider_unavailable", done=3, duration_s=1.0)
    metrics.queue(QueueStats(depth=120, oldest_age_s=7.5, dead=2))
    lines = metrics.render().decode().splitlines()
    for line in [
        'meltproof_embedding_batches_total{outcome="ok"} 1.0',
        'meltproof_embedding_batches_total{outcome="provider_unavailable"} 1.0',
        'meltproof_embedding_batches_total{outcome="error"} 0.0',
        "meltproof_embedding_jobs_done_total 67.0",
        "meltproof_embedding_batch_seconds_count 2.0",
        "meltproof_embedding_queue_depth 120.0",
        "meltproof_embedding_queue_oldest_age_seconds 7.5",
        "meltproof_embedding_jobs_dead 2.0",
    ]:
        assert line in lines


def test_two_metrics_objects_do_not_share_counts():
    first, second = WorkerMetrics(), WorkerMetrics()
    first.batch(outcome="ok", done=1, duration_s=0.1)
    assert b"meltproof_embedding_jobs_done_total 0.0" in second.render()


@pytest.mark.parametrize(
    "bad",
    [["--batch-size", "0"], ["--concurrency", "0"], ["--stats-interval-s", "0"]],
)
def test_the_command_line_refuses_bad_values(bad):
    argv = ["--dsn", "postgresql:///x", "--provider-url", "http://p", "--dimensions", "8", *bad]
    result = CliRunner().invoke(meltproof, ["worker", *argv], prog_name="meltproof")
    assert result.exit_code == 2
    assert "Error:" in result.output


def test_meltproof_worker_is_the_same_command_line():
    result = CliRunner().invoke(meltproof, ["worker", "--help"], prog_name="meltproof")
    assert result.exit_code == 0
    assert "Usage: meltproof worker [OPTIONS]" in result.output
    assert "--concurrency" in result.output
