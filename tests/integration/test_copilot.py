"""The copilot endpoints on real PostgreSQL+pgvector, through every pattern of the gateway."""

import asyncio

import psycopg
import pytest
from gateway_support import auth, fast_provider, gateway_config, provider_requests
from retrieval_support import scratch_database

from reference_impl import create_app
from reference_impl.copilot.models import OutreachDraft, PipelineSummary
from stack import Toxic, links
from stack.corpus import CorpusSpec, generate
from stack.ports import ephemeral_port


SPEC = CorpusSpec(
    tenants=2,
    pipelines_per_tenant=3,
    candidates_per_pipeline=6,
    chunks=1_500,
    dimensions=32,
    clusters=8,
    seed=7,
)


@pytest.fixture(scope="module")
def corpus(meltproof_stack):
    with scratch_database(meltproof_stack) as database:
        generate(database.dsn, SPEC)
        yield database


@pytest.fixture
def rows(corpus):
    """A pipeline, one of its candidates, and a pipeline of the other tenant."""
    with psycopg.connect(corpus.dsn) as conn:
        tenant, pipeline = conn.execute(
            "SELECT tenant_id, id FROM pipelines ORDER BY id LIMIT 1"
        ).fetchone()
        candidate = conn.execute(
            "SELECT id FROM candidates WHERE pipeline_id = %s ORDER BY id LIMIT 1", (pipeline,)
        ).fetchone()[0]
        foreign = conn.execute(
            "SELECT id FROM pipelines WHERE tenant_id <> %s ORDER BY id LIMIT 1", (tenant,)
        ).fetchone()[0]
    return {"tenant": tenant, "pipeline": pipeline, "candidate": candidate, "foreign": foreign}


@pytest.fixture
def make_copilot(stack, aiohttp_client, corpus, rows):
    fast_provider(stack)
    key = "sk-copilot-tenant"

    async def make(database_url: str | None = None, **fields):
        config = gateway_config(
            stack,
            tenants=[{"name": rows["tenant"], "api_key": key}],
            retrieval={"database_url": database_url or corpus.proxied_dsn, "dimensions": 32},
            **fields,
        )
        return await aiohttp_client(create_app(config))

    make.key = key
    return make


async def test_a_pipeline_summary_is_valid_json_on_retrieved_context(stack, make_copilot, rows):
    client = await make_copilot()
    response = await client.post(
        "/v1/copilot/summarize",
        json={"pipeline_id": rows["pipeline"]},
        headers=auth(make_copilot.key),
    )
    assert response.status == 200
    summary = PipelineSummary.model_validate(await response.json())
    assert not summary.degraded
    assert len(summary.notes) == SPEC.candidates_per_pipeline
    assert all(note.fit is not None for note in summary.notes)
    assert 0 < len(summary.context_chunk_ids) <= 8
    assert provider_requests(stack) == summary.llm_calls == len(summary.notes)


async def test_an_outreach_draft_is_valid_json(stack, make_copilot, rows):
    client = await make_copilot()
    response = await client.post(
        "/v1/copilot/outreach",
        json={"candidate_id": rows["candidate"]},
        headers=auth(make_copilot.key),
    )
    assert response.status == 200
    draft = OutreachDraft.model_validate(await response.json())
    assert not draft.degraded
    assert draft.subject
    assert draft.body
    assert draft.context_chunk_ids


async def test_a_repeated_click_is_served_from_the_cache(stack, make_copilot, rows):
    client = await make_copilot()
    body = {"pipeline_id": rows["pipeline"]}
    for _ in range(3):
        response = await client.post(
            "/v1/copilot/summarize", json=body, headers=auth(make_copilot.key)
        )
        assert response.status == 200
    assert provider_requests(stack) == SPEC.candidates_per_pipeline


async def test_another_tenants_pipeline_is_not_found(make_copilot, rows):
    client = await make_copilot()
    response = await client.post(
        "/v1/copilot/summarize",
        json={"pipeline_id": rows["foreign"]},
        headers=auth(make_copilot.key),
    )
    assert response.status == 404
    assert (await response.json())["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/v1/copilot/summarize", {}, "pipeline_id"),
        ("/v1/copilot/summarize", {"pipeline_id": "seven"}, "pipeline_id"),
        ("/v1/copilot/outreach", {"candidate_id": 1, "extra": 2}, "extra"),
    ],
)
async def test_bad_copilot_input_gets_a_json_400(make_copilot, path, body, fragment):
    client = await make_copilot()
    response = await client.post(path, json=body, headers=auth(make_copilot.key))
    assert response.status == 400
    assert fragment in (await response.json())["error"]["message"]


