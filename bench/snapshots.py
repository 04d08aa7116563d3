"""Do eventsourcing snapshots pay for time travel? `as_of` on a 60-event dossier, folding every event or
starting from a snapshot: `python -m bench.snapshots [--full]`.

`as_of` by recorded instant has to read the events anyway; a snapshot can only spare folding the events
up to its own version, and only when that version was recorded at or before the instant asked for. This
measures the snapshot's best case (a snapshot of the last version, an instant after it) beside the plain
fold on the same dossier and instant, on the embedded SQLite store. (`bench/asof.py` measures the plain
path alone, at random instants, in a filled store: `as_of_p50_ms`, `as_of_p99_ms`.)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from uuid import UUID

EVENTS = 60
DAY = date(2025, 6, 2)


def dossier_of(app: Any, events: int = EVENTS) -> UUID:
    """A draft dossier with `events` events: opened, then documents attached and edits, alternately."""
    from domain.programme import ProgrammeRules
    from domain.values import Actor, Ctx

    ctx = Ctx(Actor("Instruction", "instructor"), DAY, DAY)
    line = app.open_budget_line(ctx, code="C05-043A06", imputation="65748//93043", label="Bench", year=2025,
                                credits=Decimal("100000.00"))
    programme = app.open_programme(ctx, code="BENCH-2025", title="Bench", year=2025, opens_on=date(2025, 1, 1),
                                   closes_on=date(2025, 12, 31), budget_line_id=line.id,
                                   rules=ProgrammeRules.parse({"rounding": "cent"}), required_documents={})
    applicant = app.register_applicant(ctx, kind="person", name="Marie Durand", siret=None,
                                       address="1 rue de France, 62000 Arras", email="marie@example.org", phone=None,
                                       legal_representative={"name": "Marie Durand", "role": "porteuse"}, bank=None)
    dossier = app.open_dossier(ctx, programme_id=programme.id, applicant_id=applicant.id,
                               project_name="Jumelages", total_budget=Decimal("18695.00"),
                               amount_requested=Decimal("7000.00"))
    for n in range(2, events + 1):
        if n % 2:
            app.attach_document(ctx, dossier.id, kind=f"piece{n}", label=f"Pièce {n}", sha256=f"{n:064x}",
                                size=1000 + n, filename=f"piece{n}.pdf", content_type="application/pdf")
        else:
            app.edit_dossier(ctx, dossier.id, changes={"project_name": f"Jumelages, version {n}"})
    return cast("UUID", dossier.id)


def as_of_from_snapshot(app: Any, aggregate_id: UUID, instant: datetime) -> Any:
    """What `as_of` would do with snapshots: start from the latest one whose version was recorded by then."""
    aggregate: Any = None
    after = 0
    for snapshot in app.snapshots.get(aggregate_id, desc=True):
        if snapshot.state["_modified_on"] <= instant:
            aggregate, after = snapshot.mutate(None), snapshot.originator_version
            break
    for event in app.events.get(aggregate_id, gt=after):
        if event.timestamp > instant:
            break
        aggregate = event.mutate(aggregate)
    return aggregate


def timings(call: Callable[[], Any], runs: int) -> list[float]:
    for _ in range(max(5, runs // 20)):  # warm-up
        call()
    out = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        call()
        out.append((time.perf_counter_ns() - start) / 1e6)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def run(quick: bool = False, **_: Any) -> dict[str, Any]:
    from domain.application import Subventio
    from domain.dossier import Dossier

    runs = 300 if quick else 3000
    with tempfile.TemporaryDirectory(prefix="subventio-bench-snapshots-") as directory:
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(Path(directory) / "events.sqlite"),
               "IS_SNAPSHOTTING_ENABLED": "y"}
        app = Subventio(env=env)
        try:
            dossier_id = dossier_of(app)
            instant = datetime.now(UTC)
            plain = app.as_of(Dossier, dossier_id, instant, "Dossier")
            app.take_snapshot(dossier_id)
            snapped = as_of_from_snapshot(app, dossier_id, instant)
            if snapped.as_dict() != plain.as_dict() or plain.version != EVENTS:  # same answer, or no figure
                raise RuntimeError("the snapshot path does not give the same dossier as the plain fold")
            folded = timings(lambda: app.as_of(Dossier, dossier_id, instant, "Dossier"), runs)
            from_snapshot = timings(lambda: as_of_from_snapshot(app, dossier_id, instant), runs)
        finally:
            app.close()
    return {
        "as_of_fold_events": EVENTS,
        "as_of_fold_runs": runs,
        "as_of_fold_p50_ms": percentile(folded, 0.50),
        "as_of_fold_p99_ms": percentile(folded, 0.99),
        "as_of_fold_mean_ms": round(statistics.fmean(folded), 3),
        "as_of_snapshot_p50_ms": percentile(from_snapshot, 0.50),
        "as_of_snapshot_p99_ms": percentile(from_snapshot, 0.99),
        "as_of_snapshot_mean_ms": round(statistics.fmean(from_snapshot), 3),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--full" not in sys.argv[1:]), indent=2))
