"""Rules 13–19 on the real cases of the seeds: conventions, payments, report, settlement, refunds,
termination and lapse."""

from datetime import UTC, date
from decimal import Decimal

import pytest

from domain.budget import BudgetLine
from domain.dossier import Dossier, settle
from domain.errors import RuleViolation
from domain.values import Rounding
from tests.unit.factories import APPLICANT, FINANCE, INSTRUCTOR, SECRETARY, ctx, granted, memory_app

SINGLE = [{"tranche": "single", "when": "convention_signed"}]
CITES_2023 = {"deliberation_number": "2023-388", "deliberation_date": "2023-09-18", "amount": "7000.00",
              "budget_code": "C05-048A06"}


def count(app):
    return app.recorder.max_notification_id() or 0


def convention(app, d, *, eligible, on, plan=None, settlement=None, report_due_on=date(2024, 4, 1),
               rate=None, action=(date(2023, 1, 1), date(2023, 12, 31)), cites=None):
    return app.draft_convention(ctx(INSTRUCTOR, on), d.id, eligible_cost=Decimal(eligible),
                                rate=Decimal(rate) if rate else None, action_from=action[0], action_to=action[1],
                                report_due_on=report_due_on, payment_plan=plan, settlement=settlement,
                                cites=cites or CITES_2023)


def sign_both(app, d, on):
    app.sign_convention(ctx(INSTRUCTOR, on), d.id, party="beneficiary", signatory="Elise MOULENE")
    return app.sign_convention(ctx(SECRETARY, on), d.id, party="department", signatory="Jean-Claude LEROY")


def pay(app, d, tranche, on, amount=None, justified=None):
    _, payment = app.order_payment(ctx(FINANCE, on), d.id, tranche=tranche,
                                         amount=Decimal(amount) if amount else None,
                                         justified_expenses=Decimal(justified) if justified else None)
    return app.mark_payment_paid(ctx(FINANCE, on), d.id, payment["id"], bank_reference=f"VIR-{on:%Y%m%d}")


def report(app, d, on, justified):
    app.submit_report(ctx(APPLICANT, on), d.id, summary="Bilan", expenses=[{"label": "Total", "amount": justified}],
                      signed_by="Elise MOULENE")
    return app.accept_report(ctx(INSTRUCTOR, on), d.id, justified_expenses=Decimal(justified))


def grant_2023(app, **kwargs):
    # 003: 7 000 € on an eligible cost of 18 695 €, rate 37.44 %, prorata, single payment at signature.
    return granted(app, amount="7000.00", eligible="18695.00", year=2023, session_on=date(2023, 9, 18),
                   rules={"settlement": "prorata", "convention_required_above": "0.00", "payment_plan": SINGLE},
                   number="2023-388", **kwargs)


def test_the_2023_grant_settles_prorata_and_the_refund_closes_it():
    app = memory_app()
    d = grant_2023(app)
    convention(app, d, eligible="18695.00", on=date(2023, 10, 2), rate="0.3744")
    assert sign_both(app, d, date(2023, 10, 5)).status == "convention_signed"
    paid = pay(app, d, "single", date(2023, 10, 20))
    assert paid.paid_total == Decimal("7000.00")
    line = app.load(BudgetLine, paid.budget_line_id)
    assert (line.committed, line.paid) == (Decimal("7000.00"), Decimal("7000.00"))
    # 001: the 2023 report shows 11 879,54 € of expenses.
    settled = report(app, d, date(2024, 3, 25), "11879.54")
    # min(7 000, 7 000 × 11 879.54 / 18 695 = 4 448.07, 0.3744 × 11 879.54 = 4 447.70)
    assert settled.final_amount == Decimal("4447.70")
    assert settled.refund_due == Decimal("2552.30")
    assert settled.balance_due == Decimal("0.00")
    _, refund = app.demand_refund(ctx(FINANCE, date(2024, 4, 10)), d.id, title_number="T-2024-118",
                                  issued_on=date(2024, 4, 10), received_by_beneficiary_on=date(2024, 4, 12),
                                  reason="Reversement au prorata du bilan")
    assert (refund["amount"], refund["due_on"]) == (Decimal("2552.30"), date(2024, 5, 12))
    partial = app.receive_refund(ctx(FINANCE, date(2024, 5, 2)), d.id, refund["id"], amount=Decimal("1000.00"))
    assert partial.status == "report_accepted"
    with pytest.raises(RuleViolation) as info:
        app.receive_refund(ctx(FINANCE, date(2024, 5, 3)), d.id, refund["id"], amount=Decimal("1552.31"))
    assert info.value.code == "receipt_exceeds_due"
    closed = app.receive_refund(ctx(FINANCE, date(2024, 5, 10)), d.id, refund["id"], amount=Decimal("1552.30"))
    assert closed.status == "closed"
    line = app.load(BudgetLine, closed.budget_line_id)
    # Refunded in 2024 for a 2023 payment: revenue, the 2023 credits are not restored.
    assert line.paid == Decimal("7000.00")
    assert line.committed == Decimal("7000.00")


