"""The registers auditors and finance read: acts with their legality dates, payments, refunds (titres)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import select

from projections.acts import rm_deliberations, rm_grants, rm_payments, rm_refunds
from projections.database import ReadStore
from projections.queries import _limit, _page
from projections.read_models import rm_dossiers

REFUND_STATUSES = ("open", "closed")


def pending(act: dict[str, Any], today: date) -> list[str]:
    """What an act still waits for: vote, signature, transmission, publication, the end of the referral window."""
    if act["status"] == "draft":
        return ["vote"]
    waiting = []
    if act["signed_on"] is None:
        waiting.append("signature")
    if act["act_id"] is None:
        waiting.append("transmission")
    if act["published_on"] is None:
        waiting.append("publication")
    if act["referral_deadline"] is not None and not act["referred"] and today <= act["referral_deadline"]:
        waiting.append("referral_window")
    return waiting


def legality_register(read: ReadStore, date_from: date | None = None, date_to: date | None = None, *,
                      today: date | None = None) -> list[dict[str, Any]]:
    """Every act of the sessions between two dates (inclusive), with its dates and what is pending."""
    today = today or date.today()
    t = rm_deliberations
    query = select(t).order_by(t.c.session_on, t.c.number)
    if date_from is not None:
        query = query.where(t.c.session_on >= date_from)
    if date_to is not None:
        query = query.where(t.c.session_on <= date_to)
    with read.begin() as conn:
        acts = [dict(row) for row in conn.execute(query).mappings()]
    for act in acts:
        act["pending"] = pending(act, today)
        act["referral_window_open"] = "referral_window" in act["pending"]
    return acts


def list_deliberations(read: ReadStore, limit: int = 50, cursor: str | None = None, *,
                       status: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """A page of deliberations ordered by (session_on, number); ValueError for a bad limit or cursor."""
    query = select(rm_deliberations)
    if status is not None:
        query = query.where(rm_deliberations.c.status == status)
    return _page(read, query, ("session_on", "number"), _limit(limit), cursor, date.fromisoformat)


def refund_register(read: ReadStore, status: str | None = None, *,
                    today: date | None = None) -> list[dict[str, Any]]:
    """Every titre (open, closed or all) with the dossier it claims for, what is left and whether it is overdue."""
    if status is not None and status not in REFUND_STATUSES:
        raise ValueError(f"status must be one of {', '.join(REFUND_STATUSES)}")
    today = today or date.today()
    r, d = rm_refunds, rm_dossiers
    query = (select(r, d.c.reference.label("dossier_reference"), d.c.applicant_id)
             .select_from(r.outerjoin(d, d.c.id == r.c.dossier_id))
             .order_by(r.c.due_on, r.c.title_number, r.c.id))
    if status is not None:
        query = query.where(r.c.status == status)
    with read.begin() as conn:
        refunds = [dict(row) for row in conn.execute(query).mappings()]
    for refund in refunds:
        refund["outstanding"] = refund["amount"] - refund["received_total"]
        refund["overdue"] = refund["status"] == "open" and refund["due_on"] < today
    return refunds


def payments_register(read: ReadStore, budget_line_id: UUID | str | None = None, date_from: date | None = None,
                      date_to: date | None = None) -> list[dict[str, Any]]:
    """Every payment order (by order date), with its dossier's budget line; filtered by line and dates."""
    p, g, d = rm_payments, rm_grants, rm_dossiers
    query = (select(p, g.c.budget_line_id, g.c.deliberation_id, d.c.reference.label("dossier_reference"))
             .select_from(p.outerjoin(g, g.c.id == p.c.dossier_id).outerjoin(d, d.c.id == p.c.dossier_id))
             .order_by(p.c.ordered_on, p.c.id))
    if budget_line_id is not None:
        query = query.where(g.c.budget_line_id == str(budget_line_id))
    if date_from is not None:
        query = query.where(p.c.ordered_on >= date_from)
    if date_to is not None:
        query = query.where(p.c.ordered_on <= date_to)
    with read.begin() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]
