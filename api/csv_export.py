"""Registers as CSV files that open as they should in a French Excel.

Choices (documented in the README): UTF-8 with a byte-order mark (Excel otherwise reads the file as
Windows-1252 and garbles the accents), `;` as separator and CRLF line ends (what Excel in French
writes and reads), amounts with a decimal comma and no thousands separator (`9380,00`, read as a
number), dates `JJ/MM/AAAA` (read as dates), booleans `oui`/`non`, empty cells for missing values,
French column headers. A text cell that starts like a formula (`=`, `+`, `-`, `@`, tab, CR) is
prefixed with `'` so that a project name or a title typed by someone cannot run in the spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response

BOM = "\ufeff"
PARIS = ZoneInfo("Europe/Paris")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_DOC = {"type": "string", "description": "CSV : UTF-8 avec BOM, séparateur « ; », virgule décimale, "
                                            "dates JJ/MM/AAAA (Excel en français)."}


@dataclass(frozen=True)
class Column:
    """One column: its French header, the row key it shows, and how (text, money, date, instant, int, bool, list)."""

    header: str
    key: str
    kind: str = "text"


def cell(value: Any, kind: str = "text") -> str:
    """One value as a French spreadsheet expects it."""
    if value is None or value == "":
        return ""
    if kind == "money":
        return f"{Decimal(value):.2f}".replace(".", ",")
    if kind == "date":
        day = date.fromisoformat(value) if isinstance(value, str) else value
        return f"{day:%d/%m/%Y}"
    if kind == "instant":
        instant = datetime.fromisoformat(value) if isinstance(value, str) else value
        return f"{instant.astimezone(PARIS):%d/%m/%Y %H:%M:%S}"
    if kind == "bool":
        return "oui" if value else "non"
    if kind == "int":
        return str(int(value))
    if kind == "list":
        return text(", ".join(str(v) for v in value))
    return text(str(value))


def text(value: str) -> str:
    """A text cell that a spreadsheet will never evaluate as a formula."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def to_csv(columns: Sequence[Column], rows: Iterable[Mapping[str, Any]]) -> str:
    """The whole file: BOM, a header line, then one line per row (`;`, CRLF)."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([c.header for c in columns])
    for row in rows:
        writer.writerow([cell(row.get(c.key), c.kind) for c in columns])
    return out.getvalue()


def csv_response(columns: Sequence[Column], rows: Iterable[Mapping[str, Any]], filename: str) -> Response:
    """A downloadable CSV file (never cached: registers change with every event)."""
    response = Response(to_csv(columns, rows).encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8; header=present"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def file_name(stem: str) -> str:
    """`stem.csv` with only ASCII letters, digits, dots, dashes and underscores (safe in a header)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "-" for c in stem) + ".csv"


def period_name(date_from: date | None, date_to: date | None) -> str:
    """`2025-01-01_2025-12-31`, `depuis-2025-01-01`, `jusqu-au-2025-12-31` or `complet`, for file names."""
    if date_from and date_to:
        return f"{date_from.isoformat()}_{date_to.isoformat()}"
    if date_from:
        return f"depuis-{date_from.isoformat()}"
    if date_to:
        return f"jusqu-au-{date_to.isoformat()}"
    return "complet"


# --- the registers' columns --------------------------------------------------------------------

PENDING = {"vote": "vote", "signature": "signature", "transmission": "transmission", "publication": "publication",
           "referral_window": "délai de déféré ouvert"}
STATUS = {"draft": "projet", "adopted": "adoptée", "rejected": "rejetée", "open": "en cours", "closed": "soldé",
          "ordered": "ordonnancé", "paid": "payé", "display": "affichage", "electronic": "électronique"}
TRANCHE = {"single": "paiement unique", "advance": "avance", "instalment": "acompte", "balance": "solde"}


def french(mapping: Mapping[str, str], value: Any) -> Any:
    return mapping.get(value, value) if isinstance(value, str) else value


LEGALITY_COLUMNS = [
    Column("N° délibération", "number"), Column("Objet", "title"), Column("Séance", "session_on", "date"),
    Column("Statut", "status_fr"), Column("Nombre de dossiers", "items", "int"),
    Column("Montant total (€)", "total_amount", "money"), Column("Signée le", "signed_on", "date"),
    Column("Identifiant @ctes", "act_id"), Column("Télétransmise le", "transmitted_on", "date"),
    Column("Accusé de réception le", "acknowledged_on", "date"), Column("Publiée le", "published_on", "date"),
    Column("Mode de publication", "publication_mode_fr"), Column("Exécutoire le", "executory_on", "date"),
    Column("Fin du délai de déféré", "referral_deadline", "date"), Column("Courriers du préfet", "letters", "int"),
    Column("Déférée", "referred", "bool"), Column("En attente", "pending_fr", "list"),
    Column("Identifiant", "id"),
]

REFUND_COLUMNS = [
    Column("N° de titre", "title_number"), Column("Dossier", "dossier_reference"),
    Column("Montant du titre (€)", "amount", "money"), Column("Émis le", "issued_on", "date"),
    Column("Reçu par le bénéficiaire le", "received_by_beneficiary_on", "date"),
    Column("Échéance", "due_on", "date"), Column("Encaissé (€)", "received_total", "money"),
    Column("Reste dû (€)", "outstanding", "money"), Column("Dernier encaissement le", "last_received_on", "date"),
    Column("Statut", "status_fr"), Column("En retard", "overdue", "bool"),
    Column("Identifiant du dossier", "dossier_id"), Column("Identifiant du porteur", "applicant_id"),
    Column("Identifiant du titre", "id"),
]

PAYMENT_COLUMNS = [
    Column("Ordonnancé le", "ordered_on", "date"), Column("Dossier", "dossier_reference"),
    Column("Tranche", "tranche_fr"), Column("Montant (€)", "amount", "money"), Column("Statut", "status_fr"),
    Column("Payé le", "paid_on", "date"), Column("Référence bancaire", "bank_reference"),
    Column("Dépenses justifiées (€)", "justified_expenses", "money"),
    Column("Identifiant du dossier", "dossier_id"), Column("Identifiant de la délibération", "deliberation_id"),
    Column("Identifiant de la ligne budgétaire", "budget_line_id"), Column("Identifiant du paiement", "id"),
]


def legality_rows(acts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{**act, "status_fr": french(STATUS, act["status"]),
             "publication_mode_fr": french(STATUS, act.get("publication_mode")),
             "pending_fr": [PENDING.get(p, p) for p in act.get("pending", [])]} for act in acts]


def refund_rows(refunds: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "status_fr": french(STATUS, r["status"])} for r in refunds]


def payment_rows(payments: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{**p, "status_fr": french(STATUS, p["status"]), "tranche_fr": french(TRANCHE, p["tranche"])}
            for p in payments]
