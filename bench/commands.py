"""The whole command path of a grant vs a bare eventsourcing get+save loop doing the same storage work.

One unit of work is one dossier taken from draft to payment through Subventio's commands:
open → attach → submit → instruct → create_deliberation → record_vote → transmit → publish →
draft_convention → sign ×2 → order_payment → mark_payment_paid: 13 transactions, 19 events
(the reference sequence and the budget line take their share, as in the service).

The reference does the same storage work with the smallest aggregate there is: the same 13
transactions, each loading the same number of aggregates (repository.get, cache + fast-forward as
configured for the service) and saving the same 19 events, on the same store (same SQLite file;
same PostgreSQL database). Both run interleaved in short rounds, so a noisy neighbour slows both.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench.common import note, pg_database, pg_reachable, store_env
from domain.application import Subventio
from domain.programme import ProgrammeRules
from domain.values import Actor, Ctx

# The transactions of one unit: which aggregates each loads and changes ("+X" creates X).
# A: the dossier, S: the year's reference sequence, D: the deliberation, L: the budget line.
PLAN: tuple[tuple[str, ...], ...] = (
    ("+A",), ("A",), ("A", "S"), ("A",),          # open, attach, submit (+ reference), instruct
    ("+D", "A", "L"), ("D", "A", "L"),            # deliberation drafted (+ reservation), vote (+ commitment)
    ("D",), ("D",),                               # transmit, publish
    ("A",), ("A",), ("A",), ("A",), ("A", "L"),   # convention, 2 signatures, payment ordered, paid (+ line)
)
EVENTS_PER_UNIT = sum(len(step) for step in PLAN)
LINES = 10  # budget lines (one programme each) the dossiers are spread over


class Counter(Aggregate):
    """The reference: the smallest useful aggregate, one event per change."""

    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self, amount: int) -> None:
        self.count += amount


class Bare(Application[UUID]):
    name = "bare"


class BareLoop:
    def __init__(self, env: dict[str, str]) -> None:
        self.app = Bare(env=env)
        self.sequence = Counter()
        self.lines = [Counter() for _ in range(LINES)]
        self.app.save(self.sequence, *self.lines)
        self.done = 0

    def unit(self) -> None:
        ids: dict[str, UUID] = {"S": self.sequence.id, "L": self.lines[self.done % LINES].id}
        for step in PLAN:
            changed = []
            for name in step:
                if name.startswith("+"):
                    aggregate = Counter()
                    ids[name[1:]] = aggregate.id
                else:
                    aggregate = self.app.repository.get(ids[name])
                    aggregate.increment(1)
                changed.append(aggregate)
            self.app.save(*changed)
        self.done += 1

    def close(self) -> None:
        self.app.close()


class CommandPath:
    """Subventio's commands, as the HTTP views call them."""

    def __init__(self, env: dict[str, str]) -> None:
        self.app = Subventio(env=env)
        self.today = date.today()
        self.run_id = uuid.uuid4().hex[:6]
        on = date(2025, 1, 10)
        admin = Ctx(Actor("bench", "admin"), on, self.today)
        self.targets = []
        for n in range(LINES):
            line = self.app.open_budget_line(admin, code=f"B{self.run_id}{n}", imputation="65748//93043",
                                             label="bench", year=2025, credits=Decimal("900000000.00"))
            programme = self.app.open_programme(
                admin, code=f"BENCH-{self.run_id}-{n}", title="bench", year=2025, opens_on=date(2025, 1, 1),
                closes_on=date(2025, 12, 31), budget_line_id=line.id,
                rules=ProgrammeRules.parse({"convention_required_above": "0.00"}),
                required_documents={"association": ["rib"]})
            self.targets.append((line.id, programme.id))
        self.applicant = self.app.register_applicant(
            admin, kind="person", name="Bench", siret=None, address="Lille", email="bench@example.org", phone=None,
            legal_representative={"name": "x", "role": "y"},
            bank={"holder": "Bench", "iban": "FR7630006000011234567890189", "bic": "AGRIFRPP"})
        self.done = 0

    def ctx(self, role: str, month: int, day: int) -> Ctx:
        return Ctx(Actor(f"bench {role}", role), date(2025, month, day), self.today)

    def unit(self) -> None:
        app, ctx = self.app, self.ctx
        line_id, programme_id = self.targets[self.done % LINES]
        number = f"B{self.run_id}-{self.done}"
        self.done += 1
        d = app.open_dossier(ctx("applicant", 3, 1), programme_id=programme_id, applicant_id=self.applicant.id,
                             project_name="Échanges européens", total_budget=Decimal("18695.00"),
                             amount_requested=Decimal("7000.00"))
        app.attach_document(ctx("applicant", 3, 1), d.id, kind="rib", label="RIB", sha256="0" * 64, size=1,
                            filename="rib.pdf", content_type="application/pdf")
        app.submit_dossier(ctx("applicant", 3, 2), d.id,
                           sworn_statement={"signatory": "x", "place": "Lille", "signed_on": date(2025, 3, 2)})
        app.instruct_dossier(ctx("instructor", 4, 1), d.id, opinion="favourable",
                             proposed_amount=Decimal("7000.00"), eligible_cost=Decimal("18695.00"))
        session = date(2025, 6, 16)
        secretary = Ctx(Actor("bench secretary", "secretary"), session, self.today)
        deliberation = app.create_deliberation(
            secretary, number=number, title="Subvention", session_on=session, members_in_office=44,
            attendance=ATTENDANCE, items=[{"dossier_id": d.id, "amount": Decimal("7000.00"),
                                           "budget_line_id": line_id}])
        app.record_vote(secretary, deliberation.id, votes_for=44, votes_against=0, abstention=0,
                        not_participating=[], interested=[])
        app.transmit_deliberation(secretary, deliberation.id, act_id=f"062-226200012-20250616-B{self.done}-DE-1-1",
                                  transmitted_on=session)
        app.publish_deliberation(secretary, deliberation.id, mode="electronic")
        app.draft_convention(ctx("instructor", 7, 1), d.id, eligible_cost=Decimal("18695.00"), rate=None,
                             action_from=date(2025, 1, 1), action_to=date(2025, 12, 31),
                             report_due_on=date(2026, 6, 30),
                             cites={"deliberation_number": number, "deliberation_date": "2025-06-16",
                                    "amount": "7000.00", "budget_code": "B"})
        app.sign_convention(ctx("applicant", 7, 3), d.id, party="beneficiary", signatory="x")
        app.sign_convention(ctx("secretary", 7, 4), d.id, party="department", signatory="y")
        _, payment = app.order_payment(ctx("finance", 7, 20), d.id, tranche="single")
        app.mark_payment_paid(ctx("finance", 7, 25), d.id, payment["id"], bank_reference="VIR-1")

    def close(self) -> None:
        self.app.close()


