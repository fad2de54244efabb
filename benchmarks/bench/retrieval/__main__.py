"""``python -m benchmarks.bench.retrieval [--dimensions N] [--quick] [--out DIR]``."""

from __future__ import annotations

import argparse
import os
import sys

from ..__main__ import main as bench_main
from .parameters import DEFAULT_DIMENSIONS, DIMENSIONS_ENV, MODULE, NAME


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.bench.retrieval [--dimensions N] [--quick] [--out DIR]``: this
    benchmark alone, at another embedding size."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=main.__doc__)
    parser.add_argument("--dimensions", type=int, default=DEFAULT_DIMENSIONS)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--out", help="where to write (default: that of python -m benchmarks.bench)"
    )
    args = parser.parse_args(argv)
    os.environ[DIMENSIONS_ENV] = str(args.dimensions)
    rest = [*(["--quick"] if args.quick else []), *(["--out", args.out] if args.out else [])]
    return bench_main([NAME, *rest])


if __name__ == "__main__":
    sys.exit(main())
