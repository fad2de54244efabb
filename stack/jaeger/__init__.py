"""Jaeger v2, the stack's traces receiver: the binary, the server, reading traces back."""

from .binary import JaegerBinary, find_jaeger
from .query import JaegerQuery, TraceQueryError, TraceSpan, spans_of
from .server import JaegerServer


__all__ = [
    "JaegerBinary",
    "JaegerQuery",
    "JaegerServer",
    "TraceQueryError",
    "TraceSpan",
    "find_jaeger",
    "spans_of",
]
