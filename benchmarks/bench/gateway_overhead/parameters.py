"""The gateway overhead benchmark's model, tenant, prompts and the rates of its ladders."""

from __future__ import annotations

from dataclasses import dataclass

from stack.provider.config import ModelSpec

from ...popularity import MAX_TEMPLATES, PromptCatalogue


NAME = "gateway_overhead"
MODULE = f"benchmarks.bench.{NAME}"
MODEL = ModelSpec(
    name="gpt-4o-mini", ttft_ms=20, tpot_ms=0.5, jitter=0.05, slots=65_536, load_slowdown=0,
    output_tokens_min=4, output_tokens_max=8,
)  # fmt: skip
MAX_TOKENS = 8
TENANT = "bench"
API_KEY = "sk-bench-gateway-overhead"
MISS_PROMPTS = PromptCatalogue(templates=MAX_TEMPLATES, entities=100_000, skew=0.0)
"""12 million prompts drawn uniformly: a run of 30,000 requests repeats about 0.1% of them."""
HIT_PROMPTS = PromptCatalogue(templates=1, entities=16, skew=0.0)
REQUEST_TIMEOUT_S = 10.0
WORKERS = 2
LITELLM_WARMUP_RPS = 25


@dataclass(frozen=True)
class OverheadParameters:
    """The rates of the ladders, and how long each step and each warm-up lasts."""

    rates_rps: tuple[int, ...]
    litellm_rates_rps: tuple[int, ...]
    duration_s: float
    warmup_s: float
    litellm_warmup_s: float
    cpu_rounds: int
    """How many alternated rounds compare CPU per request (``rounds``)."""

    @classmethod
    def for_run(cls, *, quick: bool) -> OverheadParameters:
        """250 to 3,000/s (LiteLLM 5 to 200/s), 10 s a step, LiteLLM warmed for 15 s, five
        CPU rounds; ``quick``: 3 rates (LiteLLM 4), 3 s a step, LiteLLM warmed for 8 s, one
        round."""
        if quick:
            return cls((250, 1000, 2000), (5, 10, 25, 100), 3.0, 1.0, 8.0, 1)
        litellm = (5, 10, 25, 50, 100, 150, 200)
        return cls((250, 500, 1000, 1500, 2000, 3000), litellm, 10.0, 2.0, 15.0, 5)

    def warmup(self, target: str) -> tuple[int, float]:
        """The rate and the seconds of ``target``'s warm-up."""
        if target == "litellm":
            return LITELLM_WARMUP_RPS, self.litellm_warmup_s
        return self.ladder(target)[0], self.warmup_s

    def ladder(self, target: str) -> tuple[int, ...]:
        """``target``'s rates; ``direct``, the reference of every other, runs them all."""
        if target == "litellm":
            return self.litellm_rates_rps
        if target == "direct":
            return tuple(sorted({*self.rates_rps, *self.litellm_rates_rps}))
        return self.rates_rps
