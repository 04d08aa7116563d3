"""The two mailers: the same interface, the same handover protocol; SMTP against a real server (aiosmtpd)."""

from __future__ import annotations

import inspect

import pytest

from tests.integration import test_workers_support as support
from tests.integration.test_workers_support import free_port
from workers.mail import LogMailer, Mail, MailRefused, MailUnavailable, SmtpMailer
from workers.notifier import Ledger
from workers.tables import create_tables

smtp_sink = support.smtp_sink  # fixture

MAIL = Mail(to="alice@exemple.fr", subject="Accusé de réception de votre demande n° 2025-00001",
            text="Madame, Monsieur,\n.\n..point en tête de ligne\n", html="<p>Madame, Monsieur,</p>",
            kind="acknowledgment", dossier_id="d0c5e7f0-0000-4000-8000-000000000001", message_id="dossier:2")


class Steps:
    def __init__(self) -> None:
        self.done: list[str] = []

    def prepare(self) -> None:
        self.done.append("prepare")

    def commit(self) -> None:
        self.done.append("commit")


def public_interface(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")}


def test_the_smtp_and_log_mailers_have_the_same_interface():
    assert public_interface(SmtpMailer) == public_interface(LogMailer)
    assert set(public_interface(LogMailer)) == {"send", "close"}


def test_the_log_mailer_hands_over_and_logs(caplog):
    steps = Steps()
    with caplog.at_level("INFO", logger="subventio.mail"):
        LogMailer().send(MAIL, steps)
    assert steps.done == ["prepare", "commit"]
    assert "a***@e***" in caplog.text and "alice@exemple.fr" not in caplog.text  # no personal data in logs
    assert "Accusé de réception" in caplog.text


def test_the_smtp_mailer_hands_over_before_the_verdict_and_the_mail_arrives(smtp_sink):
    mailer = SmtpMailer(f"{smtp_sink.url}?from=subventions%40departement.example")
    steps = Steps()
    mailer.send(MAIL, steps)
    mailer.send(MAIL)  # the connection is kept open between mails
    mailer.close()
    assert steps.done == ["prepare", "commit"]
    first, second = smtp_sink.wait_for(2)
    assert first.to == ["alice@exemple.fr"]
    assert first.message["From"] == "subventions@departement.example"
    assert first.message["Message-ID"] == MAIL.header_message_id() == second.message["Message-ID"]
    assert first.text.replace("\r\n", "\n") == MAIL.text  # leading dots survive the dot-stuffing
    assert first.html.strip() == MAIL.html


def test_a_refusal_at_the_end_of_data_is_temporary_and_comes_after_the_handover(smtp_sink):
    smtp_sink.refuse(1)
    steps = Steps()
    with pytest.raises(MailRefused) as info:
        SmtpMailer(smtp_sink.url).send(MAIL, steps)
    assert info.value.code == 451 and info.value.temporary
    assert steps.done == ["prepare", "commit"]


def test_a_permanent_refusal_is_not_temporary(smtp_sink):
    smtp_sink.refuse(1, "554 5.7.1 Refusé")
    with pytest.raises(MailRefused) as info:
        SmtpMailer(smtp_sink.url).send(MAIL)
    assert info.value.code == 554 and not info.value.temporary


def test_no_server_is_unavailable_before_anything_is_handed_over():
    steps = Steps()
    with pytest.raises(MailUnavailable):
        SmtpMailer(f"smtp://127.0.0.1:{free_port()}", timeout=2).send(MAIL, steps)
    assert steps.done == []


def test_the_ledger_sends_once_and_forgets_a_mail_refused_after_the_handover(services, smtp_sink):
    create_tables(services.read)
    ledger = Ledger(services.read)
    mailer = SmtpMailer(smtp_sink.url)
    smtp_sink.refuse(1)
    with pytest.raises(MailRefused):
        ledger.deliver(MAIL, mailer)
    assert not ledger.was_sent(MAIL.message_id)  # refused after its record was committed: the record is undone
    assert ledger.deliver(MAIL, mailer) is True
    assert ledger.deliver(MAIL, mailer) is False
    assert ledger.deliver(MAIL, LogMailer()) is False
    assert len(smtp_sink.mails()) == 1


def test_an_smtp_url_must_be_smtp():
    with pytest.raises(ValueError, match="scheme"):
        SmtpMailer("http://127.0.0.1:25")
    secure = SmtpMailer("smtps://user:p%40ss@mail.example:465?starttls=0")
    assert (secure.host, secure.port, secure.implicit_tls, secure.user, secure.password) == (
        "mail.example", 465, True, "user", "p@ss")
