"""One request's way to the provider: deadline, retries, circuit breakers and the fallback chain.

For each model of the chain (the requested one, then its fallbacks when the pattern is on):
skip it while its breaker is open; otherwise attempt, and after a retryable failure (429, 5xx,
timeout, reset, a cut or malformed answer) wait as ``retry.next_delay_s`` says, if the retry
budget allows, then attempt again. A model whose attempts are spent, whose Retry-After lies
beyond the deadline, or whose breaker opens hands over to the next one; so does a failure whose
Retry-After is longer than the backoff cap, when a next model exists (waiting on a deployment
that said it is overloaded only spends the deadline). A fallback model's attempts carry their
own idempotency key: it is a different request. The deadline bounds
everything until the answer starts; a stream then only has to keep moving (``stream_idle_s``).
A client error from the provider (other 4xx) is the answer: no retry, no fallback.

Every attempt reports its model, outcome and duration. A stream reports its time to first
token once, at the first relayed event with content, counted from the request's arrival
(``arrival.ARRIVED``; from the start of the call when there is none) and labelled with
the model that streamed it: failed attempts and fallbacks before it are part of the wait.

Each upstream stream event is parsed before it is relayed: one whose data is not a
``chat.completion.chunk`` object is never passed on. Before any event reached the client it
is a retryable failure; after, the stream ends with the gateway's error event and no
``[DONE]``. The provider's ``[DONE]`` is held back until the answer is known to be whole, so
a client never sees ``[DONE]`` before an error.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol

import aiohttp

from .answer import COMPACT_JSON, Answer
from .arrival import ARRIVED
from .breaker import Admission, Breakers, BreakerState
from .metrics import GatewayMetrics
from .retry import RETRYABLE_STATUSES, Deadline, RetryBudget, RetryPolicy, next_delay_s
from .retry import retry_after_s as parse_retry_after
from .singleflight import Tap
from .sse import DONE_DATA, SseSplitter, StreamAssembler, carries_content, event_data
from .tracing import NO_TRACING, Attr, Span, SpanName, Tracing


PASSED_HEADERS = frozenset({"retry-after", "retry-after-ms", "x-request-id"})
PASSED_PREFIX = "x-ratelimit-"


def passed_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The provider headers a client needs to back off correctly."""
    return {
        name: value
        for name, value in headers.items()
        if (lowered := name.lower()) in PASSED_HEADERS or lowered.startswith(PASSED_PREFIX)
    }


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """What to send, for whom, and until when."""

    path: str
    body: Mapping[str, Any]
    model: str
    tenant: str
    idempotency_key: str
    deadline: Deadline
    stream: bool = False
    raw: bytes | None = None
    """``body`` as the client sent it: forwarded unchanged to the model it asked for."""


@dataclass(frozen=True, slots=True)
class Failure:
    """Why no usable answer came back from one attempt (or from the whole chain)."""

    kind: str
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    emitted: bool = False
    """Stream events already reached the tap: the client has a partial answer, so the chain
    ends here (no retry, no other model)."""

    @property
    def retryable(self) -> bool:
        """Worth another attempt: the provider or the path to it failed, not the request."""
        return self.status is None or self.status in RETRYABLE_STATUSES


@dataclass(frozen=True, slots=True)
class Result:
    """An answer to pass on (with the provider's usage); a ``Failure`` is the other outcome."""

    answer: Answer
    usage: Mapping[str, int] | None = None


class _NoAdmission:
    """The breaker pattern is off: every call is admitted, nothing is recorded."""

    def succeeded(self) -> None:
        """Nothing to record."""

    def failed(self) -> None:
        """Nothing to record."""

    def abandoned(self) -> None:
        """Nothing to record."""


class _Attempted(Protocol):
    def succeeded(self) -> None: ...
    def failed(self) -> None: ...
    def abandoned(self) -> None: ...


class ClientGoneError(ConnectionResetError):
    """The client went away while its stream was relayed: no failure of the provider's, so
    it neither counts against a breaker nor is retried (and, unlike aiohttp's own reset
    error, it is no ``aiohttp.ClientError``, which would read as a failed upstream call)."""


