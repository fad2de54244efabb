"""The copilot endpoints: their requests, and how entities become pipelines and candidates."""

import json
from collections import Counter

import numpy as np
import pytest

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.endpoints import (
    DEFAULT_COPILOT_CORPUS,
    CopilotCorpus,
    RequestSpec,
    endpoint,
)
from benchmarks.plan import LoadPlan
from benchmarks.popularity import PromptCatalogue
from benchmarks.recording import OpRecorder
from benchmarks.response import read_json_body
from benchmarks.target import Target
from benchmarks.workload import EndpointShare, FanOut, TenantShare, Workload


CORPUS = CopilotCorpus(pipelines_per_tenant=3, candidates_per_pipeline=5)


def _spec(*, tenant_index: int = 1, entity: int = 7) -> RequestSpec:
    return RequestSpec(
        "globex",
        "sk-globex",
        "ignored",
        "gpt-4o-mini",
        64,
        tenant_index=tenant_index,
        entity=entity,
    )


def _body(name: str, spec: RequestSpec) -> dict[str, object]:
    body: dict[str, object] = json.loads(endpoint(name).build(spec).body)
    return body


def _owned_pipelines(corpus: CopilotCorpus, tenant_index: int) -> range:
    """The pipeline ids ``stack.corpus`` gives tenant number ``tenant_index``."""
    first = tenant_index * corpus.pipelines_per_tenant + 1
    return range(first, first + corpus.pipelines_per_tenant)


def _owned_candidates(corpus: CopilotCorpus, pipeline_id: int) -> range:
    """The candidate ids ``stack.corpus`` puts in pipeline ``pipeline_id``."""
    first = (pipeline_id - 1) * corpus.candidates_per_pipeline + 1
    return range(first, first + corpus.candidates_per_pipeline)


def test_summarize_posts_the_pipeline_id_with_the_tenants_headers() -> None:
    request = endpoint("copilot_summarize").build(_spec(tenant_index=1, entity=7))
    assert (request.method, request.path, request.stream) == (
        "POST",
        "/v1/copilot/summarize",
        False,
    )
    assert json.loads(request.body) == {"pipeline_id": DEFAULT_COPILOT_CORPUS.pipeline_id(1, 7)}
    assert request.headers["X-Tenant-Id"] == "globex"
    assert request.headers["Authorization"] == "Bearer sk-globex"
    assert request.headers["Content-Type"] == "application/json"


def test_outreach_posts_only_the_candidate_id() -> None:
    request = endpoint("copilot_outreach").build(_spec(tenant_index=1, entity=7))
    assert (request.method, request.path, request.stream) == ("POST", "/v1/copilot/outreach", False)
    assert json.loads(request.body) == {"candidate_id": DEFAULT_COPILOT_CORPUS.candidate_id(1, 7)}
    assert request.headers["X-Tenant-Id"] == "globex"


def test_the_default_corpus_numbers_rows_like_stack_corpus() -> None:
    assert (
        DEFAULT_COPILOT_CORPUS.pipelines_per_tenant,
        DEFAULT_COPILOT_CORPUS.candidates_per_pipeline,
    ) == (10, 4)
    assert _body("copilot_summarize", _spec(tenant_index=2, entity=13)) == {"pipeline_id": 24}
    # entity 13 is pipeline 3 of tenant 2 (id 24), slot 13 // 10 % 4 = 1: its second candidate
    assert _body("copilot_outreach", _spec(tenant_index=2, entity=13)) == {"candidate_id": 94}


@pytest.mark.parametrize("tenant_index", [0, 1, 4])
def test_every_entity_lands_on_the_tenants_own_rows(tenant_index: int) -> None:
    for entity in range(200):
        pipeline = CORPUS.pipeline_id(tenant_index, entity)
        candidate = CORPUS.candidate_id(tenant_index, entity)
        assert pipeline in _owned_pipelines(CORPUS, tenant_index)
        assert candidate in _owned_candidates(CORPUS, pipeline)


def test_entities_cover_each_tenants_candidates_one_to_one() -> None:
    per_tenant = CORPUS.pipelines_per_tenant * CORPUS.candidates_per_pipeline
    candidates = [CORPUS.candidate_id(1, entity) for entity in range(per_tenant)]
    first = per_tenant + 1
    assert sorted(candidates) == list(range(first, first + per_tenant))
    assert CORPUS.candidate_id(1, 4) == CORPUS.candidate_id(1, 4 + per_tenant)


