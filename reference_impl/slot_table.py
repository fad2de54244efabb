"""The concurrency slots held in one gateway instance, shared by its worker processes.

A table of counts: one row per worker (its index), one column per limit (each configured
tenant, and the global cap). Taking a slot checks each column's sum against its limit and
counts the slot in the worker's own row, all under an exclusive ``flock`` on the table's file
(the kernel drops the lock of a process that dies holding it); a worker writes only its own
row. A dead worker's row is cleared before another worker takes its index. The file lives in
a temporary directory of the ``serve`` parent and is mapped into memory by every worker; a
gateway without worker processes keeps its one-row table in memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Self


CELL_BYTES = 4  # one unsigned 32-bit count per cell
PATH_ENV = "MELTPROOF_SLOT_TABLE"
ROW_ENV = "MELTPROOF_SLOT_TABLE_ROW"


def assign_row(path: Path, row: int) -> None:
    """Make this process the worker of row ``row`` of the table at ``path``, which
    ``SlotTable.for_this_process`` opens from now on."""
    os.environ[PATH_ENV] = str(path)
    os.environ[ROW_ENV] = str(row)


class SlotTable:
    """Slots held per worker and limit; this process writes row ``row`` only."""

    def __init__(
        self,
        columns: Sequence[str],
        buffer: mmap.mmap | bytearray,
        *,
        row: int,
        file: IO[bytes] | None,
    ) -> None:
        self._columns = {column: index for index, column in enumerate(columns)}
        if len(self._columns) != len(columns):
            raise ValueError("slot table columns must be unique")
        cells = len(buffer) // CELL_BYTES
        self.rows = cells // len(columns)
        if self.rows * len(columns) * CELL_BYTES != len(buffer) or not 0 <= row < self.rows:
            raise ValueError(f"row {row} does not fit a table of {cells} cells")
        self.row = row
        self._buffer = buffer
        self._cells = memoryview(buffer).cast("I")
        self._file = file

    @classmethod
    def in_memory(cls, columns: Sequence[str]) -> Self:
        """A one-row table of this process only (a gateway without worker processes)."""
        return cls(columns, bytearray(CELL_BYTES * len(columns)), row=0, file=None)

    @staticmethod
    def create(path: Path, columns: Sequence[str], *, rows: int) -> None:
        """Write an empty table of ``rows`` workers at ``path``."""
        path.write_bytes(bytes(CELL_BYTES * len(columns) * rows))

    @classmethod
    def open(cls, path: Path, columns: Sequence[str], *, row: int) -> Self:
        """Map the table at ``path`` as the worker of index ``row``."""
        with contextlib.ExitStack() as on_error:
            file = on_error.enter_context(path.open("r+b"))
            buffer = on_error.enter_context(mmap.mmap(file.fileno(), 0))
            table = cls(columns, buffer, row=row, file=file)
            on_error.pop_all()
        return table

    @classmethod
    def for_this_process(cls, columns: Sequence[str]) -> Self:
        """The instance's shared table in one of ``serve``'s workers, else one in memory."""
        path, row = os.environ.get(PATH_ENV), os.environ.get(ROW_ENV)
        if path and row:
            return cls.open(Path(path), columns, row=int(row))
        return cls.in_memory(columns)

    def try_take(self, limits: Sequence[tuple[str, int]]) -> int | None:
        """Take a slot under every ``(column, limit)``, or none: None when taken, else the
        index of the first full one."""
        indexes = [self._columns[column] for column, _ in limits]
        with self._locked():
            for position, (index, (_, limit)) in enumerate(zip(indexes, limits, strict=True)):
                if self._sum(index) >= limit:
                    return position
            for index in indexes:
                self._cells[self._own(index)] += 1
        return None

    def give_back(self, columns: Sequence[str]) -> None:
        """Give back one slot under each column."""
        indexes = [self._columns[column] for column in columns]
        with self._locked():
            for index in indexes:
                self._cells[self._own(index)] -= 1

    def held(self, column: str) -> int:
        """Slots held under ``column`` by every worker."""
        with self._locked():
            return self._sum(self._columns[column])

    def clear(self) -> None:
        """Forget every slot of this row: its worker is dead."""
        with self._locked():
            for index in self._columns.values():
                self._cells[self._own(index)] = 0

    def close(self) -> None:
        """Unmap the table (the file stays, for the other workers)."""
        self._cells.release()
        if isinstance(self._buffer, mmap.mmap):
            self._buffer.close()
        if self._file is not None:
            self._file.close()

    def _own(self, index: int) -> int:
        return self.row * len(self._columns) + index

    def _sum(self, index: int) -> int:
        return sum(self._cells[index :: len(self._columns)])

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        """The file's lock; none in memory (one process, one thread: the event loop runs
        this alone)."""
        return _UNLOCKED if self._file is None else _flocked(self._file)


_UNLOCKED = contextlib.nullcontext()


@contextlib.contextmanager
def _flocked(file: IO[bytes]) -> Iterator[None]:
    """``file`` locked for this process while inside."""
    fcntl.flock(file.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(file.fileno(), fcntl.LOCK_UN)
