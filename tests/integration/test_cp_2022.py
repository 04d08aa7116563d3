"""The Commission Permanente of 21 March 2022 (seed 004), replayed from demo/history_2_cp_2022_03_21.json.

Runs on SQLite and PostgreSQL (SUBVENTIO_TEST_BACKEND). The fixture is a script of the application's
commands; these tests replay it, check that every real vote is accepted with its printed result, that
the budget figures printed in the reports come out of both the aggregates and the read model, and
that altered votes (one vote too many, an interested member voting, quorum lost, an interested
excused member's proxy) are refused with nothing recorded.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import demo
from domain.budget import BudgetLine
from domain.deliberation import Deliberation
from domain.dossier import Dossier
from domain.errors import RuleViolation
from projections import queries

FIXTURE = Path(demo.__file__).parent / "history_2_cp_2022_03_21.json"
SESSION = date(2022, 3, 21)
GAUTHIER = "Mme Karine GAUTHIER"
# For / against / abstention as printed under "Dans les conditions de vote ci-dessous", all "(Adopté)" (seed 004)
PRINTED_VOTES = {
    "2022-85": (44, 0, 0), "2022-86": (44, 0, 0), "2022-87": (43, 0, 1), "2022-89": (42, 0, 2),
    "2022-92": (44, 0, 0), "2022-96": (44, 0, 0), "2022-97": (44, 0, 0), "2022-99": (43, 0, 0),
    "2022-102": (43, 0, 0), "2022-104": (42, 0, 1), "2022-106": (43, 0, 1),
}
COUSEIN = "M. Bruno COUSEIN"


@pytest.fixture(scope="module")
def fixture() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def event_count(services: Any) -> int:
    return int(services.app.recorder.max_notification_id() or 0)


def replay(services: Any, steps: list[dict[str, Any]], refs: dict[str, Any] | None = None, *,
           until: Callable[[dict[str, Any]], bool] | None = None,
           before: Callable[[dict[str, Any], dict[str, Any]], None] | None = None) -> tuple[dict[str, Any], int]:
    """Runs the steps through demo.run_step; stops before the first step `until` accepts; returns (refs, index)."""
    refs = {} if refs is None else refs
    today = services.today()
    for index, step in enumerate(steps):
        if until is not None and until(step):
            return refs, index
        if before is not None:
            before(step, refs)
        result = demo.run_step(services.app, step, refs, today)
        if "as" in step:
            refs[step["as"]] = demo.identify(result)
    return refs, len(steps)


def is_step(command: str, target: str) -> Callable[[dict[str, Any]], bool]:
    return lambda step: step["command"] == command and (
        step.get("as") == target or step["args"].get("target") == f"${target}")


def deliberation_steps(fixture: dict[str, Any], command: str) -> dict[str, dict[str, Any]]:
    """The fixture's steps of one command, by deliberation reference (delib_2022_87 …)."""
    found: dict[str, dict[str, Any]] = {}
    for step in fixture["steps"]:
        if step["command"] == command:
            key = step.get("as") if command == "create_deliberation" else step["args"]["target"][1:]
            found[key] = step
    return found


def money(value: str) -> Decimal:
    return Decimal(value)


# --- the fixture file ---------------------------------------------------------------------------

def test_every_step_of_the_fixture_cites_its_source(fixture: dict[str, Any]) -> None:
    steps = fixture["steps"] + [s for fact in fixture["refused_facts"] for s in fact["replay"]]
    assert steps
    for index, step in enumerate(steps):
        assert set(step) <= {"command", "on", "actor", "args", "source", "as"}, index
        assert isinstance(step.get("source"), str) and step["source"].strip(), f"step {index} has no source"
        assert step["command"] and step["on"] and step["actor"]["role"], index
    for entry in fixture["skipped"] + fixture["refused_facts"] + fixture["contradictions"] + fixture["budget_expected"]:
        assert entry["source"].strip()
    names = [step["as"] for step in fixture["steps"] if "as" in step]
    assert len(names) == len(set(names)), "every `as` name is unique"


