"""Development sessions: ``nox -s tests``, ``nox -s lint``; on demand ``nox -s demo``,
``nox -s scenarios`` and ``nox -s bench``."""

from __future__ import annotations

import nox


nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_external_run = True
nox.needs_version = ">=2025.2.9"

PYPROJECT = nox.project.load_toml("pyproject.toml")


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and integration tests; the integration tests start the real stack on loopback."""
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "tests"))
    session.run("pytest", *session.posargs)


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

    Writes the before/after table (demo.md, demo.html) and both runs' reports under
    .meltproof/runs/; options after -- go to ``meltproof demo`` (``--out DIR``).
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
