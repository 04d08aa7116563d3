"""Relay, notifier and scheduler in this process, on the backend's store and broker (SQLite + embedded broker,
or PostgreSQL + RabbitMQ), with a real SMTP server (aiosmtpd): what reaches the applicant, and only once."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from kombu import Connection, Producer

from domain.dossier import Dossier
from projections.notifications import notifications_for
from projections.queries import dossier_ids_for_tick
from tests.conftest import BACKEND
from tests.integration import test_workers_support as support
from tests.integration.test_workers_support import Grants, delete_topology, rabbitmq, wait_until
from workers.broker import Broker, Topology
from workers.contracts import CONTRACTS, ENVELOPE, validate
from workers.runtime import Workers
from workers.scheduler import Scheduler, reminders_due
from workers.tables import load_position, scheduled_messages, sent_notifications

smtp_sink, broker_url, prefix = support.smtp_sink, support.broker_url, support.prefix  # fixtures

FAST_RETRIES = (0.05, 0.1, 0.2, 0.4)
EVERY_KIND = {"acknowledgment", "documents_requested", "declined", "granted", "refused", "convention_ready",
              "payment_made", "report_reminder", "lapsed", "refund_demanded", "termination_notified", "terminated"}


@pytest.fixture
def start_workers(services: Any, broker_url: str, prefix: str, smtp_sink: Any) -> Any:
    """start_workers(*names, broker_url=..., retry_delays=...) → running Workers, stopped at the end of the test."""
    started: list[Workers] = []

    def start(*names: str, **options: Any) -> Workers:
        settings = {"broker_url": broker_url, "smtp_url": smtp_sink.url, "prefix": prefix,
                    "retry_delays": FAST_RETRIES, "poll_interval": 0.05, **options}
        workers = Workers(app=services.app, read=services.read, runner=services.runner,
                          today=lambda: date(2025, 1, 1), dossier_ids=lambda: dossier_ids_for_tick(services.read),
                          **settings)
        workers.start(*(names or ("relay", "notify")))
        started.append(workers)
        if workers.notifier is not None and options.get("broker_url", broker_url) == broker_url:
            assert workers.notifier.connected.wait(30), "the notifier did not connect to the broker"
        return workers

    yield start
    for workers in started:
        workers.close()
    delete_topology(broker_url, prefix)


def scheduler(services: Any) -> Scheduler:
    return Scheduler(services.app, services.read, dossier_ids=lambda: dossier_ids_for_tick(services.read),
                     catch_up=services.runner.catch_up, today=date.today)


def mail_count(services: Any) -> int:
    from sqlalchemy import func, select

    with services.read.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(sent_notifications)).scalar() or 0)


def test_every_kind_of_mail_reaches_its_applicant_in_french(services, start_workers, smtp_sink):
    start_workers()
    g = Grants(services.app)
    # Granted, with a request for documents on the way, then a convention, a payment, reminders and a lapse.
    alice = g.applicant(1, "alice@exemple.fr", name="Association <Les Amis> & Cie")
    d1 = g.submitted(alice, project_name="Échanges <script>alert(1)</script> européens")
    services.app.request_documents(g.ctx(g.instructor, date(2025, 2, 10)), d1.id, documents=["rib", "statuts"],
                                   message="Merci de joindre le RIB et les statuts signés.")
    g.attach(d1, "rib", "statuts", on=date(2025, 2, 11))
    g.submit(d1, on=date(2025, 2, 12))
    d1, number = g.vote(d1, adopted=True)
    g.sign(d1, g.convention(d1, report_due_on=date(2026, 4, 1), number=number))
    g.pay(d1, date(2025, 10, 20))
    tick = scheduler(services)
    assert tick.tick(date(2026, 3, 2))["reminders"]  # 30 days before 1 April 2026
    assert tick.tick(date(2026, 3, 25))["reminders"]  # 7 days before
    assert tick.tick(date(2026, 4, 2))["lapsed"] == [str(d1.id)]
    # Refused by the vote; declined after instruction.
    bruno = g.applicant(2, "bruno@exemple.fr")
    d2, refused_number = g.vote(g.submitted(bruno), adopted=False)
    chloe = g.applicant(3, "chloe@exemple.fr")
    d3 = g.submitted(chloe)
    services.app.decline_dossier(g.ctx(g.instructor, date(2025, 3, 3)), d3.id,
                                 reason="Le projet ne relève pas du dispositif.")
    # Granted, paid, settled lower than paid: a titre de recettes.
    david = g.applicant(4, "david@exemple.fr")
    d4, number4 = g.vote(g.submitted(david), adopted=True)
    g.sign(d4, g.convention(d4, report_due_on=date(2026, 4, 1), number=number4))
    g.pay(d4, date(2025, 10, 20))
    services.app.submit_report(g.ctx(g.owner, date(2026, 3, 1)), d4.id, summary="Bilan",
                               expenses=[{"label": "Total", "amount": "9000.00"}], signed_by="Elise MOULENE")
    services.app.accept_report(g.ctx(g.instructor, date(2026, 3, 5)), d4.id, justified_expenses=Decimal("9000.00"))
    services.app.demand_refund(g.ctx(g.finance, date(2026, 3, 10)), d4.id, title_number="T-2026-118",
                               issued_on=date(2026, 3, 10), received_by_beneficiary_on=date(2026, 3, 12),
                               reason="Dépenses justifiées inférieures à la subvention versée")
    # Granted, then terminated: notified, then in effect one full month after receipt.
    emma = g.applicant(5, "emma@exemple.fr")
    d5, number5 = g.vote(g.submitted(emma), adopted=True)
    g.sign(d5, g.convention(d5, report_due_on=date(2026, 4, 1), number=number5))
    services.app.terminate(g.ctx(g.instructor, date(2025, 11, 3)), d5.id, reason="non_execution",
                           notice_received_on=date(2025, 11, 5))
    assert tick.tick(date(2025, 12, 6))["terminated"] == [str(d5.id)]

    expected = {"alice@exemple.fr": 9, "bruno@exemple.fr": 2, "chloe@exemple.fr": 2, "david@exemple.fr": 5,
                "emma@exemple.fr": 5}
    smtp_sink.wait_for(sum(expected.values()), timeout=60)
    assert {to: len(smtp_sink.mails(to=to)) for to in expected} == expected

    def one(to: str, words: str) -> Any:
        found = smtp_sink.mails(to=to, subject_contains=words)
        assert len(found) == 1, [m.subject for m in smtp_sink.mails(to=to)]
        return found[0]

    acks = smtp_sink.mails(to="alice@exemple.fr", subject_contains="Accusé de réception")
    assert len(acks) == 2  # submitted, then submitted again after the request for documents
    assert "2025-00001" in acks[0].subject
    assert "déposée le 3 février 2025" in acks[0].text
    missing = one("alice@exemple.fr", "pièces complémentaires")
    assert "un relevé d'identité bancaire (RIB)" in missing.text and "Merci de joindre le RIB" in missing.text
    granted = one("alice@exemple.fr", "accordée")
    assert "9\u202f380,00\u00a0€" in granted.subject
    assert f"délibération N° {number} du 15 septembre 2025" in granted.text
    ready = one("alice@exemple.fr", "prête à signer")
    assert "Date limite de remise du bilan : 1er avril 2026" in ready.text
    paid = one("alice@exemple.fr", "versement de")
    assert "versement unique" in paid.text and "Total versé à ce jour : 9\u202f380,00\u00a0€" in paid.text
    reminders = smtp_sink.mails(to="alice@exemple.fr", subject_contains="rappel")
    assert sorted("soit dans 30 jours" in m.text for m in reminders) == [False, True]
    assert any("soit dans 7 jours" in m.text for m in reminders)
    lapsed = one("alice@exemple.fr", "caducité")
    assert "attendu au plus tard le 1er avril 2026" in lapsed.text
    refused = one("bruno@exemple.fr", "pas été retenue")
    assert f"la délibération N° {refused_number}" in refused.text and "n'a pas été adoptée" in refused.text
    declined = one("chloe@exemple.fr", "pas été retenue")
    assert "Motif : Le projet ne relève pas du dispositif." in declined.text
    refund = one("david@exemple.fr", "titre de recettes")
    assert "T-2026-118" in refund.subject and "380,00\u00a0€" in refund.subject
    assert "au plus tard le 12 avril 2026" in refund.text
    notified = one("emma@exemple.fr", ": résiliation de la convention")
    assert "non-exécution de l'action subventionnée" in notified.text
    assert "prend effet le 6 décembre 2025" in notified.text
    terminated = one("emma@exemple.fr", "a pris effet")
    assert "0,00\u00a0€" in terminated.text

    # Every mail has a plain text and an autoescaped HTML part, in French.
    for mail in smtp_sink.mails():
        assert mail.message["Content-Language"] == "fr"
        assert mail.text.startswith("Madame, Monsieur,") and "Le service des subventions du Département" in mail.text
        assert '<html lang="fr">' in mail.html
    first = acks[0]
    assert "<script>alert(1)</script>" in first.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in first.html and "<script>" not in first.html

    # Every kind was sent, and each mail is recorded for the dossier's page.
    kinds = {row["kind"] for d in (d1, d2, d3, d4, d5) for row in notifications_for(services.read, d.id)}
    assert kinds == EVERY_KIND
    rows = notifications_for(services.read, d1.id)
    assert [r["kind"] for r in rows].count("acknowledgment") == 2
    assert {r["to"] for r in rows} == {"alice@exemple.fr"}
    assert all(r["subject"] and r["sent_at"].tzinfo is not None for r in rows)


def test_a_redelivered_or_republished_message_sends_one_mail(services, start_workers, smtp_sink, broker_url, prefix):
    workers = start_workers()
    g = Grants(services.app)
    d = g.submitted(g.applicant(1, "alice@exemple.fr"))
    smtp_sink.wait_for(1)
    assert wait_until(lambda: workers.notifier.counters.sent == 1)
    # The relay crashed before storing its position: the same message is published again, three times.
    body = validate(dict(smtp_and_message(services, d)))
    topology = Topology(prefix)
    with Connection(broker_url) as conn:
        producer = Producer(conn.channel(), exchange=topology.events, serializer="json")
        for _ in range(3):
            producer.publish(body, routing_key=body["type"], message_id=body["message_id"], delivery_mode=2)
    assert wait_until(lambda: workers.notifier.counters.duplicates == 3)
    assert len(smtp_sink.mails()) == 1
    assert [r["kind"] for r in notifications_for(services.read, d.id)] == ["acknowledgment"]


def smtp_and_message(services: Any, dossier: Any) -> dict[str, Any]:
    """The message the relay published for the dossier's submission, rebuilt from the store."""
    from workers.contracts import from_event
    from workers.relay import AppLookup

    event = next(e for e in services.app.events.get(dossier.id) if isinstance(e, Dossier.Submitted))
    message = from_event(event, AppLookup(services.app))
    assert message is not None
    return message