def test_the_fixture_accounts_for_the_29_deliberations(fixture: dict[str, Any]) -> None:
    summary = fixture["summary"]
    created = [s["args"]["number"] for s in fixture["steps"] if s["command"] == "create_deliberation"]
    real = [n for n in created if n.startswith("2022-")]
    skipped = [entry["number"] for entry in fixture["skipped"]]
    assert summary["deliberations_in_seed"] == 29
    assert sorted(real) == sorted(summary["replayed"]) and len(real) == 11
    assert skipped == summary["skipped"] and len(skipped) == 18
    assert sorted(real + skipped, key=lambda n: int(n[5:])) == [f"2022-{n}" for n in range(80, 109)]
    assert [n for n in created if n not in real] == summary["assumed_deliberations"]
    for entry in fixture["skipped"]:
        vote = entry["vote"]
        present, excused, absent = (entry["attendance"][k] for k in ("present", "excused", "absent"))
        assert len(present) + len(excused) + len(absent) == entry["members_in_office"] == 44
        assert vote["for"] + vote["against"] + vote["abstention"] == len(present) + len(excused)
        assert vote["result"] == "adopted" and entry["reason"]
    assert sum(1 for s in fixture["steps"] if s["command"] == "open_dossier") == \
        summary["dossiers"] + summary["placeholder_dossiers"]


# --- replaying the session ----------------------------------------------------------------------

def test_replay_accepts_every_real_vote_with_its_printed_result(services: Any, app: Any,
                                                                fixture: dict[str, Any]) -> None:
    def check_checkpoint(step: dict[str, Any], refs: dict[str, Any]) -> None:
        for point in fixture["budget_checkpoints"]:
            if step.get("as") == point["before"]:
                line = app.load(BudgetLine, refs[point["line"]])
                assert line.available == money(point["available"]), (point["before"], point["line"])

    refs, _ = replay(services, fixture["steps"], before=check_checkpoint)

    votes = deliberation_steps(fixture, "record_vote")
    creates = deliberation_steps(fixture, "create_deliberation")
    replayed = 0
    for key, create in creates.items():
        number = create["args"]["number"]
        deliberation = app.load(Deliberation, Deliberation.id_for(number))
        printed = votes[key]["args"]
        assert deliberation.status == deliberation.result == "adopted", number
        assert (deliberation.vote["for"], deliberation.vote["against"], deliberation.vote["abstention"]) == \
            (printed["votes_for"], printed["votes_against"], printed["abstention"]), number
        if not number.startswith("2022-"):
            continue
        replayed += 1
        assert (deliberation.vote["for"], deliberation.vote["against"], deliberation.vote["abstention"]) == \
            PRINTED_VOTES[number], number
        assert deliberation.session_on == SESSION
        assert deliberation.signed and deliberation.signed["signed_on"] == SESSION
        assert deliberation.transmitted_on == deliberation.published_on == date(2022, 4, 4)
        assert deliberation.executory_on == date(2022, 4, 4)
        assert deliberation.act_id == f"062-226200012-20220321-DEMO{number.replace('-', '')}-DE-1-1"
        # every dossier of the deliberation is granted its printed amount, which is what was instructed
        for item in deliberation.items:
            dossier = app.load(Dossier, item["dossier_id"])
            assert dossier.status == "granted" and dossier.granted_amount == item["amount"]
            assert dossier.instruction["proposed_amount"] == item["amount"]
    assert replayed == len(fixture["summary"]["replayed"]) == len(PRINTED_VOTES) == 11
    for number in fixture["summary"]["skipped"]:
        assert not app.exists(Deliberation.id_for(number)), number

    # the printed figures of the interested members' deliberations
    n87 = app.load(Deliberation, Deliberation.id_for("2022-87"))
    assert (n87.vote["for"], n87.vote["abstention"], n87.vote["not_participating"]) == (43, 1, [GAUTHIER])
    n104 = app.load(Deliberation, Deliberation.id_for("2022-104"))
    assert (n104.vote["for"], n104.vote["abstention"]) == (42, 1)
    assert COUSEIN in n104.vote["interested"] and COUSEIN in n104.attendance["absent"]
    assert COUSEIN not in {p["from"] for p in n104.attendance["proxies"]}
    # 36 present + 7 proxies: 43 voters of 44 members in office
    assert len(n104.attendance["present"]) + len(n104.attendance["proxies"]) == 43

    # N°2022-87's amounts were computed by the domain: 30 % rounded to the nearest ten euros
    computed = [s for s in fixture["steps"] if s["command"] == "instruct_dossier"
                and s["args"]["proposed_amount"] is None]
    assert len(computed) == 13
    for step in computed:
        dossier = app.load(Dossier, refs[step["args"]["target"][1:]])
        assert dossier.instruction["proposed_amount"] % 10 == 0

    granted = [item["amount"] for key, create in creates.items() if key != "delib_prior"
               for item in app.load(Deliberation, refs[key]).items]
    assert len(granted) == fixture["summary"]["dossiers"]
    assert sum(granted, Decimal("0")) == money(fixture["summary"]["granted_total"])


