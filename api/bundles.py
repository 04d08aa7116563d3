"""The legality bundle of a deliberation: everything the prefecture or the chambre régionale des comptes
asks about one act, as JSON or as a printable page.

Vote and attendance (with the quorum), the act's id and dates (signature, transmission, acknowledgment,
publication, executory date, referral deadline, the prefect's letters), and for each item its dossier,
budget line, convention with its signatures and amendments, the payments with the checks recorded when
each was ordered, whether a payment today would pass, and every cross-act inconsistency (rule 12).
Read from the event store, so it is current.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from flask.views import MethodView

from api import html
from api.audit_schemas import LegalityBundleSchema
from api.auth import READERS
from api.common import Blueprint, application
from api.services import current_services
from domain.applicant import Applicant
from domain.budget import BudgetLine
from domain.deliberation import Deliberation, item_total
from domain.dossier import Dossier

blp = Blueprint("bundles", __name__, url_prefix="/deliberations", template_folder="templates",
                description="Dossier de contrôle de légalité d'une délibération (JSON ou page imprimable).")
html.install(blp)

CONVENTION_KEYS = ("status", "required", "eligible_cost", "rate", "action_from", "action_to", "report_due_on",
                   "drafted_on", "signed_on", "cites", "signatures", "amendments")


def quorum(deliberation: Deliberation) -> dict[str, Any]:
    """Rule 7: a majority of the members in office present or represented."""
    attendance = deliberation.attendance
    present, proxies = len(attendance["present"]), len(attendance["proxies"])
    members = deliberation.members_in_office
    return {"members_in_office": members, "present": present, "excused": len(attendance["excused"]),
            "absent": len(attendance["absent"]), "proxies": proxies, "voting": present + proxies,
            "required": members // 2 + 1, "reached": (present + proxies) * 2 > members}


def item_of(deliberation: Deliberation, item: dict[str, Any]) -> dict[str, Any]:
    """One item: its dossier as it stands, its line, its convention and payments, and its legality now."""
    app = application()
    dossier = app.load(Dossier, item["dossier_id"], what="Dossier", read_only=True)
    line = app.load(BudgetLine, item["budget_line_id"], what="Ligne budgétaire", read_only=True)
    applicant = app.load(Applicant, dossier.applicant_id, what="Porteur", read_only=True)
    convention = None
    if dossier.convention is not None:
        convention = {k: dossier.convention.get(k) for k in CONVENTION_KEYS}
    entry: dict[str, Any] = {
        "dossier_id": str(dossier.id), "amount": item["amount"], "budget_line_id": str(line.id),
        "budget_line": {"id": str(line.id), "code": line.code, "imputation": line.imputation, "label": line.label,
                        "year": line.year},
        "dossier": {"id": str(dossier.id), "reference": dossier.reference, "status": dossier.status,
                    "project_name": dossier.project_name, "granted_amount": dossier.granted_amount,
                    "paid_total": dossier.paid_total,
                    "deliberation_id": str(dossier.deliberation_id) if dossier.deliberation_id else None,
                    "applicant": {"id": str(applicant.id), "kind": applicant.kind, "name": applicant.name,
                                  "siret": applicant.siret},
                    "convention": convention, "payments": [dict(p) for p in dossier.payments]},
        "ready_for_payment": None, "checks": [], "inconsistencies": []}
    if dossier.deliberation_id == deliberation.id:  # its grant rests on this act
        report = app.legality_report(dossier.id, current_services().today())
        entry.update(ready_for_payment=report["ready_for_payment"], checks=report["checks"],
                     inconsistencies=report["inconsistencies"])
    return entry


def bundle(deliberation_id: UUID) -> dict[str, Any]:
    """The whole bundle of one deliberation (404 if unknown)."""
    deliberation = application().load(Deliberation, deliberation_id, what="Délibération", read_only=True)
    state = deliberation.as_dict()
    items = [item_of(deliberation, item) for item in deliberation.items]
    inconsistencies = [{**found, "dossier_id": item["dossier_id"], "dossier_reference": item["dossier"]["reference"]}
                       for item in items for found in item["inconsistencies"]]
    return {
        **{k: state[k] for k in ("id", "number", "title", "session_on", "status", "result", "attendance", "vote",
                                 "version")},
        "quorum": quorum(deliberation),
        "act": {**state["legality"], "number": deliberation.number, "session_on": deliberation.session_on,
                "signed_on": state["signed_on"], "signatory": state["signatory"]},
        "items": items, "total_amount": item_total(deliberation.items),
        "total_paid": sum((item["dossier"]["paid_total"] for item in items), Decimal("0.00")),
        "inconsistencies": inconsistencies, "generated_on": current_services().today(),
    }


def printable(deliberation_id: UUID, user: Any = None) -> Any:
    """The bundle as a page to print (or save as PDF from the browser); with the web view's menu for its `user`."""
    data = LegalityBundleSchema().dump(bundle(deliberation_id))
    return html.page("legality_bundle.html", user=user, b=data)


@blp.route("/<uuid:deliberation_id>/legality-bundle")
class LegalityBundle(MethodView):
    @blp.auth(*READERS)
    @blp.response(200, LegalityBundleSchema)
    @blp.refusals(404)
    def get(self, deliberation_id: UUID) -> Any:
        """The deliberation's legality bundle: vote and attendance, the act and its dates, each item's dossier,
        convention and signatures, the payments with the checks that allowed each, and every inconsistency."""
        return bundle(deliberation_id)


@blp.route("/<uuid:deliberation_id>/legality-bundle.html")
class LegalityBundlePage(MethodView):
    @blp.auth(*READERS)
    @blp.response(200, {"type": "string", "description": "page HTML imprimable (A4)"}, content_type="text/html")
    @blp.refusals(404)
    def get(self, deliberation_id: UUID) -> Any:
        """The same bundle as a printable HTML page (French)."""
        return printable(deliberation_id)
