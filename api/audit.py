"""Audit: proof that no stored event was changed, removed or reordered (auditors and admin).

`GET /audit/verify` walks every hash chain and recomputes every daily seal. Seals are written by an
admin (`POST /audit/seals`), never by an auditor: a seal is an event in the store, and auditors write
nothing; they read the seals and download a sealed export (`GET /audit/seals/{day}/export`) that
`tools/verify_export.py` checks offline against a copy of the store.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import Response
from flask.views import MethodView

from api.audit_schemas import AuditReportSchema, SealListSchema, SealSchema
from api.auth import ADMIN, AUDITOR
from api.common import CREATED, Blueprint, JSONProvider, application, fact_ctx, location
from api.services import current_services
from domain.errors import NotFound
from domain.seal import Seal
from projections.integrity import verify

blp = Blueprint("audit", __name__, url_prefix="/audit",
                description="Intégrité du journal d'événements : chaînes de hachage, scellements quotidiens, "
                            "export scellé vérifiable hors ligne.")


def report() -> dict[str, Any]:
    """Every chain, then every seal recomputed; `ok` only if all of them hold."""
    app = application()
    verification = verify(app, workers=current_services().verify_workers).as_dict()
    seals = [seal_check(day) for day in app.seal_days()]
    return {**verification, "ok": verification["ok"] and all(s["ok"] for s in seals), "seals": seals}


def seal_check(day: date) -> dict[str, Any]:
    """One seal recomputed; a store too damaged to recompute it fails the seal instead of the request."""
    try:
        return application().verify_seal(day)
    except Exception as exc:  # noqa: BLE001 - an undecodable event under the seal is a failed seal, reported
        return {"day": day, "ok": False, "sealed_root": None, "recomputed_root": None, "sealed_events": None,
                "events_now_before_position": None, "error": f"{type(exc).__name__}: {exc}"}


def sealed_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise NotFound(f"Scellement introuvable : {text!r} n'est pas une date AAAA-MM-JJ.") from None


def seal_of(day: date) -> Seal:
    found: Seal = application().load(Seal, Seal.id_for(day), what=f"Scellement du {day:%d/%m/%Y}", read_only=True)
    return found


def export_file(day: date) -> Response:
    """The sealed export as a JSON file to download (the same document as `subventio audit export`)."""
    export = application().seal_export(day)
    text = json.dumps(export, default=JSONProvider.default, indent=1, ensure_ascii=False) + "\n"
    response = Response(text.encode("utf-8"), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="subventio-seal-{day.isoformat()}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/verify")
class Verify(MethodView):
    @blp.auth(AUDITOR, ADMIN)
    @blp.response(200, AuditReportSchema)
    def get(self) -> Any:
        """Walk every aggregate's hash chain and name the first broken event; recompute every daily seal
        (a truncated chain or a removed aggregate changes its Merkle root). `ok` only if all hold."""
        return report()


@blp.route("/seals")
class Seals(MethodView):
    @blp.auth(AUDITOR, ADMIN)
    @blp.response(200, SealListSchema)
    def get(self) -> Any:
        """Every daily seal, oldest first."""
        return {"items": [seal_of(day).as_dict() for day in application().seal_days()]}

    @blp.auth(ADMIN)
    @blp.response(201, SealSchema, headers=CREATED)
    @blp.refusals(409)
    def post(self) -> Any:
        """Seal today (Paris): the Merkle root of every chain head now (409 `already_exists` if today is sealed).
        Admin only: a seal is recorded in the store, and auditors write nothing."""
        today = current_services().today()
        seal = application().seal(fact_ctx(today), today)
        return seal.as_dict(), 201, {"Location": location(today.isoformat())}


@blp.route("/seals/<day>")
class SealItem(MethodView):
    @blp.auth(AUDITOR, ADMIN)
    @blp.response(200, SealSchema)
    @blp.refusals(404)
    def get(self, day: str) -> Any:
        """One day's seal."""
        return seal_of(sealed_day(day)).as_dict()


@blp.route("/seals/<day>/export")
class SealExport(MethodView):
    @blp.auth(AUDITOR, ADMIN)
    @blp.response(200, {"type": "object", "description": "subventio-seal-export/1 : le scellement, sa chaîne, "
                                                         "et la tête (version, hash) de chaque chaîne couverte"},
                  content_type="application/json")
    @blp.refusals(404)
    def get(self, day: str) -> Any:
        """Download the sealed export of a day: `python3 tools/verify_export.py EXPORT.json STORE` checks a copy
        of the store against it offline, with the standard library only."""
        return export_file(sealed_day(day))
