"""Sizes and sampling of synthetic requests: token-length distributions, a temperature mix,
and prompt text padded to a number of tokens.

A prompt's length, ``max_tokens`` and temperature are drawn once per prompt id, from a hash
of (seed, what is drawn, prompt id): a repeated prompt is the same request every time (so it
may be cached), every generator process draws the same values without sharing state, and the
draws take nothing from the workload's other random streams.

Token counts use the simulated provider's tokenizer (``stack.provider.tokens``); padding is
one-token words, so a padded prompt has the asked-for count exactly, unless its own text is
already longer.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from statistics import NormalDist

from stack.provider.tokens import count


MAX_LENGTH = 131_072
"""The longest length a distribution draws."""
CHAT_OVERHEAD_TOKENS = 7
"""A one-message chat prompt counts this much beyond its text (OpenAI's formula)."""
_P95_Z = NormalDist().inv_cdf(0.95)
_FILLER = (
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "with", "on", "was", "be",
    "at", "by", "this", "from", "or", "an", "are", "have", "not", "but", "all", "they", "we",
    "one", "can", "more", "will", "about", "which", "their", "other", "time", "some", "so",
    "there", "may", "also", "out", "up", "only", "new", "into", "if", "first", "its", "when",
    "would", "these", "like", "two", "any", "what", "how", "our", "most", "over",
)  # fmt: skip
_MASK = (1 << 64) - 1


def _check_length(name: str, value: int) -> None:
    if not (isinstance(value, int) and 1 <= value <= MAX_LENGTH):
        raise ValueError(f"{name} must be an int in [1, {MAX_LENGTH}], got {value!r}")


@dataclass(frozen=True)
class LogNormal:
    """Lengths whose logarithm is normal, given by their median and 95th percentile."""

    median: int
    p95: int
    dist: str = "lognormal"

    def __post_init__(self) -> None:
        _check_length("median", self.median)
        _check_length("p95", self.p95)
        if self.p95 < self.median:
            raise ValueError(f"p95 ({self.p95}) must be >= median ({self.median})")
        if self.dist != "lognormal":
            raise ValueError(f"dist must be 'lognormal', got {self.dist!r}")

    def length(self, u: float) -> int:
        """The length at quantile ``u`` in (0, 1)."""
        sigma = math.log(self.p95 / self.median) / _P95_Z
        value = self.median * math.exp(sigma * NormalDist().inv_cdf(u))
        return min(MAX_LENGTH, max(1, round(value)))


@dataclass(frozen=True)
class Uniform:
    """Lengths uniform in [min, max]."""

    min: int
    max: int
    dist: str = "uniform"

    def __post_init__(self) -> None:
        _check_length("min", self.min)
        _check_length("max", self.max)
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be >= min ({self.min})")
        if self.dist != "uniform":
            raise ValueError(f"dist must be 'uniform', got {self.dist!r}")

    def length(self, u: float) -> int:
        """The length at quantile ``u`` in (0, 1)."""
        return min(self.max, self.min + int(u * (self.max - self.min + 1)))


Lengths = LogNormal | Uniform
DISTRIBUTIONS: dict[str, type[LogNormal] | type[Uniform]] = {
    "lognormal": LogNormal,
    "uniform": Uniform,
}


@dataclass(frozen=True)
class TemperatureMix:
    """Temperatures by weight, e.g. ``((0, 0.7), (0.7, 0.3))``; only 0 is cacheable."""

    weights: tuple[tuple[float, float], ...] = ((0, 1.0),)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", tuple(tuple(pair) for pair in self.weights))
        if not self.weights:
            raise ValueError("a temperature mix needs at least one temperature")
        for temperature, weight in self.weights:
            if not (math.isfinite(temperature) and 0 <= temperature <= 2):  # noqa: PLR2004 - the API's range
                raise ValueError(f"temperature must be in [0, 2], got {temperature!r}")
            if not (math.isfinite(weight) and weight > 0):
                raise ValueError(
                    f"weight of temperature {temperature!r} must be > 0, got {weight!r}"
                )
        temperatures = [t for t, _ in self.weights]
        if len(set(temperatures)) != len(temperatures):
            raise ValueError(f"temperatures must be distinct, got {temperatures}")

    def temperature(self, u: float) -> float:
        """The temperature at quantile ``u`` in [0, 1)."""
        total = math.fsum(w for _, w in self.weights)
        below = 0.0
        for temperature, weight in self.weights:
            below += weight / total
            if u < below:
                return temperature
        return self.weights[-1][0]


def draw(seed: int, stream: int, ident: int) -> float:
    """A uniform number in (0, 1), a fixed function of (``seed``, ``stream``, ``ident``)."""
    x = (seed * 0x9E3779B97F4A7C15 + stream * 0xBF58476D1CE4E5B9 + ident) & _MASK
    for _ in range(2):  # splitmix64's finaliser, twice
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & _MASK
        x = (x ^ (x >> 27)) * 0x94D049BB133111EB & _MASK
        x ^= x >> 31
    return ((x >> 11) + 0.5) / (1 << 53)


@functools.lru_cache(maxsize=1 << 14)
def padded(text: str, tokens: int) -> str:
    """``text`` followed by one-token words up to ``tokens`` tokens in all (as is if longer)."""
    missing = tokens - count(text)
    if missing <= 0:
        return text
    words = [_FILLER[i % len(_FILLER)] for i in range(missing)]
    return text + " " + " ".join(words)
