"""Execution of a granted dossier over HTTP (issue 4): convention, payments, report, refunds, termination.

The seeds' two grants to Lianes coopération: 2023 (003, with the 2023 report of 001) — 7 000 € on 18 695 €
settled prorata on 11 879.54 € of justified expenses at 4 447.70 €, so 2 552.30 € are claimed back by a titre —
and 2025 (002) — 9 380 € paid at once when the deliberation is executory. Each convention cites its
deliberation wrongly (2025: "2 septembre 2025"; 2023: code C05-048A06), which the legality report lists.
Payment plans of 004: 50 % advance then balance, 70 % advance, instalments pro rata of justified expenses.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.legality import add_months
from tests.integration.test_api import OTHER_SIRET
from tests.integration.test_api_deliberations import Acts, Grant, rules

CITES_2023 = {"deliberation_number": "2023-388", "deliberation_date": "2023-09-18", "amount": "7000.00",
              "budget_code": "C05-048A06"}  # 003: the deliberation says C05-043A06
CITES_2025 = {"deliberation_number": "2025-344", "deliberation_date": "2025-09-02", "amount": "9380.00",
              "budget_code": "C05-043A06"}  # 002: voted on 15 September
ADVANCE_HALF = [{"tranche": "advance", "share": "0.50", "when": "convention_signed"},
                {"tranche": "balance", "when": "report_accepted"}]


@pytest.fixture
def acts(client: Any, services: Any, token: Any) -> Acts:
    return Acts(client, services, token)


def url(grant: Grant | str, tail: str = "") -> str:
    dossier = grant.dossier if isinstance(grant, Grant) else grant
    return f"/dossiers/{dossier}{tail}"


def convention(acts: Acts, grant: Grant, *, eligible: str, drafted_on: str, report_due_on: str,
               cites: dict[str, Any], action: tuple[str, str], rate: str | None = None) -> Any:
    body: dict[str, Any] = {"eligible_cost": eligible, "action_from": action[0], "action_to": action[1],
                            "report_due_on": report_due_on, "cites": cites, "drafted_on": drafted_on}
    if rate:
        body["rate"] = rate
    return acts.call("POST", url(grant, "/convention"), acts.instructor, 200, json=body).json


def sign_both(acts: Acts, grant: Grant, beneficiary_on: str, department_on: str) -> Any:
    acts.call("POST", url(grant, "/convention/signatures"), acts.instructor, 200, json={
        "party": "beneficiary", "signatory": "Elise MOULENE", "signed_on": beneficiary_on})
    return acts.call("POST", url(grant, "/convention/signatures"), acts.secretary, 200, json={
        "party": "department", "signatory": "Maryline VINCLAIRE", "signed_on": department_on}).json


def convention_2023(acts: Acts, grant: Grant, report_due_on: str = "2024-04-01") -> Any:
    convention(acts, grant, eligible="18695.00", rate="0.3744", drafted_on="2023-10-02", report_due_on=report_due_on,
               cites=CITES_2023, action=("2023-01-01", "2023-12-31"))
    return sign_both(acts, grant, "2023-10-02", "2023-10-05")


def order(acts: Acts, grant: Grant, tranche: str, ordered_on: str, **extra: Any) -> Any:
    return acts.call("POST", url(grant, "/payments"), acts.finance, 201,
                     json={"tranche": tranche, "ordered_on": ordered_on, **extra}).json


def pay(acts: Acts, grant: Grant, tranche: str, on: str, **extra: Any) -> Any:
    payment = order(acts, grant, tranche, on, **extra)
    return acts.call("POST", url(grant, f"/payments/{payment['id']}/paid"), acts.finance, 200,
                     json={"paid_on": on, "bank_reference": f"VIR-{on}"}).json


def settle(acts: Acts, grant: Grant, on: str, justified: str) -> Any:
    acts.call("POST", url(grant, "/report"), acts.instructor, 200, json={
        "submitted_on": on, "summary": "Bilan d'activités", "expenses": [{"label": "Total", "amount": justified}],
        "signed_by": "Elise MOULENE"})
    return acts.call("POST", url(grant, "/report/acceptance"), acts.instructor, 200,
                     json={"accepted_on": on, "justified_expenses": justified}).json


def budget(acts: Acts, grant: Grant) -> tuple[str, str, str, str]:
    line = acts.call("GET", f"/budget-lines/{grant.line}", acts.finance, 200).json
    return line["reserved"], line["committed"], line["paid"], line["available"]


def failed(error: dict[str, Any]) -> set[str]:
    return {c["check"] for c in error["checks"] if not c["ok"]}


def tick(acts: Acts, grant: Grant, today: date) -> dict[str, list[str]]:
    done: dict[str, list[str]] = acts.services.app.tick(today, [UUID(grant.dossier)])
    return done


# --- the seeds, end to end ------------------------------------------------------------------------------


def test_the_2023_grant_is_settled_prorata_and_its_refund_closes_the_dossier(acts):
    grant = acts.grant_2023()
    drafted = convention(acts, grant, eligible="18695.00", rate="0.3744", drafted_on="2023-10-02",
                         report_due_on="2024-04-01", cites=CITES_2023, action=("2023-01-01", "2023-12-31"))
    assert (drafted["status"], drafted["convention"]["status"]) == ("convention_drafted", "drafted")
    assert drafted["convention"]["cites"] == CITES_2023
    half = acts.call("POST", url(grant, "/convention/signatures"), acts.instructor, 200, json={
        "party": "beneficiary", "signatory": "Elise MOULENE", "signed_on": "2023-10-02"}).json
    assert (half["status"], half["convention"]["status"]) == ("convention_drafted", "drafted")
    signed = acts.call("POST", url(grant, "/convention/signatures"), acts.secretary, 200, json={
        "party": "department", "signatory": "Maryline VINCLAIRE", "signed_on": "2023-10-05"})
    assert (signed.json["status"], signed.json["convention"]["signed_on"]) == ("convention_signed", "2023-10-05")
    assert signed.headers["ETag"] == f'"{signed.json["version"]}"'

    legality = acts.call("GET", url(grant, "/legality"), acts.auditor, 200).json
    assert legality["ready_for_payment"] is True
    assert all(c["ok"] for c in legality["checks"])
    assert [(i["field"], i["convention"], i["deliberation"]) for i in legality["inconsistencies"]] == [
        ("budget_code", "C05-048A06", "C05-043A06")]
    deliberation_act = legality["acts"][0]
    assert {k: deliberation_act[k] for k in ("kind", "number", "session_on", "executory_on", "referral_deadline")} == {
        "kind": "deliberation", "number": "2023-388", "session_on": "2023-09-18", "executory_on": "2023-09-25",
        "referral_deadline": "2023-11-26"}
    assert legality["acts"][1]["kind"] == "convention" and len(legality["acts"][1]["signatures"]) == 2

    ordered = acts.call("POST", url(grant, "/payments"), acts.finance, 201,
                        json={"tranche": "single", "ordered_on": "2023-10-16"})
    payment = ordered.json
    assert ordered.headers["Location"] == url(grant, f"/payments/{payment['id']}")
    assert {k: payment[k] for k in ("tranche", "amount", "status", "ordered_on", "paid_on")} == {
        "tranche": "single", "amount": "7000.00", "status": "ordered", "ordered_on": "2023-10-16", "paid_on": None}
    assert all(c["ok"] for c in payment["checks"])
    assert acts.call("GET", ordered.headers["Location"], acts.auditor, 200).json == payment
    paid = acts.call("POST", url(grant, f"/payments/{payment['id']}/paid"), acts.finance, 200,
                     json={"paid_on": "2023-10-23", "bank_reference": "VIR-2023-LIANES"}).json
    assert (paid["paid_total"], paid["payments"][0]["status"], paid["payments"][0]["paid_on"]) == (
        "7000.00", "paid", "2023-10-23")
    assert budget(acts, grant) == ("0.00", "7000.00", "7000.00", "36056.00")
    register = acts.call("GET", "/payments", acts.auditor, 200, query_string={"budget_line_id": grant.line}).json
    assert [(p["id"], p["budget_line_id"], p["amount"], p["status"], p["paid_on"]) for p in register["items"]] == [
        (payment["id"], grant.line, "7000.00", "paid", "2023-10-23")]

    # 001: the 2023 report shows 11 879.54 € of expenses.
    acts.call("POST", url(grant, "/report"), acts.instructor, 200, json={
        "submitted_on": "2024-03-29", "summary": "Bilan d'activités 2023",
        "expenses": [{"label": "Coûts RH", "amount": "8196.88"}, {"label": "Autres", "amount": "3682.66"}],
        "signed_by": "Elise MOULENE"})
    settled = acts.call("POST", url(grant, "/report/acceptance"), acts.instructor, 200,
                        json={"accepted_on": "2024-04-15", "justified_expenses": "11879.54"}).json
    # min(7 000, 7 000 × 11 879.54 / 18 695 = 4 448.07, 0.3744 × 11 879.54 = 4 447.70)
    assert (settled["status"], settled["final_amount"], settled["refund_due"], settled["balance_due"]) == (
        "report_accepted", "4447.70", "2552.30", "0.00")
    assert (settled["report"]["status"], settled["report"]["accepted_on"]) == ("accepted", "2024-04-15")

    titre = acts.call("POST", url(grant, "/refunds"), acts.finance, 201, json={
        "title_number": "TITRE-2024-0001", "issued_on": "2024-05-02", "received_by_beneficiary_on": "2024-05-06",
        "reason": "Reversement au prorata du taux d'exécution (convention 2023, art. 5)"})
    refund = titre.json
    assert titre.headers["Location"] == url(grant, f"/refunds/{refund['id']}")
    assert {k: refund[k] for k in ("title_number", "amount", "issued_on", "due_on", "received_total", "status")} == {
        "title_number": "TITRE-2024-0001", "amount": "2552.30", "issued_on": "2024-05-02", "due_on": "2024-06-06",
        "received_total": "0.00", "status": "open"}
    open_titres = acts.call("GET", "/refunds", acts.auditor, 200, query_string={"status": "open"}).json["items"]
    assert [(r["title_number"], r["amount"], r["outstanding"], r["due_on"], r["overdue"], r["dossier_id"])
            for r in open_titres] == [("TITRE-2024-0001", "2552.30", "2552.30", "2024-06-06", True, grant.dossier)]
    acts.refused("POST", url(grant, f"/refunds/{refund['id']}/receipts"), acts.finance, 409, "receipt_exceeds_due",
                 json={"received_on": "2024-05-20", "amount": "2552.31"})
    partly = acts.call("POST", url(grant, f"/refunds/{refund['id']}/receipts"), acts.finance, 200,
                       json={"received_on": "2024-05-20", "amount": "1000.00"}).json
    assert (partly["status"], partly["refund_due"], partly["refunds"][0]["received_total"]) == (
        "report_accepted", "1552.30", "1000.00")
    closed = acts.call("POST", url(grant, f"/refunds/{refund['id']}/receipts"), acts.finance, 200,
                       json={"received_on": "2024-06-03", "amount": "1552.30"}).json
    assert (closed["status"], closed["refunded_total"], closed["refund_due"], closed["closed_on"]) == (
        "closed", "2552.30", "0.00", "2024-06-03")
    assert closed["refunds"][0]["status"] == "closed"
    assert acts.call("GET", "/refunds", acts.finance, 200, query_string={"status": "open"}).json["items"] == []
    closed_titres = acts.call("GET", "/refunds", acts.finance, 200, query_string={"status": "closed"}).json["items"]
    assert [(r["title_number"], r["received_total"], r["outstanding"], r["overdue"], r["last_received_on"])
            for r in closed_titres] == [("TITRE-2024-0001", "2552.30", "0.00", False, "2024-06-03")]
    # Refunded in 2024 for a 2023 payment: revenue, the 2023 credits are not restored (rule 18).
    assert budget(acts, grant) == ("0.00", "7000.00", "7000.00", "36056.00")
    listed = acts.call("GET", "/dossiers", acts.auditor, 200, query_string={"status": "closed"}).json["items"]
    assert [d["id"] for d in listed] == [grant.dossier]


def test_the_2025_grant_is_paid_once_executory_and_its_convention_cites_the_wrong_date(acts):
    grant = acts.grant_2025()
    assert budget(acts, grant) == ("0.00", "9380.00", "0.00", "620.00")
    convention(acts, grant, eligible="9380.00", drafted_on="2025-10-06", report_due_on="2026-04-01",
               cites=CITES_2025, action=("2025-01-01", "2025-12-31"))
    sign_both(acts, grant, "2025-10-06", "2025-10-08")
    legality = acts.call("GET", url(grant, "/legality"), acts.instructor, 200).json
    assert [(i["field"], i["convention"], i["deliberation"]) for i in legality["inconsistencies"]] == [
        ("deliberation_date", "2025-09-02", "2025-09-15")]
    # Executory on 1 October 2025 (acknowledged and published that day): not a day before.
    early = acts.refused("POST", url(grant, "/payments"), acts.finance, 409, "legality_check_failed",
                         json={"tranche": "single", "ordered_on": "2025-09-30"})
    assert failed(early) == {"deliberation_executory", "convention_signed"}
    paid = pay(acts, grant, "single", "2025-10-15")
    assert (paid["paid_total"], paid["payments"][0]["amount"]) == ("9380.00", "9380.00")
    assert budget(acts, grant) == ("0.00", "9380.00", "9380.00", "620.00")


def test_half_advance_then_balance_within_the_justified_expenses(acts):
    # 004 L4249: 50 % advance, balance on the report, within the justified expenses; caps 50 % and 2 500 €.
    grant = acts.granted(year=2022, amount="2500.00", eligible="6000.00", number="2022-96", session_on="2022-03-21",
                         submitted_on="2022-01-10", instructed_on="2022-02-15", received_on="2022-03-28",
                         programme_rules=rules("prorata", ADVANCE_HALF, max_rate="0.50", max_amount="2500.00"))
    convention(acts, grant, eligible="6000.00", drafted_on="2022-04-11", report_due_on="2023-03-31",
               cites={**CITES_2023, "deliberation_number": "2022-96"}, action=("2022-01-01", "2022-12-31"))
    sign_both(acts, grant, "2022-04-12", "2022-04-12")
    advance = order(acts, grant, "advance", "2022-04-20")
    assert advance["amount"] == "1250.00"
    early = acts.refused("POST", url(grant, "/payments"), acts.finance, 409, "legality_check_failed",
                         json={"tranche": "balance", "ordered_on": "2022-06-01"})
    assert failed(early) == {"tranche_allowed"}
    waiting = acts.call("GET", url(grant, "/legality"), acts.auditor, 200).json
    assert waiting["ready_for_payment"] is False
    assert [c["detail"] for c in waiting["checks"] if not c["ok"]] == ["le bilan n'est pas encore accepté"]
    settled = settle(acts, grant, "2023-02-01", "5000.00")
    assert (settled["final_amount"], settled["balance_due"]) == ("2083.33", "2083.33")  # advance not yet paid
    acts.call("POST", url(grant, f"/payments/{advance['id']}/paid"), acts.finance, 200,
              json={"paid_on": "2023-02-02", "bank_reference": "VIR-1"})
    legality = acts.call("GET", url(grant, "/legality"), acts.finance, 200).json
    assert legality["ready_for_payment"] is True  # the next tranche of the plan: the balance
    assert next(c for c in legality["checks"] if c["check"] == "tranche_allowed")["detail"] == \
        "tranche « balance » : 833.33 €"
    done = pay(acts, grant, "balance", "2023-02-15")
    assert (done["payments"][1]["amount"], done["paid_total"], done["status"]) == ("833.33", "2083.33", "closed")
    reserved, committed, paid, _ = budget(acts, grant)
    assert (reserved, committed, paid) == ("0.00", "2083.33", "2083.33")


def test_seventy_percent_advance_at_notification(acts):
    # 004 L15832: 70 % at notification, the balance on documents.
    plan = [{"tranche": "advance", "share": "0.70", "when": "convention_signed"},
            {"tranche": "balance", "when": "report_accepted"}]
    grant = acts.granted(year=2022, amount="9380.00", eligible="10000.00", number="2022-99", session_on="2022-03-21",
                         submitted_on="2022-01-10", instructed_on="2022-02-15", received_on="2022-03-28",
                         programme_rules=rules("reduce", plan))
    convention(acts, grant, eligible="10000.00", drafted_on="2022-04-11", report_due_on="2023-03-31",
               cites=CITES_2025, action=("2022-01-01", "2022-12-31"))
    sign_both(acts, grant, "2022-04-12", "2022-04-12")
    assert pay(acts, grant, "advance", "2022-04-20")["paid_total"] == "6566.00"
    acts.refused("POST", url(grant, "/payments"), acts.finance, 409, "legality_check_failed",
                 json={"tranche": "advance", "ordered_on": "2022-05-20"})  # a tranche is paid once


def test_instalments_pro_rata_never_exceed_the_justified_share(acts):
    # 004 L9985: instalments pro rata of the justified expenses.
    grant = acts.granted(year=2022, amount="20000.00", eligible="100000.00", number="2022-101",
                         session_on="2022-03-21", submitted_on="2022-01-10", instructed_on="2022-02-15",
                         received_on="2022-03-28",
                         programme_rules=rules("prorata", [{"tranche": "instalment", "when": "justified_expenses"}]))
    convention(acts, grant, eligible="100000.00", drafted_on="2022-04-11", report_due_on="2024-03-31",
               cites=CITES_2025, action=("2022-01-01", "2023-12-31"))
    sign_both(acts, grant, "2022-04-12", "2022-04-12")
    first = pay(acts, grant, "instalment", "2022-09-01", justified_expenses="30000.00")
    assert (first["payments"][0]["amount"], first["paid_total"]) == ("6000.00", "6000.00")
    too_much = acts.refused("POST", url(grant, "/payments"), acts.finance, 409, "payment_exceeds_grant", json={
        "tranche": "instalment", "ordered_on": "2022-10-01", "amount": "3000.00", "justified_expenses": "40000.00"})
    assert failed(too_much) == {"within_justified_share"}
    without = acts.refused("POST", url(grant, "/payments"), acts.finance, 409, "legality_check_failed",
                           json={"tranche": "instalment", "ordered_on": "2022-10-01"})
    assert "tranche_allowed" in failed(without)
    second = pay(acts, grant, "instalment", "2022-10-01", justified_expenses="40000.00")
    assert (second["payments"][1]["amount"], second["paid_total"]) == ("2000.00", "8000.00")


# --- termination, lapse, amendments ------------------------------------------------------------------------


def test_a_termination_received_on_10_may_takes_effect_on_11_june(acts):
    grant = acts.grant_2023()
    convention_2023(acts, grant, report_due_on="2024-06-30")
    pay(acts, grant, "single", "2023-10-20")
    ended = acts.call("POST", url(grant, "/termination"), acts.instructor, 200, json={
        "reason": "non_execution", "notice_received_on": "2024-05-10", "hearing_on": "2024-04-30"}).json
    assert {k: ended["termination"][k] for k in ("reason", "notice_received_on", "hearing_on", "effective_on")} == {
        "reason": "non_execution", "notice_received_on": "2024-05-10", "hearing_on": "2024-04-30",
        "effective_on": "2024-06-11"}
    # Recorded today, long after 11 June 2024: it has taken effect; everything paid is owed back.
    assert (ended["status"], ended["termination"]["status"], ended["refund_due"]) == (
        "terminated", "effective", "7000.00")
    history = acts.call("GET", url(grant, "/history"), acts.auditor, 200).json["items"]
    assert [(i["type"], i["effective_on"]) for i in history[-2:]] == [
        ("Dossier.TerminationNotified", "2024-05-10"), ("Dossier.Terminated", "2024-06-11")]
    error = acts.refused("POST", url(grant, "/payments"), acts.finance, 409, "legality_check_failed",
                         json={"tranche": "single", "ordered_on": "2024-06-12"})
    assert "not_terminated_or_lapsed" in failed(error)
    acts.refused("POST", url(grant, "/termination"), acts.instructor, 409, "not_allowed_in_state",
                 json={"reason": "misuse", "notice_received_on": "2024-07-01"})
    assert [d["id"] for d in acts.call("GET", "/dossiers", acts.auditor, 200,
                                       query_string={"status": "terminated"}).json["items"]] == [grant.dossier]


def test_a_termination_notified_today_waits_one_full_month(acts):
    grant = acts.grant_2025()
    convention(acts, grant, eligible="9380.00", drafted_on="2025-10-06", report_due_on="2030-04-01",
               cites=CITES_2025, action=("2025-01-01", "2025-12-31"))
    sign_both(acts, grant, "2025-10-06", "2025-10-08")
    notified = acts.call("POST", url(grant, "/termination"), acts.instructor, 200,
                         json={"reason": "refused_control"}).json
    effective = add_months(acts.today, 1) + timedelta(days=1)
    assert notified["termination"]["effective_on"] == effective.isoformat()
    assert (notified["status"], notified["termination"]["status"]) == ("convention_signed", "notified")
    assert tick(acts, grant, effective - timedelta(days=1))["terminated"] == []
    assert tick(acts, grant, effective)["terminated"] == [grant.dossier]
    assert acts.call("GET", url(grant), acts.auditor, 200).json["status"] == "terminated"
    assert budget(acts, grant) == ("0.00", "0.00", "0.00", "10000.00")  # nothing paid: all released


def test_an_amendment_moves_the_due_date_but_not_after_it_passed_and_a_missing_report_lapses(acts, services):
    grant = acts.grant_2023()
    convention_2023(acts, grant)
    amended = acts.call("POST", url(grant, "/amendments"), acts.instructor, 200, json={
        "changes": {"report_due_on": "2024-12-31"}, "reason": "Avenant n° 1 : report de neuf mois",
        "signed_on": "2024-03-01"}).json
    assert amended["convention"]["report_due_on"] == "2024-12-31"
    assert amended["convention"]["amendments"] == [{"number": 1, "changes": {"report_due_on": "2024-12-31"},
                                                    "reason": "Avenant n° 1 : report de neuf mois",
                                                    "signed_on": "2024-03-01"}]
    error = acts.refused("POST", url(grant, "/amendments"), acts.instructor, 409, "amendment_too_late", json={
        "changes": {"report_due_on": "2025-06-30"}, "reason": "Trop tard", "signed_on": "2025-01-02"})
    assert "31/12/2024" in error["message"]
    acts.refused("POST", url(grant, "/amendments"), acts.instructor, 422, "invalid_fields", "changes",
                 json={"changes": {}, "reason": "Rien", "signed_on": "2024-03-02"})
    acts.refused("POST", url(grant, "/amendments"), acts.instructor, 422, "invalid_fields", "changes.report_due_on",
                 json={"changes": {"report_due_on": "2024-02-01"}, "reason": "Avant", "signed_on": "2024-03-02"})
    acts.refused("POST", url(grant, "/amendments"), acts.instructor, 422, "invalid_fields", "changes.amount",
                 json={"changes": {"amount": "9000.00"}, "reason": "Non", "signed_on": "2024-03-02"})

    assert tick(acts, grant, date(2024, 12, 31))["lapsed"] == []
    assert tick(acts, grant, date(2025, 1, 1))["lapsed"] == [grant.dossier]
    lapsed = acts.call("GET", url(grant), acts.auditor, 200).json
    assert (lapsed["status"], lapsed["lapse"]["released"], lapsed["lapse"]["lapsed_on"]) == (
        "lapsed", "7000.00", "2025-01-01")
    assert budget(acts, grant) == ("0.00", "0.00", "0.00", "43056.00")
    acts.refused("POST", url(grant, "/report"), acts.instructor, 409, "not_allowed_in_state", json={
        "submitted_on": "2025-01-05", "summary": "En retard", "expenses": [], "signed_by": "Elise MOULENE"})
    owner = acts.owner(acts.lianes())
    acts.refused("POST", url(grant, "/report"), owner, 409, "not_allowed_in_state",
                 json={"summary": "En retard", "signed_by": "Elise MOULENE"})
    error = acts.refused("POST", url(grant, "/payments"), acts.finance, 409, "legality_check_failed",
                         json={"tranche": "single", "ordered_on": "2025-01-06"})
    assert "not_terminated_or_lapsed" in failed(error)


# --- refusals: status, code, field, nothing recorded -------------------------------------------------------


def test_payments_are_refused_unless_every_check_passes(acts):
    signed = acts.grant_2023()
    convention_2023(acts, signed)
    over = acts.refused("POST", url(signed, "/payments"), acts.finance, 409, "payment_exceeds_grant",
                        json={"tranche": "single", "ordered_on": "2023-10-20", "amount": "7000.01"})
    assert failed(over) == {"within_grant"}
    assert {c["check"] for c in over["checks"]} >= {"deliberation_adopted", "deliberation_executory", "no_referral",
                                                   "convention_signed", "bank_details", "tranche_allowed",
                                                   "within_grant", "not_terminated_or_lapsed"}
    not_in_plan = acts.refused("POST", url(signed, "/payments"), acts.finance, 409, "legality_check_failed",
                               json={"tranche": "advance", "ordered_on": "2023-10-20"})
    assert failed(not_in_plan) == {"tranche_allowed"}
    acts.refused("POST", url(signed, "/payments"), acts.finance, 409, "invalid_date",
                 json={"tranche": "single", "ordered_on": "2023-09-17"})  # before the grant
    acts.refused("POST", url(signed, "/payments"), acts.finance, 422, "invalid_fields", "ordered_on",
                 json={"tranche": "single", "ordered_on": acts.day(1)})
    acts.refused("POST", url(signed, "/payments"), acts.finance, 422, "invalid_fields", "amount",
                 json={"tranche": "single", "amount": "-5.00"})
    acts.refused("POST", url(signed, "/payments"), acts.finance, 422, "invalid_fields", "tranche",
                 json={"tranche": "bonus"})
    acts.refused("POST", url(signed, "/payments"), acts.finance, 422, "invalid_fields", "tranche", json={})
    acts.refused("POST", url(uuid4(), "/payments"), acts.finance, 404, "not_found", json={"tranche": "single"})

    # Before the deliberation is executory: it is transmitted and published later, on 10 October.
    waiting = acts.grant_2023(number="2023-389", code="C05-043A07", received_on=None)
    convention_2023(acts, waiting)
    error = acts.refused("POST", url(waiting, "/payments"), acts.finance, 409, "legality_check_failed",
                         json={"tranche": "single", "ordered_on": "2023-10-09"})
    assert failed(error) == {"deliberation_executory"}
    deliberation = acts.call("GET", f"/deliberations/{waiting.deliberation}", acts.secretary, 200).json
    acts.made_executory(deliberation, "2023-10-10")
    acts.refused("POST", url(waiting, "/payments"), acts.finance, 409, "legality_check_failed",
                 json={"tranche": "single", "ordered_on": "2023-10-09"})
    assert order(acts, waiting, "single", "2023-10-10")["amount"] == "7000.00"

    # Before both parties signed.
    unsigned = acts.grant_2023(number="2023-390", code="C05-043A08")
    convention(acts, unsigned, eligible="18695.00", drafted_on="2023-10-02", report_due_on="2024-04-01",
               cites=CITES_2023, action=("2023-01-01", "2023-12-31"))
    acts.call("POST", url(unsigned, "/convention/signatures"), acts.instructor, 200, json={
        "party": "beneficiary", "signatory": "Elise MOULENE", "signed_on": "2023-10-02"})
    error = acts.refused("POST", url(unsigned, "/payments"), acts.finance, 409, "legality_check_failed",
                         json={"tranche": "single", "ordered_on": "2023-10-20"})
    assert failed(error) == {"convention_signed", "tranche_allowed"}

    # Without bank details on file.
    nobank = acts.grant_2023(number="2023-391", code="C05-043A09", applicant=acts.person())
    convention_2023(acts, nobank)
    error = acts.refused("POST", url(nobank, "/payments"), acts.finance, 409, "legality_check_failed",
                         json={"tranche": "single", "ordered_on": "2023-10-20"})
    assert failed(error) == {"bank_details"}


def test_no_payment_on_a_refused_dossier_and_no_convention_before_a_grant(acts):
    line = acts.line_of(2025, "10000.00")
    programme = acts.programme_of(2025, line, rules(), "AAP-2025")
    dossier = acts.instructed(programme, acts.lianes(), amount="1000.00", eligible="5000.00",
                              submitted_on="2025-06-02", instructed_on="2025-08-25")
    body = {"eligible_cost": "5000.00", "action_from": "2025-01-01", "action_to": "2025-12-31",
            "report_due_on": "2026-04-01", "cites": CITES_2025}
    acts.refused("POST", url(dossier, "/convention"), acts.instructor, 409, "not_allowed_in_state", json=body)
    deliberation = acts.deliberation("2025-700", "2025-09-15", [acts.item(dossier, "1000.00", line)])
    acts.vote(deliberation["id"], "2025-09-15", **{"for": 4, "against": 40})
    acts.refused("POST", url(dossier, "/payments"), acts.finance, 409, "not_allowed_in_state",
                 json={"tranche": "single", "ordered_on": "2025-10-20"})
    acts.refused("POST", url(dossier, "/convention"), acts.instructor, 409, "not_allowed_in_state", json=body)
    legality = acts.call("GET", url(dossier, "/legality"), acts.auditor, 200).json
    assert legality["ready_for_payment"] is False
    assert legality["acts"][0]["result"] == "rejected"


def test_conventions_and_signatures_refuse_what_does_not_fit(acts):
    grant = acts.grant_2025()
    good = {"eligible_cost": "9380.00", "action_from": "2025-01-01", "action_to": "2025-12-31",
            "report_due_on": "2026-04-01", "cites": CITES_2025}
    acts.refused("POST", url(grant, "/convention"), acts.instructor, 422, "invalid_fields", "action_to",
                 json={**good, "action_to": "2024-12-31"})
    acts.refused("POST", url(grant, "/convention"), acts.instructor, 422, "invalid_fields", "cites", json={
        k: v for k, v in good.items() if k != "cites"})
    acts.refused("POST", url(grant, "/convention"), acts.instructor, 422, "invalid_fields", "cites.amount",
                 json={**good, "cites": {**CITES_2025, "amount": "9380.001"}})
    acts.refused("POST", url(grant, "/convention"), acts.instructor, 422, "invalid_fields", "settlement",
                 json={**good, "settlement": "generous"})
    acts.refused("POST", url(grant, "/convention"), acts.instructor, 422, "invalid_fields", "payment_plan.0.tranche",
                 json={**good, "payment_plan": [{"tranche": "bonus", "when": "convention_signed"}]})
    acts.refused("POST", url(grant, "/convention"), acts.instructor, 422, "invalid_fields", "payment_plan",
                 json={**good, "payment_plan": [{"tranche": "advance", "share": "0.70", "when": "convention_signed"},
                                                {"tranche": "advance", "share": "0.50",
                                                 "when": "convention_signed"}]})
    acts.refused("POST", url(grant, "/convention"), acts.instructor, 422, "invalid_fields", "colour",
                 json={**good, "colour": "bleu"})
    drafted = acts.call("POST", url(grant, "/convention"), acts.instructor, 200, json=good).json
    assert drafted["convention"]["rate"] == "1.0000"  # 9 380 of 9 380 (rate_of)
    signatures = url(grant, "/convention/signatures")
    beneficiary = {"party": "beneficiary", "signatory": "Elise MOULENE", "signed_on": "2025-10-06"}
    department = {"party": "department", "signatory": "Maryline VINCLAIRE", "signed_on": "2025-10-08"}
    acts.refused("POST", signatures, acts.secretary, 403, "forbidden", json=beneficiary)
    acts.refused("POST", signatures, acts.instructor, 403, "forbidden", json=department)
    acts.refused("POST", signatures, acts.instructor, 422, "invalid_fields", "party", json={**beneficiary,
                                                                                          "party": "prefect"})
    acts.refused("POST", signatures, acts.instructor, 409, "invalid_date", json={**beneficiary,
                                                                               "signed_on": "2025-09-14"})
    acts.call("POST", signatures, acts.instructor, 200, json=beneficiary)
    acts.refused("POST", signatures, acts.instructor, 409, "already_signed", json=beneficiary)
    acts.refused("POST", url(grant, "/convention"), acts.instructor, 409, "convention_signed_already", json=good)
    acts.refused("POST", url(grant, "/amendments"), acts.instructor, 409, "not_allowed_in_state", json={
        "changes": {"action_to": "2026-06-30"}, "reason": "Prolongation", "signed_on": "2025-10-07"})
    assert acts.call("POST", signatures, acts.admin, 200, json=department).json["status"] == "convention_signed"


def test_reports_refunds_and_receipts_refuse_what_does_not_fit(acts):
    grant = acts.grant_2023()
    convention_2023(acts, grant)
    owner = acts.owner(acts.lianes())
    report = {"summary": "Bilan 2023", "expenses": [{"label": "Total", "amount": "11879.54"}],
              "signed_by": "Elise MOULENE"}
    acts.refused("POST", url(grant, "/report/acceptance"), acts.instructor, 409, "no_report",
                 json={"accepted_on": "2024-04-15", "justified_expenses": "11879.54"})
    acts.refused("POST", url(grant, "/report"), owner, 422, "invalid_fields", "submitted_on",
                 json={**report, "submitted_on": acts.today.isoformat()})
    acts.refused("POST", url(grant, "/report"), owner, 422, "invalid_fields", "expenses.0.amount",
                 json={**report, "expenses": [{"label": "Total", "amount": "-1.00"}]})
    acts.refused("POST", url(grant, "/report"), owner, 422, "invalid_fields", "signed_by",
                 json={k: v for k, v in report.items() if k != "signed_by"})
    acts.refused("POST", url(grant, "/refunds"), acts.finance, 409, "no_refund_due",
                 json={"title_number": "T-0", "reason": "Rien n'est dû"})
    sent = acts.call("POST", url(grant, "/report"), owner, 200, json=report).json
    assert (sent["report"]["status"], sent["report"]["submitted_on"]) == ("received", acts.today.isoformat())
    acts.refused("POST", url(grant, "/report/acceptance"), acts.instructor, 409, "invalid_date",
                 json={"accepted_on": acts.day(-1), "justified_expenses": "11879.54"})
    acts.refused("POST", url(grant, "/report/acceptance"), acts.instructor, 422, "invalid_fields",
                 "justified_expenses", json={"justified_expenses": "-1.00"})
    pay(acts, grant, "single", "2023-10-20")
    settled = acts.call("POST", url(grant, "/report/acceptance"), acts.instructor, 200,
                        json={"justified_expenses": "11879.54"}).json
    assert settled["refund_due"] == "2552.30"

    refunds = url(grant, "/refunds")
    titre = {"title_number": "T-2024-118", "issued_on": "2024-04-10", "received_by_beneficiary_on": "2024-04-12",
             "reason": "Reversement"}
    acts.refused("POST", refunds, acts.finance, 422, "invalid_fields", "amount", json={**titre, "amount": "-100.00"})
    acts.refused("POST", refunds, acts.finance, 422, "invalid_fields", "amount", json={**titre, "amount": "0"})
    acts.refused("POST", refunds, acts.finance, 409, "refund_exceeds_due", json={**titre, "amount": "2552.31"})
    acts.refused("POST", refunds, acts.finance, 409, "invalid_date",
                 json={**titre, "received_by_beneficiary_on": "2024-04-09"})
    acts.refused("POST", refunds, acts.finance, 422, "invalid_fields", "reason",
                 json={k: v for k, v in titre.items() if k != "reason"})
    partial = acts.call("POST", refunds, acts.finance, 201, json={**titre, "amount": "2000.00"}).json
    assert (partial["amount"], partial["due_on"]) == ("2000.00", "2024-05-12")
    acts.refused("POST", refunds, acts.finance, 409, "already_exists", json={**titre, "amount": "100.00"})
    rest = acts.call("POST", refunds, acts.finance, 201, json={**titre, "title_number": "T-2024-119"}).json
    assert rest["amount"] == "552.30"  # the default: what is still due and not yet claimed
    acts.refused("POST", refunds, acts.finance, 409, "no_refund_due", json={**titre, "title_number": "T-2024-120"})
    receipts = url(grant, f"/refunds/{partial['id']}/receipts")
    acts.refused("POST", receipts, acts.finance, 409, "receipt_exceeds_due",
                 json={"received_on": "2024-05-02", "amount": "2000.01"})
    acts.refused("POST", receipts, acts.finance, 422, "invalid_fields", "amount",
                 json={"received_on": "2024-05-02", "amount": "-10.00"})
    acts.refused("POST", receipts, acts.finance, 409, "invalid_date",
                 json={"received_on": "2024-04-09", "amount": "10.00"})
    acts.refused("POST", url(grant, f"/refunds/{uuid4()}/receipts"), acts.finance, 404, "not_found",
                 json={"received_on": "2024-05-02", "amount": "10.00"})
    acts.refused("POST", url(grant, f"/payments/{uuid4()}/paid"), acts.finance, 404, "not_found",
                 json={"paid_on": "2024-05-02", "bank_reference": "VIR"})
    paid_id = acts.call("GET", url(grant), acts.finance, 200).json["payments"][0]["id"]
    acts.refused("POST", url(grant, f"/payments/{paid_id}/paid"), acts.finance, 409, "already_paid",
                 json={"paid_on": "2024-05-02", "bank_reference": "VIR"})
    shown = acts.call("GET", url(grant, f"/refunds/{partial['id']}"), owner, 200).json
    assert shown["title_number"] == "T-2024-118"


def test_terminations_refuse_what_does_not_fit(acts):
    grant = acts.grant_2023()
    convention_2023(acts, grant)
    termination = url(grant, "/termination")
    acts.refused("POST", termination, acts.instructor, 422, "invalid_fields", "reason",
                 json={"reason": "dislike", "notice_received_on": "2024-05-10"})
    acts.refused("POST", termination, acts.instructor, 422, "invalid_fields", "hearing_on",
                 json={"reason": "misuse", "notice_received_on": "2024-05-10", "hearing_on": "2024-05-11"})
    acts.refused("POST", termination, acts.instructor, 422, "invalid_fields", "notice_received_on",
                 json={"reason": "misuse", "notice_received_on": acts.day(1)})
    acts.call("POST", termination, acts.instructor, 200, json={"reason": "misuse", "notice_received_on": acts.day(0)})
    acts.refused("POST", termination, acts.instructor, 409, "already_terminated",
                 json={"reason": "misuse", "notice_received_on": acts.day(0)})


# --- who may do what ----------------------------------------------------------------------------------------

WRITES = [("/convention", "instructor"), ("/convention/signatures", "instructor"), ("/amendments", "instructor"),
          ("/payments", "finance"), ("/payments/{payment}/paid", "finance"), ("/report", "instructor"),
          ("/report/acceptance", "instructor"), ("/refunds", "finance"), ("/refunds/{refund}/receipts", "finance"),
          ("/termination", "instructor")]


@pytest.fixture
def paid_grant(acts: Acts) -> tuple[Grant, str]:
    grant = acts.grant_2023()
    convention_2023(acts, grant)
    payment = order(acts, grant, "single", "2023-10-20")
    return grant, payment["id"]


def test_each_execution_command_is_refused_to_the_roles_not_allowed(acts, paid_grant):
    grant, payment = paid_grant
    owner = acts.owner(acts.lianes())
    other = acts.owner(acts.applicant(OTHER_SIRET, "Jumelages de Nice"))
    for tail, allowed in WRITES:
        target = url(grant, tail.format(payment=payment, refund=uuid4()))
        for who in ("auditor", "admin", "secretary", "finance", "instructor"):
            if who == allowed or (tail == "/convention/signatures" and who in ("secretary", "admin")):
                continue
            acts.refused("POST", target, getattr(acts, who), 403, "forbidden", json={})
        if tail == "/report":
            acts.refused("POST", target, other, 404, "not_found", json={})
        else:
            acts.refused("POST", target, owner, 403, "forbidden", json={})
        acts.refused("POST", target, {}, 401, "unauthorized", json={})


def test_what_each_role_reads(acts, paid_grant):
    grant, payment = paid_grant
    owner = acts.owner(acts.lianes())
    other = acts.owner(acts.applicant(OTHER_SIRET, "Jumelages de Nice"))
    for who in ("auditor", "admin", "secretary", "finance", "instructor"):
        acts.call("GET", url(grant, "/legality"), getattr(acts, who), 200)
        acts.call("GET", url(grant, f"/payments/{payment}"), getattr(acts, who), 200)
    acts.call("GET", url(grant, f"/payments/{payment}"), owner, 200)
    acts.refused("GET", url(grant, f"/payments/{payment}"), other, 404, "not_found")
    acts.refused("GET", url(grant, f"/payments/{uuid4()}"), acts.auditor, 404, "not_found")
    acts.refused("GET", url(grant, "/legality"), owner, 403, "forbidden")
    acts.refused("GET", url(uuid4(), "/legality"), acts.auditor, 404, "not_found")
    for register in ("/refunds", "/payments"):
        for who in ("finance", "auditor"):
            acts.call("GET", register, getattr(acts, who), 200)
        for who in ("instructor", "secretary"):
            acts.refused("GET", register, getattr(acts, who), 403, "forbidden")
        acts.refused("GET", register, owner, 403, "forbidden")
    acts.refused("GET", "/refunds", acts.finance, 422, "invalid_fields", "status", query_string={"status": "late"})
    acts.refused("GET", "/payments", acts.finance, 422, "invalid_fields", "budget_line_id",
                 query_string={"budget_line_id": "x"})
    in_period = acts.call("GET", "/payments", acts.finance, 200,
                          query_string={"from": "2023-10-01", "to": "2023-10-31"}).json["items"]
    assert [p["id"] for p in in_period] == [payment]
    assert acts.call("GET", "/payments", acts.finance, 200, query_string={"from": "2023-11-01"}).json["items"] == []


def test_openapi_lists_every_execution_path(acts):
    spec = acts.call("GET", "/openapi.json", None, 200).json
    paths = spec["paths"]
    for tail in ("/convention", "/convention/signatures", "/amendments", "/payments", "/payments/{payment_id}/paid",
                 "/report", "/report/acceptance", "/refunds", "/refunds/{refund_id}/receipts", "/termination"):
        assert "post" in paths[f"/dossiers/{{dossier_id}}{tail}"], tail
    for path in ("/dossiers/{dossier_id}/legality", "/dossiers/{dossier_id}/payments/{payment_id}",
                 "/dossiers/{dossier_id}/refunds/{refund_id}", "/refunds", "/payments"):
        assert "get" in paths[path], path
    payments = paths["/dossiers/{dossier_id}/payments"]["post"]
    assert {"201", "401", "403", "404", "409", "412", "422"} <= set(payments["responses"])
    assert "Location" in payments["responses"]["201"]["headers"]
    assert set(spec["components"]["schemas"]["LegalityReport"]["properties"]) == {
        "ready_for_payment", "checks", "acts", "inconsistencies"}


def test_the_registers_are_the_same_rebuilt_in_one_batch_or_event_by_event(acts, services):
    from projections import queries

    grant = acts.grant_2023()
    convention_2023(acts, grant)
    pay(acts, grant, "single", "2023-10-20")
    settle(acts, grant, "2024-04-15", "11879.54")
    titre = acts.call("POST", url(grant, "/refunds"), acts.finance, 201, json={
        "title_number": "T-1", "issued_on": "2024-05-02", "reason": "Reversement"}).json
    acts.call("POST", url(grant, f"/refunds/{titre['id']}/receipts"), acts.finance, 200,
              json={"received_on": "2024-05-20", "amount": "552.30"})
    services.runner.catch_up()
    live = queries.checksum(services.read)
    registers_live = (acts.call("GET", "/refunds", acts.auditor, 200).json,
                      acts.call("GET", "/legality/register", acts.auditor, 200).json,
                      acts.call("GET", "/payments", acts.auditor, 200).json)
    assert registers_live[0]["items"][0]["received_total"] == "552.30"
    for batch in (1, 7, 1000):
        services.runner.rebuild(batch=batch)
        assert queries.checksum(services.read) == live, batch
    assert (acts.call("GET", "/refunds", acts.auditor, 200).json,
            acts.call("GET", "/legality/register", acts.auditor, 200).json,
            acts.call("GET", "/payments", acts.auditor, 200).json) == registers_live