def test_a_refund_in_the_year_of_payment_restores_the_credits():
    app = memory_app()
    d = grant_2023(app)
    convention(app, d, eligible="18695.00", on=date(2023, 10, 2), rate="0.3744", report_due_on=date(2023, 12, 31))
    sign_both(app, d, date(2023, 10, 5))
    pay(app, d, "single", date(2023, 10, 20))
    settled = report(app, d, date(2023, 11, 30), "11879.54")
    _, refund = app.demand_refund(ctx(FINANCE, date(2023, 12, 1)), d.id, title_number="T-2023-9",
                                  issued_on=date(2023, 12, 1))
    closed = app.receive_refund(ctx(FINANCE, date(2023, 12, 20)), d.id, refund["id"], amount=settled.refund_due)
    line = app.load(BudgetLine, closed.budget_line_id)
    assert line.paid == Decimal("4447.70")
    assert line.committed == Decimal("4447.70")
    assert line.available == Decimal("43056.00") - Decimal("4447.70")


def test_the_2025_grant_is_reduced_to_the_justified_expenses():
    # 002: 9 380 € on a 10 000 € line, "réduite en conséquence" (rule reduce).
    app = memory_app()
    d = granted(app, amount="9380.00", eligible="9380.00", year=2025, session_on=date(2025, 9, 15),
                rules={"settlement": "reduce", "convention_required_above": "0.00", "payment_plan": SINGLE},
                number="2025-344")
    convention(app, d, eligible="9380.00", on=date(2025, 10, 6), report_due_on=date(2026, 4, 1),
               action=(date(2025, 1, 1), date(2025, 12, 31)))
    sign_both(app, d, date(2025, 10, 8))
    pay(app, d, "single", date(2025, 10, 20))
    settled = report(app, d, date(2026, 3, 15), "9000.00")
    assert (settled.final_amount, settled.refund_due) == (Decimal("9000.00"), Decimal("380.00"))
    assert app.load(BudgetLine, settled.budget_line_id).committed == Decimal("9380.00")


def test_half_advance_then_balance_within_justified_expenses():
    app = memory_app()
    plan = [{"tranche": "advance", "share": "0.50", "when": "convention_signed"},
            {"tranche": "balance", "when": "report_accepted"}]
    d = granted(app, amount="2500.00", eligible="6000.00", year=2022, session_on=date(2022, 3, 21),
                rules={"settlement": "prorata", "payment_plan": plan, "max_rate": "0.50", "max_amount": "2500.00"},
                number="2022-96")
    convention(app, d, eligible="6000.00", on=date(2022, 4, 11), report_due_on=date(2023, 3, 31),
               action=(date(2022, 1, 1), date(2022, 12, 31)))
    sign_both(app, d, date(2022, 4, 12))
    advanced = pay(app, d, "advance", date(2022, 4, 20))
    assert advanced.paid_total == Decimal("1250.00")
    with pytest.raises(RuleViolation) as info:
        app.order_payment(ctx(FINANCE, date(2022, 6, 1)), d.id, tranche="balance")
    assert info.value.code == "legality_check_failed"
    assert any(c.check == "tranche_allowed" and not c.ok for c in info.value.checks)
    settled = report(app, d, date(2023, 2, 1), "5000.00")
    assert settled.final_amount == Decimal("2083.33")
    done = pay(app, d, "balance", date(2023, 2, 15))
    assert done.paid_total == Decimal("2083.33")
    assert done.status == "closed"
    line = app.load(BudgetLine, done.budget_line_id)
    assert line.committed == line.paid == Decimal("2083.33")


