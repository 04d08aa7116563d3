"""`app.verify_chains()` (what `subventio audit verify` runs) in events/s, beside reading + decoding the same log."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import median, note, pg_reachable
from bench.stores import fill, read_and_decode, store


def measure(config: Any, rounds: int) -> dict[str, float]:
    from subventio import build

    services = build(config)
    try:
        verify, reference = [], []
        events = 0
        for _ in range(rounds):
            start = time.perf_counter()
            events = read_and_decode(services.app)
            reference.append(events / (time.perf_counter() - start))
            start = time.perf_counter()
            result = services.app.verify_chains()
            verify.append(result.events_checked / (time.perf_counter() - start))
            if not result.ok:
                raise AssertionError(f"verify_chains found a break in a clean store: {result.as_dict()}")
        return {"verify": median(verify), "reference": median(reference), "events": float(events)}
    finally:
        services.app.close()
        services.read.dispose()


def run(quick: bool = False, postgres: bool = False, **_: Any) -> dict[str, Any]:
    dossiers, rounds = (2000, 3) if quick else (10000, 3)
    results: dict[str, Any] = {}
    for pg in [False] + ([True] if postgres and pg_reachable() else []):
        with tempfile.TemporaryDirectory() as tmp, store(Path(tmp), pg) as config:
            fill(config, dossiers)
            f = measure(config, rounds)
        prefix = "pg_" if pg else ""
        results.update({f"{prefix}verify_events_per_s": round(f["verify"]),
                        f"{prefix}verify_reference_events_per_s": round(f["reference"]),
                        f"{prefix}verify_ratio": round(f["verify"] / f["reference"], 3)})
        note(f"{'PostgreSQL' if pg else 'SQLite'}: verify {f['verify']:.0f} events/s, "
             f"read+decode {f['reference']:.0f} events/s")
    return results
