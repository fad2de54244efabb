"""Development sessions: ``nox -s tests``, ``nox -s lint``; on demand ``nox -s long``,
``nox -s demo``, ``nox -s scenarios``, ``nox -s matrix``, ``nox -s compare``,
``nox -s perf_gate``, ``nox -s calibrate``, ``nox -s bench`` and ``nox -s fuzz``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import nox


nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_external_run = True
nox.needs_version = ">=2025.2.9"

PYPROJECT = nox.project.load_toml("pyproject.toml")


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and integration tests but the long ones; the integration tests start the real
    stack on loopback. A ``-m`` after ``--`` replaces the selection."""
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "tests"))
    session.run("pytest", "-m", "not long", *session.posargs)


@nox.session
def long(session: nox.Session) -> None:
    """The long end-to-end tests (marked ``long``: the matrix command, the A/B of two codes,
    the distributed scenario, the replay's fidelity), about 3 minutes; run nightly."""
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "tests"))
    session.run("pytest", "-m", "long", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """Hostile input against a 2-worker hardened gateway on the real stack (tests/fuzz):
    10,000 requests unless MELTPROOF_FUZZ_REQUESTS says otherwise (seed: MELTPROOF_FUZZ_SEED).

    Fails on a 5xx, a reply that is not JSON (or well-formed events, or an authorised
    scrape), a hang, a worker restart, worker memory growth past its bound, or the prompt
    canary found in the gateway's log, Redis, PostgreSQL or metrics. Keeps the run's folder,
    with summary.json, failures.jsonl and the stack's logs, as .meltproof/fuzz/run-<time>/.
    """
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "tests"))
    env = {
        "MELTPROOF_FUZZ_REQUESTS": os.environ.get("MELTPROOF_FUZZ_REQUESTS", "10000"),
        "MELTPROOF_FUZZ_OUT": str(Path(".meltproof", "fuzz").resolve()),
    }
    session.run("pytest", "tests/fuzz", *session.posargs, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) on everything, mypy (strict) on the packages."""
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")  # the packages listed in pyproject.toml


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: the generator's capacity and agreement with vegeta; the gateway's overhead.

    Pass names and options after --: ``nox -s bench -- generator_capacity --quick``.
    vegeta is built once with Go (``go install``) into the meltproof cache unless it is on
    PATH or named by MELTPROOF_VEGETA; the LiteLLM proxy (a peer in ``gateway_overhead``) is
    installed once into its own venv in the same cache.
    """
    session.install(".")
    session.run("python", "-m", "benchmarks.bench", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The case study, measured: monday_peak on the naive and the hardened gateway (~3 min).

    Writes the before/after table (demo.md, demo.html) and every target's report under
    .meltproof/runs/; options after -- go to ``meltproof demo`` (``--out DIR``,
    ``--targets naive,hardened,litellm`` for a column per target).
    """
    session.install(".")
    session.run("meltproof", "demo", *session.posargs)


@nox.session
def scenarios(session: nox.Session) -> None:
    """Scenario suites with faults: ``nox -s scenarios`` runs every built-in one (~15 min).

    Name scenarios, files or folders after --: ``nox -s scenarios -- redis_outage``.
    """
    session.install(".")
    session.run("meltproof", "run", *(session.posargs or ["all"]))


@nox.session
def matrix(session: nox.Session) -> None:
    """Every built-in scenario against naive, hardened, LiteLLM and Portkey (~40 min).

    Writes matrix.md / .html / .json (a row per scenario, a column per target) beside every
    run's report under .meltproof/runs/<time>/. Options after -- go to ``meltproof matrix``:
    ``nox -s matrix -- --targets naive,hardened,my-gateway.yaml redis_outage``. Exit 0 every
    cell passed or was n/a, 1 a cell failed, 3 only harness errors or undecided checks.
    """
    session.install(".")
    _meltproof_keeping_exit_code(session, "matrix", *session.posargs)


def _meltproof_keeping_exit_code(session: nox.Session, *args: str) -> None:
    """Run ``meltproof ARGS`` and end the session with its exit code: nox would turn every
    failure into 1, and the gates' codes (1 SLO, 2 regression, 3 harness) must reach CI."""
    session.log("meltproof " + " ".join(args))
    code = subprocess.call([str(Path(session.bin) / "meltproof"), *args])  # noqa: S603
    if code:
        raise SystemExit(code)


@nox.session
def compare(session: nox.Session) -> None:
    """Baseline vs candidate, interleaved: ``nox -s compare -- --baseline REF [SCENARIO ...]``.

    The baseline's gateway is REF's (a git worktree), the candidate's this checkout's; both run
    steady_chat (or the scenarios named) six times, A B A B ..., and the comparison is written
    to .meltproof/compare/comparison.md (a pull-request comment) and .html. Other options go to
    ``meltproof ab`` (``--junit FILE``, ``--runs N``). Exit 0 no regression, 2 a significant
    regression, 3 harness error or too few runs to decide.
    """
    args = list(session.posargs)
    if "--baseline" not in args[:-1]:
        session.error("name the baseline: nox -s compare -- --baseline REF")
    at = args.index("--baseline")
    ref, rest = args[at + 1], args[:at] + args[at + 2 :]
    session.install(".")
    _meltproof_keeping_exit_code(
        session, "ab", "--baseline-ref", ref, "--out", ".meltproof/compare", *rest
    )


@nox.session
def perf_gate(session: nox.Session) -> None:
    """The nightly gate (perf/gate.yaml): SLOs, then no significant regression from the
    reference ref's gateway run beside this checkout's (``-- --reference REF``), or from a
    stored baseline (``-- --stored-baseline``; ``-- --update-baseline`` stores one).
    Exit 0 pass, 1 SLO failed, 2 regression, 3 harness error."""
    session.install(".")
    _meltproof_keeping_exit_code(session, "gate", *session.posargs)


@nox.session
def calibrate(session: nox.Session) -> None:
    """The gate's false-alarm and detection rates on this machine (``meltproof calibrate``):
    20 rounds of A/A and A/B comparisons with perf/gate.yaml's rules (about an hour with the
    shortened yardstick below; options after -- replace these)."""
    session.install(".")
    _meltproof_keeping_exit_code(
        session,
        "calibrate",
        *(session.posargs or ["--duration-s", "10", "--no-steady-state"]),
    )
