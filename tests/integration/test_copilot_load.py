"""Open-loop copilot clicks against a gateway on a corpus shaped like the copilot endpoints'."""

import numpy as np
import pytest
from gateway_support import fast_provider, gateway_config, provider_requests
from retrieval_support import scratch_database

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.endpoints import DEFAULT_COPILOT_CORPUS
from benchmarks.op import Outcome
from benchmarks.plan import LoadPlan
from benchmarks.runner import run_load
from benchmarks.target import Target
from benchmarks.workload import EndpointShare, TenantShare, Workload
from reference_impl import create_app
from reference_impl.copilot.routes import OUTREACH_PARTS
from stack.corpus import CorpusSpec, generate


DIMENSIONS = 32
TENANTS = (TenantShare("acme", 1, "sk-load-acme"), TenantShare("globex", 1, "sk-load-globex"))
WORKLOAD = Workload(
    arrivals=Arrivals(Constant(4), "regular"),
    tenants=TENANTS,
    endpoints=(EndpointShare("copilot_summarize", 1), EndpointShare("copilot_outreach", 1)),
    seed=5,
)
LLM_CALLS = {
    "copilot_summarize": DEFAULT_COPILOT_CORPUS.candidates_per_pipeline,
    "copilot_outreach": len(OUTREACH_PARTS),
}


@pytest.fixture(scope="module")
def corpus(meltproof_stack):
    """The corpus the copilot endpoints address, for the workload's tenants in its order."""
    spec = CorpusSpec(
        tenants=len(TENANTS),
        tenant_names=tuple(share.name for share in TENANTS),
        pipelines_per_tenant=DEFAULT_COPILOT_CORPUS.pipelines_per_tenant,
        candidates_per_pipeline=DEFAULT_COPILOT_CORPUS.candidates_per_pipeline,
        chunks=600,
        dimensions=DIMENSIONS,
        clusters=8,
        seed=3,
    )
    with scratch_database(meltproof_stack) as database:
        generate(database.dsn, spec)
        yield database


async def test_open_loop_copilot_clicks_are_answered_by_llm_calls(stack, corpus, aiohttp_server):
    fast_provider(stack)
    config = gateway_config(
        stack,
        tenants=[{"name": share.name, "api_key": share.api_key} for share in TENANTS],
        retrieval={"database_url": corpus.proxied_dsn, "dimensions": DIMENSIONS},
    )
    server = await aiohttp_server(create_app(config))
    plan = LoadPlan(WORKLOAD, duration_s=3.0, target=Target(str(server.make_url("")), timeout_s=10))

    result = await run_load(plan)

    table = result.table
    ops = table.ops
    endpoints = [table.endpoints[code] for code in ops["endpoint"]]
    assert set(endpoints) == set(LLM_CALLS)
    assert {table.tenants[code] for code in ops["tenant"]} == {share.name for share in TENANTS}
    assert (ops["status"] == 200).all(), table.op(int(np.argmax(ops["status"] != 200)))
    assert (ops["outcome"] == Outcome.OK).all()
    assert not ops["degraded"].any()
    calls = provider_requests(stack)
    assert 0 < calls <= sum(LLM_CALLS[name] for name in endpoints)
    tenant_stats = stack.provider.stats()["tenants"]
    assert all(tenant_stats[share.name]["requests"] > 0 for share in TENANTS)
