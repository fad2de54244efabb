"""``python -m benchmarks.bench [NAME ...] [--out DIR] [--quick]``: run the benchmarks of the
harness and of the reference gateway.

Each benchmark prints its tables and verdict to stdout and writes ``<out>/<name>.json`` with
its figures, parameters, testbed and the machine's load average (1, 5, 15 min) before and
after; progress lines go to stderr. Logs of the servers a benchmark starts go to
``<out>/logs/``. Exit status: 0 every benchmark met its target, 1 one did not, 2 a bad
command line, 3 one could not run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from stack.errors import StackError

from ..errors import BenchmarkError
from . import gateway_overhead, generator_capacity, retrieval, vegeta_agreement
from .common import Benchmark, BenchOptions, say


REGISTRY: Mapping[str, Benchmark] = MappingProxyType(
    {
        b.name: b
        for b in (
            generator_capacity.BENCHMARK,
            vegeta_agreement.BENCHMARK,
            gateway_overhead.BENCHMARK,
            retrieval.BENCHMARK,
        )
    }
)
DEFAULT_OUT = Path(".meltproof") / "bench"
EXIT_TARGET_MISSED = 1
EXIT_COULD_NOT_RUN = 3


def _parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {b.name:20} {b.description}" for b in REGISTRY.values())
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description=(
            "Benchmarks of the load generator and the gateway; each writes <out>/<name>.json."
        ),
        epilog=f"benchmarks:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="where to write (default: %(default)s)"
    )
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer repetitions")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmarks (default: all); return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in REGISTRY]
    if unknown:
        parser.error(
            f"unknown benchmark {', '.join(map(repr, unknown))}; known: {', '.join(REGISTRY)}"
        )
    names = args.names or list(REGISTRY)
    out: Path = args.out
    options = BenchOptions(quick=args.quick, log_dir=out / "logs")
    missed = 0
    for name in names:
        load_before = os.getloadavg()
        say(
            f"{name}: starting{' (quick)' if args.quick else ''}; load average {load_before[0]:.2f}"
        )
        started_at = time.time()
        try:
            report = REGISTRY[name].run(options)
        except (StackError, BenchmarkError, RuntimeError) as exc:
            say(f"{name}: could not run: {exc}")
            return EXIT_COULD_NOT_RUN
        elapsed_s = time.time() - started_at
        load_average = {"before": load_before, "after": os.getloadavg()}
        for table in report.tables:
            sys.stdout.write(f"\n{table}\n")
        sys.stdout.write(f"\n{name}: {report.verdict}\n")
        sys.stdout.flush()
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{name}.json"
        path.write_text(
            report.to_json(
                name, started_at=started_at, elapsed_s=elapsed_s, load_average=load_average
            )
        )
        say(f"{name}: done in {elapsed_s:.0f} s; wrote {path}")
        missed += not report.passed
    return EXIT_TARGET_MISSED if missed else 0


if __name__ == "__main__":
    sys.exit(main())
