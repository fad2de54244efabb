"""One canary step's load: the workload open-loop for a while, each request's cohort kept.

The requests are built and recorded by ``benchmarks.recording.OpRecorder``, as the load
engine does; besides, each request keeps the variant of the canary's flag that the gateway
served it (its ``x-meltproof-flag-variant`` header), which tells the cohorts apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from benchmarks.op import ErrorKind, OpTable, Outcome
from benchmarks.recording import OpRecorder, body_facts, now, status_outcome, streams
from benchmarks.response import BodyFacts, HeaderFacts, ProtocolError, StreamReader
from benchmarks.workload import Workload


VARIANT_HEADER = "x-meltproof-flag-variant"


@dataclass(frozen=True)
class StepLoad:
    """A step's requests as measured, and per row the flag's variant served ("" for none)."""

    table: OpTable
    variants: tuple[str, ...]


def variant_of(header: str, flag: str) -> str:
    """The variant of ``flag`` in a ``flag=variant,...`` header; "" when absent."""
    for pair in header.split(","):
        key, _, variant = pair.strip().partition("=")
        if key == flag:
            return variant
    return ""


async def send_step(
    workload: Workload,
    duration_s: float,
    *,
    base_url: str,
    headers: Mapping[str, str],
    timeout_s: float,
    flag: str,
) -> StepLoad:
    """Send ``duration_s`` of ``workload``'s schedule open-loop and record every request."""
    schedule = workload.schedule(duration_s)
    recorder = OpRecorder(workload, schedule, api_key=None)
    variants = [""] * len(schedule)
    base = base_url.rstrip("/")
    start = now()

    async def one(session: aiohttp.ClientSession, index: int) -> None:
        recorder.sent(index, now() - start)
        request = recorder.request(index)
        status, outcome, error = 0, Outcome.FAIL, ErrorKind.PROTOCOL
        try:
            async with session.request(
                request.method, base + request.path, data=request.body, headers=request.headers
            ) as response:
                recorder.first_byte(index, now() - start)
                status = response.status
                variants[index] = variant_of(response.headers.get(VARIANT_HEADER, ""), flag)
                facts = await _body(response, streams(request, status), status)
            recorder.answered(index, HeaderFacts.read(response.headers), facts)
            outcome, error = status_outcome(status)
        except TimeoutError:
            outcome, error = Outcome.INFO, ErrorKind.TIMEOUT
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
            outcome, error = Outcome.FAIL, ErrorKind.DISCONNECT
        except (aiohttp.ClientError, ProtocolError, ValueError):
            outcome, error = Outcome.FAIL, ErrorKind.PROTOCOL
        recorder.ended(index, now() - start, status=status, outcome=outcome, error=error)

    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout, headers=dict(headers)) as session:
        tasks = []
        for index, due_s in enumerate(schedule.intended_s.tolist()):
            await asyncio.sleep(max(start + due_s - now(), 0.0))
            tasks.append(asyncio.create_task(one(session, index)))
        await asyncio.gather(*tasks)
    return StepLoad(recorder.table(), tuple(variants))


async def _body(response: aiohttp.ClientResponse, stream: bool, status: int) -> BodyFacts:
    if not stream:
        return body_facts(status, await response.read())
    reader = StreamReader()
    async for line in response.content:
        reader.feed(line, now())
    return reader.finish()
