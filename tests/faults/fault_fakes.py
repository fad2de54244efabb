"""Recording fakes of the components faults act on, and a clock that only moves on sleep."""

from __future__ import annotations

import threading

from stack.errors import ToxiproxyError


class Calls:
    """Every call made to the fakes, in order, with the fake time it was made at."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.log: list[tuple[float, tuple]] = []

    def add(self, *call: object) -> None:
        with self._lock:
            self.log.append((self._clock(), call))

    def names(self) -> list[str]:
        return [call[0] for _, call in self.log]

    def at(self) -> list[tuple[float, tuple]]:
        return list(self.log)


class FakeClock:
    """``time.time`` that stands still until ``sleep`` moves it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay


class FakeToxiproxy:
    def __init__(self, calls: Calls, *, fail_add: bool = False, fail_reset: bool = False) -> None:
        self.calls = calls
        self.fail_add = fail_add
        self.fail_reset = fail_reset

    def add_toxic(self, proxy, toxic):
        self.calls.add("add_toxic", proxy, toxic.name, toxic.type, dict(toxic.attributes))
        if self.fail_add:
            raise ToxiproxyError(400, "bad toxic")
        return toxic

    def remove_toxic(self, proxy, name):
        self.calls.add("remove_toxic", proxy, name)

    def set_enabled(self, name, enabled):
        self.calls.add("set_enabled", name, enabled)

    def reset(self):
        self.calls.add("toxiproxy_reset")
        if self.fail_reset:
            raise ToxiproxyError(None, "unreachable")


class FakeProvider:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def set_fault(self, fault, *, model=None):
        self.calls.add("set_fault", dict(fault), model)

    def clear_faults(self, *, model=None):
        if model is None:
            self.calls.add("clear_faults")
        else:
            self.calls.add("clear_faults", model)


class FakeProcess:
    def __init__(self, calls: Calls, name: str) -> None:
        self.calls = calls
        self.name = name
        self.alive = True
        self.frozen = False

    def freeze(self):
        self.calls.add("freeze", self.name)
        self.frozen = True

    def thaw(self):
        self.calls.add("thaw", self.name)
        self.frozen = False

    def kill(self):
        self.calls.add("kill", self.name)
        self.alive = False

    def start(self, timeout_s):
        self.calls.add("start", self.name, timeout_s)
        self.alive = True

    def running(self):
        return self.alive
