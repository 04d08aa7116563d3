"""What the benchmarks share: the service's own store settings, a throw-away PostgreSQL database, percentiles."""

from __future__ import annotations

import os
import socket
import statistics
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PG_BASE = os.environ.get("SUBVENTIO_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")


def settings(data_dir: Path, database_url: str | None = None) -> Any:
    """The service's Settings (so the event store is configured exactly as `subventio serve` configures it)."""
    from subventio import Settings

    return Settings(data_dir=data_dir, database_url=database_url)


def store_env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    return dict(settings(data_dir, database_url).event_store_env())


def pg_reachable() -> bool:
    host, _, port = PG_BASE.rsplit("@", 1)[-1].partition(":")
    try:
        with socket.create_connection((host, int(port or 5432)), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def pg_database(tag: str = "bench") -> Iterator[str]:
    """A new, empty PostgreSQL database for one measurement; dropped afterwards."""
    import psycopg

    name = f"subventio_{tag}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_BASE}/{name}"
    finally:
        with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by the nearest-rank method."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def note(message: str) -> None:
    print(f"   {message}", file=sys.stderr, flush=True)
