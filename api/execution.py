"""Execution of a granted dossier: convention, amendments, payments, report, refunds, termination.

Mounted under `/dossiers/{id}/...` beside the intake; plus the registers finance and auditors read
(`/refunds`, `/payments`).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask.views import MethodView

from api.auth import ADMIN, AUDITOR, FINANCE, INSTRUCTOR, READERS, SECRETARY, current_user
from api.common import (
    CREATED,
    ETAG,
    Blueprint,
    application,
    caught_up,
    command,
    created,
    etag,
    expected_version,
    fact_ctx,
)
from api.dossiers import dossier, owner
from api.schemas import (
    AmendmentInSchema,
    ConventionDraftSchema,
    ConventionSignatureSchema,
    DossierSchema,
    LegalityReportSchema,
    PaidSchema,
    PaymentOrderSchema,
    PaymentQuerySchema,
    PaymentRegisterSchema,
    PaymentSchema,
    RefundDemandSchema,
    RefundQuerySchema,
    RefundReceiptSchema,
    RefundRegisterSchema,
    RefundSchema,
    ReportAcceptanceSchema,
    ReportInSchema,
    TerminationInSchema,
)
from api.services import current_services
from domain.errors import Forbidden, NotFound
from projections import registers

blp = Blueprint("execution", __name__, url_prefix="/dossiers",
                description="Exécution d'une subvention attribuée : convention, avenants, paiements, bilan, "
                            "reversements, résiliation ; contrôle de légalité du dossier.")
refunds_blp = Blueprint("refunds", __name__, url_prefix="/refunds",
                        description="Registre des reversements (titres de perception).")
payments_blp = Blueprint("payments", __name__, url_prefix="/payments",
                         description="Registre des paiements ordonnancés.")

SIGNERS = {"beneficiary": (INSTRUCTOR,), "department": (SECRETARY, ADMIN)}
"""Who records each party's signature: the instructor the beneficiary's, the secretary or admin the Département's."""


def sign(dossier_id: UUID, args: dict[str, Any]) -> Any:
    if current_user().role not in SIGNERS[args["party"]]:
        raise Forbidden(f"Le rôle « {current_user().role} » ne peut enregistrer la signature de la partie "
                        f"« {args['party']} ».")
    return command(application().sign_convention, dossier_id, args=args, dated="signed_on")


def order(dossier_id: UUID, args: dict[str, Any]) -> Any:
    """Orders a payment if every check passes → 201 with the payment (409 lists every check otherwise)."""
    args = dict(args)
    _, payment = application().order_payment(fact_ctx(args.pop("ordered_on", None)), dossier_id,
                                             expected_version=expected_version(), **args)
    return created(payment)


def demand(dossier_id: UUID, args: dict[str, Any]) -> Any:
    """Issues a titre de perception on its issue date → 201 with the refund (due one month after receipt)."""
    issued_on = args.get("issued_on") or current_services().today()
    _, refund = application().demand_refund(fact_ctx(issued_on), dossier_id, expected_version=expected_version(),
                                            **{**args, "issued_on": issued_on})
    return created(refund)


def terminate(dossier_id: UUID, args: dict[str, Any]) -> Any:
    """Notifies the termination, dated on the beneficiary's receipt of the notice (rule 19)."""
    received_on = args.get("notice_received_on") or current_services().today()
    ended = application().terminate(fact_ctx(received_on), dossier_id, expected_version=expected_version(),
                                    **{**args, "notice_received_on": received_on})
    return ended.as_dict(), etag(ended.version)


def part(items: list[dict[str, Any]], item_id: UUID, what: str) -> dict[str, Any]:
    found = next((i for i in items if i["id"] == str(item_id)), None)
    if found is None:
        raise NotFound(f"{what} introuvable : {item_id}")
    return found


@blp.route("/<uuid:dossier_id>/convention")
class Convention(MethodView):
    @blp.auth(INSTRUCTOR)
    @blp.arguments(ConventionDraftSchema)
    @blp.response(200, DossierSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], dossier_id: UUID) -> Any:
        """Draft (or, while nobody signed, redraft) the convention: amount basis, period, report due date,
        payment plan, settlement rule, and what it cites of the deliberation."""
        return command(application().draft_convention, dossier_id, args=args, dated="drafted_on")


@blp.route("/<uuid:dossier_id>/convention/signatures")
class ConventionSignatures(MethodView):
    @blp.auth(INSTRUCTOR, SECRETARY, ADMIN)
    @blp.arguments(ConventionSignatureSchema)
    @blp.response(200, DossierSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], dossier_id: UUID) -> Any:
        """Record a party's signature (the instructor the beneficiary's, the secretary or admin the
        Département's); signed by both, the convention is signed."""
        return sign(dossier_id, args)


@blp.route("/<uuid:dossier_id>/amendments")
class Amendments(MethodView):
    @blp.auth(INSTRUCTOR)
    @blp.arguments(AmendmentInSchema)
    @blp.response(200, DossierSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], dossier_id: UUID) -> Any:
        """Record an amendment signed by both parties: moves the report due date or the end of the action,
        never after the date it moves has passed (409 `amendment_too_late`)."""
        return command(application().amend_convention, dossier_id, args=args, dated="signed_on")