def test_smtp_refusing_then_accepting_is_retried_then_sent_once(services, start_workers, smtp_sink):
    smtp_sink.refuse(3)  # 451 at the end of DATA, three times
    workers = start_workers()
    g = Grants(services.app)
    d = g.submitted(g.applicant(1, "alice@exemple.fr"))
    assert len(smtp_sink.wait_for(1)) == 1
    assert smtp_sink.refused == 3
    assert wait_until(lambda: workers.notifier.counters.sent == 1)
    assert workers.notifier.counters.retried == 3
    assert [r["kind"] for r in notifications_for(services.read, d.id)] == ["acknowledgment"]
    assert mail_count(services) == 1


def dead_letters(broker_url: str, prefix: str, count: int, timeout: float = 30.0) -> list[Any]:
    """Takes `count` messages from the dead-letter queue (fewer if they do not come)."""
    found: list[Any] = []
    with Connection(broker_url) as conn:
        queue = conn.SimpleQueue(Topology(prefix).dead)
        wait_until(lambda: found.append(queue.get(timeout=0.2)) or len(found) >= count, timeout)  # type: ignore[func-returns-value]
        for message in found:
            message.ack()
        queue.close()
    return found


def test_a_message_that_keeps_failing_goes_to_the_dead_letter_queue(services, start_workers, smtp_sink,
                                                                   broker_url, prefix):
    smtp_sink.refuse_always()
    workers = start_workers()
    g = Grants(services.app)
    d = g.submitted(g.applicant(1, "alice@exemple.fr"))
    assert wait_until(lambda: workers.notifier.counters.dead == 1)
    [dead] = dead_letters(broker_url, prefix, 1)
    assert dead.headers["x-attempts"] == 5 and "451" in dead.headers["x-error"]
    assert dead.payload["type"] == "dossier.submitted.v1" and dead.payload["dossier"]["id"] == str(d.id)
    assert smtp_sink.refused == 5 and smtp_sink.mails() == []
    assert notifications_for(services.read, d.id) == [] and mail_count(services) == 0


