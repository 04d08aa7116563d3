"""Deliberations over HTTP (issue 3): attendance, vote, signature, contrôle de légalité, the register of acts.

The 2025 case is seed 002: deliberation 2025-344 of the session of 15 September 2025 grants 9 380 € on
a 10 000 € line (Disponible / Proposition / Solde = 10 000 / 9 380 / 620), act id
062-226200012-20250915-lmc1526130-DE-1-1 received and published on 1 October 2025: executory that day,
referral window until 2 December. `Acts` (also used by test_api_execution) builds grants through the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from domain.legality import referral_deadline
from tests.integration.test_api import World, raw

MEMBERS = [f"Membre {i:02d}" for i in range(1, 45)]  # 44 members in office, as in seed 004
ACT_2025 = "062-226200012-20250915-lmc1526130-DE-1-1"
SINGLE = [{"tranche": "single", "when": "convention_signed"}]
ALL_FOR = {"for": 44, "against": 0, "abstention": 0, "not_participating": []}


def attendance(present: int = 36, proxies: int = 8) -> dict[str, Any]:
    """`present` members, the others excused, the first `proxies` of them represented."""
    excused = MEMBERS[present:]
    return {"present": MEMBERS[:present], "excused": excused, "absent": [],
            "proxies": [{"from": excused[i], "to": MEMBERS[i]} for i in range(proxies)]}


def act_id(session_on: str, internal: str = "lmc1526130", nature: str = "DE") -> str:
    return f"062-226200012-{session_on.replace('-', '')}-{internal}-{nature}-1-1"


def rules(settlement: str = "reduce", plan: list[dict[str, Any]] | None = None, **more: Any) -> dict[str, Any]:
    return {"rounding": "cent", "settlement": settlement, "convention_required_above": "0.00",
            "payment_plan": plan or SINGLE, **more}


@dataclass
class Grant:
    """The ids of a grant built through the API."""

    line: str
    programme: str
    applicant: str
    dossier: str
    deliberation: str


class Acts(World):
    """World, plus the past: budget lines and programmes of any year, paper applications, deliberations."""

    def __init__(self, client: Any, services: Any, token: Any) -> None:
        super().__init__(client, services, token)
        self._lianes: dict[str, Any] | None = None

    def lianes(self) -> dict[str, Any]:
        """Lianes coopération (002, 003), with its bank details: created once per test."""
        if self._lianes is None:
            self._lianes = self.applicant()
        return self._lianes

    def person(self, name: str = "Marie Durand", bank: dict[str, str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "person", "name": name, "address": "1 rue de France, 62000 Arras",
                                "email": "marie.durand@example.org",
                                "legal_representative": {"name": name, "role": "porteuse"}}
        if bank:
            body["bank"] = bank
        return self.call("POST", "/applicants", self.instructor, 201, json=body).json

    def line_of(self, year: int, credits: str, code: str = "C05-043A06") -> dict[str, Any]:
        return self.call("POST", "/budget-lines", self.finance, 201, json={
            "code": code, "imputation": "65748//93043", "label": "Actions européennes et internationales",
            "year": year, "credits": credits}).json

    def programme_of(self, year: int, line: dict[str, Any], programme_rules: dict[str, Any], code: str,
                     opens_on: str | None = None, closes_on: str | None = None) -> dict[str, Any]:
        return self.call("POST", "/programmes", self.admin, 201, json={
            "code": code, "title": f"L'ouverture au monde {year}", "year": year,
            "opens_on": opens_on or f"{year}-01-01", "closes_on": closes_on or f"{year}-12-31",
            "budget_line_id": line["id"], "rules": programme_rules, "required_documents": {}}).json

    def instructed(self, programme: dict[str, Any], applicant: dict[str, Any], *, amount: str, eligible: str,
                   submitted_on: str, instructed_on: str, opinion: str = "favourable", rate: str | None = None) -> str:
        """A paper application entered by an instructor on its real dates, then instructed."""
        dossier = self.call("POST", "/dossiers", self.instructor, 201, json={
            "programme_id": programme["id"], "applicant_id": applicant["id"], "project_name": "Jumelages et 62MEI",
            "total_budget": eligible, "amount_requested": amount}).json
        self.call("POST", f"/dossiers/{dossier['id']}/submit", self.instructor, 200, json={
            "sworn_statement": {"signatory": "Elise MOULENE", "place": "Lille", "signed_on": submitted_on},
            "submitted_on": submitted_on})
        body: dict[str, Any] = {"opinion": opinion, "eligible_cost": eligible, "instructed_on": instructed_on}
        if opinion == "favourable":
            body["proposed_amount"] = amount
        if rate:
            body["rate"] = rate
        self.call("POST", f"/dossiers/{dossier['id']}/instruct", self.instructor, 200, json=body)
        return str(dossier["id"])

    @staticmethod
    def item(dossier_id: str, amount: str, line: dict[str, Any]) -> dict[str, Any]:
        return {"dossier_id": dossier_id, "amount": amount, "budget_line_id": line["id"]}

    def deliberation_body(self, number: str, session_on: str, items: list[dict[str, Any]],
                          **changes: Any) -> dict[str, Any]:
        return {"number": number, "title": f"Subventions — délibération {number}", "session_on": session_on,
                "members_in_office": 44, "attendance": attendance(), "items": items, **changes}

    def deliberation(self, number: str, session_on: str, items: list[dict[str, Any]], **changes: Any) -> Any:
        return self.call("POST", "/deliberations", self.secretary, 201,
                         json=self.deliberation_body(number, session_on, items, **changes)).json

    def vote(self, deliberation_id: str, voted_on: str, **counts: Any) -> Any:
        return self.call("POST", f"/deliberations/{deliberation_id}/vote", self.secretary, 200,
                         json={"voted_on": voted_on, **ALL_FOR, **counts}).json

    def made_executory(self, deliberation: dict[str, Any], received_on: str, internal: str = "lmc1") -> Any:
        """Signed on the session date, transmitted, acknowledged and published on `received_on`."""
        url = f"/deliberations/{deliberation['id']}"
        self.call("POST", f"{url}/signature", self.secretary, 200,
                  json={"signed_on": deliberation["session_on"], "signatory": "Jean-Claude LEROY"})
        self.call("POST", f"{url}/transmission", self.secretary, 200, json={
            "act_id": act_id(deliberation["session_on"], internal), "transmitted_on": received_on,
            "acknowledged_on": received_on})
        return self.call("POST", f"{url}/publication", self.secretary, 200,
                         json={"published_on": received_on, "mode": "electronic"}).json

    def granted(self, *, year: int, amount: str, eligible: str, programme_rules: dict[str, Any], number: str,
                session_on: str, submitted_on: str, instructed_on: str, received_on: str | None,
                credits: str = "43056.00", applicant: dict[str, Any] | None = None,
                rate: str | None = None, code: str = "C05-043A06") -> Grant:
        """A dossier granted by an adopted deliberation, executory on `received_on` (None: never transmitted)."""
        line = self.line_of(year, credits, code=code)
        programme = self.programme_of(year, line, programme_rules, code=f"AAP-{number}")
        applicant = applicant or self.lianes()
        dossier = self.instructed(programme, applicant, amount=amount, eligible=eligible, submitted_on=submitted_on,
                                  instructed_on=instructed_on, rate=rate)
        deliberation = self.deliberation(number, session_on, [self.item(dossier, amount, line)])
        voted = self.vote(deliberation["id"], session_on)
        if received_on is not None:
            self.made_executory(voted, received_on)
        return Grant(line["id"], programme["id"], applicant["id"], dossier, deliberation["id"])

    def grant_2025(self, **changes: Any) -> Grant:
        """Seed 002: 9 380 € to Lianes coopération on a 10 000 € line, rule `reduce`, report due 1 April 2026."""
        options: dict[str, Any] = {
            "year": 2025, "amount": "9380.00", "eligible": "9380.00", "credits": "10000.00",
            "programme_rules": rules("reduce", report_due_on="2026-04-01"), "number": "2025-344",
            "session_on": "2025-09-15", "submitted_on": "2025-06-02", "instructed_on": "2025-08-25",
            "received_on": "2025-10-01"}
        return self.granted(**{**options, **changes})

    def grant_2023(self, **changes: Any) -> Grant:
        """Seed 003: 7 000 € on an eligible cost of 18 695 € (37.44 %), rule `prorata`, report due 1 April 2024."""
        options: dict[str, Any] = {
            "year": 2023, "amount": "7000.00", "eligible": "18695.00", "rate": "0.3744",
            "programme_rules": rules("prorata", report_due_on="2024-04-01"), "number": "2023-388",
            "session_on": "2023-09-18", "submitted_on": "2023-06-01", "instructed_on": "2023-08-28",
            "received_on": "2023-09-25"}
        return self.granted(**{**options, **changes})


@pytest.fixture
def acts(client: Any, services: Any, token: Any) -> Acts:
    return Acts(client, services, token)


def budget(acts: Acts, line_id: str) -> dict[str, Any]:
    line: dict[str, Any] = acts.call("GET", f"/budget-lines/{line_id}", acts.auditor, 200).json
    return {k: line[k] for k in ("credits", "reserved", "committed", "paid", "available")}


# --- seed 002 end to end ----------------------------------------------------------------------------


def test_the_2025_deliberation_reserves_commits_and_becomes_executory(acts):
    line = acts.line_of(2025, "10000.00")
    programme = acts.programme_of(2025, line, rules("reduce", report_due_on="2026-04-01"), "OUVERTURE-MONDE-2025")
    dossier = acts.instructed(programme, acts.lianes(), amount="9380.00", eligible="9380.00",
                              submitted_on="2025-06-02", instructed_on="2025-08-25")

    created = acts.call("POST", "/deliberations", acts.secretary, 201, json=acts.deliberation_body(
        "2025-344", "2025-09-15", [acts.item(dossier, "9380.00", line)]))
    deliberation = created.json
    assert created.headers["Location"] == f"/deliberations/{deliberation['id']}"
    assert created.headers["ETag"] == '"1"'
    assert (deliberation["number"], deliberation["status"], deliberation["result"]) == ("2025-344", "draft", None)
    assert deliberation["items"] == [{"dossier_id": dossier, "amount": "9380.00", "budget_line_id": line["id"]}]
    assert deliberation["attendance"]["proxies"][0] == {"from": "Membre 37", "to": "Membre 01"}
    # 002 L73: Disponible 10 000, Proposition 9 380, Solde 620.
    assert budget(acts, line["id"]) == {"credits": "10000.00", "reserved": "9380.00", "committed": "0.00",
                                        "paid": "0.00", "available": "620.00"}
    assert acts.call("GET", f"/dossiers/{dossier}", acts.instructor, 200).json["status"] == "scheduled"

    url = f"/deliberations/{deliberation['id']}"
    voted = acts.call("POST", f"{url}/vote", acts.secretary, 200, json={"voted_on": "2025-09-15", **ALL_FOR}).json
    assert (voted["status"], voted["result"]) == ("adopted", "adopted")
    assert voted["vote"] == {"voted_on": "2025-09-15", "for": 44, "against": 0, "abstention": 0,
                             "not_participating": [], "interested": [], "president_casting_vote": None}
    assert budget(acts, line["id"]) == {"credits": "10000.00", "reserved": "0.00", "committed": "9380.00",
                                        "paid": "0.00", "available": "620.00"}
    granted = acts.call("GET", f"/dossiers/{dossier}", acts.auditor, 200).json
    assert (granted["status"], granted["granted_amount"], granted["deliberation_id"]) == (
        "granted", "9380.00", deliberation["id"])

    signed = acts.call("POST", f"{url}/signature", acts.secretary, 200,
                       json={"signed_on": "2025-09-15", "signatory": "Jean-Claude LEROY"}).json
    assert signed["signed_on"] == "2025-09-15"
    transmitted = acts.call("POST", f"{url}/transmission", acts.secretary, 200, json={
        "act_id": ACT_2025, "transmitted_on": "2025-10-01", "acknowledged_on": "2025-10-01"}).json
    assert transmitted["legality"]["executory_on"] is None  # not yet published
    assert transmitted["legality"]["referral_deadline"] == "2025-12-02"
    published = acts.call("POST", f"{url}/publication", acts.secretary, 200,
                          json={"published_on": "2025-10-01", "mode": "electronic"})
    assert published.headers["ETag"] == '"5"'

    shown = acts.call("GET", url, acts.auditor, 200)
    assert shown.headers["ETag"] == '"5"'
    assert shown.json == published.json
    legality = shown.json["legality"]
    assert {k: legality[k] for k in ("act_id", "transmitted_on", "acknowledged_on", "published_on", "executory_on",
                                     "referral_deadline", "letters")} == {
        "act_id": ACT_2025, "transmitted_on": "2025-10-01", "acknowledged_on": "2025-10-01",
        "published_on": "2025-10-01", "executory_on": "2025-10-01", "referral_deadline": "2025-12-02", "letters": []}
    assert {k: shown.json[k] for k in ("id", "number", "title", "session_on", "status", "vote", "result",
                                       "signed_on", "legality", "items", "version")}

    # As it stood: on the session day (voted, not yet transmitted), and before it existed.
    on_the_vote = acts.call("GET", url, acts.auditor, 200, query_string={"effective_on": "2025-09-15"}).json
    assert (on_the_vote["status"], on_the_vote["legality"]["act_id"]) == ("adopted", None)
    acts.refused("GET", url, acts.auditor, 404, "not_found", query_string={"effective_on": "2025-09-14"})
    history = acts.call("GET", f"{url}/history", acts.auditor, 200).json["items"]
    assert [i["type"] for i in history] == ["Deliberation.Drafted", "Deliberation.VoteRecorded", "Deliberation.Signed",
                                            "Deliberation.Transmitted", "Deliberation.Published"]
    assert [i["effective_on"] for i in history] == ["2025-09-15", "2025-09-15", "2025-09-15", "2025-10-01",
                                                    "2025-10-01"]
    assert history[0]["actor"] == {"name": "secretary-test", "role": "secretary"}
    as_voted = acts.call("GET", url, acts.auditor, 200, query_string={"as_of": history[1]["recorded_at"]}).json
    assert (as_voted["status"], as_voted["signed_on"]) == ("adopted", None)

    listed = acts.call("GET", "/deliberations", acts.instructor, 200).json
    assert [i["number"] for i in listed["items"]] == ["2025-344"] and listed["next_cursor"] is None
    assert {k: listed["items"][0][k] for k in ("status", "executory_on", "referral_deadline", "total_amount")} == {
        "status": "adopted", "executory_on": "2025-10-01", "referral_deadline": "2025-12-02",
        "total_amount": "9380.00"}
    register = acts.call("GET", "/legality/register", acts.auditor, 200,
                         query_string={"from": "2025-09-01", "to": "2025-09-30"}).json["items"]
    assert [(a["number"], a["act_id"], a["executory_on"], a["pending"]) for a in register] == [
        ("2025-344", ACT_2025, "2025-10-01", [])]


def test_rejection_refuses_every_dossier_and_releases_the_budget(acts):
    line = acts.line_of(2025, "10000.00")
    programme = acts.programme_of(2025, line, rules(), "AAP-2025")
    first = acts.instructed(programme, acts.lianes(), amount="4000.00", eligible="8000.00",
                            submitted_on="2025-06-02", instructed_on="2025-08-25")
    second = acts.instructed(programme, acts.lianes(), amount="5000.00", eligible="8000.00",
                             submitted_on="2025-06-02", instructed_on="2025-08-25")
    deliberation = acts.deliberation("2025-350", "2025-09-15", [acts.item(first, "4000.00", line),
                                                                 acts.item(second, "5000.00", line)])
    assert budget(acts, line["id"])["available"] == "1000.00"
    rejected = acts.vote(deliberation["id"], "2025-09-15", **{"for": 10, "against": 30, "abstention": 4})
    assert (rejected["status"], rejected["result"]) == ("rejected", "rejected")
    assert budget(acts, line["id"]) == {"credits": "10000.00", "reserved": "0.00", "committed": "0.00",
                                        "paid": "0.00", "available": "10000.00"}
    for dossier in (first, second):
        assert acts.call("GET", f"/dossiers/{dossier}", acts.instructor, 200).json["status"] == "refused"
    refused = acts.call("GET", "/dossiers", acts.auditor, 200, query_string={"status": "refused"}).json["items"]
    assert {d["id"] for d in refused} == {first, second}


def test_a_tie_is_decided_by_the_president_and_interested_members_abstain(acts):
    line = acts.line_of(2025, "10000.00")
    programme = acts.programme_of(2025, line, rules(), "AAP-2025")
    tie = acts.deliberation("2025-360", "2025-09-15", [acts.item(acts.instructed(
        programme, acts.lianes(), amount="100.00", eligible="1000.00", submitted_on="2025-06-02",
        instructed_on="2025-08-25"), "100.00", line)])
    decided = acts.vote(tie["id"], "2025-09-15", **{"for": 22, "against": 22, "president_casting_vote": "against"})
    assert decided["result"] == "rejected"
    # 004 N°2022-87: 43 for, 1 abstention = Mme GAUTHIER, "intéressée à l'affaire", who took no part.
    interested = acts.deliberation("2025-361", "2025-09-15", [acts.item(acts.instructed(
        programme, acts.lianes(), amount="200.00", eligible="1000.00", submitted_on="2025-06-02",
        instructed_on="2025-08-25"), "200.00", line)])
    adopted = acts.vote(interested["id"], "2025-09-15", **{"for": 43, "abstention": 1,
                                                           "not_participating": ["Membre 13"],
                                                           "interested": ["Membre 13"]})
    assert adopted["result"] == "adopted"
    assert (adopted["vote"]["not_participating"], adopted["vote"]["interested"]) == (["Membre 13"], ["Membre 13"])


# --- the register of acts ---------------------------------------------------------------------------------


def test_the_register_lists_every_act_of_a_period_with_what_it_waits_for(acts):
    today = acts.today
    day = acts.day
    line = acts.line_of(today.year, "50000.00")
    programme = acts.programme_of(today.year, line, rules(), "AAP-RECENT", opens_on=day(-60), closes_on=day(30))

    def dossier(amount: str = "1000.00") -> str:
        return acts.instructed(programme, acts.lianes(), amount=amount, eligible="10000.00",
                               submitted_on=day(-40), instructed_on=day(-35))

    acts.deliberation("R-1", day(-20), [acts.item(dossier(), "1000.00", line)])
    voted = acts.deliberation("R-2", day(-20), [acts.item(dossier(), "1000.00", line)])
    acts.vote(voted["id"], day(-20))
    window = acts.deliberation("R-3", day(-10), [acts.item(dossier(), "1000.00", line)])
    acts.vote(window["id"], day(-10))
    acts.made_executory(window, day(-5))
    older = acts.deliberation("R-0", day(-30), [acts.item(dossier(), "1000.00", line)])

    register = acts.call("GET", "/legality/register", acts.auditor, 200,
                         query_string={"from": day(-25), "to": day(0)}).json["items"]
    assert [(a["number"], a["pending"]) for a in register] == [
        ("R-1", ["vote"]), ("R-2", ["signature", "transmission", "publication"]), ("R-3", ["referral_window"])]
    open_window = register[2]
    assert open_window["referral_window_open"] is True
    received = today - timedelta(days=5)
    assert open_window["referral_deadline"] == referral_deadline(received).isoformat()
    assert (open_window["executory_on"], open_window["acknowledged_on"]) == (day(-5), day(-5))
    everything = acts.call("GET", "/legality/register", acts.secretary, 200).json["items"]
    assert [a["number"] for a in everything] == ["R-0", "R-1", "R-2", "R-3"]
    assert older["id"] == everything[0]["id"]

    # A request for documents extends the window (rule 11); a referral closes the question.
    url = f"/deliberations/{window['id']}/prefect-letters"
    extended = acts.call("POST", url, acts.secretary, 200, json={
        "kind": "request_documents", "received_on": day(0), "summary": "Demande de la convention signée"}).json
    assert extended["legality"]["referral_deadline"] == referral_deadline(today).isoformat()
    assert extended["legality"]["letters"] == [{"kind": "request_documents", "received_on": day(0),
                                                "summary": "Demande de la convention signée"}]
    referred = acts.call("POST", url, acts.secretary, 200, json={
        "kind": "referral", "received_on": day(0), "summary": "Déféré au tribunal administratif"}).json
    assert referred["legality"]["referred"] is True
    row = acts.call("GET", "/legality/register", acts.auditor, 200,
                    query_string={"from": day(-10), "to": day(-10)}).json["items"]
    assert [(a["number"], a["referred"], a["letters"], a["pending"]) for a in row] == [("R-3", True, 2, [])]
    assert row[0]["referral_deadline"] == referral_deadline(today).isoformat()


def test_deliberations_are_listed_by_session_date_with_a_cursor(acts):
    line = acts.line_of(2025, "50000.00")
    programme = acts.programme_of(2025, line, rules(), "AAP-2025")
    sessions = ["2025-09-15", "2025-07-07", "2025-10-20"]
    for index, session in enumerate(sessions):
        dossier = acts.instructed(programme, acts.lianes(), amount="100.00", eligible="1000.00",
                                  submitted_on="2025-06-02", instructed_on="2025-06-20")
        acts.deliberation(f"2025-{index + 1}", session, [acts.item(dossier, "100.00", line)])
    first = acts.call("GET", "/deliberations", acts.auditor, 200, query_string={"limit": 2}).json
    assert [d["session_on"] for d in first["items"]] == ["2025-07-07", "2025-09-15"] and first["next_cursor"]
    rest = acts.call("GET", "/deliberations", acts.auditor, 200,
                     query_string={"limit": 2, "cursor": first["next_cursor"]}).json
    assert ([d["session_on"] for d in rest["items"]], rest["next_cursor"]) == (["2025-10-20"], None)
    assert acts.call("GET", "/deliberations", acts.auditor, 200,
                     query_string={"status": "adopted"}).json["items"] == []


def test_a_coming_session_is_drafted_today_and_a_stale_if_match_is_refused(acts):
    line = acts.line_of(acts.today.year, "10000.00")
    programme = acts.programme_of(acts.today.year, line, rules(), "AAP-NEXT", opens_on=acts.day(-60),
                                  closes_on=acts.day(30))
    dossier = acts.instructed(programme, acts.lianes(), amount="100.00", eligible="1000.00",
                              submitted_on=acts.day(-10), instructed_on=acts.day(-5))
    coming = acts.deliberation("N-1", acts.day(20), [acts.item(dossier, "100.00", line)])
    history = acts.call("GET", f"/deliberations/{coming['id']}/history", acts.auditor, 200).json["items"]
    assert history[0]["effective_on"] == acts.today.isoformat()
    acts.refused("POST", f"/deliberations/{coming['id']}/vote", {**acts.secretary, "If-Match": '"7"'}, 412,
                 "stale_version", json={"voted_on": acts.today.isoformat(), **ALL_FOR})
    acts.refused("POST", f"/deliberations/{coming['id']}/vote", acts.secretary, 409, "invalid_date",
                 json={"voted_on": acts.today.isoformat(), **ALL_FOR})


# --- refusals: status, code, field, nothing recorded ------------------------------------------------------


@dataclass
class Stage:
    """A 2025 budget line and programme, an instructed and a merely submitted dossier, a draft and an
    adopted deliberation (not transmitted)."""

    acts: Acts
    line: dict[str, Any]
    instructed: str
    submitted: str
    unfavourable: str
    draft: str
    adopted: str

    def url(self, template: str) -> str:
        return template.format(draft=self.draft, adopted=self.adopted, unknown=uuid4())


@pytest.fixture
def stage(acts: Acts) -> Stage:
    line = acts.line_of(2025, "10000.00")
    programme = acts.programme_of(2025, line, rules(), "AAP-2025")
    owner = acts.lianes()
    instructed = acts.instructed(programme, owner, amount="9000.00", eligible="10000.00", submitted_on="2025-06-02",
                                 instructed_on="2025-08-25")
    unfavourable = acts.instructed(programme, owner, amount="500.00", eligible="10000.00",
                                   submitted_on="2025-06-02", instructed_on="2025-08-25", opinion="unfavourable")
    submitted = acts.call("POST", "/dossiers", acts.instructor, 201, json={
        "programme_id": programme["id"], "applicant_id": owner["id"], "project_name": "Pas encore instruit",
        "total_budget": "1000.00", "amount_requested": "100.00"}).json["id"]
    acts.call("POST", f"/dossiers/{submitted}/submit", acts.instructor, 200, json={
        "sworn_statement": {"signatory": "Elise MOULENE", "place": "Lille", "signed_on": "2025-06-02"},
        "submitted_on": "2025-06-02"})
    first = acts.instructed(programme, owner, amount="100.00", eligible="1000.00", submitted_on="2025-06-02",
                            instructed_on="2025-08-25")
    second = acts.instructed(programme, owner, amount="100.00", eligible="1000.00", submitted_on="2025-06-02",
                             instructed_on="2025-08-25")
    draft = acts.deliberation("2025-400", "2025-09-15", [acts.item(first, "100.00", line)])
    adopted = acts.deliberation("2025-401", "2025-09-15", [acts.item(second, "100.00", line)])
    acts.vote(adopted["id"], "2025-09-15")
    return Stage(acts, line, instructed, submitted, unfavourable, draft["id"], adopted["id"])


def new(**changes: Any) -> Any:
    """POST /deliberations for the instructed dossier of the stage (9 000 €), with changes."""
    def body(s: Stage) -> dict[str, Any]:
        fields = s.acts.deliberation_body("2025-500", "2025-09-15", [s.acts.item(s.instructed, "9000.00", s.line)])
        return {"json": {**fields, **changes}}
    return body


def items(make: Any) -> Any:
    return lambda s: new(items=make(s))(s)


def vote(**counts: Any) -> dict[str, Any]:
    return {"json": {"voted_on": "2025-09-15", **ALL_FOR, **counts}}


def transmission(act: str = ACT_2025, **changes: Any) -> dict[str, Any]:
    return {"json": {"act_id": act, "transmitted_on": "2025-10-01", "acknowledged_on": "2025-10-01", **changes}}


BAD_PROXY = dict(attendance(), proxies=[{"from": "Membre 40", "to": "Membre 41"}])  # Membre 41 is not present
NO_QUORUM = attendance(present=20, proxies=2)

# (method, url, who, body, status, code, field)
BAD_INPUT = [
    # POST /deliberations
    ("POST", "/deliberations", "secretary",
     items(lambda s: [{"dossier_id": str(uuid4()), "amount": "100.00", "budget_line_id": s.line["id"]}]),
     422, "invalid_fields", "items.0.dossier_id"),
    ("POST", "/deliberations", "secretary",
     items(lambda s: [{"dossier_id": s.instructed, "amount": "100.00", "budget_line_id": str(uuid4())}]),
     422, "invalid_fields", "items.0.budget_line_id"),
    ("POST", "/deliberations", "secretary", items(lambda s: [s.acts.item(s.submitted, "100.00", s.line)]),
     409, "not_allowed_in_state", None),
    ("POST", "/deliberations", "secretary", items(lambda s: [s.acts.item(s.unfavourable, "500.00", s.line)]),
     409, "unfavourable_opinion", None),
    ("POST", "/deliberations", "secretary", items(lambda s: [s.acts.item(s.instructed, "9800.01", s.line)]),
     409, "insufficient_credits", None),
    ("POST", "/deliberations", "secretary", new(number="2025-401"), 409, "already_exists", None),
    ("POST", "/deliberations", "secretary", items(lambda s: [s.acts.item(s.instructed, "-1.00", s.line)]),
     422, "invalid_fields", "items.0.amount"),
    ("POST", "/deliberations", "secretary", items(lambda s: [s.acts.item(s.instructed, "10.001", s.line)]),
     422, "invalid_fields", "items.0.amount"),
    ("POST", "/deliberations", "secretary", items(lambda s: [{"dossier_id": "x", "amount": "1.00",
                                                              "budget_line_id": s.line["id"]}]),
     422, "invalid_fields", "items.0.dossier_id"),
    ("POST", "/deliberations", "secretary", items(lambda s: [s.acts.item(s.instructed, "100.00", s.line)] * 2),
     422, "invalid_fields", "items"),
    ("POST", "/deliberations", "secretary", new(items=[]), 422, "invalid_fields", "items"),
    ("POST", "/deliberations", "secretary", new(members_in_office=0), 422, "invalid_fields", "members_in_office"),
    ("POST", "/deliberations", "secretary", new(members_in_office="44"), 422, "invalid_fields", "members_in_office"),
    ("POST", "/deliberations", "secretary", new(session_on="15/09/2025"), 422, "invalid_fields", "session_on"),
    ("POST", "/deliberations", "secretary", new(attendance=BAD_PROXY), 422, "invalid_fields",
     "attendance.proxies.0.to"),
    ("POST", "/deliberations", "secretary", new(attendance={"present": ["A"], "proxies": [{"from": "B"}]}), 422,
     "invalid_fields", "attendance.proxies.0.to"),
    ("POST", "/deliberations", "secretary", new(attendance=dict(attendance(), present=MEMBERS[:37])), 422,
     "invalid_fields", "attendance"),
    ("POST", "/deliberations", "secretary", new(colour="bleu"), 422, "invalid_fields", "colour"),
    ("POST", "/deliberations", "secretary", lambda s: new(drafted_on=s.acts.day(1))(s), 422, "invalid_fields",
     "drafted_on"),
    ("POST", "/deliberations", "secretary", raw("{not json"), 400, "malformed_json", None),
    # POST /deliberations/{id}/vote
    ("POST", "/deliberations/{adopted}/vote", "secretary", vote(), 409, "already_voted", None),
    ("POST", "/deliberations/{draft}/vote", "secretary", vote(**{"for": 45}), 409, "vote_count_mismatch", None),
    ("POST", "/deliberations/{draft}/vote", "secretary", vote(**{"for": 43}), 409, "vote_count_mismatch", None),
    ("POST", "/deliberations/{draft}/vote", "secretary", vote(**{"not_participating": ["Membre 13"]}), 409,
     "vote_count_mismatch", None),
    ("POST", "/deliberations/{draft}/vote", "secretary", vote(**{"for": 43, "abstention": 1,
                                                                 "interested": ["Membre 13"]}),
     409, "interested_member_voted", None),
    ("POST", "/deliberations/{draft}/vote", "secretary", vote(interested=["Membre 37"]), 409,
     "interested_member_voted", None),  # excused, and gave a proxy (004 N°2022-104)
    ("POST", "/deliberations/{draft}/vote", "secretary", vote(**{"for": 22, "against": 22}), 409,
     "casting_vote_required", None),
    ("POST", "/deliberations/{draft}/vote", "secretary", vote(voted_on="2025-09-14"), 409, "invalid_date", None),
    ("POST", "/deliberations/{draft}/vote", "secretary", lambda s: vote(voted_on=s.acts.day(1)), 422,
     "invalid_fields", "voted_on"),
    ("POST", "/deliberations/{draft}/vote", "secretary", vote(**{"for": -1}), 422, "invalid_fields", "for"),
    ("POST", "/deliberations/{draft}/vote", "secretary", vote(**{"for": "44"}), 422, "invalid_fields", "for"),
    ("POST", "/deliberations/{draft}/vote", "secretary", vote(president_casting_vote="abstain"), 422,
     "invalid_fields", "president_casting_vote"),
    ("POST", "/deliberations/{draft}/vote", "secretary", {"json": {"for": 44}}, 422, "invalid_fields",
     "abstention"),
    ("POST", "/deliberations/{unknown}/vote", "secretary", vote(), 404, "not_found", None),
    # signature, transmission, publication, letters
    ("POST", "/deliberations/{draft}/signature", "secretary", {"json": {"signatory": "J.-C. LEROY"}}, 409,
     "not_allowed_in_state", None),
    ("POST", "/deliberations/{adopted}/signature", "secretary", {"json": {"signed_on": "2025-09-14",
                                                                          "signatory": "J.-C. LEROY"}},
     409, "invalid_date", None),
    ("POST", "/deliberations/{adopted}/signature", "secretary", {"json": {"signed_on": "2025-09-15"}}, 422,
     "invalid_fields", "signatory"),
    ("POST", "/deliberations/{draft}/transmission", "secretary", transmission(), 409, "not_allowed_in_state", None),
    ("POST", "/deliberations/{adopted}/transmission", "secretary", transmission("062-226200012-lmc-DE"), 409,
     "invalid_act_id", None),
    ("POST", "/deliberations/{adopted}/transmission", "secretary",
     transmission("062-226200012-20250902-lmc1526130-DE-1-1"), 409, "invalid_act_id", None),
    ("POST", "/deliberations/{adopted}/transmission", "secretary",
     transmission("062-226200012-20250915-lmc1526130-CC-1-1"), 409, "invalid_act_id", None),
    ("POST", "/deliberations/{adopted}/transmission", "secretary",
     transmission("059-226200012-20250915-lmc1526130-DE-1-1"), 409, "invalid_act_id", None),
    ("POST", "/deliberations/{adopted}/transmission", "secretary", transmission(transmitted_on="2025-09-14",
                                                                                acknowledged_on="2025-09-14"),
     409, "invalid_date", None),
    ("POST", "/deliberations/{adopted}/transmission", "secretary", transmission(acknowledged_on="2025-09-30"), 422,
     "invalid_fields", "acknowledged_on"),
    ("POST", "/deliberations/{adopted}/transmission", "secretary", {"json": {"transmitted_on": "2025-10-01"}},
     422, "invalid_fields", "act_id"),
    ("POST", "/deliberations/{draft}/publication", "secretary", {"json": {"published_on": "2025-10-01",
                                                                          "mode": "display"}},
     409, "not_allowed_in_state", None),
    ("POST", "/deliberations/{adopted}/publication", "secretary", {"json": {"published_on": "2025-09-14",
                                                                            "mode": "display"}},
     409, "invalid_date", None),
    ("POST", "/deliberations/{adopted}/publication", "secretary", {"json": {"published_on": "2025-10-01",
                                                                            "mode": "poster"}},
     422, "invalid_fields", "mode"),
    ("POST", "/deliberations/{adopted}/prefect-letters", "secretary", {"json": {
        "kind": "observations", "received_on": "2025-10-10", "summary": "Observations"}}, 409, "not_transmitted",
     None),
    ("POST", "/deliberations/{adopted}/prefect-letters", "secretary", {"json": {
        "kind": "praise", "received_on": "2025-10-10", "summary": "Bravo"}}, 422, "invalid_fields", "kind"),
    # reads
    ("GET", "/deliberations/{unknown}", "auditor", {}, 404, "not_found", None),
    ("GET", "/deliberations/{unknown}/history", "auditor", {}, 404, "not_found", None),
    ("GET", "/deliberations/{draft}?effective_on=2025-13-01", "auditor", {}, 422, "invalid_fields", "effective_on"),
    ("GET", "/deliberations?limit=0", "auditor", {}, 422, "invalid_fields", "limit"),
    ("GET", "/deliberations?cursor=nope", "auditor", {}, 422, "invalid_fields", "cursor"),
    ("GET", "/deliberations?status=voted", "auditor", {}, 422, "invalid_fields", "status"),
    ("GET", "/legality/register?from=hier", "auditor", {}, 422, "invalid_fields", "from"),
    ("GET", "/legality/register?from=2025-10-01&to=2025-09-01", "auditor", {}, 422, "invalid_fields", "to"),
]


def case_id(case: tuple[Any, ...]) -> str:
    method, url, who, _, status, code, field = case
    return f"{method} {url} {who} {status} {field or code}"


@pytest.mark.parametrize("case", BAD_INPUT, ids=[case_id(c) for c in BAD_INPUT])
def test_bad_input_is_refused_and_records_nothing(stage, case):
    method, url, who, body, status, code, field = case
    kwargs = body(stage) if callable(body) else body
    stage.acts.refused(method, stage.url(url), getattr(stage.acts, who), status, code, field, **kwargs)


def test_an_act_id_that_does_not_match_lists_the_failed_checks(stage):
    error = stage.acts.refused("POST", stage.url("/deliberations/{adopted}/transmission"), stage.acts.secretary, 409,
                               "invalid_act_id", **transmission("062-226200012-20250902-lmc1526130-DE-1-1"))
    assert {c["check"]: c["ok"] for c in error["checks"]} == {
        "department_code": True, "authority_siren": True, "decision_date": False, "nature": True}
    malformed = stage.acts.refused("POST", stage.url("/deliberations/{adopted}/transmission"), stage.acts.secretary,
                                   409, "invalid_act_id", **transmission("n'importe quoi"))
    assert [c["check"] for c in malformed["checks"]] == ["format"]


def test_quorum_lost_nothing_can_be_voted(acts):
    line = acts.line_of(2025, "10000.00")
    programme = acts.programme_of(2025, line, rules(), "AAP-2025")
    dossier = acts.instructed(programme, acts.lianes(), amount="100.00", eligible="1000.00",
                              submitted_on="2025-06-02", instructed_on="2025-08-25")
    deliberation = acts.deliberation("2025-600", "2025-09-15", [acts.item(dossier, "100.00", line)],
                                     attendance=NO_QUORUM)
    error = acts.refused("POST", f"/deliberations/{deliberation['id']}/vote", acts.secretary, 409,
                         "quorum_not_reached", json={"voted_on": "2025-09-15", "for": 22, "against": 0,
                                                     "abstention": 0})
    assert "Quorum" in error["message"]
    assert acts.call("GET", f"/dossiers/{dossier}", acts.instructor, 200).json["status"] == "scheduled"


# --- who may do what ------------------------------------------------------------------------------------

WRITES = ["/deliberations", "/deliberations/{draft}/vote", "/deliberations/{adopted}/signature",
          "/deliberations/{adopted}/transmission", "/deliberations/{adopted}/publication",
          "/deliberations/{adopted}/prefect-letters"]
READS = ["/deliberations", "/deliberations/{adopted}", "/deliberations/{adopted}/history", "/legality/register"]


@pytest.mark.parametrize("url", WRITES)
def test_only_the_secretary_records_deliberations(stage, url):
    for who in ("auditor", "instructor", "finance", "admin", "applicant"):
        headers = stage.acts.owner(stage.acts.lianes()) if who == "applicant" else getattr(stage.acts, who)
        error = stage.acts.refused("POST", stage.url(url), headers, 403, "forbidden", json={})
        assert "rôle" in error["message"], who
    stage.acts.refused("POST", stage.url(url), {}, 401, "unauthorized", json={})


@pytest.mark.parametrize("url", READS)
def test_staff_and_auditors_read_deliberations_applicants_do_not(stage, url):
    for who in ("auditor", "instructor", "finance", "admin", "secretary"):
        stage.acts.call("GET", stage.url(url), getattr(stage.acts, who), 200)
    stage.acts.refused("GET", stage.url(url), stage.acts.owner(stage.acts.lianes()), 403, "forbidden")
    stage.acts.refused("GET", stage.url(url), {}, 401, "unauthorized")


def test_openapi_lists_every_deliberation_path(acts):
    spec = acts.call("GET", "/openapi.json", None, 200).json
    expected = {"/deliberations": {"get", "post"}, "/deliberations/{deliberation_id}": {"get"},
                "/deliberations/{deliberation_id}/vote": {"post"},
                "/deliberations/{deliberation_id}/signature": {"post"},
                "/deliberations/{deliberation_id}/transmission": {"post"},
                "/deliberations/{deliberation_id}/publication": {"post"},
                "/deliberations/{deliberation_id}/prefect-letters": {"post"},
                "/deliberations/{deliberation_id}/history": {"get"}, "/legality/register": {"get"},
                "/budget-lines/{budget_line_id}": {"get"}}
    for path, methods in expected.items():
        assert methods <= set(spec["paths"][path]), path
    vote_op = spec["paths"]["/deliberations/{deliberation_id}/vote"]["post"]
    assert {"200", "401", "403", "404", "409", "412", "422"} <= set(vote_op["responses"])
    assert spec["components"]["schemas"]["Vote"]["required"] == ["abstention", "against", "for"]
    register = spec["paths"]["/legality/register"]["get"]
    assert {p["name"] for p in register["parameters"]} >= {"from", "to"}
    line = spec["components"]["schemas"]["BudgetLine"]["properties"]
    assert {"reserved", "committed", "paid", "available"} <= set(line)

