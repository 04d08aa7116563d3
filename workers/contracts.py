"""The messages the service publishes: explicit, versioned contracts built from events, never the events.

Every message is a JSON object with the common envelope

    {"type": "dossier.submitted.v1", "message_id": "<dossier id>:<version>",
     "occurred_on": "2025-09-15", "recorded_at": "2025-09-16T08:12:03.120000+00:00",
     "dossier": {"id", "reference", "project_name"},
     "applicant": {"id", "name", "email"}}

plus the fields its type lists in `CONTRACTS`. Amounts are strings with two decimals, dates ISO
strings. The routing key is the type. A breaking change is a new type (`….v2`), published
alongside the old one until every consumer has moved.

The recipient travels in the message: the relay, which reads the event store anyway, resolves the
applicant's name and address when it builds the message, so consumers need no access to the store
(ADR 0005).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from domain.dossier import Dossier

ENVELOPE = ("type", "message_id", "occurred_on", "recorded_at", "dossier", "applicant")
DOSSIER_FIELDS = ("id", "reference", "project_name")
APPLICANT_FIELDS = ("id", "name", "email")

CONTRACTS: dict[str, tuple[str, ...]] = {
    "dossier.submitted.v1": (),
    "dossier.documents_requested.v1": ("documents", "message"),
    "dossier.declined.v1": ("reason",),
    "dossier.granted.v1": ("amount", "deliberation_number", "session_on"),
    "dossier.refused.v1": ("deliberation_number", "session_on"),
    "dossier.convention_drafted.v1": ("amount", "eligible_cost", "action_from", "action_to", "report_due_on"),
    "dossier.payment_made.v1": ("payment_id", "tranche", "amount", "paid_total", "granted_amount"),
    "dossier.report_reminder.v1": ("report_due_on", "days_before"),
    "dossier.lapsed.v1": ("report_due_on",),
    "dossier.refund_demanded.v1": ("title_number", "amount", "issued_on", "due_on", "reason"),
    "dossier.termination_notified.v1": ("reason", "notice_received_on", "takes_effect_on"),
    "dossier.terminated.v1": ("reason", "takes_effect_on", "final_amount"),
}
"""Each message type and the fields it carries beyond the envelope; nothing more, nothing less."""

REMINDER_DAYS = (30, 7)


class ContractError(ValueError):
    """A message that does not match its contract."""


def validate(body: Any) -> dict[str, Any]:
    """Checks a message against its contract; returns it, or raises ContractError naming what is wrong."""
    if not isinstance(body, dict):
        raise ContractError("a message is a JSON object")
    kind = body.get("type")
    if kind not in CONTRACTS:
        raise ContractError(f"unknown message type {kind!r}")
    expected = set(ENVELOPE) | set(CONTRACTS[kind])
    missing, extra = expected - set(body), set(body) - expected
    if missing or extra:
        raise ContractError(f"{kind}: missing {sorted(missing)}, unexpected {sorted(extra)}")
    for name, fields in (("dossier", DOSSIER_FIELDS), ("applicant", APPLICANT_FIELDS)):
        part = body[name]
        if not isinstance(part, dict) or set(part) != set(fields):
            raise ContractError(f"{kind}: {name} must have exactly {list(fields)}")
    if not body["applicant"]["email"]:
        raise ContractError(f"{kind}: no recipient address")
    return body


# --- building messages ------------------------------------------------------------------------


class Lookup(Protocol):
    """What the builders read besides the event: the dossier as it stood after the event, and current others."""

    def dossier(self, dossier_id: UUID, version: int | None = None) -> Any: ...

    def applicant(self, applicant_id: UUID) -> Any: ...

    def deliberation(self, deliberation_id: UUID) -> Any: ...


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value).quantize(Decimal('0.01'))}"


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def envelope(kind: str, message_id: str, *, occurred_on: date, recorded_at: datetime, dossier: Any,
             applicant: Any, **fields: Any) -> dict[str, Any]:
    """A complete message of type `kind`, checked against its contract."""
    return validate({
        "type": kind, "message_id": message_id, "occurred_on": day(occurred_on),
        "recorded_at": recorded_at.isoformat(),
        "dossier": {"id": str(dossier.id), "reference": dossier.reference, "project_name": dossier.project_name},
        "applicant": {"id": str(applicant.id), "name": applicant.name, "email": applicant.email},
        **fields,
    })


Builder = Callable[[Any, Any, Lookup], dict[str, Any]]
"""(event, dossier, lookup) → the type-specific fields."""


def _deliberation(lookup: Lookup, deliberation_id: UUID) -> Any:
    return lookup.deliberation(deliberation_id)


def _submitted(event: Any, dossier: Any, lookup: Lookup) -> dict[str, Any]:
    return {}


def _documents_requested(event: Any, dossier: Any, lookup: Lookup) -> dict[str, Any]:
    return {"documents": list(event.documents), "message": event.message}


def _declined(event: Any, dossier: Any, lookup: Lookup) -> dict[str, Any]:
    return {"reason": event.reason}


def _granted(event: Any, dossier: Any, lookup: Lookup) -> dict[str, Any]:
    deliberation = _deliberation(lookup, event.deliberation_id)
    return {"amount": money(event.amount), "deliberation_number": deliberation.number,
            "session_on": day(deliberation.session_on)}


def _refused(event: Any, dossier: Any, lookup: Lookup) -> dict[str, Any]:
    deliberation = _deliberation(lookup, event.deliberation_id)
    return {"deliberation_number": deliberation.number, "session_on": day(deliberation.session_on)}


def _convention_drafted(event: Any, dossier: Any, lookup: Lookup) -> dict[str, Any]:
    return {"amount": money(dossier.granted_amount), "eligible_cost": money(event.eligible_cost),
            "action_from": day(event.action_from), "action_to": day(event.action_to),
            "report_due_on": day(event.report_due_on)}


def _payment_made(event: Any, dossier: Any, lookup: Lookup) -> dict[str, Any]:
    payment = next(p for p in dossier.payments if p["id"] == event.payment_id)
    return {"payment_id": event.payment_id, "tranche": payment["tranche"], "amount": money(payment["amount"]),
            "paid_total": money(dossier.paid_total), "granted_amount": money(dossier.granted_amount)}


def _lapsed(event: Any, dossier: Any, lookup: Lookup) -> dict[str, Any]:
    return {"report_due_on": day(event.report_due_on)}


def _refund_demanded(event: Any, dossier: Any, lookup: Lookup) -> dict[str, Any]:
    return {"title_number": event.title_number, "amount": money(event.amount), "issued_on": day(event.issued_on),
            "due_on": day(event.due_on), "reason": event.reason}


def _termination_notified(event: Any, dossier: Any, lookup: Lookup) -> dict[str, Any]:
    return {"reason": event.reason, "notice_received_on": day(event.notice_received_on),
            "takes_effect_on": day(event.takes_effect_on)}


def _terminated(event: Any, dossier: Any, lookup: Lookup) -> dict[str, Any]:
    termination = dossier.termination or {}
    return {"reason": termination.get("reason"), "takes_effect_on": day(event.effective_on),
            "final_amount": money(event.final_amount)}


EVENTS: dict[type[Any], tuple[str, Builder]] = {
    Dossier.Submitted: ("dossier.submitted.v1", _submitted),
    Dossier.DocumentsRequested: ("dossier.documents_requested.v1", _documents_requested),
    Dossier.Declined: ("dossier.declined.v1", _declined),
    Dossier.Granted: ("dossier.granted.v1", _granted),
    Dossier.Refused: ("dossier.refused.v1", _refused),
    Dossier.ConventionDrafted: ("dossier.convention_drafted.v1", _convention_drafted),
    Dossier.PaymentMade: ("dossier.payment_made.v1", _payment_made),
    Dossier.Lapsed: ("dossier.lapsed.v1", _lapsed),
    Dossier.RefundDemanded: ("dossier.refund_demanded.v1", _refund_demanded),
    Dossier.TerminationNotified: ("dossier.termination_notified.v1", _termination_notified),
    Dossier.Terminated: ("dossier.terminated.v1", _terminated),
}
"""The events that become messages, with their type and builder; every other event is not published."""


def message_id_for(aggregate_id: UUID, version: int) -> str:
    """Stable across republishing: the same event always gives the same id."""
    return f"{aggregate_id}:{version}"


def from_event(event: Any, lookup: Lookup) -> dict[str, Any] | None:
    """The message for a domain event, or None when the event is not published."""
    known = EVENTS.get(type(event))
    if known is None:
        return None
    kind, build = known
    dossier = lookup.dossier(event.originator_id, event.originator_version)
    applicant = lookup.applicant(dossier.applicant_id)
    return envelope(kind, message_id_for(event.originator_id, event.originator_version),
                    occurred_on=event.effective_on, recorded_at=event.timestamp, dossier=dossier,
                    applicant=applicant, **build(event, dossier, lookup))


def report_reminder(dossier: Any, applicant: Any, *, due: date, days_before: int, today: date,
                    recorded_at: datetime) -> dict[str, Any]:
    """The reminder that a report is due in `days_before` days (30 or 7); one per dossier, due date and delay."""
    if days_before not in REMINDER_DAYS:
        raise ContractError(f"days_before must be one of {REMINDER_DAYS}")
    return envelope("dossier.report_reminder.v1", reminder_id(dossier.id, due, days_before), occurred_on=today,
                    recorded_at=recorded_at, dossier=dossier, applicant=applicant,
                    report_due_on=day(due), days_before=days_before)


def reminder_id(dossier_id: UUID, due: date, days_before: int) -> str:
    return f"reminder:{dossier_id}:{due.isoformat()}:{days_before}"


PUBLISHED_TOPICS_PREFIX = "domain.dossier:Dossier."
"""Every published event is a Dossier event: the relay decodes nothing else."""
