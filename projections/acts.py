"""Read models of the acts and the money that follows them: deliberations, grants, payments, refunds.

Same shape as `read_models`: one table and one `<Name>Projection` each, handlers changing the
batch's rows through a `RowSet`. Payments and refunds are rows of their own (keyed by the ids the
dossier gives them), so the registers of finance and auditors are plain queries.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Date, Index, Integer, String, Table

from domain.deliberation import Deliberation, item_total
from domain.dossier import Dossier
from domain.legality import executory_on, referral_deadline
from projections.database import Money, UTCDateTime, metadata
from projections.read_models import Handler, Projection, RowSet

# --- tables -------------------------------------------------------------------------------------

rm_deliberations = Table(
    "rm_deliberations", metadata,
    Column("id", String(36), primary_key=True),
    Column("number", String(30), nullable=False),
    Column("title", String(500), nullable=False),
    Column("session_on", Date, nullable=False),
    Column("status", String(20), nullable=False),
    Column("result", String(20), nullable=True),
    Column("items", Integer, nullable=False),
    Column("total_amount", Money, nullable=False),
    Column("signed_on", Date, nullable=True),
    Column("act_id", String(100), nullable=True),
    Column("transmitted_on", Date, nullable=True),
    Column("acknowledged_on", Date, nullable=True),
    Column("published_on", Date, nullable=True),
    Column("publication_mode", String(20), nullable=True),
    Column("executory_on", Date, nullable=True),
    Column("referral_deadline", Date, nullable=True),
    Column("letters", Integer, nullable=False),
    Column("referred", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_rm_deliberations_session", "session_on", "number"),
    info={"read_model": True},
)

rm_grants = Table(
    "rm_grants", metadata,
    Column("id", String(36), primary_key=True),  # the dossier
    Column("deliberation_id", String(36), nullable=False),
    Column("budget_line_id", String(36), nullable=False),
    Column("amount", Money, nullable=False),
    Column("status", String(20), nullable=False),
    Index("ix_rm_grants_line", "budget_line_id", "id"),
    info={"read_model": True},
)
"""Which deliberation and budget line each dossier put on a deliberation is on (payments join it)."""

rm_payments = Table(
    "rm_payments", metadata,
    Column("id", String(36), primary_key=True),
    Column("dossier_id", String(36), nullable=False),
    Column("tranche", String(20), nullable=False),
    Column("amount", Money, nullable=False),
    Column("status", String(20), nullable=False),
    Column("ordered_on", Date, nullable=False),
    Column("paid_on", Date, nullable=True),
    Column("bank_reference", String(100), nullable=True),
    Column("justified_expenses", Money, nullable=True),
    Index("ix_rm_payments_ordered", "ordered_on", "id"),
    Index("ix_rm_payments_dossier", "dossier_id", "ordered_on"),
    info={"read_model": True},
)
"""One row per payment order; its budget line is the grant's (`rm_grants`), which the event does not carry."""

