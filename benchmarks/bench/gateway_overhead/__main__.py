"""``python -m benchmarks.bench.gateway_overhead --load JSON``: one load run, as JSON on stdout."""

from __future__ import annotations

import argparse
import json
import sys

from .load import FixedRateLoad, run_here
from .parameters import MODULE


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.bench.gateway_overhead --load JSON``: one run, as JSON on stdout."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=main.__doc__)
    parser.add_argument("--load", required=True, help="a FixedRateLoad as JSON")
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(run_here(FixedRateLoad.from_json(args.load))) + "\n")


if __name__ == "__main__":
    main()