def test_budget_figures_of_the_reports_come_out_of_the_aggregate_and_the_read_model(
        services: Any, app: Any, fixture: dict[str, Any]) -> None:
    refs, _ = replay(services, fixture["steps"])
    expected = {entry["line"]: entry for entry in fixture["budget_expected"]}
    assert len(expected) == fixture["summary"]["budget_lines"] == 20

    for key, entry in expected.items():
        line = app.load(BudgetLine, refs[key])
        assert (line.code, line.imputation, line.year) == (entry["code"], entry["imputation"], 2022)
        assert line.credits == money(entry["credits"]), key
        assert line.committed == money(entry["committed"]), key
        assert line.reserved == money(entry["reserved"]), key
        assert line.available == money(entry["available"]), key

    services.runner.catch_up()
    rows = {row["id"]: row for row in queries.list_budget_lines(services.read)}
    for key, entry in expected.items():
        row = rows[str(refs[key])]
        for field in ("credits", "committed", "reserved", "available"):
            assert Decimal(row[field]) == money(entry[field]), (key, field)

    def both(key: str) -> list[Decimal]:
        line = app.load(BudgetLine, refs[key])
        return [line.available, Decimal(rows[str(refs[key])]["available"])]

    # 65734/93311: 208 000 − 85 500 (N°2022-86) − 4 740 (N°2022-87) = 117 760 (004 L5086-5090)
    assert both("bl_saison_com") == [Decimal("208000") - Decimal("85500") - Decimal("4740")] * 2 \
        == [Decimal("117760.00")] * 2
    # 6574/93311 (C03-311Q01): 226 000 − 125 500 (N°2022-104) − 9 830 (N°2022-87) = 90 670 (004 L5080-5084)
    assert both("bl_saison_asso") == [Decimal("90670.00")] * 2
    # C02-515B03: Disponible 170 821 − 10 955 = 159 866 (004 L6429-6435)
    assert both("bl_enfance") == [Decimal("159866.00")] * 2
    # C03-221L06 65511/93221: 300 000 − 296 885 = 3 115 (004 L15971-15979)
    assert both("bl_materiaux") == [Decimal("3115.00")] * 2
    # C01-945B01: 30 000, Disponible 17 400, 14 920 proposed, 2 480 left (004 L34561-34569)
    assert both("bl_tourisme") == [Decimal("2480.00")] * 2


def test_the_demo_loads_after_the_lianes_history_without_clashes(services: Any, app: Any,
                                                                  fixture: dict[str, Any]) -> None:
    names = [path.name for path in demo.FIXTURES]
    assert names.index(FIXTURE.name) > names.index("history_1_lianes.json")  # loaded after the Lianes history
    summary = demo.load(services)
    assert summary["steps"] == sum(len(json.loads(path.read_text(encoding="utf-8"))["steps"]) for path in demo.FIXTURES)
    for number in ("2023-388", "2025-344", *fixture["summary"]["replayed"]):
        assert app.load(Deliberation, Deliberation.id_for(number)).status == "adopted", number


def test_refused_facts_are_refused_by_the_domain(services: Any, app: Any, fixture: dict[str, Any]) -> None:
    refs, _ = replay(services, fixture["steps"])
    assert fixture["refused_facts"]
    for fact in fixture["refused_facts"]:
        *setup, refused = fact["replay"]
        replay(services, setup, refs)
        before = event_count(services)
        with pytest.raises(RuleViolation) as error:
            demo.run_step(app, refused, refs, services.today())
        assert error.value.code == fact["code"]
        assert event_count(services) == before


