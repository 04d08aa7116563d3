"""What the server-rendered pages share: French formatting filters and safe response headers.

Templates are Jinja2 files in `api/templates/` (autoescaped, as Flask does for `.html`); there is no
JavaScript at all, so the Content-Security-Policy forbids scripts outright.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, render_template
from werkzeug.wrappers import Response as BaseResponse

PARIS = ZoneInfo("Europe/Paris")
R = TypeVar("R", bound=BaseResponse)
NBSP = "\u202f"  # narrow no-break space: the French thousands separator and the space before €

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")

STATUS = {
    "draft": "brouillon", "submitted": "déposé", "incomplete": "incomplet", "instructed": "instruit",
    "declined": "rejeté à l'instruction", "withdrawn": "retiré", "scheduled": "inscrit en séance",
    "granted": "attribué", "refused": "refusé", "convention_drafted": "convention rédigée",
    "convention_signed": "convention signée", "report_received": "bilan reçu", "report_accepted": "bilan accepté",
    "closed": "clos", "terminated": "résilié", "lapsed": "caduc", "adopted": "adoptée", "rejected": "rejetée",
    "drafted": "rédigée", "signed": "signée", "ordered": "ordonnancé", "paid": "payé", "open": "en cours",
    "termination_notified": "résiliation notifiée",
}
ROLES = {"admin": "administration", "instructor": "instruction", "secretary": "secrétariat des assemblées",
         "finance": "finances", "auditor": "contrôle", "applicant": "porteur", "system": "automate"}
TRANCHES = {"single": "paiement unique", "advance": "avance", "instalment": "acompte", "balance": "solde"}
LETTERS = {"observations": "observations", "request_documents": "demande de pièces",
           "referral": "déféré au tribunal administratif"}
PENDING = {"vote": "vote", "signature": "signature", "transmission": "transmission", "publication": "publication",
           "referral_window": "délai de déféré ouvert"}


def fr_date(value: Any) -> str:
    """`2025-09-15` → `15/09/2025`; empty for none."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return str(value)
    return f"{value:%d/%m/%Y}"


def fr_instant(value: Any) -> str:
    """An instant in Paris time, to the second: `01/10/2025 14:03:07`."""
    if value in (None, ""):
        return ""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{instant.astimezone(PARIS):%d/%m/%Y %H:%M:%S}"


def fr_money(value: Any) -> str:
    """`9380.00` → `9 380,00 €`; empty for none."""
    if value in (None, ""):
        return ""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    whole, _, cents = f"{abs(amount):.2f}".partition(".")
    groups = f"{int(whole):,}".replace(",", NBSP)
    return f"{'-' if amount < 0 else ''}{groups},{cents}{NBSP}€"


def fr_rate(value: Any) -> str:
    """`0.3744` → `37,44 %`."""
    if value in (None, ""):
        return ""
    percent = (Decimal(str(value)) * 100).normalize()
    return f"{percent:f}".replace(".", ",") + f"{NBSP}%"


def label(value: Any, table: dict[str, str]) -> Any:
    return table.get(value, value) if isinstance(value, str) else value


FILTERS = {
    "fr_date": fr_date, "fr_instant": fr_instant, "fr_money": fr_money, "fr_rate": fr_rate,
    "status_fr": lambda v: label(v, STATUS), "role_fr": lambda v: label(v, ROLES),
    "tranche_fr": lambda v: label(v, TRANCHES), "letter_fr": lambda v: label(v, LETTERS),
    "pending_fr": lambda v: label(v, PENDING),
}


def install(blueprint: Blueprint) -> None:
    """Makes the filters available to every template once the blueprint is registered."""
    for name, function in FILTERS.items():
        blueprint.add_app_template_filter(function, name)


def page(template: str, http_status: int = 200, **context: Any) -> Response:
    """A rendered page, never cached, never framed, with no script allowed."""
    response = Response(render_template(template, **context), status=http_status, mimetype="text/html")
    return secured(response)


def secured(response: R) -> R:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