MEMBERS = [f"Membre {i:02d}" for i in range(1, 45)]
ATTENDANCE = {"present": MEMBERS[:36], "excused": MEMBERS[36:], "absent": [],
              "proxies": [{"from": MEMBERS[36 + i], "to": MEMBERS[i]} for i in range(8)]}


def compare(env: dict[str, str], units: int, rounds: int) -> dict[str, float]:
    """Interleaves bare and command-path rounds on one store; units per second of each."""
    bare, ours = BareLoop(env), CommandPath(env)
    try:
        for runner in (bare, ours):  # warm-up: caches, prepared statements, first file growth
            for _ in range(3):
                runner.unit()
        spent = {"bare": 0.0, "ours": 0.0}
        per_round = max(1, units // rounds)
        for index in range(rounds):
            order = (("bare", bare), ("ours", ours)) if index % 2 == 0 else (("ours", ours), ("bare", bare))
            for name, runner in order:
                start = time.perf_counter()
                for _ in range(per_round):
                    runner.unit()
                spent[name] += time.perf_counter() - start
        done = per_round * rounds
    finally:
        bare.close()
        ours.close()
    return {"bare": done / spent["bare"], "ours": done / spent["ours"], "units": float(done)}


def run(quick: bool = False, postgres: bool = False, **_: Any) -> dict[str, Any]:
    units, rounds = (60, 6) if quick else (400, 20)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        figures = compare(store_env(Path(tmp)), units, rounds)
    results.update(_figures("", figures))
    note(f"SQLite: {figures['ours']:.1f} dossiers/s vs bare {figures['bare']:.1f}")
    if postgres and pg_reachable():
        with pg_database("commands") as url, tempfile.TemporaryDirectory() as tmp:
            figures = compare(store_env(Path(tmp), url), units // 2, rounds // 2)
        results.update(_figures("pg_", figures))
        note(f"PostgreSQL: {figures['ours']:.1f} dossiers/s vs bare {figures['bare']:.1f}")
    return results


def _figures(prefix: str, f: dict[str, float]) -> dict[str, Any]:
    return {f"{prefix}command_path_dossiers_per_s": round(f["ours"], 2),
            f"{prefix}command_path_commands_per_s": round(f["ours"] * len(PLAN), 1),
            f"{prefix}bare_units_per_s": round(f["bare"], 2),
            f"{prefix}command_path_ratio": round(f["ours"] / f["bare"], 3)}
