"""Time travel over HTTP (issue 6): dossiers, deliberations and budget lines as they stood at any moment.

`as_of` is a recorded instant (or a date: the end of that day in Paris); `effective_on` a real-world date,
folding the facts dated on or before it. The instants asked for are the ones the histories give, so each
answer is exact: an event recorded at that instant is included, one a microsecond later is not.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest

from tests.integration.audit_story import grant_2025_paid_twice, history, just_before, recorded
from tests.integration.test_api_deliberations import ACT_2025, Acts


@pytest.fixture
def acts(client: Any, services: Any, token: Any) -> Acts:
    return Acts(client, services, token)


def at(acts: Acts, resource: str, who: dict[str, str] | None = None, expect: int = 200, **moment: str) -> Any:
    """The resource as it stood: as_of=<instant> or effective_on=<date>."""
    return acts.call("GET", resource, who or acts.auditor, expect, query_string=moment).json


def test_a_dossier_across_its_whole_lifecycle(acts):
    story = grant_2025_paid_twice(acts)
    resource = f"/dossiers/{story.grant.dossier}"
    events = history(acts, resource)

    # Before it was opened, it did not exist: 404, as for an unknown dossier.
    error = at(acts, resource, expect=404, as_of=just_before(recorded(events, "Dossier.Opened")))["error"]
    assert error["code"] == "not_found"
    opened = at(acts, resource, as_of=recorded(events, "Dossier.Opened"))
    assert (opened["status"], opened["reference"], opened["version"]) == ("draft", None, 1)
    before_submission = at(acts, resource, as_of=just_before(recorded(events, "Dossier.Submitted")))
    assert before_submission == opened
    submitted = at(acts, resource, as_of=recorded(events, "Dossier.Submitted"))
    assert (submitted["status"], submitted["reference"], submitted["submitted_on"]) == (
        "submitted", "2025-00001", "2025-06-02")

    # The vote: scheduled just before, granted after, nothing paid yet.
    scheduled = at(acts, resource, as_of=just_before(recorded(events, "Dossier.Granted")))
    assert (scheduled["status"], scheduled["granted_amount"]) == ("scheduled", None)
    granted = at(acts, resource, as_of=recorded(events, "Dossier.Granted"))
    assert (granted["status"], granted["granted_amount"], granted["deliberation_id"]) == (
        "granted", "9380.00", story.grant.deliberation)
    assert (granted["paid_total"], granted["payments"], granted["convention"]) == ("0.00", [], None)

    # After each payment.
    first = at(acts, resource, as_of=recorded(events, "Dossier.PaymentMade", 0))
    assert (first["status"], first["paid_total"]) == ("convention_signed", "4690.00")
    assert [(p["tranche"], p["status"], p["paid_on"]) for p in first["payments"]] == [
        ("advance", "paid", "2025-10-15")]
    second = at(acts, resource, as_of=recorded(events, "Dossier.PaymentMade", 1))
    assert second["paid_total"] == "9380.00"
    assert [(p["tranche"], p["amount"], p["paid_on"]) for p in second["payments"]] == [
        ("advance", "4690.00", "2025-10-15"), ("balance", "4690.00", "2026-03-10")]
    assert second["status"] == "report_accepted"  # closed by the next event of the same transaction

    now = acts.call("GET", resource, acts.auditor, 200)
    assert (now.json["status"], now.json["version"]) == ("closed", len(events))
    assert at(acts, resource, as_of=recorded(events, "Dossier.Closed")) == now.json
    assert now.headers["ETag"] == f'"{len(events)}"'


def test_a_date_means_the_end_of_that_day_and_the_owner_may_look_back_too(acts):
    story = grant_2025_paid_twice(acts)
    resource = f"/dossiers/{story.grant.dossier}"
    today, yesterday = acts.today.isoformat(), (acts.today - timedelta(days=1)).isoformat()
    assert at(acts, resource, as_of=today)["status"] == "closed"
    assert at(acts, resource, expect=404, as_of=yesterday)["error"]["code"] == "not_found"  # recorded today
    owner = acts.owner(acts.lianes())
    assert at(acts, resource, owner, as_of=today)["status"] == "closed"
    stranger = acts.owner(acts.call("POST", "/applicants", acts.instructor, 201, json={
        "kind": "person", "name": "Marie Durand", "address": "1 rue de France, 62000 Arras",
        "email": "marie@example.org", "legal_representative": {"name": "Marie Durand", "role": "porteuse"}}).json)
    at(acts, resource, stranger, expect=404, as_of=today)
    error = acts.call("GET", resource, acts.auditor, 422, query_string={"as_of": "hier"}).json["error"]
    assert "as_of" in error["fields"]
    both = acts.call("GET", resource, acts.auditor, 422, query_string={"as_of": today, "effective_on": today})
    assert "effective_on" in both.json["error"]["fields"]


def test_a_deliberation_by_recorded_instant_and_by_the_dates_of_its_facts(acts):
    story = grant_2025_paid_twice(acts)
    resource = f"/deliberations/{story.grant.deliberation}"
    events = history(acts, resource)
    assert [e["type"] for e in events] == ["Deliberation.Drafted", "Deliberation.VoteRecorded", "Deliberation.Signed",
                                           "Deliberation.Transmitted", "Deliberation.Published"]

    at(acts, resource, expect=404, as_of=just_before(recorded(events, "Deliberation.Drafted")))
    draft = at(acts, resource, as_of=just_before(recorded(events, "Deliberation.VoteRecorded")))
    assert (draft["status"], draft["vote"], draft["result"]) == ("draft", None, None)
    voted = at(acts, resource, as_of=recorded(events, "Deliberation.VoteRecorded"))
    assert (voted["status"], voted["vote"]["for"], voted["vote"]["voted_on"]) == ("adopted", 44, "2025-09-15")
    assert voted["legality"]["act_id"] is None

    # By the real dates (the secretary entered this history on paper dates): drafted and voted on 15 September,
    # acknowledged and published on 1 October 2025.
    at(acts, resource, expect=404, effective_on="2025-09-14")
    session = at(acts, resource, effective_on="2025-09-15")
    assert (session["status"], session["signed_on"], session["legality"]["act_id"]) == ("adopted", "2025-09-15", None)
    waiting = at(acts, resource, effective_on="2025-09-30")
    assert waiting == session
    executory = at(acts, resource, effective_on="2025-10-01")
    assert {k: executory["legality"][k] for k in ("act_id", "acknowledged_on", "published_on", "executory_on",
                                                  "referral_deadline")} == {
        "act_id": ACT_2025.replace("lmc1526130", "lmc1"), "acknowledged_on": "2025-10-01",
        "published_on": "2025-10-01", "executory_on": "2025-10-01", "referral_deadline": "2025-12-02"}


def test_a_budget_line_across_reservation_vote_and_payments(acts):
    story = grant_2025_paid_twice(acts)
    resource = f"/budget-lines/{story.grant.line}"
    events = history(acts, resource)
    assert [e["type"] for e in events] == ["BudgetLine.Opened", "BudgetLine.Reserved", "BudgetLine.Committed",
                                           "BudgetLine.Paid", "BudgetLine.Paid"]

    def money(state: dict[str, Any]) -> tuple[str, ...]:
        return tuple(state[k] for k in ("credits", "reserved", "committed", "paid", "available"))

    at(acts, resource, expect=404, as_of=just_before(recorded(events, "BudgetLine.Opened")))
    opened = at(acts, resource, as_of=recorded(events, "BudgetLine.Opened"))
    assert money(opened) == ("10000.00", "0.00", "0.00", "0.00", "10000.00")
    reserved = at(acts, resource, as_of=recorded(events, "BudgetLine.Reserved"))
    assert money(reserved) == ("10000.00", "9380.00", "0.00", "0.00", "620.00")  # 002: 10 000 / 9 380 / 620
    committed = at(acts, resource, as_of=recorded(events, "BudgetLine.Committed"))
    assert money(committed) == ("10000.00", "0.00", "9380.00", "0.00", "620.00")
    advance = at(acts, resource, as_of=recorded(events, "BudgetLine.Paid", 0))
    assert money(advance) == ("10000.00", "0.00", "9380.00", "4690.00", "620.00")
    assert advance["version"] == 4
    response = acts.call("GET", resource, acts.finance, 200,
                         query_string={"as_of": recorded(events, "BudgetLine.Paid", 1)})
    assert money(response.json) == ("10000.00", "0.00", "9380.00", "9380.00", "620.00")
    assert response.headers["ETag"] == '"5"'
    # Opened through the API today: by the dates of the facts it did not exist yesterday.
    at(acts, resource, expect=404, effective_on=(acts.today - timedelta(days=1)).isoformat())
    assert money(at(acts, resource, effective_on=acts.today.isoformat())) == money(response.json)


def test_a_budget_line_history_lists_every_event_chained(acts):
    story = grant_2025_paid_twice(acts)
    resource = f"/budget-lines/{story.grant.line}"
    events = history(acts, resource)
    assert [e["version"] for e in events] == [1, 2, 3, 4, 5]
    assert events[0]["previous_hash"] is None
    for earlier, later in pairwise(events):
        assert later["previous_hash"] == earlier["hash"]
        assert later["recorded_at"] >= earlier["recorded_at"]
    assert all(len(e["hash"]) == 64 for e in events)
    assert set(events[0]) == {"version", "type", "recorded_at", "effective_on", "actor", "data", "hash",
                              "previous_hash"}
    assert events[0]["actor"] == {"name": "finance-test", "role": "finance"}
    assert {k: events[0]["data"][k] for k in ("code", "imputation", "year", "credits")} == {
        "code": "C05-043A06", "imputation": "65748//93043", "year": 2025, "credits": "10000.00"}
    reserved = events[1]
    assert (reserved["effective_on"], reserved["actor"]["role"]) == ("2025-09-15", "secretary")
    assert (reserved["data"]["dossier_id"], reserved["data"]["amount"]) == (story.grant.dossier, "9380.00")
    assert [(e["effective_on"], e["data"]["amount"]) for e in events[3:]] == [
        ("2025-10-15", "4690.00"), ("2026-03-10", "4690.00")]
    # The same history an auditor verifies: every hash recomputes.
    assert acts.call("GET", "/audit/verify", acts.auditor, 200).json["ok"] is True


def test_budget_line_history_is_for_staff_and_auditors(acts):
    line = acts.line_of(2025, "10000.00")
    resource = f"/budget-lines/{line['id']}/history"
    assert len(acts.call("GET", resource, acts.instructor, 200).json["items"]) == 1
    owner = acts.owner(acts.lianes())
    assert acts.call("GET", resource, owner, 403).json["error"]["code"] == "forbidden"
    acts.call("GET", resource, None, 401)
    missing = "/budget-lines/00000000-0000-4000-8000-000000000000"
    assert acts.call("GET", f"{missing}/history", acts.auditor, 404).json["error"]["code"] == "not_found"
    acts.call("GET", missing, acts.auditor, 404, query_string={"as_of": acts.today.isoformat()})