@blp.route("/<uuid:dossier_id>/payments")
class Payments(MethodView):
    @blp.auth(FINANCE)
    @blp.arguments(PaymentOrderSchema)
    @blp.response(201, PaymentSchema, headers=CREATED)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], dossier_id: UUID) -> Any:
        """Order a payment: refused (409 `legality_check_failed` or `payment_exceeds_grant`, with `checks`)
        unless the act is adopted and executory, the convention signed, bank details on file, the tranche
        allowed by the plan, the total within the grant, and the grant neither terminated nor lapsed."""
        return order(dossier_id, args)


@blp.route("/<uuid:dossier_id>/payments/<uuid:payment_id>")
class Payment(MethodView):
    @blp.auth(*READERS, owner=owner)
    @blp.response(200, PaymentSchema)
    @blp.refusals(404)
    def get(self, dossier_id: UUID, payment_id: UUID) -> Any:
        """One payment of the dossier, with the checks it passed."""
        return part(dossier(dossier_id).payments, payment_id, "Paiement")


@blp.route("/<uuid:dossier_id>/payments/<uuid:payment_id>/paid")
class PaymentPaid(MethodView):
    @blp.auth(FINANCE)
    @blp.arguments(PaidSchema)
    @blp.response(200, DossierSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], dossier_id: UUID, payment_id: UUID) -> Any:
        """Record that an ordered payment was paid (the budget line's paid amount follows)."""
        return command(application().mark_payment_paid, dossier_id, str(payment_id), args=args, dated="paid_on")


@blp.route("/<uuid:dossier_id>/report")
class Report(MethodView):
    @blp.auth(INSTRUCTOR, owner=owner)
    @blp.arguments(ReportInSchema)
    @blp.response(200, DossierSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], dossier_id: UUID) -> Any:
        """Send the report (bilan): its owner today, or an instructor recording a paper report on its date."""
        return command(application().submit_report, dossier_id, args=args, dated="submitted_on")


@blp.route("/<uuid:dossier_id>/report/acceptance")
class ReportAcceptance(MethodView):
    @blp.auth(INSTRUCTOR)
    @blp.arguments(ReportAcceptanceSchema)
    @blp.response(200, DossierSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], dossier_id: UUID) -> Any:
        """Accept the report with the justified expenses: settles `final_amount`, `balance_due`, `refund_due`."""
        return command(application().accept_report, dossier_id, args=args, dated="accepted_on")


@blp.route("/<uuid:dossier_id>/refunds")
class Refunds(MethodView):
    @blp.auth(FINANCE)
    @blp.arguments(RefundDemandSchema)
    @blp.response(201, RefundSchema, headers=CREATED)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], dossier_id: UUID) -> Any:
        """Issue a titre de perception (amount defaults to the refund due); payable one month after receipt."""
        return demand(dossier_id, args)


@blp.route("/<uuid:dossier_id>/refunds/<uuid:refund_id>")
class Refund(MethodView):
    @blp.auth(*READERS, owner=owner)
    @blp.response(200, RefundSchema)
    @blp.refusals(404)
    def get(self, dossier_id: UUID, refund_id: UUID) -> Any:
        """One titre of the dossier with its receipts."""
        return part(dossier(dossier_id).refunds, refund_id, "Titre")


@blp.route("/<uuid:dossier_id>/refunds/<uuid:refund_id>/receipts")
class RefundReceipts(MethodView):
    @blp.auth(FINANCE)
    @blp.arguments(RefundReceiptSchema)
    @blp.response(200, DossierSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], dossier_id: UUID, refund_id: UUID) -> Any:
        """Record a (partial) receipt, never above what the titre still claims; nothing owed closes the dossier."""
        return command(application().receive_refund, dossier_id, str(refund_id), args=args, dated="received_on")


@blp.route("/<uuid:dossier_id>/termination")
class Termination(MethodView):
    @blp.auth(INSTRUCTOR)
    @blp.arguments(TerminationInSchema)
    @blp.response(200, DossierSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], dossier_id: UUID) -> Any:
        """Notify the termination: effective one full month after the notice is received (at once for a false
        declaration or at the beneficiary's request); `termination.effective_on` says when."""
        return terminate(dossier_id, args)


@blp.route("/<uuid:dossier_id>/legality")
class Legality(MethodView):
    @blp.auth(*READERS)
    @blp.response(200, LegalityReportSchema)
    @blp.refusals(404)
    def get(self, dossier_id: UUID) -> Any:
        """Whether a payment today would pass every check, the acts behind the grant, and every mismatch
        between what the convention cites and the deliberation."""
        return application().legality_report(dossier_id, current_services().today())


@refunds_blp.route("")
class RefundRegister(MethodView):
    @refunds_blp.auth(FINANCE, AUDITOR)
    @refunds_blp.arguments(RefundQuerySchema, location="query")
    @refunds_blp.response(200, RefundRegisterSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """The register of refunds: titre, amounts, due date, what is outstanding and whether it is overdue."""
        caught_up()
        services = current_services()
        return {"items": registers.refund_register(services.read, query.get("status"), today=services.today())}


@payments_blp.route("")
class PaymentRegister(MethodView):
    @payments_blp.auth(FINANCE, AUDITOR)
    @payments_blp.arguments(PaymentQuerySchema, location="query")
    @payments_blp.response(200, PaymentRegisterSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """The register of payment orders by order date, filtered by budget line and period (`from`, `to`)."""
        caught_up()
        return {"items": registers.payments_register(current_services().read, **query)}
