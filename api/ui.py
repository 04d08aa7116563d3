"""A read-only web view for auditors and staff: dossier search, a dossier's timeline as it stood at a date,
the register of acts and each act's legality bundle.

Server-rendered Jinja2 (autoescaped), a little CSS, no JavaScript. One signs in by pasting an API token,
kept in an HttpOnly, SameSite=Strict cookie scoped to `/ui`; every page checks it against the token store,
so a revoked token ends the session at once. Applicants see only their own dossiers. A plain Flask
blueprint: these pages are not part of the API and stay out of the OpenAPI document.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from functools import wraps
from typing import Any, cast
from urllib.parse import urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, g, redirect, request, url_for
from werkzeug.exceptions import HTTPException

from api import bundles, exports, html
from api.auth import EVERYONE, READERS, User, user_for_token
from api.common import caught_up
from api.services import current_services
from domain.dossier import Dossier
from domain.errors import DomainError, Forbidden, NotFound
from projections import queries, registers

log = logging.getLogger("subventio.ui")
PARIS = ZoneInfo("Europe/Paris")

ui = Blueprint("ui", __name__, url_prefix="/ui", template_folder="templates", static_folder="static")
html.install(ui)

COOKIE = "subventio_token"
SESSION_SECONDS = 12 * 3600
PAGE_SIZE = 25
DOSSIER_STATUSES = ("draft", "submitted", "incomplete", "instructed", "declined", "withdrawn", "scheduled", "granted",
                    "refused", "convention_drafted", "convention_signed", "report_accepted", "terminated", "lapsed",
                    "closed")
EVENTS = {
    "Opened": "Création du dossier", "Edited": "Modification", "DocumentAttached": "Pièce jointe",
    "Submitted": "Dépôt", "DocumentsRequested": "Demande de pièces", "Instructed": "Instruction",
    "Declined": "Rejet à l'instruction", "Withdrawn": "Retrait", "Scheduled": "Inscription en séance",
    "Granted": "Attribution", "Refused": "Refus", "ConventionDrafted": "Convention rédigée",
    "ConventionSigned": "Signature de la convention", "Amended": "Avenant", "PaymentOrdered": "Paiement ordonnancé",
    "PaymentMade": "Paiement effectué", "ReportSubmitted": "Bilan reçu", "ReportAccepted": "Bilan accepté",
    "RefundDemanded": "Titre de reversement émis", "RefundReceived": "Reversement encaissé",
    "TerminationNotified": "Résiliation notifiée", "Terminated": "Résiliation effective", "Lapsed": "Caducité",
    "Closed": "Clôture",
}
MODES = {"recorded": "enregistré", "effective": "date des faits"}


# --- who is looking --------------------------------------------------------------------------------


def viewer() -> User | None:
    """The user of the session cookie, if its token is still valid."""
    value = request.cookies.get(COOKIE, "").strip()
    user = user_for_token(value) if value else None
    if user is not None:
        g.user = user
    return user


def signed_in(*roles: str) -> Callable[[Any], Any]:
    """The page needs a session (else the sign-in page) and one of these roles."""

    def decorator(view: Any) -> Any:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            user = viewer()
            if user is None:
                return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))
            if user.role not in roles:
                raise Forbidden(f"Le rôle « {user.role} » ne donne pas accès à cette page.")
            return view(user, *args, **kwargs)

        return checked

    return decorator


def local_path(target: str | None) -> str:
    """Where to go after signing in: a page of this view only (never another site)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/ui/") and "\\" not in target:
            return target
    return url_for("ui.dossiers")


# --- pages -------------------------------------------------------------------------------------------


@ui.get("/")
def login() -> Any:
    """The sign-in page; a valid session goes straight to the dossiers."""
    if viewer() is not None:
        return redirect(local_path(request.args.get("next")))
    return html.page("ui_login.html", user=None, next=request.args.get("next", ""))


@ui.post("/login")
def sign_in() -> Any:
    value = (request.form.get("token") or "").strip()
    target = request.form.get("next")
    if not value or user_for_token(value) is None:
        return html.page("ui_login.html", http_status=401, user=None, next=target or "",
                         error="Jeton inconnu, révoqué ou invalide.")
    response = redirect(local_path(target), code=303)
    response.set_cookie(COOKIE, value, max_age=SESSION_SECONDS, path="/ui", httponly=True, samesite="Strict",
                        secure=request.is_secure)
    return html.secured(response)


@ui.post("/logout")
def sign_out() -> Any:
    response = redirect(url_for("ui.login"), code=303)
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="Strict", secure=request.is_secure)
    return html.secured(response)


@ui.get("/dossiers")
@signed_in(*EVERYONE)
def dossiers(user: User) -> Any:
    """Search by reference (prefix), status and programme; `Page suivante` follows the cursor."""
    reference = (request.args.get("reference") or "").strip()[:20]
    status = request.args.get("status") or None
    programme_id = _uuid(request.args.get("programme_id"))
    cursor = request.args.get("cursor") or None
    caught_up()
    services = current_services()
    try:
        items, next_cursor = queries.list_dossiers(
            services.read, status=status if status in DOSSIER_STATUSES else None, programme_id=programme_id,
            applicant_id=user.applicant if user.is_applicant else None, limit=PAGE_SIZE, cursor=cursor,
            reference=reference or None)
    except ValueError:
        items, next_cursor, cursor = [], None, None
    programmes = queries.list_programmes(services.read)
    return html.page("ui_dossiers.html", user=user, items=items, next_cursor=next_cursor, cursor=cursor,
                     reference=reference, status=status, programme_id=str(programme_id or ""),
                     statuses=DOSSIER_STATUSES, programmes=programmes,
                     programme_names={p["id"]: p["code"] for p in programmes})


