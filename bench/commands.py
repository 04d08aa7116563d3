"""Command path through the application layer vs a bare eventsourcing get+save loop, same SQLite file."""

from __future__ import annotations

import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from domain.application import Subventio
from domain.programme import ProgrammeRules
from domain.values import Actor, Ctx


class Counter(Aggregate):
    """The reference: the smallest useful aggregate, one event per command."""

    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self, amount: int) -> None:
        self.count += amount


class Bare(Application[UUID]):
    name = "bare"


def sqlite_env(path: Path) -> dict[str, str]:
    """The same settings as the service (subventio.Settings.event_store_env), for both sides."""
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path),
            "AGGREGATE_CACHE_MAXSIZE": "2000"}


def bare_loop(path: Path, aggregates: int) -> float:
    """Bare eventsourcing: per aggregate one create+save then three get+change+save; ops per second."""
    app = Bare(env=sqlite_env(path))
    start = time.perf_counter()
    for _ in range(aggregates):
        counter = Counter()
        app.save(counter)
        for _ in range(3):
            loaded = app.repository.get(counter.id)
            loaded.increment(1)
            app.save(loaded)
    elapsed = time.perf_counter() - start
    app.close()
    return aggregates * 4 / elapsed


def command_path(path: Path, dossiers: int) -> tuple[float, int]:
    """submit → instruct per dossier through Subventio's commands; returns (commands/s, commands)."""
    app = Subventio(env=sqlite_env(path))
    on = date(2025, 6, 2)
    ctx = Ctx(Actor("bench", "instructor"), on, on)
    line = app.open_budget_line(ctx, code="BENCH", imputation="65748//93043", label="bench", year=2025,
                                credits=Decimal("100000000.00"))
    programme = app.open_programme(ctx, code="BENCH", title="bench", year=2025, opens_on=date(2025, 1, 1),
                                   closes_on=date(2025, 12, 31), budget_line_id=line.id,
                                   rules=ProgrammeRules.parse({}), required_documents={"association": ["rib"]})
    applicant = app.register_applicant(ctx, kind="association", name="Bench", siret="43853522100024",
                                       address="Lille", email="bench@example.org", phone=None,
                                       legal_representative={"name": "x", "role": "y"}, bank=None)
    commands = 0
    start = time.perf_counter()
    for _ in range(dossiers):
        d = app.open_dossier(ctx, programme_id=programme.id, applicant_id=applicant.id, project_name="p",
                             total_budget=Decimal("18695.00"), amount_requested=Decimal("7000.00"))
        app.attach_document(ctx, d.id, kind="rib", label="RIB", sha256="0" * 64, size=1, filename="rib.pdf",
                            content_type="application/pdf")
        app.submit_dossier(ctx, d.id, sworn_statement={"signatory": "x", "place": "Lille", "signed_on": on})
        app.instruct_dossier(ctx, d.id, opinion="favourable", proposed_amount=Decimal("7000.00"),
                             eligible_cost=Decimal("18695.00"))
        commands += 4
    elapsed = time.perf_counter() - start
    app.close()
    return commands / elapsed, commands


def run(quick: bool = False) -> dict[str, Any]:
    dossiers = 200 if quick else 1000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        bare_before = bare_loop(path, dossiers)
        ours, commands = command_path(path, dossiers)
        bare_after = bare_loop(path, dossiers)
    bare = (bare_before + bare_after) / 2
    return {"command_path_ops_per_s": round(ours, 1), "bare_get_save_ops_per_s": round(bare, 1),
            "command_path_ratio": round(ours / bare, 3), "commands": commands}
