"""Gateway overhead: what each gateway adds to the provider's latency, and the rate it holds.

One run starts the simulated provider (one model with a short, steady latency: ``MODEL``) and
a Redis of its own, then loads six targets in turn, each started on a loopback port and
stopped before the next: ``direct`` (the provider itself), ``passthrough`` (a bare aiohttp
pass-through, ``passthrough_server``: the floor for any Python gateway), ``gateway_miss`` and
``gateway_hit`` (our gateway, hardened profile, one worker; every request a new prompt, or
one of a few prompts cached beforehand), ``gateway_miss_2w`` (the miss path on two workers)
and ``litellm`` (the LiteLLM proxy as the built-in peer of ``stack.peers`` runs it, with its
Redis cache, one worker: ``litellm_proxy``). Each target gets a warm-up (LiteLLM a longer
one: it imports and compiles for its first seconds of traffic), then fixed rates up its ladder
(``OverheadParameters``), each run by our open-loop engine (one process, regular arrivals,
non-streaming chat) in a fresh child process.

Around each run the CPU time of every process is read from ``/proc``: the generator (the
child's own count), the provider, Redis and the target (with its child processes; LiteLLM's
without the group guard that runs it), and the target's peak RSS; the generator also reads
the machine's busy share during its run (``load.machine_cpu_s``), so that CPU spent by processes
outside the benchmark shows (``others``); the bench samples the CPU time the hypervisor took
from the machine's cores (``steal``): a step that lost more than ``STOLEN_SHARE_LIMIT`` of a
core, or more than ``STOLEN_BURST_LIMIT_S`` at once, to the host's other tenants is disturbed.
A step names what ran out first: a process busy for
``SATURATED_SHARE`` of a core (each is one thread of Python; the target has one per worker),
or the machine, when every process on it together used ``MACHINE_SATURATED_SHARE`` of all its
cores (past it, four busy processes on two cores wait for each other long enough to fail a
step's p99). The generator's own limit is the rate
at which its CPU per request would fill one core.

After the ladders, the CPU rounds (``rounds``): the pass-through, the miss and the hit are
started once more and run one step each, in turn, at 250/s and then at 500/s, five times
over, so that each ratio of CPU per request compares steps seconds apart, not minutes.

A step passes when its p99 is below ``P99_LIMIT_FACTOR`` times the provider's own p99 at
``BASELINE_RATE_RPS``, fewer than ``MAX_ERROR_FRACTION`` of its requests failed, and the
generator kept its schedule. A step that failed only its p99, or that was disturbed (passed
or not), runs once more, and the second run decides (a stall of the shared machine neither
ends a ladder nor stands as a reference; a target out of capacity fails twice). A disturbed
step counts in no CPU ratio, and a latency check whose verdict it could have made is
undecided. A target stops climbing at its first failing rate (``direct``, the reference,
climbs its whole ladder); its capacity is its highest passing rate. The checks:
``gateway_miss`` adds at most 2 ms of p99 at 1,000/s, costs at most twice the pass-through's
CPU per request (the median of the rounds), reaches half the capacity of ``passthrough`` and
ten times that of ``litellm``; ``gateway_hit`` holds 2,000/s with p99 at most 5 ms, costs at
most 0.6 times the pass-through's CPU per request (the rounds' median) and reaches its
capacity; two workers reach 1.7 times one worker's capacity. A comparison with a target that
passed no step (capacity 0) is undecided, as is the two-worker check when the generator or
the machine ran out first. A target that could not run (say, LiteLLM could not be installed)
is reported with the reason; the checks that need it are then undecided, and the benchmark
does not pass.

Every process shares the machine's cores: the generator, the provider, Redis and the target.
"""

from ..common import Benchmark
from .driver import run
from .parameters import NAME


BENCHMARK = Benchmark(
    NAME,
    "latency and capacity of our gateway against the provider, a bare pass-through and LiteLLM",
    run,
)
