"""Which hostile requests a run sends: a share generated from the OpenAPI document, the rest
made by hand, every category in turn, shuffled; the same list for the same seed."""

from __future__ import annotations

import random
from typing import Any

import fuzz_bodies
import fuzz_headers
import fuzz_raw
from fuzz_probes import Builder, Context
from fuzz_schema import schema_probes
from fuzz_wire import Probe


HAND_MADE: dict[str, Builder] = {
    **fuzz_bodies.CATEGORIES,
    **fuzz_headers.CATEGORIES,
    **fuzz_raw.CATEGORIES,
}
SCHEMA_SHARE = 0.4


def plan(document: dict[str, Any], count: int, seed: int, ctx: Context) -> list[Probe]:
    """``count`` probes: about ``SCHEMA_SHARE`` from the document, the rest hand-made."""
    probes = schema_probes(document, round(count * SCHEMA_SHARE), seed, ctx)[:count]
    return hand_made(count - len(probes), seed, ctx, probes)


def hand_made(count: int, seed: int, ctx: Context, start: list[Probe] | None = None) -> list[Probe]:
    """``count`` hand-made probes (every category in turn) after ``start``, shuffled."""
    rng = random.Random(seed)  # noqa: S311 - a seeded plan, not secrets
    builders = list(HAND_MADE.values())
    probes = list(start or [])
    probes += [builders[index % len(builders)](rng, ctx) for index in range(count)]
    rng.shuffle(probes)
    return probes