@pytest.mark.parametrize("outage", ["link_down", "nothing_listens", "slow", "black_hole"])
async def test_postgres_down_gives_a_degraded_answer_not_a_5xx(stack, make_copilot, rows, outage):
    database_url = None
    if outage == "nothing_listens":
        database_url = f"postgresql://postgres@127.0.0.1:{ephemeral_port()}/meltproof"
    client = await make_copilot(database_url=database_url)
    if outage == "link_down":
        stack.toxiproxy.set_enabled(links.POSTGRES, False)
    if outage == "slow":
        slow = Toxic("slow", "latency", attributes={"latency": 5000})
        stack.toxiproxy.add_toxic(links.POSTGRES, slow)
    if outage == "black_hole":
        hole = Toxic("hole", "timeout", attributes={"timeout": 0})
        stack.toxiproxy.add_toxic(links.POSTGRES, hole)
    loop = asyncio.get_running_loop()
    for path, body in (
        ("/v1/copilot/summarize", {"pipeline_id": rows["pipeline"]}),
        ("/v1/copilot/outreach", {"candidate_id": rows["candidate"]}),
    ):
        started = loop.time()
        response = await client.post(path, json=body, headers=auth(make_copilot.key))
        assert response.status == 200
        answer = await response.json()
        assert answer["degraded"] is True
        assert answer["banner"]
        assert response.headers["x-degraded"] == "true"
        assert loop.time() - started < 6


async def _copilot_answers(client, rows, key, times):
    """``times`` summaries and outreach drafts, one after the other: their degraded flags."""
    degraded = []
    for _ in range(times):
        for path, body in (
            ("/v1/copilot/summarize", {"pipeline_id": rows["pipeline"]}),
            ("/v1/copilot/outreach", {"candidate_id": rows["candidate"]}),
        ):
            response = await client.post(path, json=body, headers=auth(key))
            assert response.status == 200
            degraded.append((await response.json())["degraded"])
    return degraded


async def test_after_the_postgres_link_returns_the_next_answers_are_not_degraded(
    stack, make_copilot, rows
):
    client = await make_copilot()
    warm = [_copilot_answers(client, rows, make_copilot.key, 2) for _ in range(8)]
    assert not any(flag for flags in await asyncio.gather(*warm) for flag in flags)
    stack.toxiproxy.set_enabled(links.POSTGRES, False)  # every pooled connection is cut
    stack.toxiproxy.set_enabled(links.POSTGRES, True)
    assert await _copilot_answers(client, rows, make_copilot.key, 5) == [False] * 10


async def test_naive_fans_out_unbounded_on_200_chunks_and_hardened_bounds_it(
    stack, make_copilot, rows
):
    fast_provider(stack, ttft_ms=150)
    contexts = {}
    for profile in ("naive", "hardened"):
        stack.provider.reset()
        fast_provider(stack, ttft_ms=150)
        client = await make_copilot(profile=profile)
        response = await client.post(
            "/v1/copilot/summarize",
            json={"pipeline_id": rows["pipeline"]},
            headers=auth(make_copilot.key),
        )
        summary = PipelineSummary.model_validate(await response.json())
        contexts[profile] = len(summary.context_chunk_ids)
        in_flight = stack.provider.stats()["tenants"][rows["tenant"]]["max_in_flight"]
        expected = SPEC.candidates_per_pipeline if profile == "naive" else 2
        assert in_flight == expected, profile
    assert contexts == {"naive": 200, "hardened": 8}


async def test_a_database_down_at_start_is_migrated_once_it_answers(stack, aiohttp_client):
    with scratch_database(stack) as empty:
        stack.toxiproxy.set_enabled(links.POSTGRES, False)
        config = gateway_config(
            stack, retrieval={"database_url": empty.proxied_dsn, "dimensions": 32}
        )
        await aiohttp_client(create_app(config))
        stack.toxiproxy.set_enabled(links.POSTGRES, True)
        async with asyncio.timeout(30):
            while True:
                with psycopg.connect(empty.dsn) as conn:
                    if conn.execute("SELECT to_regclass('chunks')").fetchone()[0] is not None:
                        break
                await asyncio.sleep(0.2)
