"""Agreement with vegeta: the same constant rates on the simulated provider, p50 and p99 compared.

The provider serves one model whose latency is stable (``MODEL``: 50 ms to the first token,
2 ms per further token, 16 tokens, lognormal jitter 0.2, slots to spare, no slowdown under
load). At each rate, each repetition runs vegeta and our engine (in a fresh process, regular
arrivals) one after the other with the identical request (``engine_run.bench_request``: the
same body bytes and headers), alternating which goes first, with ``/_control/reset`` before
each run, so that both see the provider's latency noise in the same sequence.

Our latency is measured from each request's intended send time, vegeta's from its actual
send (our uncorrected latency and schedule lag are in the JSON too). The medians over repetitions of
each tool's p50 and p99 are compared; the tools agree at a rate when both differ by at most
``TOLERANCE`` of vegeta's. The provider's own request count is recorded for each run.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from stack.config import StackConfig
from stack.ports import ephemeral_port
from stack.provider.config import ModelSpec, ProviderConfig
from stack.provider_control import ProviderControl
from stack.python_service import PythonService

from .agreement import TOLERANCE, Agreement, Pair
from .common import Benchmark, BenchOptions, BenchReport, format_table, ms, say
from .engine_run import EngineLoad, EngineRun, bench_request, run_in_child
from .vegeta import VegetaBinary, VegetaReport, attack, find_vegeta, target_line


NAME = "vegeta_agreement"
START_TIMEOUT_S = 30.0
MODEL = ModelSpec(
    name="bench", ttft_ms=50, tpot_ms=2, jitter=0.2, slots=4096, load_slowdown=0,
    output_tokens_min=16, output_tokens_max=16,
)  # fmt: skip
MAX_TOKENS = 16
TOOLS = ("vegeta", "meltproof")


@dataclass(frozen=True)
class AgreementParameters:
    """The rates, the length of each run, and the repetitions (each tool first in half)."""

    rates_rps: tuple[int, ...]
    duration_s: float
    repetitions: int

    @classmethod
    def for_run(cls, *, quick: bool) -> AgreementParameters:
        """50, 200 and 500 rps; 20 s x 2 repetitions, or 5 s x 2 with ``quick``."""
        return cls((50, 200, 500), 5.0 if quick else 20.0, 2)


def run(options: BenchOptions) -> BenchReport:
    """Both tools against a provider of our own, always stopped after."""
    parameters = AgreementParameters.for_run(quick=options.quick)
    vegeta = find_vegeta(StackConfig.from_env(options.log_dir).cache_dir, on_build=say)
    say(f"{NAME}: vegeta {vegeta.version}, {vegeta.source}")
    with tempfile.TemporaryDirectory(prefix="meltproof-vegeta-") as scratch:
        work = Path(scratch)
        config = work / "provider.json"
        config.write_text(ProviderConfig(models=(MODEL,)).model_dump_json())
        provider = PythonService(
            "provider",
            "stack.provider",
            port=ephemeral_port(),
            log_dir=options.log_dir,
            args=["--config", str(config)],
        )
        provider.launch()
        try:
            provider.wait_ready(time.monotonic() + START_TIMEOUT_S)
            pairs = _measure_all(provider.url, vegeta, work, parameters)
        finally:
            provider.stop()
    return _report(parameters, vegeta, pairs)


def _measure_all(
    url: str, vegeta: VegetaBinary, work: Path, parameters: AgreementParameters
) -> list[Pair]:
    targets = work / "targets.json"
    targets.write_text(target_line(url, bench_request(MODEL.name, MAX_TOKENS)) + "\n")
    pairs = []
    for rate in parameters.rates_rps:
        for repetition in range(parameters.repetitions):
            pair = _pair(url, vegeta, targets, rate, repetition, parameters)
            s = pair.ours.summary
            say(
                f"{NAME}:   p50 {ms(s.latency_s.p50_s)} vs {ms(pair.vegeta.p50_s)} ms,"
                f" p99 {ms(s.latency_s.p99_s)} vs {ms(pair.vegeta.p99_s)} ms (meltproof vs vegeta)"
            )
            pairs.append(pair)
    return pairs


def _pair(
    url: str,
    vegeta: VegetaBinary,
    targets: Path,
    rate: int,
    repetition: int,
    parameters: AgreementParameters,
) -> Pair:
    """Both tools at ``rate``, one after the other; vegeta goes first in even repetitions."""
    control = ProviderControl(url)
    order = TOOLS if repetition % 2 == 0 else TOOLS[::-1]
    ours: list[EngineRun] = []
    theirs: list[VegetaReport] = []
    counts: dict[str, int] = {}
    for tool in order:
        say(
            f"{NAME}: {rate} requests/s for {parameters.duration_s:g} s with {tool},"
            f" repetition {repetition + 1}/{parameters.repetitions}"
        )
        control.reset()
        if tool == "vegeta":
            results = targets.with_name(f"results-{rate}-{repetition}.bin")
            theirs.append(
                attack(
                    vegeta, targets, rate_rps=rate, duration_s=parameters.duration_s,
                    results=results,
                )
            )  # fmt: skip
        else:
            load = EngineLoad(url, rate, parameters.duration_s, MODEL.name, MAX_TOKENS)
            ours.append(run_in_child(load))
        counts[tool] = int(control.stats()["total"]["requests"])
    return Pair(rate, repetition, order[0], ours[0], theirs[0], counts)


RUN_HEADERS = [
    "rate/s", "rep", "tool", "first", "achieved/s", "p50 ms", "p99 ms", "errors", "provider saw",
]  # fmt: skip
COMPARISON_HEADERS = [
    "rate/s", "ours p50 ms", "vegeta p50 ms", "Δ p50", "ours p99 ms", "vegeta p99 ms", "Δ p99",
    "verdict",
]  # fmt: skip


def _report(
    parameters: AgreementParameters, vegeta: VegetaBinary, pairs: list[Pair]
) -> BenchReport:
    agreements = [
        Agreement.of(rate, [p for p in pairs if p.rate_rps == rate])
        for rate in parameters.rates_rps
    ]
    agree = all(a.agrees for a in agreements)
    verdict = (
        f"p50 and p99 {'agree' if agree else 'do NOT agree'} with vegeta within"
        f" {TOLERANCE:.0%} at {', '.join(str(r) for r in parameters.rates_rps)} requests/s"
    )
    runs = format_table(
        RUN_HEADERS,
        [row for pair in pairs for row in pair.rows()],
        title="Runs (latency of meltproof from the intended send time)",
    )
    comparison = format_table(
        COMPARISON_HEADERS,
        [a.row() for a in agreements],
        title="meltproof vs vegeta (medians over repetitions)",
    )
    return BenchReport(
        parameters={
            "rates_rps": list(parameters.rates_rps),
            "duration_s": parameters.duration_s,
            "repetitions": parameters.repetitions,
            "tolerance": TOLERANCE,
            "model": MODEL.model_dump(),
            "max_tokens": MAX_TOKENS,
            "vegeta": {
                "path": str(vegeta.path),
                "source": vegeta.source,
                "version": vegeta.version,
            },
        },
        figures={
            "agree": agree,
            "rates": [a.to_dict() for a in agreements],
            "runs": [p.to_dict() for p in pairs],
        },
        verdict=verdict,
        passed=agree,
        tables=[runs, comparison],
    )


BENCHMARK = Benchmark(
    NAME,
    "p50 and p99 of our engine and of vegeta at the same constant rates on the provider",
    run,
)
