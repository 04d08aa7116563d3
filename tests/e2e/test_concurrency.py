"""Conflicting commands racing through the real server on PostgreSQL (issue 8): `subventio serve --workers 2`
(two processes, four threads each), `SUBVENTIO_RACE_CLIENTS` clients released together by a barrier, each on
its own keep-alive connection, `SUBVENTIO_RACE_ROUNDS` rounds of each race:

- payments that together exceed the grant: exactly as many succeed as the grant holds, the rest get 409;
- deliberations reserving the last credits: exactly one succeeds, the others get 409 `insufficient_credits`
  (and when the credits hold them all, all succeed: a lost race is retried, never refused);
- the same vote sent by every client: exactly one is recorded (the others 409), and with `If-Match` the
  others get 412; the dossier is granted and the budget committed once;
and after every race the money invariants and the hash chains hold.

PostgreSQL only: SQLite serialises writers in one file, so there is no race between processes to test.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
import requests

from domain.budget import BudgetLine
from domain.deliberation import Deliberation
from domain.programme import ProgrammeRules
from domain.values import Actor, Ctx
from tests.conftest import BACKEND
from tests.e2e.conftest import Server
from tests.integration.reliability_scene import scoped_settings
from tests.unit.factories import IBAN, full_attendance

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

CLIENTS = int(os.environ.get("SUBVENTIO_RACE_CLIENTS", "4"))
ROUNDS = int(os.environ.get("SUBVENTIO_RACE_ROUNDS", "3"))
ADMIN, INSTRUCTOR = Actor("Mme Admin", "admin"), Actor("M. Instructeur", "instructor")
SECRETARY, APPLICANT = Actor("Secrétariat", "secretary"), Actor("Lianes", "applicant")
INSTALMENTS = [{"tranche": "instalment", "when": "justified_expenses"},
               {"tranche": "balance", "when": "report_accepted"}]
YEAR = 2024  # past: payments are ordered today, after the deliberation became executory
VOTE = {"for": 44, "against": 0, "abstention": 0, "not_participating": []}


@pytest.fixture
def postgres_only() -> None:
    if BACKEND != "postgres":
        pytest.skip("PostgreSQL only: SQLite serialises every writer in one file, so processes cannot race")


@pytest.fixture(scope="module")
def stage(tmp_path_factory: Any, pg_database: str | None) -> Iterator[tuple[Any, Server]]:
    """One store and one `subventio serve --workers 2` for every race of the module (a start costs seconds)."""
    if BACKEND != "postgres":
        yield None, None  # type: ignore[misc]
        return
    from subventio import build

    settings = scoped_settings(tmp_path_factory.mktemp("races"), pg_database)
    services = build(settings)
    running = Server(settings)
    yield services, running
    running.stop()
    services.app.close()
    services.read.dispose()


@pytest.fixture
def services(stage: tuple[Any, Server]) -> Any:
    return stage[0]


@pytest.fixture
def server(stage: tuple[Any, Server]) -> Server:
    return stage[1]


SEQUENCE = itertools.count(1)


class Seeder:
    """Builds what the races need straight through the application, on the server's store."""

    def __init__(self, app: Any) -> None:
        self.app = app

    @property
    def count(self) -> int:
        return next(SEQUENCE)

    def ctx(self, actor: Actor, on: date) -> Ctx:
        return Ctx(actor, on, on)

    def line(self, year: int, credits: str) -> UUID:
        on = date(year, 2, 1)
        line: BudgetLine = self.app.open_budget_line(self.ctx(ADMIN, on), code=f"RACE-{self.count}",
                                                     imputation="65748//93043", label="Course", year=year,
                                                     credits=Decimal(credits))
        return line.id

    def instructed(self, line: UUID, year: int, amount: str, plan: list[dict[str, Any]] | None = None) -> UUID:
        """A dossier instructed favourably for `amount` (eligible cost: twice that) on a programme of `line`."""
        number = self.count
        on = date(year, 3, 1)
        rules = ProgrammeRules.parse({"convention_required_above": "0.00", "settlement": "reduce",
                                      "payment_plan": plan or [{"tranche": "single", "when": "convention_signed"}]})
        programme = self.app.open_programme(self.ctx(ADMIN, on), code=f"RACE-{number}", title="Course",
                                            year=year, opens_on=date(year, 1, 1), closes_on=date(year, 12, 31),
                                            budget_line_id=line, rules=rules, required_documents={})
        applicant = self.app.register_applicant(
            self.ctx(ADMIN, on), kind="person", name=f"Porteur {number}", siret=None, address="Arras",
            email=f"porteur{number}@example.org", phone=None,
            legal_representative={"name": "M. X", "role": "porteur"},
            bank={"holder": "M. X", "iban": IBAN, "bic": "AGRIFRPP"})
        dossier = self.app.open_dossier(self.ctx(APPLICANT, on), programme_id=programme.id,
                                        applicant_id=applicant.id, project_name="Course",
                                        total_budget=Decimal(amount) * 2, amount_requested=Decimal(amount))
        self.app.submit_dossier(self.ctx(APPLICANT, on), dossier.id,
                                sworn_statement={"signatory": "M. X", "place": "Arras", "signed_on": on})
        self.app.instruct_dossier(self.ctx(INSTRUCTOR, on), dossier.id, opinion="favourable",
                                  proposed_amount=Decimal(amount), eligible_cost=Decimal(amount) * 2)
        return dossier.id

    def deliberation(self, year: int, items: list[tuple[UUID, str, UUID]]) -> UUID:
        session = date(year, 9, 18)
        deliberation: Deliberation = self.app.create_deliberation(
            self.ctx(SECRETARY, session), number=f"{year}-{self.count}", title="Course", session_on=session,
            members_in_office=44, attendance=full_attendance(),
            items=[{"dossier_id": d, "amount": Decimal(a), "budget_line_id": line} for d, a, line in items])
        return deliberation.id

    def granted(self, year: int, amount: str) -> UUID:
        """A dossier granted by an executory deliberation, its convention signed: payable by instalments."""
        line = self.line(year, "100000.00")
        dossier = self.instructed(line, year, amount, INSTALMENTS)
        deliberation = self.deliberation(year, [(dossier, amount, line)])
        session = date(year, 9, 18)
        self.app.record_vote(self.ctx(SECRETARY, session), deliberation, votes_for=44, votes_against=0,
                             abstention=0, not_participating=[], interested=[])
        self.app.transmit_deliberation(self.ctx(SECRETARY, session), deliberation,
                                       act_id=f"062-226200012-{session:%Y%m%d}-lmc1-DE-1-1", transmitted_on=session)
        self.app.publish_deliberation(self.ctx(SECRETARY, session), deliberation, mode="electronic")
        on = date(year, 10, 2)
        self.app.draft_convention(self.ctx(INSTRUCTOR, on), dossier, eligible_cost=Decimal(amount) * 2, rate=None,
                                  action_from=date(year, 1, 1), action_to=date(year, 12, 31),
                                  report_due_on=date(year + 1, 4, 1), cites={})
        self.app.sign_convention(self.ctx(INSTRUCTOR, on), dossier, party="beneficiary", signatory="M. X")
        self.app.sign_convention(self.ctx(SECRETARY, on), dossier, party="department", signatory="Président")
        return dossier