rm_refunds = Table(
    "rm_refunds", metadata,
    Column("id", String(36), primary_key=True),
    Column("dossier_id", String(36), nullable=False),
    Column("title_number", String(100), nullable=False),
    Column("amount", Money, nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("received_by_beneficiary_on", Date, nullable=True),
    Column("due_on", Date, nullable=False),
    Column("received_total", Money, nullable=False),
    Column("last_received_on", Date, nullable=True),
    Column("status", String(20), nullable=False),
    Index("ix_rm_refunds_status", "status", "due_on", "id"),
    info={"read_model": True},
)


# --- projections --------------------------------------------------------------------------------


class DeliberationProjection(Projection):
    """`rm_deliberations`: each act with its vote result and legality dates (the register of acts)."""

    table = rm_deliberations

    def handlers(self) -> dict[type[Any], Handler]:
        d = Deliberation
        return {d.Drafted: self._drafted, d.VoteRecorded: self._voted, d.Signed: self._signed,
                d.Transmitted: self._transmitted, d.Published: self._published,
                d.PrefectLetterReceived: self._letter}

    @staticmethod
    def _set(rows: RowSet, e: Any, key: str, **values: Any) -> dict[str, Any] | None:
        return rows.change(key, {"version": e.originator_version, "updated_at": e.timestamp, **values})

    def _drafted(self, rows: RowSet, e: Any, key: str) -> None:
        rows.put({"id": key, "number": e.number, "title": e.title, "session_on": e.session_on,
                  "status": "draft", "result": None, "items": len(e.items), "total_amount": item_total(e.items),
                  "signed_on": None, "act_id": None, "transmitted_on": None, "acknowledged_on": None,
                  "published_on": None, "publication_mode": None, "executory_on": None,
                  "referral_deadline": None, "letters": 0, "referred": False,
                  "version": e.originator_version, "updated_at": e.timestamp})

    def _voted(self, rows: RowSet, e: Any, key: str) -> None:
        self._set(rows, e, key, status=e.result, result=e.result)

    def _signed(self, rows: RowSet, e: Any, key: str) -> None:
        self._set(rows, e, key, signed_on=e.effective_on)

    def _transmitted(self, rows: RowSet, e: Any, key: str) -> None:
        row = rows.get(key) or {}
        self._set(rows, e, key, act_id=e.act_id, transmitted_on=e.transmitted_on, acknowledged_on=e.effective_on,
                  executory_on=executory_on(e.effective_on, row.get("published_on")),
                  referral_deadline=referral_deadline(e.effective_on))

    def _published(self, rows: RowSet, e: Any, key: str) -> None:
        row = rows.get(key) or {}
        self._set(rows, e, key, published_on=e.effective_on, publication_mode=e.mode,
                  executory_on=executory_on(row.get("acknowledged_on"), e.effective_on))

    def _letter(self, rows: RowSet, e: Any, key: str) -> None:
        """A referral ends the window's question; any other letter extends it (rule 11)."""
        row = rows.get(key)
        if row is None:
            rows.change(key, {})  # logs the missing row
            return
        values: dict[str, Any] = {"letters": row["letters"] + 1}
        if e.kind == "referral":
            values["referred"] = True
        else:
            extended = referral_deadline(e.effective_on)
            current = row["referral_deadline"]
            values["referral_deadline"] = extended if current is None else max(current, extended)
        self._set(rows, e, key, **values)


class GrantProjection(Projection):
    """`rm_grants`: the deliberation and budget line of every dossier put on a deliberation."""

    table = rm_grants

    def handlers(self) -> dict[type[Any], Handler]:
        return {Dossier.Scheduled: self._scheduled, Dossier.Granted: self._status("granted"),
                Dossier.Refused: self._status("refused")}

    def _scheduled(self, rows: RowSet, e: Any, key: str) -> None:
        rows.put({"id": key, "deliberation_id": str(e.deliberation_id), "budget_line_id": str(e.budget_line_id),
                  "amount": e.amount, "status": "scheduled"})

    @staticmethod
    def _status(status: str) -> Handler:
        def handler(rows: RowSet, e: Any, key: str) -> None:
            rows.change(key, {"status": status})

        return handler


class PaymentProjection(Projection):
    """`rm_payments`: every payment order and when it was paid."""

    table = rm_payments

    def handlers(self) -> dict[type[Any], Handler]:
        return {Dossier.PaymentOrdered: self._ordered, Dossier.PaymentMade: self._made}

    def key(self, event: Any) -> str:
        return str(event.payment_id)

    def _ordered(self, rows: RowSet, e: Any, key: str) -> None:
        rows.put({"id": key, "dossier_id": str(e.originator_id), "tranche": e.tranche, "amount": e.amount,
                  "status": "ordered", "ordered_on": e.effective_on, "paid_on": None, "bank_reference": None,
                  "justified_expenses": e.justified_expenses})

    def _made(self, rows: RowSet, e: Any, key: str) -> None:
        rows.change(key, {"status": "paid", "paid_on": e.effective_on, "bank_reference": e.bank_reference})


class RefundProjection(Projection):
    """`rm_refunds`: every titre de perception, what it claims, when it is due and what came back."""

    table = rm_refunds

    def handlers(self) -> dict[type[Any], Handler]:
        return {Dossier.RefundDemanded: self._demanded, Dossier.RefundReceived: self._received}

    def key(self, event: Any) -> str:
        return str(event.refund_id)

    def _demanded(self, rows: RowSet, e: Any, key: str) -> None:
        rows.put({"id": key, "dossier_id": str(e.originator_id), "title_number": e.title_number,
                  "amount": e.amount, "issued_on": e.issued_on,
                  "received_by_beneficiary_on": e.received_by_beneficiary_on, "due_on": e.due_on,
                  "received_total": e.amount - e.amount, "last_received_on": None, "status": "open"})

    def _received(self, rows: RowSet, e: Any, key: str) -> None:
        row = rows.get(key)
        if row is None:
            rows.change(key, {})  # logs the missing row
            return
        total = row["received_total"] + e.amount
        rows.change(key, {"received_total": total, "last_received_on": e.effective_on,
                          "status": "closed" if total >= row["amount"] else "open"})


def act_projections() -> list[Projection]:
    return [DeliberationProjection(), GrantProjection(), PaymentProjection(), RefundProjection()]
