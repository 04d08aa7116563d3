"""Programmes (dispositifs, appels à projets): admin writes; every authenticated user reads."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask.views import MethodView

from api.auth import ADMIN, EVERYONE
from api.common import ETAG, LOCATION, Blueprint, application, caught_up, create, current
from api.schemas import ProgrammeListSchema, ProgrammeSchema
from api.services import current_services
from domain.programme import Programme
from projections import queries

blp = Blueprint("programmes", __name__, url_prefix="/programmes",
                description="Dispositifs : dates d'ouverture et de clôture, plafonds, pièces exigées.")


@blp.route("")
class ProgrammeList(MethodView):
    @blp.auth(*EVERYONE)
    @blp.response(200, ProgrammeListSchema)
    def get(self) -> Any:
        """Every programme."""
        caught_up()
        return {"items": queries.list_programmes(current_services().read)}

    @blp.auth(ADMIN)
    @blp.arguments(ProgrammeSchema)
    @blp.response(201, ProgrammeSchema, headers=LOCATION)
    @blp.refusals(404, 409)
    def post(self, args: dict[str, Any]) -> Any:
        """Open a programme on a budget line, with its rules and the documents each kind of applicant owes."""
        return create(application().open_programme, args)


@blp.route("/<uuid:programme_id>")
class ProgrammeItem(MethodView):
    @blp.current_state(ProgrammeSchema)
    @blp.auth(*EVERYONE)
    @blp.response(200, ProgrammeSchema, headers=ETAG)
    @blp.refusals(404)
    def get(self, programme_id: UUID) -> Any:
        """A programme and its rules."""
        return current(Programme, programme_id, "Dispositif", ProgrammeSchema)