def race(base: str, calls: list[Callable[[requests.Session], requests.Response]]) -> list[requests.Response]:
    """Runs the calls at once, one thread and one warm keep-alive connection each."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        with requests.Session() as session:
            session.get(f"{base}/health", timeout=30)  # connected before the start
            barrier.wait(timeout=60)
            try:
                results[index] = calls[index](session)
            except requests.RequestException as exc:  # reported, never swallowed
                results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(r, requests.Response) for r in results), results
    return results


def codes(responses: list[requests.Response]) -> Counter[Any]:
    return Counter((r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else None) for r in responses)


def assert_books_hold(server: Any, headers: dict[str, str], lines: list[UUID], dossiers: list[UUID]) -> None:
    for line_id in lines:
        line = requests.get(f"{server.url}/budget-lines/{line_id}", headers=headers, timeout=30).json()
        assert Decimal(line["reserved"]) + Decimal(line["committed"]) <= Decimal(line["credits"]), line
        assert Decimal(line["available"]) >= 0, line
    for dossier_id in dossiers:
        dossier = requests.get(f"{server.url}/dossiers/{dossier_id}", headers=headers, timeout=30).json()
        granted = Decimal(dossier["granted_amount"] or "0")
        assert Decimal(dossier["paid_total"]) <= granted, dossier
        assert sum(Decimal(p["amount"]) for p in dossier["payments"]) <= granted, dossier
    verified = requests.get(f"{server.url}/audit/verify", headers=headers, timeout=120).json()
    assert verified["ok"] is True and verified["first_broken"] is None, verified


def bearer(services: Any, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {services.tokens.create(role=role, name=f'race-{role}', applicant_id=None)}"}


def test_payments_that_together_exceed_the_grant(postgres_only, services, server):
    finance, auditor = bearer(services, "finance"), bearer(services, "auditor")
    seeder = Seeder(services.app)
    share = (Decimal("1000.00") * 2 / CLIENTS).quantize(Decimal("0.01")) + Decimal("0.01")  # > 2/CLIENTS each
    allowed = int(Decimal("1000.00") // share)
    granted = []
    for _ in range(ROUNDS):
        dossier = seeder.granted(YEAR, "1000.00")
        granted.append(dossier)
        body = {"tranche": "instalment", "amount": f"{share:.2f}", "justified_expenses": "2000.00"}
        responses = race(server.url, [lambda s, d=dossier, body=body: s.post(
            f"{server.url}/dossiers/{d}/payments", headers=finance, json=body, timeout=60)
                                      for _ in range(CLIENTS)])
        seen = codes(responses)
        assert seen[(201, None)] == allowed, seen
        assert seen[(409, "payment_exceeds_grant")] == CLIENTS - allowed, seen
        state = requests.get(f"{server.url}/dossiers/{dossier}", headers=auditor, timeout=30).json()
        assert len(state["payments"]) == allowed
        assert sum(Decimal(p["amount"]) for p in state["payments"]) == share * allowed
    assert_books_hold(server, auditor, [], granted)


@pytest.mark.parametrize("credits_for", [1, CLIENTS], ids=["last-credits", "room-for-all"])
def test_deliberations_reserving_the_last_credits(postgres_only, services, server, credits_for):
    secretary, auditor = bearer(services, "secretary"), bearer(services, "auditor")
    seeder = Seeder(services.app)
    lines, dossiers = [], []
    for round_ in range(ROUNDS):
        line = seeder.line(YEAR, f"{6000 * credits_for + 4000}.00")  # room for `credits_for` items of 6 000 €
        candidates = [seeder.instructed(line, YEAR, "6000.00") for _ in range(CLIENTS)]
        lines.append(line)
        dossiers.extend(candidates)

        def draft(s: requests.Session, i: int, d: UUID, line: UUID = line, round_: int = round_) -> requests.Response:
            return s.post(f"{server.url}/deliberations", headers=secretary, timeout=60, json={
                "number": f"{YEAR}-R{credits_for}-{round_}-{i}", "title": "Course", "session_on": f"{YEAR}-09-18",
                "members_in_office": 44, "attendance": full_attendance(),
                "items": [{"dossier_id": str(d), "amount": "6000.00", "budget_line_id": str(line)}]})

        responses = race(server.url, [lambda s, i=i, d=d: draft(s, i, d) for i, d in enumerate(candidates)])
        seen = codes(responses)
        assert seen[(201, None)] == credits_for, seen
        assert seen[(409, "insufficient_credits")] == CLIENTS - credits_for, seen
        state = requests.get(f"{server.url}/budget-lines/{line}", headers=auditor, timeout=30).json()
        assert Decimal(state["reserved"]) == Decimal("6000.00") * credits_for, state
    assert_books_hold(server, auditor, lines, dossiers)


@pytest.mark.parametrize("if_match", [False, True], ids=["no-if-match", "if-match"])
def test_the_same_vote_twice(postgres_only, services, server, if_match):
    secretary, auditor = bearer(services, "secretary"), bearer(services, "auditor")
    seeder = Seeder(services.app)
    lines, dossiers = [], []
    for _ in range(ROUNDS):
        line = seeder.line(YEAR, "10000.00")
        dossier = seeder.instructed(line, YEAR, "6000.00")
        deliberation = seeder.deliberation(YEAR, [(dossier, "6000.00", line)])
        lines.append(line)
        dossiers.append(dossier)
        headers = {**secretary, **({"If-Match": '"1"'} if if_match else {})}
        body = {"voted_on": f"{YEAR}-09-18", **VOTE}
        responses = race(server.url, [lambda s, d=deliberation, h=headers, body=body: s.post(
            f"{server.url}/deliberations/{d}/vote", headers=h, json=body, timeout=60)
                                      for _ in range(CLIENTS)])
        seen = codes(responses)
        assert seen[(200, None)] == 1, seen
        assert seen[(412, "stale_version") if if_match else (409, "already_voted")] == CLIENTS - 1, seen
        history = requests.get(f"{server.url}/deliberations/{deliberation}/history", headers=auditor,
                               timeout=30).json()["items"]
        assert [item["type"] for item in history].count("Deliberation.VoteRecorded") == 1, history
        state = requests.get(f"{server.url}/dossiers/{dossier}", headers=auditor, timeout=30).json()
        assert (state["status"], state["granted_amount"]) == ("granted", "6000.00")
        dossier_history = requests.get(f"{server.url}/dossiers/{dossier}/history", headers=auditor,
                                       timeout=30).json()["items"]
        assert [item["type"] for item in dossier_history].count("Dossier.Granted") == 1
        line_state = requests.get(f"{server.url}/budget-lines/{line}", headers=auditor, timeout=30).json()
        assert (line_state["reserved"], line_state["committed"]) == ("0.00", "6000.00"), line_state
    assert_books_hold(server, auditor, lines, dossiers)
