"""The intake lifecycle and its rules (domain.md rules 1, 3, 4, 5), on an in-memory store."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.dossier import Dossier
from domain.errors import InvalidValue, RuleViolation, StaleVersion
from tests.unit.factories import (
    APPLICANT,
    INSTRUCTOR,
    applicant,
    attach,
    ctx,
    dossier,
    memory_app,
    programme,
    sworn,
)


@pytest.fixture
def world():
    app = memory_app()
    prog = programme(app)
    appl = applicant(app)
    return app, prog, appl


def count(app):
    return app.recorder.max_notification_id() or 0


def submitted(app, prog, appl, on=date(2025, 6, 1)):
    d = dossier(app, prog, appl)
    attach(app, d.id, "statuts", "rib")
    return app.submit_dossier(ctx(APPLICANT, on), d.id, sworn_statement=sworn(on))


def test_draft_then_submit_issues_a_yearly_reference(world):
    app, prog, appl = world
    first = submitted(app, prog, appl)
    second = submitted(app, prog, appl)
    assert first.status == "submitted"
    assert (first.reference, second.reference) == ("2025-00001", "2025-00002")


def test_submission_after_the_closing_date_is_refused_and_records_nothing(world):
    app, prog, appl = world
    d = dossier(app, prog, appl)
    attach(app, d.id, "statuts", "rib")
    before = count(app)
    late = prog.closes_on + timedelta(days=1)
    with pytest.raises(RuleViolation) as info:
        app.submit_dossier(ctx(APPLICANT, late), d.id, sworn_statement=sworn(late))
    assert info.value.code == "deadline_passed"
    assert "hors délais" in info.value.message
    assert count(app) == before
    assert app.load(Dossier, d.id).status == "draft"


def test_submission_on_the_closing_day_is_accepted(world):
    app, prog, appl = world
    assert submitted(app, prog, appl, on=prog.closes_on).status == "submitted"


def test_submission_needs_the_documents_required_for_the_applicant_kind(world):
    app, prog, appl = world
    d = dossier(app, prog, appl)
    attach(app, d.id, "statuts")
    with pytest.raises(RuleViolation) as info:
        app.submit_dossier(ctx(APPLICANT), d.id, sworn_statement=sworn())
    assert info.value.code == "missing_documents"
    assert "rib" in info.value.message


def test_after_submission_the_applicant_cannot_change_the_dossier(world):
    app, prog, appl = world
    d = submitted(app, prog, appl)
    with pytest.raises(RuleViolation) as info:
        app.edit_dossier(ctx(APPLICANT), d.id, changes={"project_name": "autre"})
    assert info.value.code == "not_allowed_in_state"
    with pytest.raises(RuleViolation):
        attach(app, d.id, "budget")


def test_request_documents_reopens_then_resubmission_keeps_the_reference(world):
    app, prog, appl = world
    d = submitted(app, prog, appl)
    app.request_documents(ctx(INSTRUCTOR, date(2025, 6, 5)), d.id, documents=["bilan_n_1"],
                          message="Merci de joindre le bilan.")
    assert app.load(Dossier, d.id).status == "incomplete"
    with pytest.raises(RuleViolation) as info:
        app.submit_dossier(ctx(APPLICANT, date(2025, 6, 6)), d.id, sworn_statement=sworn(date(2025, 6, 6)))
    assert info.value.code == "missing_documents"
    attach(app, d.id, "bilan_n_1", on=date(2025, 6, 6))
    again = app.submit_dossier(ctx(APPLICANT, date(2025, 6, 6)), d.id, sworn_statement=sworn(date(2025, 6, 6)))
    assert again.status == "submitted"
    assert again.reference == d.reference


def test_instruction_computes_the_rate_of_the_2023_grant(world):
    app, prog, appl = world
    d = submitted(app, prog, appl)
    done = app.instruct_dossier(ctx(INSTRUCTOR, date(2025, 6, 10)), d.id, opinion="favourable",
                                proposed_amount=Decimal("7000.00"), eligible_cost=Decimal("18695.00"))
    assert done.status == "instructed"
    assert done.instruction["rate"] == Decimal("0.3744")
    assert done.as_dict()["proposed_amount"] == Decimal("7000.00")


@pytest.mark.parametrize(("rules", "amount", "eligible"), [
    ({"max_amount": "2500.00"}, "2600.00", "10000.00"),
    ({"max_rate": "0.50"}, "2600.00", "5000.00"),
    ({"min_amount": "500.00"}, "400.00", "5000.00"),
    # 004 L7757: 50 % of the budget AND 2 500 € — both caps apply together.
    ({"max_rate": "0.50", "max_amount": "2500.00"}, "2600.00", "6000.00"),
])
def test_programme_caps_at_instruction(rules, amount, eligible):
    app = memory_app()
    prog = programme(app, rules=rules)
    d = submitted(app, prog, applicant(app))
    before = count(app)
    with pytest.raises(RuleViolation) as info:
        app.instruct_dossier(ctx(INSTRUCTOR), d.id, opinion="favourable", proposed_amount=Decimal(amount),
                             eligible_cost=Decimal(eligible))
    assert info.value.code == "programme_cap_exceeded"
    assert count(app) == before


def test_both_caps_allow_an_amount_within_both():
    app = memory_app()
    prog = programme(app, rules={"max_rate": "0.50", "max_amount": "2500.00"})
    d = submitted(app, prog, applicant(app))
    done = app.instruct_dossier(ctx(INSTRUCTOR), d.id, opinion="favourable", proposed_amount=Decimal("2500.00"),
                                eligible_cost=Decimal("6000.00"))
    assert done.instruction["proposed_amount"] == Decimal("2500.00")


def test_ten_euro_rounding_computes_and_checks_the_amount():
    app = memory_app()
    prog = programme(app, rules={"rounding": "ten_euros"})
    d = submitted(app, prog, applicant(app))
    with pytest.raises(RuleViolation) as info:
        app.instruct_dossier(ctx(INSTRUCTOR), d.id, opinion="favourable", proposed_amount=Decimal("1234.00"),
                             eligible_cost=Decimal("5000.00"))
    assert info.value.code == "rounding_rule"
    done = app.instruct_dossier(ctx(INSTRUCTOR), d.id, opinion="favourable", proposed_amount=None,
                                rate=Decimal("0.2469"), eligible_cost=Decimal("5000.00"))
    assert done.instruction["proposed_amount"] == Decimal("1230.00")


def test_decline_and_withdraw_follow_the_lifecycle(world):
    app, prog, appl = world
    d = submitted(app, prog, appl)
    declined = app.decline_dossier(ctx(INSTRUCTOR, date(2025, 6, 20)), d.id, reason="Hors champ du dispositif")
    assert declined.status == "declined"
    with pytest.raises(RuleViolation):
        app.withdraw_dossier(ctx(APPLICANT), d.id, reason="trop tard")
    other = dossier(app, prog, appl)
    assert app.withdraw_dossier(ctx(APPLICANT), other.id, reason="projet abandonné").status == "withdrawn"


def test_a_decision_cannot_predate_the_submission(world):
    app, prog, appl = world
    d = submitted(app, prog, appl, on=date(2025, 6, 1))
    with pytest.raises(RuleViolation) as info:
        app.decline_dossier(ctx(INSTRUCTOR, date(2025, 5, 31)), d.id, reason="x")
    assert info.value.code == "invalid_date"


def test_amount_requested_cannot_exceed_the_project_budget(world):
    app, prog, appl = world
    with pytest.raises(RuleViolation) as info:
        dossier(app, prog, appl, total_budget=Decimal("1000.00"), amount_requested=Decimal("2000.00"))
    assert info.value.code == "amount_exceeds_budget"


def test_stale_expected_version_is_refused(world):
    app, prog, appl = world
    d = dossier(app, prog, appl)
    with pytest.raises(StaleVersion):
        app.edit_dossier(ctx(APPLICANT), d.id, changes={"project_name": "x"}, expected_version=d.version + 1)


def test_duplicate_codes_are_refused(world):
    app, prog, _ = world
    with pytest.raises(RuleViolation) as info:
        programme(app, code=prog.code)
    assert info.value.code == "already_exists"


def test_applicant_identity_is_validated():
    app = memory_app()
    with pytest.raises(InvalidValue) as info:
        app.register_applicant(ctx(), kind="association", name="X", siret="73282932000075", address="a",
                               email="a@b.fr", phone=None, legal_representative={"name": "n", "role": "r"},
                               bank=None)
    assert "siret" in info.value.fields
    with pytest.raises(InvalidValue) as info:
        app.register_applicant(ctx(), kind="person", name="Jeune", siret=None, address="a", email="a@b.fr",
                               phone=None, legal_representative={"name": "n", "role": "r"},
                               bank={"holder": "Jeune", "iban": "FR7630006000011234567890188", "bic": "AGRIFRPP"})
    assert "bank.iban" in info.value.fields


def test_every_event_carries_actor_and_effective_date(world):
    app, prog, appl = world
    d = submitted(app, prog, appl, on=date(2025, 6, 2))
    history = app.history(d.id)
    submitted_event = next(h for h in history if h["type"] == "Dossier.Submitted")
    assert submitted_event["actor"] == {"name": APPLICANT.name, "role": "applicant"}
    assert submitted_event["effective_on"] == date(2025, 6, 2)
    assert [h["version"] for h in history] == list(range(1, len(history) + 1))
