"""Rules 6–9: reservations, quorum, vote counts, interested members, adoption atomic with the grants."""

from datetime import date
from decimal import Decimal

import pytest

from domain.budget import BudgetLine
from domain.deliberation import Deliberation
from domain.dossier import Dossier
from domain.errors import InvalidFields, RuleViolation
from domain.values import Actor
from tests.unit.factories import APPLICANT, INSTRUCTOR, applicant, ctx, dossier, memory_app, programme, sworn

SECRETARY = Actor("Secrétariat", "secretary")
SESSION = date(2025, 9, 15)
MEMBERS = [f"Membre {i:02d}" for i in range(1, 45)]  # 44 members in office, as in seed 004


def attendance(present=36, proxies=8):
    present_names = MEMBERS[:present]
    excused = MEMBERS[present:]
    return {"present": present_names, "excused": excused, "absent": [],
            "proxies": [{"from": excused[i], "to": present_names[i]} for i in range(proxies)]}


@pytest.fixture
def world():
    app = memory_app()
    prog = programme(app, required={})
    appl = applicant(app)
    return app, prog, appl


def instructed(app, prog, appl, amount="9380.00", opinion="favourable"):
    d = dossier(app, prog, appl, total_budget=Decimal("20000.00"), amount_requested=Decimal(amount))
    app.submit_dossier(ctx(APPLICANT), d.id, sworn_statement=sworn())
    app.instruct_dossier(ctx(INSTRUCTOR, date(2025, 6, 10)), d.id, opinion=opinion,
                         proposed_amount=Decimal(amount), eligible_cost=Decimal("20000.00"))
    return d


def draft(app, prog, dossiers, number="2025-344", amounts=None, **overrides):
    items = [{"dossier_id": d.id, "amount": Decimal(a), "budget_line_id": prog.budget_line_id}
             for d, a in zip(dossiers, amounts or ["9380.00"] * len(dossiers), strict=True)]
    fields = {"number": number, "title": "Soutien à Lianes coopération", "session_on": SESSION,
              "members_in_office": 44, "attendance": attendance(), "items": items}
    fields.update(overrides)
    return app.create_deliberation(ctx(SECRETARY, SESSION), **fields)


def vote(app, deliberation, **overrides):
    fields = {"votes_for": 44, "votes_against": 0, "abstention": 0, "not_participating": [], "interested": []}
    fields.update(overrides)
    return app.record_vote(ctx(SECRETARY, SESSION), deliberation.id, **fields)


def count(app):
    return app.recorder.max_notification_id() or 0


def test_reservation_shows_disponible_proposition_solde_of_seed_002(world):
    app, prog, appl = world
    d = instructed(app, prog, appl)
    draft(app, prog, [d])
    line = app.load(BudgetLine, prog.budget_line_id)
    # 002 L73: 10 000 available, 9 380 proposed, 620 left.
    assert (line.credits, line.reserved, line.available) == (Decimal("10000.00"), Decimal("9380.00"),
                                                             Decimal("620.00"))
    assert app.load(Dossier, d.id).status == "scheduled"


def test_insufficient_credits_counts_other_reservations_and_records_nothing(world):
    app, prog, appl = world
    first, second = instructed(app, prog, appl), instructed(app, prog, appl, amount="700.00")
    draft(app, prog, [first])
    before = count(app)
    with pytest.raises(RuleViolation) as info:
        draft(app, prog, [second], number="2025-345", amounts=["700.00"])
    assert info.value.code == "insufficient_credits"
    assert "disponible 620.00" in info.value.message
    assert count(app) == before
    assert app.load(Dossier, second.id).status == "instructed"


def test_unfavourable_or_pending_dossiers_cannot_be_scheduled(world):
    app, prog, appl = world
    d = instructed(app, prog, appl, opinion="unfavourable")
    with pytest.raises(RuleViolation) as info:
        draft(app, prog, [d])
    assert info.value.code == "unfavourable_opinion"
    ok = instructed(app, prog, appl, amount="100.00")
    draft(app, prog, [ok], number="2025-400", amounts=["100.00"])
    with pytest.raises(RuleViolation) as info:
        draft(app, prog, [ok], number="2025-401", amounts=["100.00"])
    assert info.value.code == "already_scheduled"


def test_adoption_grants_and_commits_in_one_transaction(world):
    app, prog, appl = world
    d = instructed(app, prog, appl)
    deliberation = draft(app, prog, [d])
    before = count(app)
    voted = vote(app, deliberation)
    assert voted.result == "adopted"
    granted = app.load(Dossier, d.id)
    assert (granted.status, granted.granted_amount) == ("granted", Decimal("9380.00"))
    line = app.load(BudgetLine, prog.budget_line_id)
    assert (line.reserved, line.committed, line.available) == (Decimal("0.00"), Decimal("9380.00"),
                                                                Decimal("620.00"))
    assert count(app) == before + 3  # vote + grant + commitment, saved together


def test_rejection_refuses_and_releases(world):
    app, prog, appl = world
    d = instructed(app, prog, appl)
    deliberation = draft(app, prog, [d])
    assert vote(app, deliberation, votes_for=10, votes_against=30, abstention=4).result == "rejected"
    assert app.load(Dossier, d.id).status == "refused"
    assert app.load(BudgetLine, prog.budget_line_id).available == Decimal("10000.00")


def test_tie_needs_the_president_casting_vote(world):
    app, prog, appl = world
    deliberation = draft(app, prog, [instructed(app, prog, appl)])
    with pytest.raises(RuleViolation) as info:
        vote(app, deliberation, votes_for=22, votes_against=22)
    assert info.value.code == "casting_vote_required"
    assert vote(app, deliberation, votes_for=22, votes_against=22, president_casting_vote="for").result == "adopted"


