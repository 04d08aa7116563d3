"""Shared by the worker tests (integration and e2e): a real SMTP sink, brokers, and grants to mail about.

No test lives here; the fixtures are imported by tests/integration/test_workers*.py and
tests/e2e/test_workers*.py.
"""

from __future__ import annotations

import email
import itertools
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest

from tests.conftest import BACKEND, require_service

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
SINGLE = [{"tranche": "single", "when": "convention_signed"}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Polls until `predicate()` is truthy and returns it; the last value (falsy) after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# --- SMTP sink ----------------------------------------------------------------------------------


@dataclass
class Received:
    to: list[str]
    message: EmailMessage
    at: float
    wall: float = 0.0
    session: int = 0
    followed: bool = False
    """The client went on (next MAIL, RSET or QUIT) after this mail; False if it vanished right after."""

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None else ""

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")


@dataclass
class SmtpSink:
    """An aiosmtpd server that keeps every accepted mail; `refuse(n, code)` makes the next n DATA fail."""

    received: list[Received] = field(default_factory=list)
    refusals: deque[str] = field(default_factory=deque)
    refused: int = 0
    condition: threading.Condition = field(default_factory=threading.Condition)
    port: int = 0
    sessions: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def refuse(self, count: int, reply: str = "451 4.3.0 Service temporairement indisponible") -> None:
        with self.condition:
            self.refusals.extend([reply] * count)

    def refuse_always(self, reply: str = "451 4.3.0 Service temporairement indisponible") -> None:
        self.refuse(10_000, reply)

    def _session(self, session: Any) -> int:
        if not hasattr(session, "sink_number"):
            session.sink_number = next(self.sessions)
        return int(session.sink_number)

    def _went_on(self, session: Any) -> None:
        number = self._session(session)
        with self.condition:
            for mail in self.received:
                if mail.session == number:
                    mail.followed = True

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.condition:
            if self.refusals:
                self.refused += 1
                return self.refusals.popleft()
            message = email.message_from_bytes(envelope.content, policy=default_policy)
            self.received.append(Received(list(envelope.rcpt_tos), message, time.monotonic(),  # type: ignore[arg-type]
                                          wall=time.time(), session=self._session(session)))
            self.condition.notify_all()
        return "250 2.0.0 OK"

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        self._went_on(session)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RSET(self, server: Any, session: Any, envelope: Any) -> str:
        self._went_on(session)
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self._went_on(session)
        return "221 Bye"

    def mails(self, to: str | None = None, subject_contains: str | None = None) -> list[Received]:
        with self.condition:
            found = list(self.received)
        return [m for m in found if (to is None or to in m.to)
                and (subject_contains is None or subject_contains in m.subject)]

    def wait_for(self, count: int, timeout: float = 30.0, **filters: Any) -> list[Received]:
        return wait_until(lambda: (lambda ms: ms if len(ms) >= count else None)(self.mails(**filters)),
                          timeout) or self.mails(**filters)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


# --- brokers ------------------------------------------------------------------------------------


@pytest.fixture
def prefix() -> str:
    """Exchange and queue names of this test only, on a shared broker."""
    return f"t{uuid.uuid4().hex[:10]}."


def rabbitmq() -> str:
    require_service("RabbitMQ", "127.0.0.1", 5672)
    return RABBITMQ_URL


@pytest.fixture
def broker_url() -> str:
    """The backend's broker: the embedded one with SQLite, RabbitMQ with PostgreSQL."""
    return "memory://" if BACKEND == "sqlite" else rabbitmq()


def delete_topology(url: str, prefix: str) -> None:
    if url.startswith("memory"):
        return
    from kombu import Connection

    from workers.broker import Topology

    with Connection(url) as conn:
        Topology(prefix).delete(conn.channel())


def queue_depth(url: str, queue_name: str) -> int:
    """Ready messages in a RabbitMQ queue (not those delivered and unacknowledged)."""
    from kombu import Connection

    with Connection(url) as conn:
        return int(conn.channel().queue_declare(queue_name, passive=True).message_count)


# --- grants to mail about ------------------------------------------------------------------------


class Grants:
    """Programmes, applicants with their own address, and dossiers at every stage, through the commands."""

    def __init__(self, app: Any, year: int = 2025) -> None:
        from domain.programme import ProgrammeRules
        from domain.values import Actor, Ctx

        self.app = app
        self.year = year
        self.Ctx = Ctx
        self.admin = Actor("Mme Admin", "admin")
        self.instructor = Actor("M. Instructeur", "instructor")
        self.secretary = Actor("Secrétariat des assemblées", "secretary")
        self.finance = Actor("Paierie départementale", "finance")
        self.owner = Actor("Porteur", "applicant")
        on = date(year, 1, 2)
        self.line = app.open_budget_line(self.ctx(self.admin, on), code=f"C05-{uuid.uuid4().hex[:6]}",
                                         imputation="65748//93043", label="Actions européennes et internationales",
                                         year=year, credits=Decimal("100000000.00"))
        self.programme = app.open_programme(
            self.ctx(self.admin, on), code=f"AAP-{uuid.uuid4().hex[:6]}", title="Ouverture au monde", year=year,
            opens_on=date(year, 1, 1), closes_on=date(year, 12, 31), budget_line_id=self.line.id,
            rules=ProgrammeRules.parse({"settlement": "reduce", "convention_required_above": "0.00",
                                        "payment_plan": SINGLE}),
            required_documents={})
        self.members = [f"Membre {i:02d}" for i in range(1, 45)]
        self._numbers = iter(range(100, 100000))

    def ctx(self, actor: Any, on: date) -> Any:
        return self.Ctx(actor, on, on)

    def applicant(self, n: int | str, email_address: str | None = None, name: str | None = None) -> Any:
        return self.app.register_applicant(
            self.ctx(self.admin, date(self.year, 1, 3)), kind="person", name=name or f"Porteur n° {n}", siret=None,
            address="5 rue Jules de Vicq, 59800 Lille", email=email_address or f"porteur{n}@exemple.fr", phone=None,
            legal_representative={"name": "Elise MOULENE", "role": "Présidente"},
            bank={"holder": "Lianes coopération", "iban": "FR7630006000011234567890189", "bic": "AGRIFRPP"})

    def draft(self, applicant: Any, project_name: str = "Échanges européens", on: date | None = None) -> Any:
        return self.app.open_dossier(self.ctx(self.owner, on or date(self.year, 2, 1)), programme_id=self.programme.id,
                                     applicant_id=applicant.id, project_name=project_name,
                                     total_budget=Decimal("18695.00"), amount_requested=Decimal("9380.00"))

    def submit(self, dossier: Any, on: date | None = None) -> Any:
        on = on or date(self.year, 2, 3)
        return self.app.submit_dossier(self.ctx(self.owner, on), dossier.id,
                                       sworn_statement={"signatory": "Elise MOULENE", "place": "Lille",
                                                        "signed_on": on})

    def attach(self, dossier: Any, *kinds: str, on: date) -> None:
        for kind in kinds:
            self.app.attach_document(self.ctx(self.owner, on), dossier.id, kind=kind, label=kind.capitalize(),
                                     sha256=(kind.encode().hex() * 64)[:64], size=1234, filename=f"{kind}.pdf",
                                     content_type="application/pdf")

    def submitted(self, applicant: Any, project_name: str = "Échanges européens") -> Any:
        return self.submit(self.draft(applicant, project_name))

    def instruct(self, dossier: Any, amount: str = "9380.00") -> Any:
        return self.app.instruct_dossier(self.ctx(self.instructor, date(self.year, 3, 1)), dossier.id,
                                         opinion="favourable", proposed_amount=Decimal(amount),
                                         eligible_cost=Decimal("18695.00"))

    def vote(self, dossier: Any, *, adopted: bool, amount: str = "9380.00",
             session_on: date | None = None) -> tuple[Any, str]:
        """Instructs, puts on a deliberation, votes; returns the dossier and the deliberation number."""
        session_on = session_on or date(self.year, 9, 15)
        self.instruct(dossier, amount)
        number = f"{self.year}-{next(self._numbers)}"
        attendance = {"present": self.members[:36], "excused": self.members[36:], "absent": [],
                      "proxies": [{"from": self.members[36 + i], "to": self.members[i]} for i in range(8)]}
        deliberation = self.app.create_deliberation(
            self.ctx(self.secretary, session_on), number=number, title="Subventions", session_on=session_on,
            members_in_office=44, attendance=attendance,
            items=[{"dossier_id": dossier.id, "amount": Decimal(amount), "budget_line_id": self.line.id}])
        votes = (44, 0) if adopted else (10, 34)
        self.app.record_vote(self.ctx(self.secretary, session_on), deliberation.id, votes_for=votes[0],
                             votes_against=votes[1], abstention=0, not_participating=[], interested=[])
        if adopted:
            self.app.transmit_deliberation(self.ctx(self.secretary, session_on), deliberation.id,
                                           act_id=f"062-226200012-{session_on:%Y%m%d}-lmc1-DE-1-1",
                                           transmitted_on=session_on)
            self.app.publish_deliberation(self.ctx(self.secretary, session_on), deliberation.id, mode="electronic")
        return self.app.load(type(dossier), dossier.id), number

    def convention(self, dossier: Any, report_due_on: date, number: str, amount: str = "9380.00") -> Any:
        on = date(self.year, 10, 6)
        self.app.draft_convention(self.ctx(self.instructor, on), dossier.id, eligible_cost=Decimal("18695.00"),
                                  rate=None, action_from=date(self.year, 1, 1), action_to=date(self.year, 12, 31),
                                  report_due_on=report_due_on, payment_plan=None, settlement=None,
                                  cites={"deliberation_number": number, "deliberation_date": f"{self.year}-09-15",
                                         "amount": amount, "budget_code": self.line.code})
        return on

    def sign(self, dossier: Any, on: date) -> Any:
        self.app.sign_convention(self.ctx(self.instructor, on), dossier.id, party="beneficiary",
                                 signatory="Elise MOULENE")
        return self.app.sign_convention(self.ctx(self.secretary, on), dossier.id, party="department",
                                        signatory="Jean-Claude LEROY")

    def pay(self, dossier: Any, on: date) -> Any:
        _, payment = self.app.order_payment(self.ctx(self.finance, on), dossier.id, tranche="single")
        return self.app.mark_payment_paid(self.ctx(self.finance, on), dossier.id, payment["id"],
                                          bank_reference=f"VIR-{on:%Y%m%d}")
