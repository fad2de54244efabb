"""Load the copilot corpus for scenarios whose workload clicks the copilot endpoints.

The corpus has one tenant per workload tenant (same names, same order) and the shape the
generator's copilot endpoints address (``benchmarks.endpoints.DEFAULT_COPILOT_CORPUS``), so
every pipeline and candidate a click names exists for its tenant.
"""

from __future__ import annotations

from benchmarks.endpoints import DEFAULT_COPILOT_CORPUS
from stack.corpus import CorpusSpec, generate

from .schema import ScenarioSpec


COPILOT_ENDPOINTS = frozenset({"copilot_summarize", "copilot_outreach"})


def needs_corpus(spec: ScenarioSpec) -> bool:
    """Whether the workload sends copilot clicks."""
    return any(e.name in COPILOT_ENDPOINTS for e in spec.workload.endpoints)


def load_corpus(spec: ScenarioSpec, database_url: str) -> None:
    """Replace the copilot's rows in ``database_url`` with the scenario's corpus."""
    tenants = tuple(t.name for t in spec.workload.tenants)
    generate(
        database_url,
        CorpusSpec(
            tenants=len(tenants),
            tenant_names=tenants,
            pipelines_per_tenant=DEFAULT_COPILOT_CORPUS.pipelines_per_tenant,
            candidates_per_pipeline=DEFAULT_COPILOT_CORPUS.candidates_per_pipeline,
            chunks=spec.corpus.chunks,
            dimensions=spec.corpus.dimensions,
            seed=spec.seed,
        ),
    )