def test_a_permanent_refusal_is_dead_lettered_at_once(services, start_workers, smtp_sink, broker_url, prefix):
    smtp_sink.refuse(1, "550 5.1.1 Adresse inconnue")
    workers = start_workers()
    g = Grants(services.app)
    g.submitted(g.applicant(1, "inconnu@exemple.fr"))
    assert wait_until(lambda: workers.notifier.counters.dead == 1)
    [dead] = dead_letters(broker_url, prefix, 1)
    assert dead.headers["x-attempts"] == 1 and "550" in dead.headers["x-error"]
    assert workers.notifier.counters.retried == 0


def test_a_message_breaking_its_contract_is_dead_lettered(services, start_workers, smtp_sink, broker_url, prefix):
    workers = start_workers()
    with Connection(broker_url) as conn:
        producer = Producer(conn.channel(), exchange=Topology(prefix).events, serializer="json")
        producer.publish({"type": "dossier.submitted.v1", "message_id": "bad:1"}, routing_key="dossier.submitted.v1",
                         message_id="bad:1")
    assert wait_until(lambda: workers.notifier.counters.dead == 1)
    [dead] = dead_letters(broker_url, prefix, 1)
    assert "contract" in dead.headers["x-error"]
    assert smtp_sink.mails() == []


def test_two_notifiers_with_the_same_message_send_it_once(services, start_workers, smtp_sink, broker_url, prefix):
    first = start_workers()
    second = start_workers("notify") if not broker_url.startswith("memory") else None
    g = Grants(services.app)
    d = g.submitted(g.applicant(1, "alice@exemple.fr"))
    body = smtp_and_message(services, d)
    with Connection(broker_url) as conn:
        producer = Producer(conn.channel(), exchange=Topology(prefix).events, serializer="json")
        for _ in range(20):
            producer.publish(body, routing_key=body["type"], message_id=body["message_id"], delivery_mode=2)
    notifiers = [w.notifier for w in (first, second) if w is not None]
    assert wait_until(lambda: sum(n.counters.sent + n.counters.duplicates for n in notifiers) == 21)
    assert sum(n.counters.sent for n in notifiers) == 1
    assert len(smtp_sink.mails()) == 1