class _CutStream(Exception):  # noqa: N818 - internal signal
    """The provider's stream ended, stalled or broke after events reached the tap."""

    def __init__(self, kind: str = "cut_stream") -> None:
        super().__init__(kind)
        self.kind = kind


class Resilience:
    """The upstream call path of one gateway worker; ``clock`` times attempts and first
    tokens (the clock of ``arrival.ARRIVED``), ``sleep`` waits between attempts."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        metrics: GatewayMetrics,
        retry_policy: RetryPolicy,
        chains: Mapping[str, list[str]],
        breakers: Breakers | None = None,
        retry_budget: RetryBudget | None = None,
        attempt_cap_s: float = 30.0,
        stream_idle_s: float = 30.0,
        rng: random.Random | None = None,
        tracing: Tracing = NO_TRACING,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._session = session
        self._metrics = metrics
        self._policy = retry_policy
        self._chains = chains
        self._breakers = breakers
        self._budget = retry_budget
        self._attempt_cap_s = attempt_cap_s
        self._stream_idle_s = stream_idle_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._tracing = tracing
        self._clock = clock
        self._sleep = sleep

    async def call(self, request: UpstreamRequest, tap: Tap) -> Result | Failure:
        """Try the model chain until an answer comes, the chain is spent or the deadline
        passes: the answer, or the last failure."""
        if self._budget is not None:
            self._budget.record_call()
        last = Failure("no_attempt")
        since = ARRIVED.get(self._clock()) if request.stream else None
        chain = self._chains.get(request.model, [request.model])
        for index, model in enumerate(chain):
            if index:
                self._metrics.fallback(from_model=chain[index - 1], to_model=model)
                with self._tracing.span(SpanName.FALLBACK) as span:
                    span.set(Attr.FALLBACK_FROM, chain[index - 1])
                    span.set(Attr.FALLBACK_TO, model)
            last_model = index == len(chain) - 1
            outcome = await self._with_retries(
                request, model, tap, last_model=last_model, since=since
            )
            if isinstance(outcome, Result) or outcome.emitted:
                return outcome
            last = outcome
            if request.deadline.expired:
                break
        return last

    async def _with_retries(
        self,
        request: UpstreamRequest,
        model: str,
        tap: Tap,
        *,
        last_model: bool,
        since: float | None,
    ) -> Result | Failure:
        """Attempts on one model; a ``Result`` or an emitted ``Failure`` ends the chain,
        another ``Failure`` moves along it.
        ``since``: when the wait for a stream's first token began (None: no stream)."""
        attempt = 0
        while True:
            if request.deadline.expired:
                self._metrics.retry(outcome="deadline")
                return Failure("deadline")
            admission = self._admit(model)
            if admission is None:
                return Failure("breaker_open")
            attempt += 1
            with self._tracing.span(SpanName.ATTEMPT) as span:
                span.set(Attr.MODEL, model)
                span.set(Attr.ATTEMPT, attempt)
                outcome = await self._attempt(request, model, tap, admission, since)
                _describe_attempt(span, outcome)
            if isinstance(outcome, Result) or outcome.emitted:
                return outcome
            wait = self._wait_before_retry(
                request, model, outcome, attempt=attempt, last_model=last_model
            )
            if isinstance(wait, Failure):
                return wait
            self._metrics.retry(outcome="scheduled")
            with self._tracing.span(SpanName.BACKOFF):
                await self._sleep(wait)

    def _wait_before_retry(
        self,
        request: UpstreamRequest,
        model: str,
        failure: Failure,
        *,
        attempt: int,
        last_model: bool,
    ) -> float | Failure:
        """The pause before another attempt on ``model``, or the failure that ends its turn:
        its breaker opened (no retry could be admitted, so none is waited for or paid), a long
        Retry-After hands the request over, or no time or retry budget is left."""
        if self._is_open(model):
            return Failure("breaker_open") if last_model else failure
        retry_after = parse_retry_after(failure.headers) if failure.headers else None
        if not last_model and self._hand_over(retry_after):
            return failure
        delay = next_delay_s(
            self._policy,
            attempt=attempt,
            retry_after=retry_after,
            deadline=request.deadline,
            rng=self._rng,
        )
        if delay is None:
            return failure
        if self._budget is not None and not self._budget.try_spend():
            self._metrics.retry(outcome="budget_exhausted")
            return failure
        return delay

    def retry_after_s(self, model: str) -> float:
        """When the chain of ``model`` may answer again: the soonest breaker to half-open
        (at least 1 s; 1 s when no breaker is open)."""
        if self._breakers is None:
            return 1.0
        chain = self._chains.get(model, [model])
        waits = [self._breakers.for_deployment(name).retry_after_s() for name in chain]
        return max(1.0, min((wait for wait in waits if wait > 0), default=1.0))

    def _hand_over(self, retry_after: float | None) -> bool:
        """A Retry-After longer than the backoff cap sends the request to the next model."""
        policy = self._policy
        return (
            policy.honour_retry_after
            and retry_after is not None
            and retry_after > policy.backoff.cap_s
        )

    def _is_open(self, model: str) -> bool:
        """The model's breaker is open: a retry on it would not be admitted."""
        return (
            self._breakers is not None
            and self._breakers.for_deployment(model).state is BreakerState.OPEN
        )

    def _admit(self, model: str) -> _Attempted | None:
        if self._breakers is None:
            return _NoAdmission()
        admission: Admission | None = self._breakers.for_deployment(model).admit()
        return admission

    async def _attempt(
        self,
        request: UpstreamRequest,
        model: str,
        tap: Tap,
        admission: _Attempted,
        since: float | None,
    ) -> Result | Failure:
        """One attempt; its outcome is reported to the model's breaker and the metrics."""
        key = request.idempotency_key
        headers = {
            "X-Tenant-Id": request.tenant,
            "Idempotency-Key": key if model == request.model else f"{key}-{model}",
        }
        if request.raw is not None and model == request.model and not request.stream:
            payload = request.raw
        else:
            body = {**request.body, "model": model}
            if request.stream:
                body["stream_options"] = {"include_usage": True}
            payload = COMPACT_JSON.encode(body).encode()
        started = self._clock()
        try:
            outcome = await self._exchange(request, model, payload, headers, tap, since)
        except _CutStream as cut:
            admission.failed()
            self._attempted(model, "cut", started)
            return Failure(cut.kind, emitted=True)
        except BaseException:
            admission.abandoned()
            raise
        if isinstance(outcome, Failure):
            (admission.failed if outcome.retryable else admission.succeeded)()
            self._attempted(model, outcome.kind, started)
            if not outcome.retryable:
                answer = Answer(
                    status=outcome.status or 502,
                    body=outcome.body,
                    headers=passed_headers(outcome.headers),
                    model=model,
                )
                return Result(answer=answer)
            return outcome
        admission.succeeded()
        self._attempted(model, "ok", started)
        return outcome

    def _attempted(self, model: str, outcome: str, started: float) -> None:
        self._metrics.upstream_attempt(
            model=model, outcome=outcome, seconds=self._clock() - started
        )

    async def _exchange(
        self,
        request: UpstreamRequest,
        model: str,
        payload: bytes,
        headers: Mapping[str, str],
        tap: Tap,
        since: float | None,
    ) -> Result | Failure:
        """Send ``payload``; read the answer (or a stream's first event) within the deadline."""
        response: aiohttp.ClientResponse | None = None
        headers = {**headers, "Content-Type": "application/json"}
        try:
            async with asyncio.timeout(request.deadline.timeout_s(self._attempt_cap_s)):
                response = await self._session.post(request.path, data=payload, headers=headers)
                streamed = response.content_type == "text/event-stream"
                if streamed and not request.stream:
                    return Failure("protocol")
                if response.status != HTTPStatus.OK or not streamed:
                    raw = await response.read()
                    return _complete(response, raw, model)
                splitter = SseSplitter()
                first = await self._first_events(response, splitter)
            return await self._relay(response, splitter, first, tap, model, since)
        except TimeoutError:
            return Failure("timeout")
        except aiohttp.ClientPayloadError:
            return Failure("protocol")
        except aiohttp.ClientError:
            return Failure("connect")
        finally:
            if response is not None:
                response.release()

    async def _first_events(
        self, response: aiohttp.ClientResponse, splitter: SseSplitter
    ) -> list[bytes]:
        """Read until the stream's first complete event(s)."""
        while True:
            chunk = await response.content.readany()
            if not chunk:
                raise aiohttp.ClientPayloadError("the stream ended before its first event")
            events = splitter.feed(chunk)
            if events:
                return events

    async def _relay(
        self,
        response: aiohttp.ClientResponse,
        splitter: SseSplitter,
        first: list[bytes],
        tap: Tap,
        model: str,
        since: float | None,
    ) -> Result | Failure:
        """Pass every well-formed event to the tap as it arrives; the assembled answer at the
        end, then the provider's ``[DONE]``. A malformed event is a failure to retry while
        nothing was passed on, and a cut stream after. The first event with content reports
        the time to first token (counted from ``since``)."""
        assembler = StreamAssembler()
        events, emitted, done = first, False, None
        while done is None:
            for event in events:
                kind, parsed = _parse_event(event)
                if kind == "malformed":
                    if not emitted:
                        return Failure("malformed_stream")
                    raise _CutStream("malformed_stream")
                if kind == "done":
                    done = event  # held until the answer is known to be whole
                    break
                assembler.feed(event)
                if since is not None and parsed is not None and carries_content(parsed):
                    self._metrics.first_token(model=model, seconds=self._clock() - since)
                    since = None
                await _emit(tap, event)
                emitted = True
            if done is not None:
                break
            try:
                async with asyncio.timeout(self._stream_idle_s):
                    chunk = await response.content.readany()
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise _CutStream from exc
            if not chunk:
                break
            events = splitter.feed(chunk)
        if done is not None:
            assembler.feed(done)
        completion = assembler.completion()
        if completion is None:
            raise _CutStream
        if done is not None:
            await _emit(tap, done)
        body = COMPACT_JSON.encode(completion).encode()
        answer = Answer(
            status=200, body=body, headers=passed_headers(response.headers), model=model
        )
        return Result(answer=answer, usage=assembler.usage)