def test_seventy_percent_advance_at_notification():
    app = memory_app()
    plan = [{"tranche": "advance", "share": "0.70", "when": "convention_signed"},
            {"tranche": "balance", "when": "report_accepted"}]
    d = granted(app, amount="9380.00", eligible="10000.00", year=2022, session_on=date(2022, 3, 21),
                rules={"settlement": "reduce", "payment_plan": plan}, number="2022-99")
    convention(app, d, eligible="10000.00", on=date(2022, 4, 11), report_due_on=date(2023, 3, 31),
               action=(date(2022, 1, 1), date(2022, 12, 31)))
    sign_both(app, d, date(2022, 4, 12))
    assert pay(app, d, "advance", date(2022, 4, 20)).paid_total == Decimal("6566.00")


def test_prorata_instalments_never_exceed_the_justified_share():
    app = memory_app()
    plan = [{"tranche": "instalment", "when": "justified_expenses"}]
    d = granted(app, amount="20000.00", eligible="100000.00", year=2022, session_on=date(2022, 3, 21),
                rules={"settlement": "prorata", "payment_plan": plan}, number="2022-101")
    convention(app, d, eligible="100000.00", on=date(2022, 4, 11), report_due_on=date(2024, 3, 31),
               action=(date(2022, 1, 1), date(2023, 12, 31)))
    sign_both(app, d, date(2022, 4, 12))
    first = pay(app, d, "instalment", date(2022, 9, 1), justified="30000.00")
    assert first.paid_total == Decimal("6000.00")
    with pytest.raises(RuleViolation) as info:
        app.order_payment(ctx(FINANCE, date(2022, 10, 1)), d.id, tranche="instalment",
                          amount=Decimal("3000.00"), justified_expenses=Decimal("40000.00"))
    assert info.value.code == "payment_exceeds_grant"
    assert [c.check for c in info.value.checks if not c.ok] == ["within_justified_share"]
    second = pay(app, d, "instalment", date(2022, 10, 1), justified="40000.00")
    assert second.paid_total == Decimal("8000.00")


@pytest.mark.parametrize(("setup", "failed"), [
    ("not_executory", {"deliberation_executory"}),
    ("unsigned", {"convention_signed", "tranche_allowed"}),
    ("no_bank", {"bank_details"}),
])
def test_payments_are_refused_with_every_failed_check_and_record_nothing(setup, failed):
    app = memory_app()
    d = grant_2023(app, bank=setup != "no_bank", executory=setup != "not_executory")
    convention(app, d, eligible="18695.00", on=date(2023, 10, 2))
    if setup != "unsigned":
        sign_both(app, d, date(2023, 10, 5))
    before = count(app)
    with pytest.raises(RuleViolation) as info:
        app.order_payment(ctx(FINANCE, date(2023, 10, 20)), d.id, tranche="single")
    assert info.value.code == "legality_check_failed"
    assert {c.check for c in info.value.checks if not c.ok} == failed
    assert count(app) == before


def test_a_payment_over_the_grant_is_refused():
    app = memory_app()
    d = grant_2023(app)
    convention(app, d, eligible="18695.00", on=date(2023, 10, 2))
    sign_both(app, d, date(2023, 10, 5))
    with pytest.raises(RuleViolation) as info:
        app.order_payment(ctx(FINANCE, date(2023, 10, 20)), d.id, tranche="single", amount=Decimal("7000.01"))
    assert info.value.code == "payment_exceeds_grant"


def test_termination_takes_effect_one_full_month_after_receipt():
    # domain.md rule 19: received 10 May → takes effect 11 June.
    app = memory_app()
    d = grant_2023(app)
    convention(app, d, eligible="18695.00", on=date(2023, 10, 2), report_due_on=date(2024, 6, 30))
    sign_both(app, d, date(2023, 10, 5))
    pay(app, d, "single", date(2023, 10, 20))
    notified = app.terminate(ctx(INSTRUCTOR, date(2024, 5, 10)), d.id, reason="non_execution",
                             notice_received_on=date(2024, 5, 10), hearing_on=date(2024, 4, 30))
    assert notified.termination["effective_on"] == date(2024, 6, 11)
    assert notified.status == "convention_signed"  # today is 10 May in this test: not yet effective
    done = app.tick(date(2024, 6, 11), [d.id])
    assert done["terminated"] == [str(d.id)]
    ended = app.load(Dossier, d.id)
    assert (ended.status, ended.refund_due) == ("terminated", Decimal("7000.00"))
    with pytest.raises(RuleViolation):
        app.order_payment(ctx(FINANCE, date(2024, 6, 12)), d.id, tranche="single")