def test_contracts_are_explicit_and_never_the_domain_event(services, start_workers, smtp_sink):
    g = Grants(services.app)
    d = g.submitted(g.applicant(1, "alice@exemple.fr"))
    message = smtp_and_message(services, d)
    assert set(message) == set(ENVELOPE)
    assert message["message_id"] == f"{d.id}:{services.app.load(Dossier, d.id).version}"
    assert message["dossier"] == {"id": str(d.id), "reference": "2025-00001", "project_name": "Échanges européens"}
    assert message["applicant"]["email"] == "alice@exemple.fr"
    assert not {"hash", "previous_hash", "originator_topic", "sworn_statement", "actor"} & set(message)
    for kind, fields in CONTRACTS.items():
        assert kind.startswith("dossier.") and kind.endswith(".v1")
        assert not set(fields) & set(ENVELOPE)


def test_reminders_30_and_7_days_before_once_per_due_date(services):
    g = Grants(services.app)
    d, number = g.vote(g.submitted(g.applicant(1, "alice@exemple.fr")), adopted=True)
    g.sign(d, g.convention(d, report_due_on=date(2026, 4, 1), number=number))
    tick = scheduler(services)
    assert tick.tick(date(2026, 3, 1))["reminders"] == []  # 31 days before
    [thirty] = tick.tick(date(2026, 3, 2))["reminders"]
    assert thirty == f"reminder:{d.id}:2026-04-01:30"
    assert tick.tick(date(2026, 3, 2))["reminders"] == []  # twice the same day: nothing new
    assert tick.tick(date(2026, 3, 5))["reminders"] == []
    [seven] = tick.tick(date(2026, 3, 27))["reminders"]  # missed the 25th: caught up
    assert seven == f"reminder:{d.id}:2026-04-01:7"
    from sqlalchemy import select

    with services.read.begin() as conn:
        bodies = [row.body for row in conn.execute(select(scheduled_messages.c.body))]
    assert sorted(b["days_before"] for b in bodies) == [7, 30]
    assert all(validate(b)["type"] == "dossier.report_reminder.v1" for b in bodies)