@ui.get("/dossiers/<uuid:dossier_id>")
@signed_in(*EVERYONE)
def timeline(user: User, dossier_id: UUID) -> Any:
    """Every event of the dossier, and the dossier as it stood on a date (recorded, or by the facts' dates)."""
    app = current_services().app
    current = app.load(Dossier, dossier_id, what="Dossier", read_only=True)
    if user.is_applicant and current.applicant_id != user.applicant:
        raise NotFound("Dossier introuvable.")
    history = app.history(current.id)
    mode = request.args.get("mode") if request.args.get("mode") in MODES else "recorded"
    day = _day(request.args.get("date"))
    state: dict[str, Any] | None = current.as_dict()
    existed, later_from = True, len(history)
    if day is not None:
        try:
            if mode == "recorded":
                instant = datetime.combine(day, time.max, tzinfo=PARIS).astimezone(UTC)
                state = app.as_of(Dossier, current.id, instant, "Dossier").as_dict()
                later_from = next((i for i, e in enumerate(history) if e["recorded_at"] > instant), len(history))
            else:
                state = app.as_of_effective(Dossier, current.id, day, "Dossier").as_dict()
                later_from = next((i for i, e in enumerate(history) if e["effective_on"] > day), len(history))
        except NotFound:
            existed, state, later_from = False, None, 0
    events = [{**event, "label": EVENTS.get(event["type"].rsplit(".", 1)[-1], event["type"]),
               "later": index >= later_from, "details": _details(event["data"])}
              for index, event in enumerate(history)]
    return html.page("ui_timeline.html", user=user, dossier=current.as_dict(), state=state, existed=existed,
                     day=day, mode=mode, modes=MODES, events=events)


@ui.get("/legality")
@signed_in(*READERS)
def legality(user: User) -> Any:
    """The register of acts, filtered by session dates, with links to each act's legality bundle."""
    date_from, date_to = _day(request.args.get("from")), _day(request.args.get("to"))
    caught_up()
    services = current_services()
    acts = registers.legality_register(services.read, date_from, date_to, today=services.today())
    period = {"from": date_from.isoformat() if date_from else None, "to": date_to.isoformat() if date_to else None}
    return html.page("ui_legality.html", user=user, acts=acts, date_from=date_from, date_to=date_to,
                     csv_url=url_for("ui.legality_csv", **cast("dict[str, Any]", period)))


@ui.get("/legality.csv")
@signed_in(*READERS)
def legality_csv(user: User) -> Any:
    """The same register as the CSV file of `/legality/register.csv`."""
    return exports.legality_csv({"date_from": _day(request.args.get("from")), "date_to": _day(request.args.get("to"))})


@ui.get("/deliberations/<uuid:deliberation_id>/bundle")
@signed_in(*READERS)
def bundle(user: User, deliberation_id: UUID) -> Any:
    """The act's printable legality bundle, as `/deliberations/{id}/legality-bundle.html` gives it."""
    return bundles.printable(deliberation_id, user)


# --- refusals as pages -----------------------------------------------------------------------------


@ui.errorhandler(DomainError)
def refused(error: DomainError) -> Response:
    status = 404 if isinstance(error, NotFound) else 403 if isinstance(error, Forbidden) else 409
    return html.page("ui_error.html", http_status=status, user=getattr(g, "user", None), status_code=status,
                     message=error.message)


@ui.errorhandler(Exception)
def failed(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        status = error.code or 500
        return html.page("ui_error.html", http_status=status, user=getattr(g, "user", None), status_code=status,
                         message=error.description or error.name)
    log.exception("unexpected error on a page of the web view", exc_info=error)
    return html.page("ui_error.html", http_status=500, user=getattr(g, "user", None), status_code=500,
                     message="Erreur interne : l'incident est journalisé.")


# --- helpers ---------------------------------------------------------------------------------------


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _uuid(text: str | None) -> UUID | None:
    try:
        return UUID(text) if text else None
    except ValueError:
        return None


def _details(data: dict[str, Any]) -> list[tuple[str, str]]:
    """An event's data as short `name: value` pairs (lists and objects summarised)."""
    pairs = []
    for key, value in data.items():
        if value is None or value in ([], {}):
            continue
        if key == "checks" and isinstance(value, list):
            passed = sum(1 for check in value if isinstance(check, dict) and check.get("ok"))
            shown = f"{passed} sur {len(value)} passés"
        elif isinstance(value, dict | list):
            shown = ", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else \
                ", ".join(str(v) for v in value)
        else:
            shown = str(value)
        pairs.append((key, shown if len(shown) <= 300 else shown[:299] + "…"))
    return pairs
