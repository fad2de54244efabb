"""The slot table an instance's workers share: limits per column, rows per worker."""

import multiprocessing
from contextlib import closing

import pytest

from reference_impl.slot_table import PATH_ENV, ROW_ENV, SlotTable, assign_row


COLUMNS = ["global", "tenant:a", "tenant:b"]


@pytest.fixture
def path(tmp_path):
    table = tmp_path / "slots"
    SlotTable.create(table, COLUMNS, rows=2)
    return table


@pytest.fixture
def rows(path):
    opened = [SlotTable.open(path, COLUMNS, row=row) for row in range(2)]
    yield opened
    for table in opened:
        table.close()


def test_a_slot_is_taken_under_every_limit_or_none():
    table = SlotTable.in_memory(COLUMNS)
    assert table.try_take([("tenant:a", 2), ("global", 3)]) is None
    assert table.try_take([("tenant:a", 2), ("global", 3)]) is None
    assert table.try_take([("tenant:a", 2), ("global", 3)]) == 0  # the tenant is full
    assert table.try_take([("tenant:b", 2), ("global", 3)]) is None
    assert table.try_take([("tenant:b", 2), ("global", 3)]) == 1  # the global cap is full
    assert [table.held(column) for column in COLUMNS] == [3, 2, 1]
    table.give_back(["tenant:a", "global"])
    assert table.try_take([("tenant:b", 2), ("global", 3)]) is None
    assert [table.held(column) for column in COLUMNS] == [3, 1, 2]


def test_the_workers_of_an_instance_count_each_others_slots(rows):
    first, second = rows
    assert first.try_take([("tenant:a", 3)]) is None
    assert second.try_take([("tenant:a", 3)]) is None
    assert second.try_take([("tenant:a", 3)]) is None
    assert first.try_take([("tenant:a", 3)]) == 0
    second.give_back(["tenant:a"])
    assert first.try_take([("tenant:a", 3)]) is None
    assert (first.held("tenant:a"), second.held("tenant:a")) == (3, 3)


def test_clearing_a_row_forgets_only_that_workers_slots(rows):
    first, second = rows
    first.try_take([("tenant:a", 5), ("global", 5)])
    second.try_take([("tenant:a", 5), ("global", 5)])
    second.try_take([("tenant:b", 5), ("global", 5)])
    second.clear()
    assert [first.held(column) for column in COLUMNS] == [1, 1, 0]


def _take_and_die(path, row):
    table = SlotTable.open(path, COLUMNS, row=row)
    table.try_take([("tenant:a", 5)])
    table.try_take([("tenant:a", 5)])
    # exits without giving anything back


def test_a_dead_workers_slots_count_until_its_row_is_cleared(path, rows):
    worker = multiprocessing.get_context("spawn").Process(target=_take_and_die, args=(path, 1))
    worker.start()
    worker.join(timeout=30)
    assert worker.exitcode == 0
    first, second = rows
    assert first.held("tenant:a") == 2
    second.clear()  # what the supervisor does before it starts another worker at index 1
    assert first.held("tenant:a") == 0


def test_a_worker_process_opens_the_row_it_was_assigned(path, monkeypatch):
    monkeypatch.setenv(PATH_ENV, "")  # as absent; restored after the test, which assigns both
    monkeypatch.setenv(ROW_ENV, "")
    with closing(SlotTable.for_this_process(COLUMNS)) as alone:
        assert alone.rows == 1
    assign_row(path, 1)
    with closing(SlotTable.for_this_process(COLUMNS)) as shared:
        assert (shared.rows, shared.row) == (2, 1)
        shared.try_take([("tenant:b", 1)])
    with closing(SlotTable.open(path, COLUMNS, row=0)) as other:
        assert other.held("tenant:b") == 1


@pytest.mark.parametrize("row", [-1, 2])
def test_a_row_outside_the_table_is_refused(path, row):
    with pytest.raises(ValueError, match="row"):
        SlotTable.open(path, COLUMNS, row=row)


def test_a_table_of_other_columns_is_refused(path):
    with pytest.raises(ValueError, match="cells"):
        SlotTable.open(path, [*COLUMNS, "tenant:c"], row=0)
