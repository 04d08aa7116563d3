"""The grants auditors look back on, built through the HTTP API (shared by the test_audit_* modules).

2025 (seed 002): 9 380 € to Lianes coopération by deliberation 2025-344 of 15 September 2025, executory on
1 October; here paid as a half advance on 15 October 2025 and the balance on 10 March 2026, after the report.
Its convention cites the deliberation "du 2 septembre 2025" (the seed's error, reported as an inconsistency).
2023 (seed 003): 7 000 € paid at once, settled prorata at 4 447,70 €, so a titre claims 2 552,30 € back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.integration.test_api_deliberations import Acts, Grant, rules
from tests.integration.test_api_execution import (
    ADVANCE_HALF,
    CITES_2025,
    convention,
    convention_2023,
    pay,
    settle,
    sign_both,
    url,
)

INJECTION = '<script>alert("x")</script> & <b>Jumelages</b>'


@dataclass
class Story:
    """A grant built through the API, with each payment it received."""

    grant: Grant
    advance: dict[str, Any]
    balance: dict[str, Any]


def grant_2025_paid_twice(acts: Acts) -> Story:
    grant = acts.grant_2025(programme_rules=rules("reduce", plan=ADVANCE_HALF, report_due_on="2026-04-01"))
    convention(acts, grant, eligible="9380.00", drafted_on="2025-10-02", report_due_on="2026-04-01",
               cites=CITES_2025, action=("2025-01-01", "2025-12-31"))
    sign_both(acts, grant, "2025-10-06", "2025-10-08")
    advance = pay(acts, grant, "advance", "2025-10-15")
    settle(acts, grant, "2026-03-02", "9380.00")
    balance = pay(acts, grant, "balance", "2026-03-10")
    return Story(grant, payment(advance, "advance"), payment(balance, "balance"))


def grant_2023_with_refund(acts: Acts) -> tuple[Grant, dict[str, Any]]:
    """Seed 003 settled prorata, and the titre of 2 552,30 € partly received (1 000 €)."""
    grant = acts.grant_2023()
    convention_2023(acts, grant)
    pay(acts, grant, "single", "2023-10-16")
    acts.call("POST", url(grant, "/report"), acts.instructor, 200, json={
        "submitted_on": "2024-03-29", "summary": "Bilan d'activités 2023",
        "expenses": [{"label": "Coûts RH", "amount": "8196.88"}, {"label": "Autres", "amount": "3682.66"}],
        "signed_by": "Elise MOULENE"})
    acts.call("POST", url(grant, "/report/acceptance"), acts.instructor, 200,
              json={"accepted_on": "2024-04-15", "justified_expenses": "11879.54"})
    refund = acts.call("POST", url(grant, "/refunds"), acts.finance, 201, json={
        "title_number": "TITRE-2024-0001", "issued_on": "2024-05-02", "received_by_beneficiary_on": "2024-05-06",
        "reason": "Reversement au prorata du taux d'exécution (convention 2023, art. 5)"}).json
    acts.call("POST", url(grant, f"/refunds/{refund['id']}/receipts"), acts.finance, 200,
              json={"received_on": "2024-05-20", "amount": "1000.00"})
    return grant, refund


def payment(dossier: dict[str, Any], tranche: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in dossier["payments"] if p["tranche"] == tranche)
    return found


def history(acts: Acts, resource: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = acts.call("GET", f"{resource}/history", acts.auditor, 200).json["items"]
    return items


def recorded(items: list[dict[str, Any]], event_type: str, nth: int = 0) -> str:
    """When the nth event of that type was recorded (ISO instant, as the history gives it)."""
    found: str = [i["recorded_at"] for i in items if i["type"] == event_type][nth]
    return found


def just_before(instant: str) -> str:
    return (datetime.fromisoformat(instant) - timedelta(microseconds=1)).isoformat()
