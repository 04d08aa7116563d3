"""`python -m bench [--quick] [--only NAME]`: runs the benchmarks, prints a table, writes results.json."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SUITES = ("commands", "http")


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--quick", action="store_true", help="short runs for development")
    parser.add_argument("--only", choices=SUITES, action="append")
    parser.add_argument("--postgres", action="store_true", help="also run the HTTP figures on PostgreSQL")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for name in args.only or SUITES:
        module = __import__(f"bench.{name}", fromlist=["run"])
        print(f"== {name}", file=sys.stderr, flush=True)
        results.update(module.run(quick=args.quick, **({"postgres": args.postgres} if name == "http" else {})))
    width = max(len(k) for k in results)
    print(f"{'figure'.ljust(width)}  value")
    for key, value in results.items():
        print(f"{key.ljust(width)}  {value}")
    out = Path(__file__).with_name("results.json")
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous.update(results)
    out.write_text(json.dumps(previous, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
