"""The registers as CSV files for a French spreadsheet: acts and their legality, refunds (titres).

Same rows and same roles as their JSON versions (`/legality/register`, `/refunds`); the format is
described in `api/csv_export.py`. The payments register of a budget line is under `/budget-lines`.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api import csv_export
from api.auth import AUDITOR, FINANCE, READERS
from api.common import Blueprint, caught_up
from api.schemas import PeriodQuerySchema, RefundQuerySchema
from api.services import current_services
from projections import registers

blp = Blueprint("exports", __name__, url_prefix="",
                description="Registres au format CSV (Excel en français : UTF-8 avec BOM, « ; », virgule "
                            "décimale, dates JJ/MM/AAAA).")


def legality_csv(query: dict[str, Any]) -> Any:
    caught_up()
    services = current_services()
    acts = registers.legality_register(services.read, **query, today=services.today())
    period = csv_export.period_name(query.get("date_from"), query.get("date_to"))
    return csv_export.csv_response(csv_export.LEGALITY_COLUMNS, csv_export.legality_rows(acts),
                                   csv_export.file_name(f"registre-des-actes-{period}"))


def refunds_csv(status: str | None) -> Any:
    caught_up()
    services = current_services()
    refunds = registers.refund_register(services.read, status, today=services.today())
    return csv_export.csv_response(csv_export.REFUND_COLUMNS, csv_export.refund_rows(refunds),
                                   csv_export.file_name(f"registre-des-reversements-{status or 'tous'}"))


@blp.route("/legality/register.csv")
class LegalityRegisterCsv(MethodView):
    @blp.auth(*READERS)
    @blp.arguments(PeriodQuerySchema, location="query")
    @blp.response(200, csv_export.CSV_DOC, content_type="text/csv")
    def get(self, query: dict[str, Any]) -> Any:
        """The register of acts of the sessions from `from` to `to` (inclusive), with their legality dates and
        what each still waits for, as a CSV file."""
        return legality_csv(query)


@blp.route("/refunds.csv")
class RefundRegisterCsv(MethodView):
    @blp.auth(FINANCE, AUDITOR)
    @blp.arguments(RefundQuerySchema, location="query")
    @blp.response(200, csv_export.CSV_DOC, content_type="text/csv")
    def get(self, query: dict[str, Any]) -> Any:
        """The register of refunds (titres de perception), `status` open or closed, as a CSV file."""
        return refunds_csv(query.get("status"))