def _describe_attempt(span: Span, outcome: Result | Failure) -> None:
    """An attempt's HTTP status and outcome on its span."""
    if isinstance(outcome, Failure):
        span.set(Attr.OUTCOME, outcome.kind)
        if outcome.status is not None:
            span.set(Attr.STATUS, outcome.status)
    else:
        span.set(Attr.OUTCOME, "ok")
        span.set(Attr.STATUS, outcome.answer.status)


async def _emit(tap: Tap, event: bytes) -> None:
    """Pass ``event`` on to the client; ``ClientGoneError`` when it has gone."""
    try:
        await tap.emit(event)
    except ConnectionResetError as exc:
        raise ClientGoneError(*exc.args) from exc


def _parse_event(event: bytes) -> tuple[str, dict[str, Any] | None]:
    """The event's kind and, for a ``chunk``, its data: ``chunk``, ``done`` (``[DONE]``),
    ``other`` (no data: a comment) or ``malformed`` (data that is not a
    ``chat.completion.chunk`` object)."""
    data = event_data(event)
    if data is None:
        return "other", None
    if data.strip() == DONE_DATA:
        return "done", None
    try:
        chunk = json.loads(data)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return "malformed", None
    if (
        isinstance(chunk, dict)
        and chunk.get("object") == "chat.completion.chunk"
        and isinstance(chunk.get("choices"), list)
    ):
        return "chunk", chunk
    return "malformed", None


def _complete(response: aiohttp.ClientResponse, raw: bytes, model: str) -> Result | Failure:
    """A whole (non-streamed) answer: a result, or a failure to retry or pass on."""
    if response.status != HTTPStatus.OK:
        kind = (
            "http_429"
            if response.status == HTTPStatus.TOO_MANY_REQUESTS
            else f"http_{response.status // 100}xx"
        )
        return Failure(kind, status=response.status, headers=dict(response.headers), body=raw)
    try:
        parsed = json.loads(raw)
    except ValueError:
        return Failure("malformed", status=None)
    usage = parsed.get("usage") if isinstance(parsed, dict) else None
    answer = Answer(status=200, body=raw, headers=passed_headers(response.headers), model=model)
    return Result(answer=answer, usage=usage if isinstance(usage, dict) else None)
