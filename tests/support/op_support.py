"""Build synthetic Op tables for tests."""

from typing import Any

from benchmarks.op import OpTable, Outcome, empty_ops


def table_of(
    rows: list[dict[str, Any]],
    *,
    tenants: tuple[str, ...] = ("t",),
    endpoints: tuple[str, ...] = ("chat",),
    models: tuple[str, ...] = (),
) -> OpTable:
    """One Op per dict; ``row`` defaults to the position, ``outcome`` to OK."""
    ops = empty_ops(len(rows))
    for index, values in enumerate(rows):
        ops["row"][index] = index
        ops["outcome"][index] = Outcome.OK
        for name, value in values.items():
            ops[name][index] = value
    return OpTable(ops, tenants, endpoints, models)


def answered(intended_s: float, latency_s: float, **fields: Any) -> dict[str, Any]:
    """An answered request sent on time."""
    return {
        "intended_s": intended_s,
        "sent_s": intended_s,
        "first_byte_s": intended_s,
        "end_s": intended_s + latency_s,
        "status": 200,
        **fields,
    }
