"""`python -m bench [--quick] [--only NAME] [--postgres]`: runs the benchmarks, prints a table, writes results.json.

A full run (not --quick) also writes bench/RESULTS.md: the same table with the machine and the date,
kept in git so that the figures are on record (results.json is not).
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SUITES = ("commands", "deliberation", "http", "asof", "snapshots", "rebuild", "verify", "scale", "workers")

# figure → (comparison, bound): the targets of issue #7 (SQLite keys; the pg_ ones share them where stated).
TARGETS: dict[str, tuple[str, float]] = {
    "command_path_ratio": (">=", 0.6), "pg_command_path_ratio": (">=", 0.6),
    "http_get_rps": (">=", 2000), "http_get_p99_ms": ("<=", 20), "http_command_rps": (">=", 400),
    "pg_http_get_rps": (">=", 2000), "pg_http_get_p99_ms": ("<=", 20), "pg_http_command_rps": (">=", 400),
    "rebuild_ratio": (">=", 0.4), "rebuild_events_per_s": (">=", 40000), "pg_rebuild_ratio": (">=", 0.4),
    "as_of_p99_ms": ("<=", 15), "pg_as_of_p99_ms": ("<=", 15),
    "scale_rebuild_linearity": ("<=", 1.15), "scale_peak_rss_mb": ("<=", 250), "scale_rss_growth": ("<=", 1.15),
    "scale_append_ratio": (">=", 0.9), "verify_events_per_s": (">=", 100000),
    "scale_verify_events_per_s": (">=", 100000),
}


def verdict(key: str, value: Any) -> tuple[str, str]:
    target = TARGETS.get(key)
    if target is None or not isinstance(value, (int, float)):
        return "", ""
    op, bound = target
    ok = value >= bound if op == ">=" else value <= bound
    return f"{op} {bound:g}", "ok" if ok else "MISS"


def table(results: dict[str, Any]) -> list[str]:
    width = max(len(k) for k in results)
    lines = [f"{'figure'.ljust(width)}  {'value':>12}  {'target':<10}  verdict"]
    for key, value in results.items():
        target, mark = verdict(key, value)
        lines.append(f"{key.ljust(width)}  {value!s:>12}  {target:<10}  {mark}".rstrip())
    return lines


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; load average at the end {load}")


def write_markdown(results: dict[str, Any], command: str, seconds: float) -> None:
    body = "\n".join(table(results))
    text = (f"# Benchmark results (last full run)\n\n"
            f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n- machine: {machine()}\n"
            f"- command: `{command}` ({seconds / 60:.1f} minutes)\n\n"
            f"Each ratio is measured beside its reference in the same run (see bench/*.py); absolute\n"
            f"figures depend on what else the machine runs (the load average above).\n\n"
            f"```\n{body}\n```\n")
    Path(__file__).with_name("RESULTS.md").write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--quick", action="store_true", help="short runs for development (a few minutes)")
    parser.add_argument("--only", choices=SUITES, action="append")
    parser.add_argument("--postgres", action="store_true",
                        help="also measure on PostgreSQL (SUBVENTIO_BENCH_PG_URL, default 127.0.0.1:5432)")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    started = time.perf_counter()
    for name in args.only or SUITES:
        module = __import__(f"bench.{name}", fromlist=["run"])
        print(f"== {name}", file=sys.stderr, flush=True)
        began = time.perf_counter()
        accepts = inspect.signature(module.run).parameters
        extra = {"postgres": args.postgres} if "postgres" in accepts or any(
            p.kind is p.VAR_KEYWORD for p in accepts.values()) else {}
        results.update(module.run(quick=args.quick, **extra))
        print(f"   ({time.perf_counter() - began:.0f} s)", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    results["bench_seconds"] = round(seconds)
    print("\n".join(table(results)))
    out = Path(__file__).with_name("results.json")
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous.update(results)
    out.write_text(json.dumps(previous, indent=2, sort_keys=True) + "\n")
    if not args.quick and not args.only:
        write_markdown(results, "python -m bench" + (" --postgres" if args.postgres else ""), seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