@pytest.mark.parametrize(("overrides", "code"), [
    ({"votes_for": 45}, "vote_count_mismatch"),
    ({"votes_for": 43}, "vote_count_mismatch"),
    ({"votes_for": 43, "abstention": 1, "interested": ["Membre 13"]}, "interested_member_voted"),
    ({"votes_for": 44, "not_participating": ["Membre 13"]}, "vote_count_mismatch"),
])
def test_refused_votes_record_nothing(world, overrides, code):
    app, prog, appl = world
    deliberation = draft(app, prog, [instructed(app, prog, appl)])
    before = count(app)
    with pytest.raises(RuleViolation) as info:
        vote(app, deliberation, **overrides)
    assert info.value.code == code
    assert count(app) == before
    assert app.load(Deliberation, deliberation.id).status == "draft"


def test_interested_member_not_taking_part_is_counted_in_abstentions(world):
    # 004 N°2022-87: 43 for, 1 abstention = Mme GAUTHIER, "n'a pris part ni au débat, ni au vote".
    app, prog, appl = world
    deliberation = draft(app, prog, [instructed(app, prog, appl)])
    voted = vote(app, deliberation, votes_for=43, abstention=1, not_participating=["Membre 13"],
                 interested=["Membre 13"])
    assert voted.result == "adopted"
    assert voted.vote["not_participating"] == ["Membre 13"]


def test_an_interested_excused_member_cannot_have_given_a_proxy(world):
    # 004 N°2022-104.
    app, prog, appl = world
    deliberation = draft(app, prog, [instructed(app, prog, appl)])
    with pytest.raises(RuleViolation) as info:
        vote(app, deliberation, interested=[MEMBERS[36]])
    assert info.value.code == "interested_member_voted"


def test_without_quorum_nothing_can_be_adopted(world):
    app, prog, appl = world
    deliberation = draft(app, prog, [instructed(app, prog, appl)], attendance=attendance(present=20, proxies=2))
    with pytest.raises(RuleViolation) as info:
        vote(app, deliberation, votes_for=22)
    assert info.value.code == "quorum_not_reached"


def test_attendance_rules(world):
    app, prog, appl = world
    d = instructed(app, prog, appl)
    bad = attendance()
    bad["proxies"].append({"from": MEMBERS[40], "to": MEMBERS[0]})  # Membre 01 would hold two proxies
    with pytest.raises(InvalidFields) as info:
        draft(app, prog, [d], attendance=bad)
    assert any("pouvoir" in m for ms in info.value.fields.values() for m in ms)


def test_legality_dates_and_checks(world):
    app, prog, appl = world
    deliberation = draft(app, prog, [instructed(app, prog, appl)])
    with pytest.raises(RuleViolation) as info:
        app.transmit_deliberation(ctx(SECRETARY, date(2025, 10, 1)), deliberation.id,
                                  act_id="062-226200012-20250915-lmc1526130-DE-1-1", transmitted_on=date(2025, 10, 1))
    assert info.value.code == "not_allowed_in_state"
    vote(app, deliberation)
    with pytest.raises(RuleViolation) as info:
        app.transmit_deliberation(ctx(SECRETARY, date(2025, 10, 1)), deliberation.id,
                                  act_id="062-226200012-20250902-lmc1526130-DE-1-1", transmitted_on=date(2025, 10, 1))
    assert info.value.code == "invalid_act_id"
    app.sign_deliberation(ctx(SECRETARY, date(2025, 9, 16)), deliberation.id, signatory="Jean-Claude LEROY")
    app.transmit_deliberation(ctx(SECRETARY, date(2025, 10, 1)), deliberation.id,
                              act_id="062-226200012-20250915-lmc1526130-DE-1-1", transmitted_on=date(2025, 10, 1))
    current = app.load(Deliberation, deliberation.id)
    assert current.executory_on is None
    assert not next(c for c in current.legality_checks(date(2025, 10, 2)) if c.check == "deliberation_executory").ok
    app.publish_deliberation(ctx(SECRETARY, date(2025, 10, 3)), deliberation.id, mode="electronic")
    current = app.load(Deliberation, deliberation.id)
    assert current.executory_on == date(2025, 10, 3)
    assert current.referral_deadline == date(2025, 12, 2)
    assert all(c.ok for c in current.legality_checks(date(2025, 10, 3)))
    app.record_prefect_letter(ctx(SECRETARY, date(2025, 11, 20)), deliberation.id, kind="request_documents",
                              summary="Demande de la convention signée")
    assert app.load(Deliberation, deliberation.id).referral_deadline == date(2026, 1, 21)


def test_publication_cannot_predate_the_session(world):
    app, prog, appl = world
    deliberation = draft(app, prog, [instructed(app, prog, appl)])
    vote(app, deliberation)
    with pytest.raises(RuleViolation) as info:
        app.publish_deliberation(ctx(SECRETARY, date(2025, 9, 14)), deliberation.id, mode="display")
    assert info.value.code == "invalid_date"


def test_voting_twice_and_unknown_items_are_refused(world):
    app, prog, appl = world
    deliberation = draft(app, prog, [instructed(app, prog, appl)])
    vote(app, deliberation)
    with pytest.raises(RuleViolation) as info:
        vote(app, deliberation)
    assert info.value.code == "already_voted"
    from uuid import uuid4

    ghost = type("Ghost", (), {"id": uuid4()})()
    with pytest.raises(InvalidFields) as bad:
        draft(app, prog, [ghost], number="2025-999")
    assert "items.0.dossier_id" in bad.value.fields