def test_the_corpus_shape_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CopilotCorpus(pipelines_per_tenant=0)
    with pytest.raises(ValueError, match="at least 1"):
        CopilotCorpus(candidates_per_pipeline=0)


def _copilot_workload(**overrides: object) -> Workload:
    values: dict[str, object] = {
        "arrivals": Arrivals(Constant(200), "poisson"),
        "tenants": (TenantShare("acme", 1), TenantShare("globex", 1), TenantShare("initech", 2)),
        "endpoints": (EndpointShare("copilot_summarize", 1), EndpointShare("copilot_outreach", 1)),
        "prompts": PromptCatalogue(templates=5, entities=60, skew=1.2),
        "seed": 11,
    } | overrides
    return Workload(**values)  # type: ignore[arg-type]


def _recorded_bodies(workload: Workload) -> tuple[OpRecorder, list[dict[str, int]]]:
    schedule = workload.schedule(2.0)
    recorder = OpRecorder(workload, schedule, api_key="sk-shared")
    bodies = [json.loads(recorder.request(row).body) for row in range(len(schedule))]
    return recorder, bodies


def test_the_recorder_addresses_each_rows_tenant_and_entity() -> None:
    workload = _copilot_workload()
    recorder, bodies = _recorded_bodies(workload)
    s = recorder.schedule
    assert len(s) > 100
    for row, body in enumerate(bodies):
        tenant = int(s.tenant[row])
        _, entity = workload.prompts.template_and_entity(int(s.prompt[row]))
        if s.endpoints[int(s.endpoint[row])] == "copilot_summarize":
            assert body == {"pipeline_id": DEFAULT_COPILOT_CORPUS.pipeline_id(tenant, entity)}
            assert body["pipeline_id"] in _owned_pipelines(DEFAULT_COPILOT_CORPUS, tenant)
        else:
            assert body == {"candidate_id": DEFAULT_COPILOT_CORPUS.candidate_id(tenant, entity)}
            pipeline = DEFAULT_COPILOT_CORPUS.pipeline_id(tenant, entity)
            assert body["candidate_id"] in _owned_candidates(DEFAULT_COPILOT_CORPUS, pipeline)
        assert recorder.request(row).headers["X-Tenant-Id"] == s.tenants[tenant]


def test_popular_prompts_make_popular_pipelines_the_same_for_every_run() -> None:
    workload = _copilot_workload(endpoints=(EndpointShare("copilot_summarize", 1),))
    _, first = _recorded_bodies(workload)
    _, again = _recorded_bodies(workload)
    assert first == again
    clicks = Counter(body["pipeline_id"] for body in first)
    counts = sorted(clicks.values(), reverse=True)
    assert counts[0] > 2 * counts[-1]  # Zipf over prompts is skewed over pipelines too
    assert len(clicks) > len(workload.tenants)  # and spreads over several pipelines


def test_fanned_out_parts_of_a_click_ask_about_the_same_row() -> None:
    workload = _copilot_workload(fanout=FanOut(2, 3))
    recorder, bodies = _recorded_bodies(workload)
    click = recorder.schedule.click
    for number in np.unique(click)[:50]:
        rows = np.flatnonzero(click == number)
        assert len({json.dumps(bodies[int(row)]) for row in rows}) == 1


def test_load_plans_accept_the_copilot_endpoints() -> None:
    plan = LoadPlan(_copilot_workload(), duration_s=1.0, target=Target("http://127.0.0.1:9"))
    assert [share.name for share in plan.workload.endpoints] == [
        "copilot_summarize",
        "copilot_outreach",
    ]


def test_a_degraded_copilot_answer_is_flagged_and_counts_no_tokens() -> None:
    answer = {
        "object": "copilot.pipeline_summary",
        "pipeline_id": 3,
        "notes": [],
        "context_chunk_ids": [],
        "llm_calls": 4,
        "degraded": True,
    }
    facts = read_json_body(json.dumps(answer).encode())
    assert facts.degraded
    assert (facts.model, facts.prompt_tokens, facts.completion_tokens) == (None, 0, 0)
    assert not read_json_body(json.dumps(answer | {"degraded": False}).encode()).degraded


def test_chat_requests_do_not_change_with_tenant_index_or_entity() -> None:
    plain = RequestSpec("acme", None, "Hello", "gpt-4o-mini", 16)
    placed = RequestSpec("acme", None, "Hello", "gpt-4o-mini", 16, tenant_index=3, entity=99)
    for name in ("chat", "chat_stream", "embeddings"):
        assert endpoint(name).build(plain) == endpoint(name).build(placed)
