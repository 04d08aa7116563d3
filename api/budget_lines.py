"""Budget lines: the credits of one year (admin and finance write; staff and auditors read).

Also what auditors replay of a line: its history, its state at a past moment, and the register of
the payments made on it (JSON or CSV).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from flask.views import MethodView

from api import csv_export
from api.auth import ADMIN, FINANCE, READERS
from api.common import ETAG, LOCATION, Blueprint, application, caught_up, command, create, current, shown, stored
from api.schemas import (
    AsOfSchema,
    BudgetLineListSchema,
    BudgetLineSchema,
    CreditsChangeSchema,
    HistorySchema,
    PaymentRegisterSchema,
    PeriodQuerySchema,
)
from api.services import current_services
from domain.budget import BudgetLine
from projections import queries, registers

blp = Blueprint("budget_lines", __name__, url_prefix="/budget-lines",
                description="Lignes budgétaires : crédits d'une année, réservés, engagés, payés, disponibles ; "
                            "historique, état passé et registre des paiements.")

WHAT = "Ligne budgétaire"


def line(budget_line_id: UUID) -> BudgetLine:
    found: BudgetLine = stored(BudgetLine, budget_line_id, WHAT)
    return found


def as_it_stood(budget_line_id: UUID, as_of: datetime | None = None, effective_on: date | None = None) -> Any:
    """Now, as recorded at an instant, or through the facts dated on or before a real-world date."""
    if as_of is not None:
        return shown(application().as_of(BudgetLine, budget_line_id, as_of, WHAT))
    if effective_on is not None:
        return shown(application().as_of_effective(BudgetLine, budget_line_id, effective_on, WHAT))
    return current(BudgetLine, budget_line_id, WHAT, BudgetLineSchema)


def payments(budget_line_id: UUID, query: dict[str, Any]) -> list[dict[str, Any]]:
    """The payment orders on one line (404 if there is no such line), by order date."""
    line(budget_line_id)
    caught_up()
    return registers.payments_register(current_services().read, budget_line_id=budget_line_id, **query)


@blp.route("")
class BudgetLineList(MethodView):
    @blp.auth(*READERS)
    @blp.response(200, BudgetLineListSchema)
    def get(self) -> Any:
        """Every budget line."""
        caught_up()
        return {"items": queries.list_budget_lines(current_services().read)}

    @blp.auth(ADMIN, FINANCE)
    @blp.arguments(BudgetLineSchema)
    @blp.response(201, BudgetLineSchema, headers=LOCATION)
    @blp.refusals(409)
    def post(self, args: dict[str, Any]) -> Any:
        """Open a budget line (code, imputation, year) with its credits; one per code, imputation and year."""
        return create(application().open_budget_line, args)


@blp.route("/<uuid:budget_line_id>")
class BudgetLineItem(MethodView):
    @blp.current_state(BudgetLineSchema)
    @blp.auth(*READERS)
    @blp.arguments(AsOfSchema, location="query")
    @blp.response(200, BudgetLineSchema, headers=ETAG)
    @blp.refusals(404)
    def get(self, query: dict[str, Any], budget_line_id: UUID) -> Any:
        """A budget line (available = credits − reserved − committed) now, as recorded at `as_of`, or as of the
        real date `effective_on` (404 if it did not exist yet)."""
        return as_it_stood(budget_line_id, **query)


@blp.route("/<uuid:budget_line_id>/history")
class BudgetLineHistory(MethodView):
    @blp.auth(*READERS)
    @blp.response(200, HistorySchema)
    @blp.refusals(404)
    def get(self, budget_line_id: UUID) -> Any:
        """Every event in order (credits, reservations, commitments, payments, releases): type, actor, recorded
        and effective dates, data, chained hashes."""
        return {"items": application().history(line(budget_line_id).id)}


@blp.route("/<uuid:budget_line_id>/credits")
class BudgetLineCredits(MethodView):
    @blp.auth(ADMIN, FINANCE)
    @blp.arguments(CreditsChangeSchema)
    @blp.response(200, BudgetLineSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], budget_line_id: UUID) -> Any:
        """Add (or, negative, remove) credits; never below what is reserved and committed."""
        return command(application().change_credits, budget_line_id, args=args, dated="decided_on")


@blp.route("/<uuid:budget_line_id>/payments")
class BudgetLinePayments(MethodView):
    @blp.auth(*READERS)
    @blp.arguments(PeriodQuerySchema, location="query")
    @blp.response(200, PaymentRegisterSchema)
    @blp.refusals(404)
    def get(self, query: dict[str, Any], budget_line_id: UUID) -> Any:
        """The register of payment orders on this line by order date, ordered `from` … `to` (inclusive)."""
        return {"items": payments(budget_line_id, query)}


@blp.route("/<uuid:budget_line_id>/payments.csv")
class BudgetLinePaymentsCsv(MethodView):
    @blp.auth(*READERS)
    @blp.arguments(PeriodQuerySchema, location="query")
    @blp.response(200, csv_export.CSV_DOC, content_type="text/csv")
    @blp.refusals(404)
    def get(self, query: dict[str, Any], budget_line_id: UUID) -> Any:
        """The same register as a CSV file for a French spreadsheet (`;`, decimal comma, dates JJ/MM/AAAA)."""
        found = line(budget_line_id)
        rows = csv_export.payment_rows(payments(budget_line_id, query))
        period = csv_export.period_name(query.get("date_from"), query.get("date_to"))
        return csv_export.csv_response(csv_export.PAYMENT_COLUMNS, rows,
                                       csv_export.file_name(f"paiements-{found.code}-{found.year}-{period}"))
