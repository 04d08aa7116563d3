"""Issue #3's figure: recording a deliberation of 200 items and its vote — time and events written.

Both commands are single transactions: the deliberation reserves every item on its budget line
and schedules every dossier (1 + 200 + 200 events); the vote grants every dossier and commits every
reservation (1 + 200 + 200 events).
"""

from __future__ import annotations

import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from domain.application import Subventio
from domain.programme import ProgrammeRules
from domain.values import Actor, Ctx

SESSION = date(2025, 9, 15)
MEMBERS = [f"Membre {i:02d}" for i in range(1, 45)]


def record(app: Subventio, items: int) -> dict[str, Any]:
    on = SESSION - timedelta(days=60)
    ctx = Ctx(Actor("bench", "instructor"), on, on)
    line = app.open_budget_line(ctx, code="BENCH-CP", imputation="65748//93043", label="bench", year=2025,
                                credits=Decimal("100000000.00"))
    programme = app.open_programme(ctx, code="BENCH-CP", title="bench", year=2025, opens_on=date(2025, 1, 1),
                                   closes_on=date(2025, 12, 31), budget_line_id=line.id,
                                   rules=ProgrammeRules.parse({}), required_documents={})
    applicant = app.register_applicant(ctx, kind="association", name="Bench", siret="43853522100024",
                                       address="Lille", email="bench@example.org", phone=None,
                                       legal_representative={"name": "x", "role": "y"}, bank=None)
    dossiers = []
    for _ in range(items):
        d = app.open_dossier(ctx, programme_id=programme.id, applicant_id=applicant.id, project_name="p",
                             total_budget=Decimal("18695.00"), amount_requested=Decimal("7000.00"))
        app.submit_dossier(ctx, d.id, sworn_statement={"signatory": "x", "place": "Lille", "signed_on": on})
        app.instruct_dossier(ctx, d.id, opinion="favourable", proposed_amount=Decimal("7000.00"),
                             eligible_cost=Decimal("18695.00"))
        dossiers.append(d.id)
    secretary = Ctx(Actor("bench", "secretary"), SESSION, SESSION)
    attendance = {"present": MEMBERS[:36], "excused": MEMBERS[36:], "absent": [],
                  "proxies": [{"from": MEMBERS[36 + i], "to": MEMBERS[i]} for i in range(8)]}
    before = app.recorder.max_notification_id()
    start = time.perf_counter()
    deliberation = app.create_deliberation(
        secretary, number="BENCH-200", title="bench", session_on=SESSION, members_in_office=44,
        attendance=attendance,
        items=[{"dossier_id": d, "amount": Decimal("7000.00"), "budget_line_id": line.id} for d in dossiers])
    drafted = time.perf_counter()
    between = app.recorder.max_notification_id()
    app.record_vote(secretary, deliberation.id, votes_for=44, votes_against=0, abstention=0,
                    not_participating=[], interested=[])
    voted = time.perf_counter()
    after = app.recorder.max_notification_id()
    return {"deliberation_items": items,
            "deliberation_create_ms": round((drafted - start) * 1000, 1),
            "deliberation_create_events": between - before,
            "deliberation_vote_ms": round((voted - drafted) * 1000, 1),
            "deliberation_vote_events": after - between}


def run(quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    items = 50 if quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        app = Subventio(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                             "SQLITE_DBNAME": str(Path(tmp) / "bench.sqlite"), "AGGREGATE_CACHE_MAXSIZE": "2000"})
        try:
            results = record(app, items)
        finally:
            app.close()
    if postgres:
        import uuid

        import psycopg

        name = f"subventio_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            app = Subventio(env={"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": name,
                                 "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "5432", "POSTGRES_USER": "postgres",
                                 "POSTGRES_PASSWORD": "", "AGGREGATE_CACHE_MAXSIZE": "2000"})
            try:
                results.update({f"pg_{k}": v for k, v in record(app, items).items()})
            finally:
                app.close()
        finally:
            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return results


if __name__ == "__main__":
    print(run(postgres=True))
