"""Messages to mails in French: one Jinja2 template pair per kind (plain text, autoescaped HTML) and a subject."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from workers.mail import Mail

KINDS: dict[str, str] = {
    "dossier.submitted.v1": "acknowledgment",
    "dossier.documents_requested.v1": "documents_requested",
    "dossier.declined.v1": "declined",
    "dossier.granted.v1": "granted",
    "dossier.refused.v1": "refused",
    "dossier.convention_drafted.v1": "convention_ready",
    "dossier.payment_made.v1": "payment_made",
    "dossier.report_reminder.v1": "report_reminder",
    "dossier.lapsed.v1": "lapsed",
    "dossier.refund_demanded.v1": "refund_demanded",
    "dossier.termination_notified.v1": "termination_notified",
    "dossier.terminated.v1": "terminated",
}
"""Which mail answers which message type (the `kind` recorded in `notifications`)."""

SUBJECTS: dict[str, str] = {
    "acknowledgment": "Accusé de réception de votre demande de subvention n° {{ dossier.reference }}",
    "documents_requested": "Dossier {{ dossier.reference }} : pièces complémentaires à fournir",
    "declined": "Dossier {{ dossier.reference }} : votre demande de subvention n'a pas été retenue",
    "granted": "Dossier {{ dossier.reference }} : subvention de {{ amount|euros }} accordée",
    "refused": "Dossier {{ dossier.reference }} : votre demande de subvention n'a pas été retenue",
    "convention_ready": "Dossier {{ dossier.reference }} : votre convention est prête à signer",
    "payment_made": "Dossier {{ dossier.reference }} : versement de {{ amount|euros }}",
    "report_reminder": "Dossier {{ dossier.reference }} : rappel, bilan à remettre "
                       "avant le {{ report_due_on|date_fr }}",
    "lapsed": "Dossier {{ dossier.reference }} : caducité de la subvention (bilan non remis)",
    "refund_demanded": "Dossier {{ dossier.reference }} : titre de recettes n° {{ title_number }} "
                       "de {{ amount|euros }}",
    "termination_notified": "Dossier {{ dossier.reference }} : résiliation de la convention",
    "terminated": "Dossier {{ dossier.reference }} : la résiliation de la convention a pris effet",
}

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")
DOCUMENTS = {
    "statuts": "les statuts",
    "rib": "un relevé d'identité bancaire (RIB)",
    "budget": "le budget prévisionnel du projet",
    "budget_previsionnel": "le budget prévisionnel du projet",
    "bilan": "le dernier bilan financier approuvé",
    "compte_rendu": "le compte rendu de la dernière assemblée générale",
    "kbis": "un extrait Kbis",
    "deliberation": "la délibération de la collectivité",
    "attestation": "l'attestation sur l'honneur",
    "devis": "les devis",
}
TRANCHES = {"single": "versement unique", "advance": "avance", "instalment": "acompte", "balance": "solde"}
TERMINATION_REASONS = {
    "non_execution": "non-exécution de l'action subventionnée",
    "misuse": "utilisation de la subvention non conforme à son objet",
    "refused_control": "refus de se soumettre au contrôle du Département",
    "false_declaration": "fausse déclaration",
    "beneficiary_request": "résiliation demandée par le bénéficiaire",
}
NNBSP, NBSP = "\u202f", "\u00a0"
_SPACES = re.compile(r"[ \t\r\n]+")


def euros(value: str | Decimal | None) -> str:
    """"9380.00" → "9 380,00 €" (French typography: narrow no-break thousands, comma, no-break before €)."""
    if value is None:
        return "—"
    amount = Decimal(value).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    units, cents = f"{abs(amount):.2f}".split(".")
    groups = []
    while units:
        groups.insert(0, units[-3:])
        units = units[:-3]
    return f"{sign}{NNBSP.join(groups)},{cents}{NBSP}€"


def date_fr(value: str | date | None) -> str:
    """"2025-09-15" → "15 septembre 2025" ("1er" for the first of the month)."""
    if value is None:
        return "—"
    day = date.fromisoformat(value) if isinstance(value, str) else value
    number = "1er" if day.day == 1 else str(day.day)
    return f"{number} {MONTHS[day.month - 1]} {day.year}"


def document_label(kind: str) -> str:
    return DOCUMENTS.get(kind, kind.replace("_", " "))


class Renderer:
    """Turns a validated message into a `Mail`; templates live in workers/templates/."""

    def __init__(self) -> None:
        self.env = Environment(loader=PackageLoader("workers", "templates"),
                               autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                               keep_trailing_newline=True)
        self.env.filters.update(euros=euros, date_fr=date_fr, document_label=document_label,
                                tranche_label=lambda t: TRANCHES.get(t, t),
                                termination_reason=lambda r: TERMINATION_REASONS.get(r, r or "non précisé"))
        self._subjects = {kind: self.env.from_string(text) for kind, text in SUBJECTS.items()}

    @staticmethod
    def kind_of(body: dict[str, Any]) -> str | None:
        return KINDS.get(body["type"])

    def render(self, body: dict[str, Any]) -> Mail:
        kind = KINDS[body["type"]]
        subject = _SPACES.sub(" ", self._subjects[kind].render(**body)).strip()  # keeps the no-break spaces
        context = dict(body, subject=subject)
        text = self.env.get_template(f"{kind}.txt").render(**context)
        html = self.env.get_template(f"{kind}.html").render(**context)
        return Mail(to=body["applicant"]["email"], subject=subject, text=text, html=html, kind=kind,
                    dossier_id=body["dossier"]["id"], message_id=body["message_id"])
