"""Budget lines: the credits of one year (admin and finance write; staff and auditors read)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask.views import MethodView

from api.auth import ADMIN, FINANCE, READERS
from api.common import ETAG, LOCATION, Blueprint, application, caught_up, command, create, shown, stored
from api.schemas import BudgetLineListSchema, BudgetLineSchema, CreditsChangeSchema
from api.services import current_services
from domain.budget import BudgetLine
from projections import queries

blp = Blueprint("budget_lines", __name__, url_prefix="/budget-lines",
                description="Lignes budgétaires : crédits d'une année, réservés, engagés, payés, disponibles.")


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
    @blp.auth(*READERS)
    @blp.response(200, BudgetLineSchema, headers=ETAG)
    @blp.refusals(404)
    def get(self, budget_line_id: UUID) -> Any:
        """A budget line: available = credits − reserved − committed."""
        return shown(stored(BudgetLine, budget_line_id, "Ligne budgétaire"))


@blp.route("/<uuid:budget_line_id>/credits")
class BudgetLineCredits(MethodView):
    @blp.auth(ADMIN, FINANCE)
    @blp.arguments(CreditsChangeSchema)
    @blp.response(200, BudgetLineSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], budget_line_id: UUID) -> Any:
        """Add (or, negative, remove) credits; never below what is reserved and committed."""
        return command(application().change_credits, budget_line_id, args=args, dated="decided_on")
