"""`projections.integrity.verify` (what `subventio audit verify` and GET /audit/verify run, with the service's
default number of processes) in events/s, beside reading + decoding the same log, and beside the domain's
one-process reference walk (`Subventio.verify_chains`)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import median, note, pg_reachable
from bench.stores import fill, read_and_decode, store


def measure(config: Any, rounds: int) -> dict[str, float]:
    from projections.integrity import verify as fast_verify
    from subventio import build

    services = build(config)
    try:
        verify, reference, walk = [], [], []
        events = 0
        for _ in range(rounds):
            start = time.perf_counter()
            events = read_and_decode(services.app)
            reference.append(events / (time.perf_counter() - start))
            start = time.perf_counter()
            result = fast_verify(services.app, workers=config.verify_workers)
            verify.append(result.events_checked / (time.perf_counter() - start))
            if not result.ok:
                raise AssertionError(f"verify found a break in a clean store: {result.as_dict()}")
        start = time.perf_counter()
        result = services.app.verify_chains()
        walk.append(result.events_checked / (time.perf_counter() - start))
        return {"verify": median(verify), "reference": median(reference), "walk": median(walk),
                "events": float(events), "workers": float(config.verify_workers)}
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
                        f"{prefix}verify_ratio": round(f["verify"] / f["reference"], 3),
                        f"{prefix}verify_domain_walk_events_per_s": round(f["walk"]),
                        f"{prefix}verify_processes": int(f["workers"])})
        note(f"{'PostgreSQL' if pg else 'SQLite'}: verify {f['verify']:.0f} events/s ({int(f['workers'])} processes), "
             f"read+decode {f['reference']:.0f} events/s, domain walk {f['walk']:.0f} events/s")
    return results
