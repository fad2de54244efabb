"""The Op table: row views and the merge of several processes' tables."""

import math

import pytest
from op_support import answered, table_of

from benchmarks.op import CacheStatus, ErrorKind, OpTable, Outcome


def test_op_view_resolves_names_and_derives_latencies() -> None:
    table = table_of(
        [answered(1.0, 0.25, sent_s=1.05, model=0, cache=CacheStatus.HIT, tenant=1)],
        tenants=("a", "b"),
        models=("gpt-4o",),
    )
    op = table.op(0)
    assert (op.tenant, op.endpoint, op.model, op.cache) == ("b", "chat", "gpt-4o", CacheStatus.HIT)
    assert op.latency_s == pytest.approx(0.25)
    assert op.uncorrected_latency_s == pytest.approx(0.20)
    assert op.lag_s == pytest.approx(0.05)


def test_pending_rows_have_no_times_and_no_model() -> None:
    table = table_of([{"outcome": Outcome.PENDING}])
    op = table.op(0)
    assert math.isnan(op.end_s)
    assert op.model is None
    assert op.error is ErrorKind.NONE


def test_merge_sorts_by_row_and_renumbers_models() -> None:
    first = table_of(
        [answered(0.0, 0.1, row=0, model=0), answered(0.2, 0.1, row=2, model=1)], models=("a", "b")
    )
    second = table_of([answered(0.1, 0.1, row=1, model=0)], models=("b",))
    merged = OpTable.merge([first, second])
    assert [op.row for op in merged] == [0, 1, 2]
    assert [op.model for op in merged] == ["a", "b", "b"]
    assert merged.models == ("a", "b")


def test_merge_refuses_tables_of_different_schedules() -> None:
    with pytest.raises(ValueError, match="different schedules"):
        OpTable.merge([table_of([answered(0, 1)]), table_of([answered(0, 1)], tenants=("x",))])
