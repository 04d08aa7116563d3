"""Deliberations of the Commission Permanente: the secretary records them, staff and auditors read them.

Also the register of acts (`/legality/register`): every deliberation with its legality dates and
what it still waits for.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from flask.views import MethodView

from api.auth import READERS, SECRETARY
from api.common import (
    ETAG,
    LOCATION,
    Blueprint,
    application,
    caught_up,
    command,
    created,
    current,
    fact_ctx,
    shown,
    stored,
)
from api.schemas import (
    AsOfSchema,
    DeliberationDraftSchema,
    DeliberationPageSchema,
    DeliberationQuerySchema,
    DeliberationSchema,
    DeliberationSignSchema,
    HistorySchema,
    LegalityRegisterSchema,
    PeriodQuerySchema,
    PrefectLetterSchema,
    PublicationSchema,
    TransmissionSchema,
    VoteSchema,
)
from api.services import current_services
from domain.deliberation import Deliberation
from domain.errors import InvalidValue
from projections import registers

blp = Blueprint("deliberations", __name__, url_prefix="/deliberations",
                description="Délibérations : présences, vote, signature, transmission au contrôle de légalité, "
                            "publication, courriers du préfet.")
legality_blp = Blueprint("legality", __name__, url_prefix="/legality",
                         description="Registre des actes et de leur contrôle de légalité.")

WHAT = "Délibération"


def deliberation(deliberation_id: UUID) -> Deliberation:
    found: Deliberation = stored(Deliberation, deliberation_id, WHAT)
    return found


def as_it_stood(deliberation_id: UUID, as_of: datetime | None = None, effective_on: date | None = None) -> Any:
    """Now, as recorded at an instant, or through the facts dated on or before a real-world date."""
    if as_of is not None:
        return shown(application().as_of(Deliberation, deliberation_id, as_of, WHAT))
    if effective_on is not None:
        return shown(application().as_of_effective(Deliberation, deliberation_id, effective_on, WHAT))
    return current(Deliberation, deliberation_id, WHAT, DeliberationSchema)


def draft(args: dict[str, Any]) -> Any:
    """Puts the dossiers on a deliberation and reserves their amounts, on the day they were put on it.

    A session already held is recorded on its date (loading past history); a coming one, today.
    """
    args = dict(args)
    today = current_services().today()
    on = args.pop("drafted_on", None) or min(today, args["session_on"])
    return created(application().create_deliberation(fact_ctx(on), **args).as_dict())


def listed(query: dict[str, Any]) -> dict[str, Any]:
    caught_up()
    try:
        items, next_cursor = registers.list_deliberations(current_services().read, **query)
    except ValueError:
        raise InvalidValue("cursor", "Curseur de pagination invalide.") from None
    return {"items": items, "next_cursor": next_cursor}


@blp.route("")
class DeliberationList(MethodView):
    @blp.auth(*READERS)
    @blp.arguments(DeliberationQuerySchema, location="query")
    @blp.response(200, DeliberationPageSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Deliberations by session date then number; `status`, `limit` (1–200) and `cursor`."""
        return listed(query)

    @blp.auth(SECRETARY)
    @blp.arguments(DeliberationDraftSchema)
    @blp.response(201, DeliberationSchema, headers=LOCATION)
    @blp.refusals(409)
    def post(self, args: dict[str, Any]) -> Any:
        """Draft a deliberation with its attendance and items: each dossier must be instructed favourably,
        each amount is reserved on its budget line (409 `insufficient_credits`)."""
        return draft(args)


@blp.route("/<uuid:deliberation_id>")
class DeliberationItem(MethodView):
    @blp.current_state(DeliberationSchema)
    @blp.auth(*READERS)
    @blp.arguments(AsOfSchema, location="query")
    @blp.response(200, DeliberationSchema, headers=ETAG)
    @blp.refusals(404)
    def get(self, query: dict[str, Any], deliberation_id: UUID) -> Any:
        """The deliberation now, as recorded at `as_of`, or as of the real date `effective_on`."""
        return as_it_stood(deliberation_id, **query)


@blp.route("/<uuid:deliberation_id>/vote")
class DeliberationVote(MethodView):
    @blp.auth(SECRETARY)
    @blp.arguments(VoteSchema)
    @blp.response(200, DeliberationSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], deliberation_id: UUID) -> Any:
        """Record the vote: quorum, counts and interested members are checked; adoption grants every dossier
        and commits the budget, rejection refuses them and releases it."""
        return command(application().record_vote, deliberation_id, args=args, dated="voted_on")


@blp.route("/<uuid:deliberation_id>/signature")
class DeliberationSignature(MethodView):
    @blp.auth(SECRETARY)
    @blp.arguments(DeliberationSignSchema)
    @blp.response(200, DeliberationSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], deliberation_id: UUID) -> Any:
        """Record the president's signature."""
        return command(application().sign_deliberation, deliberation_id, args=args, dated="signed_on")


@blp.route("/<uuid:deliberation_id>/transmission")
class DeliberationTransmission(MethodView):
    @blp.auth(SECRETARY)
    @blp.arguments(TransmissionSchema)
    @blp.response(200, DeliberationSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], deliberation_id: UUID) -> Any:
        """Record the transmission to the prefecture and its acknowledgment: the act id must match the act
        (409 `invalid_act_id` with its checks); the referral window opens on `acknowledged_on`."""
        return command(application().transmit_deliberation, deliberation_id, args=args, dated="acknowledged_on")


@blp.route("/<uuid:deliberation_id>/publication")
class DeliberationPublication(MethodView):
    @blp.auth(SECRETARY)
    @blp.arguments(PublicationSchema)
    @blp.response(200, DeliberationSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], deliberation_id: UUID) -> Any:
        """Record the publication (display or electronic): executory on the later of it and the acknowledgment."""
        return command(application().publish_deliberation, deliberation_id, args=args, dated="published_on")


@blp.route("/<uuid:deliberation_id>/prefect-letters")
class DeliberationPrefectLetters(MethodView):
    @blp.auth(SECRETARY)
    @blp.arguments(PrefectLetterSchema)
    @blp.response(200, DeliberationSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], deliberation_id: UUID) -> Any:
        """Record a letter of the prefect: observations or a request for documents extend the referral window;
        a referral to the court blocks payments."""
        return command(application().record_prefect_letter, deliberation_id, args=args, dated="received_on")


@blp.route("/<uuid:deliberation_id>/history")
class DeliberationHistory(MethodView):
    @blp.auth(*READERS)
    @blp.response(200, HistorySchema)
    @blp.refusals(404)
    def get(self, deliberation_id: UUID) -> Any:
        """Every event in order: type, actor, recorded and effective dates, data, chained hashes."""
        return {"items": application().history(deliberation(deliberation_id).id)}


@legality_blp.route("/register")
class LegalityRegister(MethodView):
    @legality_blp.auth(*READERS)
    @legality_blp.arguments(PeriodQuerySchema, location="query")
    @legality_blp.response(200, LegalityRegisterSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Every act of the sessions from `from` to `to` (inclusive) with its dates and what is pending:
        vote, signature, transmission, publication, or the prefect's referral window still open."""
        caught_up()
        services = current_services()
        return {"items": registers.legality_register(services.read, **query, today=services.today())}
