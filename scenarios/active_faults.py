"""The faults a running stack holds on demand (``meltproof fault``): inject, heal, expire.

``meltproof up`` keeps one ``ActiveFaults`` for its stack. Each fault has a name, unique among
the active ones, and may have a time limit after which a timer heals it. Two faults on one
slot (``faults.model``: one toxic on one link, one provider fault slot, one process) do not
stack: the later replaces the earlier, which is healed first. Actions run one at a time;
``close`` heals every fault, the last added first, and refuses new ones.

Errors: ``FaultConflictError`` (a name taken, the stack stopping), ``UnknownFaultError``, and
the fault package's own (``MissingComponentError``, ``FaultActionError``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faults import FaultContext, FaultError, FaultModel


Clock = Callable[[], float]
OnEvent = Callable[[str], None]


class FaultConflictError(Exception):
    """A fault cannot be added: its name belongs to another active fault, or ``up`` stops."""


class UnknownFaultError(Exception):
    """No active fault has that name."""


@dataclass(frozen=True)
class ActiveFault:
    """One active fault, as ``meltproof fault list`` shows it."""

    name: str
    kind: str
    params: dict[str, Any]
    """The parameters that differ from the kind's defaults."""
    age_s: float
    remaining_s: float | None
    """Until a timer heals it; None: until cleared."""
    error: str | None = None
    """Why its last heal failed (the fault is still in place)."""

    @property
    def summary(self) -> str:
        """The kind and its fields as ``meltproof fault add`` takes them:
        ``latency link=provider latency_ms=300``."""
        fields = (f"{key}={_shown(value)}" for key, value in self.params.items())
        return " ".join((self.kind, *fields))


@dataclass(frozen=True)
class Added:
    """A fault just injected, and the one on its slot it replaced."""

    fault: ActiveFault
    replaced: ActiveFault | None = None


@dataclass
class _Entry:
    name: str
    fault: FaultModel
    started: float
    until: float | None
    timer: threading.Timer | None = None
    error: str | None = None


class ActiveFaults:
    """The active faults of one stack (see the module docstring); thread-safe."""

    def __init__(
        self,
        ctx: FaultContext,
        *,
        on_event: OnEvent = lambda _message: None,
        clock: Clock = time.monotonic,
    ) -> None:
        """``on_event`` hears of every injection and heal, as one line of text."""
        self._ctx = ctx
        self._on_event = on_event
        self._clock = clock
        self._acting = threading.Lock()
        """Held while a fault is injected or healed: one action at a time."""
        self._table = threading.Lock()
        """Held to read the entries without acting; they change under both locks."""
        self._entries: dict[str, _Entry] = {}
        self._closed = False

    def add(
        self, fault: FaultModel, *, name: str | None = None, for_s: float | None = None
    ) -> Added:
        """Inject ``fault`` under ``name`` (default: kind-target), healed after ``for_s``."""
        with self._acting:
            if self._closed:
                raise FaultConflictError("meltproof up is stopping; it takes no new faults")
            holder = next((e for e in self._snapshot() if e.fault.slot == fault.slot), None)
            name = name or self._default_name(fault, holder)
            taken = self._entries.get(name)
            if taken is not None and taken is not holder:
                raise FaultConflictError(
                    f"fault {name!r} is active ({self._view(taken).summary}); clear it first"
                    " or choose another name"
                )
            replaced = None
            if holder is not None:
                replaced = self._view(holder)
                self._heal(holder, "replaced" if holder.name == name else f"replaced by {name}")
            fault.inject(self._ctx)
            now = self._clock()
            entry = _Entry(name, fault, now, None if for_s is None else now + for_s)
            with self._table:
                self._entries[name] = entry
            if for_s is not None:
                entry.timer = threading.Timer(for_s, self._expire, (entry,))
                entry.timer.daemon = True
                entry.timer.start()
            added = Added(self._view(entry), replaced)
            limit = "" if for_s is None else f" for {for_s:g} s"
            self._on_event(f"fault {name} injected: {added.fault.summary}{limit}")
            return added

    def active(self) -> list[ActiveFault]:
        """Every active fault, oldest first."""
        return [self._view(entry) for entry in self._snapshot()]

    def clear(self, name: str) -> ActiveFault:
        """Heal the fault ``name``; a failed heal raises and leaves it active."""
        with self._acting:
            entry = self._entries.get(name)
            if entry is None:
                names = ", ".join(self._entries) or "none"
                raise UnknownFaultError(f"no active fault is named {name!r} (active: {names})")
            self._heal(entry, "cleared")
            return self._view(entry)

    def clear_all(self) -> list[ActiveFault]:
        """Heal every fault, the last added first; those whose heal failed carry ``error``."""
        with self._acting:
            return self._heal_all("cleared")

    def close(self) -> list[ActiveFault]:
        """Heal every fault and take no new ones (``up`` is stopping)."""
        with self._acting:
            self._closed = True
            return self._heal_all("meltproof up stops")

    def _heal_all(self, reason: str) -> list[ActiveFault]:
        healed = []
        for entry in reversed(self._snapshot()):
            with contextlib.suppress(FaultError):  # the entry keeps the error; it was reported
                self._heal(entry, reason)
            healed.append(self._view(entry))
        return healed

    def _expire(self, entry: _Entry) -> None:
        """The timer of ``entry`` ran out: heal it, unless cleared or replaced meanwhile."""
        with self._acting:
            if self._entries.get(entry.name) is not entry:
                return
            with contextlib.suppress(FaultError):  # the entry keeps the error; it was reported
                self._heal(entry, "its time is up")

    def _heal(self, entry: _Entry, reason: str) -> None:
        """Heal and forget ``entry``; on failure keep it, with the error, and raise."""
        if entry.timer is not None:
            entry.timer.cancel()
        try:
            entry.fault.heal(self._ctx)
        except FaultError as exc:
            entry.error = str(exc)
            entry.until = None
            self._on_event(f"fault {entry.name} could not be healed ({reason}): {exc}")
            raise
        entry.error = None
        with self._table:
            del self._entries[entry.name]
        self._on_event(f"fault {entry.name} healed ({reason})")

    def _default_name(self, fault: FaultModel, holder: _Entry | None) -> str:
        """The name of the fault of the same kind it replaces, else kind-target (numbered if
        that is taken)."""
        if holder is not None and holder.fault.kind == fault.kind:
            return holder.name
        base = f"{fault.kind}-{fault.target}" if fault.target else fault.kind
        name, number = base, 1
        while name in self._entries and self._entries[name] is not holder:
            number += 1
            name = f"{base}-{number}"
        return name

    def _snapshot(self) -> list[_Entry]:
        with self._table:
            return list(self._entries.values())

    def _view(self, entry: _Entry) -> ActiveFault:
        now = self._clock()
        return ActiveFault(
            name=entry.name,
            kind=entry.fault.kind,
            params=entry.fault.model_dump(mode="json", exclude_defaults=True),
            age_s=now - entry.started,
            remaining_s=None if entry.until is None else max(0.0, entry.until - now),
            error=entry.error,
        )


def _shown(value: Any) -> str:
    """A parameter as typed on the command line: ``{429: 1.0}`` for a mapping."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {item}" for key, item in value.items()) + "}"
    return str(value)
