"""Projection rebuild (`ProjectionRunner.rebuild`, as `subventio projections rebuild` runs it) in events/s,
beside its reference: reading and decoding the same log without writing anything, in the same run, the
way the runner reads and decodes it (bench.stores.read_and_decode); eventsourcing's own recorder and
mapper doing the same are reported beside it.

Rounds alternate reference and rebuild on one realistic store; each side keeps its median.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import median, note, pg_reachable
from bench.stores import fill, read_and_decode, read_and_decode_with_eventsourcing, store


def measure(config: Any, rounds: int) -> dict[str, float]:
    from subventio import build

    services = build(config)
    try:
        reference, rebuild, eventsourcing = [], [], []
        events = 0
        for _ in range(rounds):
            start = time.perf_counter()
            events = read_and_decode(services.app)
            reference.append(events / (time.perf_counter() - start))
            start = time.perf_counter()
            read_and_decode_with_eventsourcing(services.app)
            eventsourcing.append(events / (time.perf_counter() - start))
            start = time.perf_counter()
            count = services.runner.rebuild()
            rebuild.append(count / (time.perf_counter() - start))
        return {"rebuild": median(rebuild), "reference": median(reference), "events": float(events),
                "eventsourcing": median(eventsourcing)}
    finally:
        services.app.close()
        services.read.dispose()


def run(quick: bool = False, postgres: bool = False, **_: Any) -> dict[str, Any]:
    dossiers, rounds = (2000, 3) if quick else (10000, 3)
    results: dict[str, Any] = {}
    backends = [False] + ([True] if postgres and pg_reachable() else [])
    for pg in backends:
        with tempfile.TemporaryDirectory() as tmp, store(Path(tmp), pg) as config:
            fill(config, dossiers)
            f = measure(config, rounds)
        prefix = "pg_" if pg else ""
        results.update({f"{prefix}rebuild_events_per_s": round(f["rebuild"]),
                        f"{prefix}rebuild_reference_events_per_s": round(f["reference"]),
                        f"{prefix}rebuild_ratio": round(f["rebuild"] / f["reference"], 3),
                        f"{prefix}rebuild_events": int(f["events"]),
                        f"{prefix}rebuild_eventsourcing_read_decode_events_per_s": round(f["eventsourcing"])})
        note(f"{'PostgreSQL' if pg else 'SQLite'}: rebuild {f['rebuild']:.0f} events/s, "
             f"read+decode {f['reference']:.0f} events/s ({int(f['events'])} events)")
    return results