def test_a_false_declaration_terminates_at_once():
    app = memory_app()
    d = grant_2023(app)
    convention(app, d, eligible="18695.00", on=date(2023, 10, 2))
    done = app.terminate(ctx(INSTRUCTOR, date(2023, 11, 3)), d.id, reason="false_declaration",
                         notice_received_on=date(2023, 11, 3))
    assert done.status == "terminated"
    assert app.load(BudgetLine, done.budget_line_id).committed == Decimal("0.00")


def test_a_missing_report_lapses_the_grant_unless_an_amendment_moved_the_date():
    app = memory_app()
    lapsing = grant_2023(app)
    convention(app, lapsing, eligible="18695.00", on=date(2023, 10, 2))
    sign_both(app, lapsing, date(2023, 10, 5))
    assert app.tick(date(2024, 4, 1), [lapsing.id]) == {"lapsed": [], "terminated": []}
    assert app.tick(date(2024, 4, 2), [lapsing.id])["lapsed"] == [str(lapsing.id)]
    lapsed = app.load(Dossier, lapsing.id)
    assert lapsed.status == "lapsed" and lapsed.lapse["released"] == Decimal("7000.00")
    assert app.load(BudgetLine, lapsed.budget_line_id).available == Decimal("43056.00")
    with pytest.raises(RuleViolation) as info:
        app.submit_report(ctx(APPLICANT, date(2024, 4, 3)), lapsing.id, summary="tard", expenses=[], signed_by="x")
    assert info.value.code == "not_allowed_in_state"


def test_an_amendment_moves_the_due_date_but_not_after_it_passed():
    app = memory_app()
    d = grant_2023(app)
    convention(app, d, eligible="18695.00", on=date(2023, 10, 2))
    sign_both(app, d, date(2023, 10, 5))
    app.amend_convention(ctx(INSTRUCTOR, date(2024, 3, 1)), d.id, changes={"report_due_on": date(2024, 12, 31)},
                         reason="Avenant n°1 : report de 9 mois")
    assert app.tick(date(2024, 4, 2), [d.id])["lapsed"] == []
    with pytest.raises(RuleViolation) as info:
        app.amend_convention(ctx(INSTRUCTOR, date(2025, 1, 2)), d.id, changes={"report_due_on": date(2025, 6, 30)},
                             reason="trop tard")
    assert info.value.code == "amendment_too_late"
    assert app.load(Dossier, d.id).convention["amendments"][0]["number"] == 1


def test_settlement_rules():
    assert settle("prorata", granted=Decimal("7000.00"), justified=Decimal("18695.00"),
                  eligible_cost=Decimal("18695.00"), rate=Decimal("0.3744"), rounding=Rounding.CENT) == \
        Decimal("6999.41")
    assert settle("reduce", granted=Decimal("9380.00"), justified=Decimal("12000.00"),
                  eligible_cost=Decimal("9380.00"), rate=Decimal("1"), rounding=Rounding.CENT) == Decimal("9380.00")
    assert settle("reduce", granted=Decimal("1500.00"), justified=Decimal("1234.00"), eligible_cost=Decimal("1500"),
                  rate=Decimal("1"), rounding=Rounding.TEN_EUROS) == Decimal("1230.00")


def test_time_travel_by_recorded_instant_and_by_effective_date():
    from datetime import datetime

    from domain.errors import NotFound

    app = memory_app()
    before = datetime.now(UTC)
    d = grant_2023(app)
    with pytest.raises(NotFound):
        app.as_of(Dossier, d.id, before)
    convention(app, d, eligible="18695.00", on=date(2023, 10, 2))
    sign_both(app, d, date(2023, 10, 5))
    pay(app, d, "single", date(2023, 10, 20))
    assert app.as_of(Dossier, d.id, datetime.now(UTC)).paid_total == Decimal("7000.00")
    on_the_vote = app.as_of_effective(Dossier, d.id, date(2023, 9, 18))
    assert (on_the_vote.status, on_the_vote.granted_amount) == ("granted", Decimal("7000.00"))
    assert app.as_of_effective(Dossier, d.id, date(2023, 10, 19)).status == "convention_signed"
    assert app.as_of_effective(Dossier, d.id, date(2023, 10, 20)).paid_total == Decimal("7000.00")