def test_no_reminder_once_the_report_is_in():
    class Stub:
        def __init__(self) -> None:
            self.status = "convention_signed"
            self.convention = {"report_due_on": date(2026, 4, 1)}
            self.report: Any = None

    due = Stub()
    assert reminders_due(due, date(2026, 3, 2)) == [(date(2026, 4, 1), 30)]
    assert reminders_due(due, date(2026, 3, 25)) == [(date(2026, 4, 1), 7)]
    assert reminders_due(due, date(2026, 3, 26) - timedelta(days=30)) == []
    assert reminders_due(due, date(2026, 4, 2)) == []
    due.report = {"status": "received"}
    assert reminders_due(due, date(2026, 3, 25)) == []


@pytest.mark.sqlite_only
def test_embedded_broker_restart_republishes_what_was_only_in_memory(services, start_workers, smtp_sink, prefix):
    """The in-memory broker dies with the process: the relay's position stays below unfinished messages."""
    if BACKEND != "sqlite":
        pytest.skip("the embedded broker")
    smtp_sink.refuse_always()
    workers = start_workers(retry_delays=(60.0,))  # held in memory, unacknowledged, when the process "dies"
    g = Grants(services.app)
    dossiers = [g.submitted(g.applicant(n, f"porteur{n}@exemple.fr")) for n in range(3)]
    assert wait_until(lambda: workers.notifier.counters.retried == 3)
    head = int(services.app.recorder.max_notification_id() or 0)
    assert wait_until(lambda: workers.relay.cursor == head)
    workers.close()
    from kombu.transport.memory import Channel

    for name in list(Channel.queues):
        if name.startswith(prefix):
            Channel.queues.pop(name)  # what a crash of the process does to the embedded broker
    assert load_position(services.read, workers.relay.name) < head
    smtp_sink.refusals.clear()
    start_workers()
    for n in range(3):
        assert len(smtp_sink.wait_for(1, to=f"porteur{n}@exemple.fr")) == 1
    assert wait_until(lambda: load_position(services.read, workers.relay.name) == head)
    assert mail_count(services) == 3 and len(smtp_sink.mails()) == 3
    assert len(dossiers) == 3


def test_the_relay_moves_its_position_only_after_the_broker_confirms(services, smtp_sink, prefix):
    url = rabbitmq()
    from tests.integration.test_workers_support import free_port

    g = Grants(services.app)
    g.submitted(g.applicant(1, "alice@exemple.fr"))
    head = int(services.app.recorder.max_notification_id() or 0)
    down = Workers(app=services.app, read=services.read, runner=services.runner, today=date.today,
                   dossier_ids=lambda: [], broker_url=f"amqp://guest:guest@127.0.0.1:{free_port()}//",
                   smtp_url=smtp_sink.url, prefix=prefix, poll_interval=0.05)
    down.start("relay")
    try:
        # No broker: nothing confirmed, the position stays where it was.
        assert wait_until(lambda: load_position(services.read, "relay:" + prefix) > 0, 2.0) is False
    finally:
        down.close()
    up = Workers(app=services.app, read=services.read, runner=services.runner, today=date.today,
                 dossier_ids=lambda: [], broker_url=url, smtp_url=smtp_sink.url, prefix=prefix, poll_interval=0.05)
    up.start("relay", "notify")
    try:
        assert wait_until(lambda: load_position(services.read, "relay:" + prefix) == head)
        assert len(smtp_sink.wait_for(1)) == 1
    finally:
        up.close()
        delete_topology(url, prefix)
    assert Broker(url, Topology(prefix)).describe().startswith("amqp://guest:**@")
