"""Applicants (porteurs de projet): admin and instructors register; the applicant itself and staff read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from flask.views import MethodView

from api.auth import ADMIN, FINANCE, INSTRUCTOR, READERS
from api.common import ETAG, LOCATION, Blueprint, application, command, create, current
from api.schemas import ApplicantSchema, BankSchema
from domain.applicant import Applicant

blp = Blueprint("applicants", __name__, url_prefix="/applicants",
                description="Porteurs de projet : identité (SIRET), contact, représentant, coordonnées bancaires.")


def itself(view_args: Mapping[str, Any]) -> UUID:
    """An applicant owns its own record."""
    applicant_id: UUID = view_args["applicant_id"]
    return applicant_id


@blp.route("")
class ApplicantList(MethodView):
    @blp.auth(ADMIN, INSTRUCTOR)
    @blp.arguments(ApplicantSchema)
    @blp.response(201, ApplicantSchema, headers=LOCATION)
    @blp.refusals(409)
    def post(self, args: dict[str, Any]) -> Any:
        """Register an applicant; a SIRET (Luhn key checked) identifies it once."""
        return create(application().register_applicant, args)


@blp.route("/<uuid:applicant_id>")
class ApplicantItem(MethodView):
    @blp.current_state(ApplicantSchema)
    @blp.auth(*READERS, owner=itself)
    @blp.response(200, ApplicantSchema, headers=ETAG)
    @blp.refusals(404)
    def get(self, applicant_id: UUID) -> Any:
        """An applicant (an applicant's token sees only itself)."""
        return current(Applicant, applicant_id, "Porteur", ApplicantSchema)


@blp.route("/<uuid:applicant_id>/bank")
class ApplicantBank(MethodView):
    @blp.auth(ADMIN, INSTRUCTOR, FINANCE, owner=itself)
    @blp.arguments(BankSchema)
    @blp.response(200, ApplicantSchema, headers=ETAG)
    @blp.refusals(404, 412)
    def put(self, bank: dict[str, Any], applicant_id: UUID) -> Any:
        """Replace the bank details (IBAN check digits verified)."""
        return command(application().change_bank, applicant_id, args={"bank": bank})
