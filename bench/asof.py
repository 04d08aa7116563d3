"""Time travel: `app.as_of(Dossier, id, instant)` on a 60-event dossier, p50/p99 in ms.

The dossier lives in a realistic store (bench/seed.py) and gets its 60 events through the commands:
opened, 22 documents, submitted, then 12 rounds of documents requested → attached → resubmitted.
The instants are drawn uniformly between its first and last recorded events. The keys
`as_of_p50_ms` and `as_of_p99_ms` stay the plain (snapshot-free) path: variants get keys of their own.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from bench.common import note, percentile, pg_reachable
from bench.stores import fill, store

EVENTS = 60


def long_dossier(app: Any) -> UUID:
    """A dossier with exactly EVENTS events, through the commands."""
    from domain.programme import ProgrammeRules
    from domain.values import Actor, Ctx

    today = date.today()
    on = today - timedelta(days=30)
    ctx = Ctx(Actor("bench", "instructor"), on, today)
    line = app.open_budget_line(ctx, code="ASOF", imputation="65748//93043", label="as of", year=on.year,
                                credits=Decimal("100000.00"))
    programme = app.open_programme(ctx, code="ASOF", title="as of", year=on.year, opens_on=on - timedelta(days=5),
                                   closes_on=today + timedelta(days=5), budget_line_id=line.id,
                                   rules=ProgrammeRules.parse({}), required_documents={"person": ["rib"]})
    applicant = app.register_applicant(ctx, kind="person", name="As of", siret=None, address="Lille",
                                       email="asof@example.org", phone=None,
                                       legal_representative={"name": "x", "role": "y"}, bank=None)
    d = app.open_dossier(ctx, programme_id=programme.id, applicant_id=applicant.id, project_name="Long history",
                         total_budget=Decimal("18695.00"), amount_requested=Decimal("7000.00"))

    def attach(n: int) -> None:
        app.attach_document(ctx, d.id, kind="rib" if n == 0 else f"piece-{n}", label=f"Pièce {n}",
                            sha256=f"{n:064x}", size=1000 + n, filename=f"p{n}.pdf", content_type="application/pdf")

    for n in range(22):
        attach(n)
    sworn = {"signatory": "x", "place": "Lille", "signed_on": on}
    app.submit_dossier(ctx, d.id, sworn_statement=sworn)
    for n in range(12):
        app.request_documents(ctx, d.id, documents=[f"complement-{n}"], message="Pièce manquante")
        app.attach_document(ctx, d.id, kind=f"complement-{n}", label="Complément", sha256=f"{100 + n:064x}",
                            size=10, filename="c.pdf", content_type="application/pdf")
        app.submit_dossier(ctx, d.id, sworn_statement=sworn)
    version = app.load(type(d), d.id, read_only=True).version
    if version != EVENTS:
        raise AssertionError(f"the long dossier has {version} events, not {EVENTS}")
    return d.id


def measure(config: Any, calls: int) -> dict[str, float]:
    from domain.dossier import Dossier
    from subventio import build

    services = build(config)
    try:
        app = services.app
        dossier_id = long_dossier(app)
        stamps = [e.timestamp for e in app.events.get(dossier_id)]
        first, last = stamps[0], stamps[-1]
        rng = random.Random(60)
        instants = [first + (last - first) * rng.random() for _ in range(calls)]
        for instant in instants[:20]:  # warm-up
            app.as_of(Dossier, dossier_id, instant)
        timings = []
        for instant in instants:
            start = time.perf_counter()
            app.as_of(Dossier, dossier_id, instant)
            timings.append((time.perf_counter() - start) * 1000)
        return {"p50": percentile(timings, 50), "p99": percentile(timings, 99), "calls": float(calls)}
    finally:
        services.app.close()
        services.read.dispose()


def run(quick: bool = False, postgres: bool = False, **_: Any) -> dict[str, Any]:
    dossiers, calls = (1000, 500) if quick else (5000, 3000)
    results: dict[str, Any] = {}
    for pg in [False] + ([True] if postgres and pg_reachable() else []):
        with tempfile.TemporaryDirectory() as tmp, store(Path(tmp), pg) as config:
            fill(config, dossiers)
            f = measure(config, calls)
        prefix = "pg_" if pg else ""
        results.update({f"{prefix}as_of_p50_ms": round(f["p50"], 3), f"{prefix}as_of_p99_ms": round(f["p99"], 3)})
        note(f"{'PostgreSQL' if pg else 'SQLite'}: as_of p50 {f['p50']:.2f} ms, p99 {f['p99']:.2f} ms")
    return results
