"""Contrôle de légalité: @ctes act ids, executory dates and the prefect's referral window."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from domain.errors import Check, RuleViolation

ACT_ID = re.compile(r"^(?P<department>\d{3})-(?P<siren>\d{9})-(?P<date>\d{8})-(?P<internal>[A-Za-z0-9_.]+)"
                    r"-(?P<nature>[A-Z]{2})(?P<suffix>-\d+-\d+)?$")


@dataclass(frozen=True)
class Authority:
    """The local authority whose acts are transmitted: its département code and SIREN."""

    department_code: str = "062"
    siren: str = "226200012"


def add_months(day: date, months: int) -> date:
    """Same day `months` later, clamped to the end of a shorter month (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def referral_deadline(received_on: date) -> date:
    """Last day the prefect may refer the act to the court: two months, délai franc (CGCT L.3132-1).

    Neither the day of receipt nor the day the period ends counts, so the last possible day is the
    day after: received 1 October → 2 December inclusive.
    """
    return add_months(received_on, 2) + timedelta(days=1)


def executory_on(acknowledged_on: date | None, published_on: date | None) -> date | None:
    """The later of the acknowledgment and the publication (CGCT L.3131-1); None until both exist."""
    if acknowledged_on is None or published_on is None:
        return None
    return max(acknowledged_on, published_on)


def check_act_id(act_id: str, *, authority: Authority, decided_on: date, nature: str = "DE") -> None:
    """Refuses an act id that is malformed or does not match the act (rule 10), listing each check."""
    match = ACT_ID.match(act_id.strip())
    if not match:
        raise RuleViolation("invalid_act_id",
                            f"Identifiant @ctes mal formé : « {act_id} » (attendu par ex. "
                            f"{authority.department_code}-{authority.siren}-{decided_on:%Y%m%d}-lmc1526130-{nature}-1-1).",
                            [Check("format", False, "DDD-SIREN-AAAAMMJJ-numéro-NATURE[-1-1]")])
    checks = [
        Check("department_code", match["department"] == authority.department_code,
              f"{match['department']} (attendu {authority.department_code})"),
        Check("authority_siren", match["siren"] == authority.siren, f"{match['siren']} (attendu {authority.siren})"),
        Check("decision_date", match["date"] == decided_on.strftime("%Y%m%d"),
              f"{match['date']} (attendu {decided_on:%Y%m%d}, la date de séance)"),
        Check("nature", match["nature"] == nature, f"{match['nature']} (attendu {nature})"),
    ]
    failed = [c for c in checks if not c.ok]
    if failed:
        raise RuleViolation("invalid_act_id",
                            "L'identifiant @ctes ne correspond pas à l'acte : "
                            + "; ".join(f"{c.check} {c.detail}" for c in failed) + ".", checks)


def cross_act_inconsistencies(cites: dict[str, object], *, number: str, session_on: date, amount: object,
                              budget_code: str, imputation: str) -> list[dict[str, object]]:
    """Rule 12: what the convention cites against the deliberation that authorised it.

    Real documents get this wrong (002 cites "2 septembre 2025" for a vote of 15 September; 003 imputes
    on C05-048A06 where the deliberation says C05-043A06): every mismatch is reported, none is fixed.
    """
    found: list[dict[str, object]] = []

    def compare(field: str, cited: object, actual: object, label: str) -> None:
        if cited is None or cited == "":
            found.append({"field": field, "convention": None, "deliberation": str(actual),
                          "detail": f"la convention ne cite pas {label}"})
        elif str(cited).strip() != str(actual):
            found.append({"field": field, "convention": str(cited), "deliberation": str(actual),
                          "detail": f"{label} cité(e) « {cited} » ≠ « {actual} »"})

    compare("deliberation_number", cites.get("deliberation_number"), number, "le numéro de délibération")
    cited_date = cites.get("deliberation_date")
    compare("deliberation_date", cited_date.isoformat() if isinstance(cited_date, date) else cited_date,
            session_on.isoformat(), "la date de la délibération")
    cited_amount = cites.get("amount")
    compare("amount", f"{cited_amount}" if cited_amount is not None else None, f"{amount}", "le montant")
    cited_code = cites.get("budget_code")
    if cited_code and str(cited_code).strip() not in (budget_code, imputation, f"{budget_code} {imputation}"):
        found.append({"field": "budget_code", "convention": str(cited_code), "deliberation": budget_code,
                      "detail": f"imputation citée « {cited_code} » ≠ « {budget_code} » ({imputation})"})
    elif not cited_code:
        found.append({"field": "budget_code", "convention": None, "deliberation": budget_code,
                      "detail": "la convention ne cite pas l'imputation budgétaire"})
    return found
