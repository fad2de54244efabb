"""Canary analysis: shift traffic to a flag's variant in steps, judge each step, decide.

``run_canary`` (``flow``) runs a scenario's workload against our gateway while it rewrites
one flag's percentage split in the gateway's flags file (10%, 50%, 100% by default). Each
step's requests are told apart by the gateway's ``x-meltproof-flag-variant`` header
(``cohorts``); the canary cohort is compared with the stable one on the scenario's SLOs with
the A/B statistics of ``benchmarks.stats`` (``verdict``). A failed step rolls the flag back
to the stable variant and stops; when every step passes the canary is promoted (the flag
serves it to everyone). ``render`` writes the step table as JSON and Markdown.
"""

from .flow import CanaryError, CanaryOptions, CanaryReport, run_canary
from .render import canary_json, canary_markdown
from .verdict import StepResult


__all__ = [
    "CanaryError",
    "CanaryOptions",
    "CanaryReport",
    "StepResult",
    "canary_json",
    "canary_markdown",
    "run_canary",
]