# --- altered votes are refused, and nothing is recorded -----------------------------------------

def assert_refused(services: Any, app: Any, vote_step: dict[str, Any], refs: dict[str, Any], code: str,
                   **changes: Any) -> None:
    step = copy.deepcopy(vote_step)
    step["args"].update(changes)
    before = event_count(services)
    with pytest.raises(RuleViolation) as error:
        demo.run_step(app, step, refs, services.today())
    assert error.value.code == code, error.value.message
    assert event_count(services) == before
    deliberation = app.load(Deliberation, refs[vote_step["args"]["target"][1:]])
    assert deliberation.status == "draft" and deliberation.vote is None


def test_one_vote_too_many_or_the_interested_member_voting_is_refused(services: Any, app: Any,
                                                                      fixture: dict[str, Any]) -> None:
    vote = deliberation_steps(fixture, "record_vote")["delib_2022_87"]
    refs, index = replay(services, fixture["steps"], until=is_step("record_vote", "delib_2022_87"))
    line = app.load(BudgetLine, refs["bl_saison_com"])
    assert (line.reserved, line.available) == (Decimal("4740.00"), Decimal("117760.00"))

    # printed: 43 for, 0 against, 1 abstention (Mme GAUTHIER, interested, not taking part)
    assert_refused(services, app, vote, refs, "vote_count_mismatch", votes_for=44)
    assert_refused(services, app, vote, refs, "vote_count_mismatch", abstention=2)
    assert_refused(services, app, vote, refs, "interested_member_voted",
                   votes_for=44, abstention=0, not_participating=[])

    # the budget is untouched: still reserved, not committed
    line = app.load(BudgetLine, refs["bl_saison_com"])
    assert (line.reserved, line.committed) == (Decimal("4740.00"), Decimal("85500.00"))

    # the printed vote is then accepted, and the rest of the session replays
    replay(services, fixture["steps"][index:], refs)
    assert app.load(Deliberation, refs["delib_2022_87"]).result == "adopted"


def test_quorum_lost_or_an_interested_excused_member_s_proxy_is_refused(services: Any, app: Any,
                                                                        fixture: dict[str, Any]) -> None:
    steps = copy.deepcopy(fixture["steps"])
    creates = {s["as"]: s for s in steps if s["command"] == "create_deliberation"}

    # N°2022-87 with present members dropped (moved to absent): 14 present + 8 proxies = 22 of 44 members
    attendance = creates["delib_2022_87"]["args"]["attendance"]
    holders = {p["to"] for p in attendance["proxies"]}
    kept = [m for m in attendance["present"] if m in holders or m == GAUTHIER]
    kept += [m for m in attendance["present"] if m not in kept][:14 - len(kept)]
    attendance["absent"] = attendance["absent"] + [m for m in attendance["present"] if m not in kept]
    attendance["present"] = kept
    assert len(kept) == 14 and len(kept) + len(attendance["proxies"]) == 22

    # N°2022-104 with M. COUSEIN (interested) excused and giving a proxy, as the other excused members do
    attendance = creates["delib_2022_104"]["args"]["attendance"]
    attendance["absent"].remove(COUSEIN)
    attendance["excused"].append(COUSEIN)
    attendance["proxies"].append({"from": COUSEIN, "to": "M. Ludovic LOQUET"})

    refs, _ = replay(services, steps, until=lambda s: s["command"] == "record_vote"
                     and s["args"]["target"] in ("$delib_2022_87", "$delib_2022_104"))
    votes = {s["args"]["target"][1:]: s for s in steps if s["command"] == "record_vote"}
    # counts that add up for the reduced attendance: only the quorum fails
    assert_refused(services, app, votes["delib_2022_87"], refs, "quorum_not_reached", votes_for=21, abstention=1)
    assert_refused(services, app, votes["delib_2022_87"], refs, "quorum_not_reached")
    # 36 present + 8 proxies = 44 voters: 43 for + 1 abstention adds up, but COUSEIN's proxy is refused
    assert_refused(services, app, votes["delib_2022_104"], refs, "interested_member_voted", votes_for=43)
    # the printed figures (42 + 1 = 43) are refused for the same reason, checked before the counts
    assert_refused(services, app, votes["delib_2022_104"], refs, "interested_member_voted")
