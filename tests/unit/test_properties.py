"""Property-based tests: random sequences of payments, reports, refunds, terminations and ticks never
break the money invariants (paid ≤ granted, budget never overcommitted, refunds due = paid − final)."""

import os
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.budget import BudgetLine
from domain.dossier import Dossier
from domain.errors import DomainError
from tests.unit.factories import APPLICANT, FINANCE, INSTRUCTOR, SECRETARY, ctx, granted, memory_app

PLANS = {
    "single": [{"tranche": "single", "when": "convention_signed"}],
    "advance_balance": [{"tranche": "advance", "share": "0.50", "when": "convention_signed"},
                        {"tranche": "balance", "when": "report_accepted"}],
    "seventy": [{"tranche": "advance", "share": "0.70", "when": "convention_signed"},
                {"tranche": "balance", "when": "report_accepted"}],
    "instalments": [{"tranche": "instalment", "when": "justified_expenses"},
                    {"tranche": "balance", "when": "report_accepted"}],
}
cents = st.integers(min_value=1, max_value=2_000_000).map(lambda c: Decimal(c) / 100)


class GrantLifecycle(RuleBasedStateMachine):
    """One granted dossier driven by random commands on random later dates."""

    @initialize(plan=st.sampled_from(sorted(PLANS)), settlement=st.sampled_from(["prorata", "reduce"]),
                 amount=st.integers(min_value=100, max_value=20_000), signed=st.booleans())
    def grant(self, plan, settlement, amount, signed):
        self.app = memory_app()
        self.granted = Decimal(amount).quantize(Decimal("0.01"))
        self.eligible = self.granted * 3
        d = granted(self.app, amount=str(self.granted), eligible=str(self.eligible), year=2023,
                    session_on=date(2023, 9, 18),
                    rules={"settlement": settlement, "convention_required_above": "0.00",
                           "payment_plan": PLANS[plan]}, number="2023-388")
        self.id = d.id
        self.on = date(2023, 10, 2)
        self.app.draft_convention(ctx(INSTRUCTOR, self.on), d.id, eligible_cost=self.eligible, rate=None,
                                  action_from=date(2023, 1, 1), action_to=date(2023, 12, 31),
                                  report_due_on=date(2024, 4, 1), cites={})
        if signed:
            self.app.sign_convention(ctx(INSTRUCTOR, self.on), d.id, party="beneficiary", signatory="x")
            self.app.sign_convention(ctx(SECRETARY, self.on), d.id, party="department", signatory="y")

    def attempt(self, command, *args, **kwargs):
        """Runs a command; a refusal must leave the history exactly as it was."""
        before = self.app.recorder.max_notification_id()
        try:
            return command(*args, **kwargs)
        except DomainError:
            assert self.app.recorder.max_notification_id() == before
            return None

    def later(self, days):
        self.on = min(self.on + timedelta(days=days), date(2025, 12, 31))
        return self.on

    @rule(tranche=st.sampled_from(["single", "advance", "instalment", "balance"]),
          amount=st.none() | cents, justified=st.none() | cents, days=st.integers(0, 60), pay=st.booleans())
    def payment(self, tranche, amount, justified, days, pay):
        on = self.later(days)
        ordered = self.attempt(self.app.order_payment, ctx(FINANCE, on), self.id, tranche=tranche, amount=amount,
                               justified_expenses=justified)
        if ordered and pay:
            self.attempt(self.app.mark_payment_paid, ctx(FINANCE, on), self.id, ordered[1]["id"],
                         bank_reference="VIR")

    @rule(justified=cents, days=st.integers(0, 200))
    def report(self, justified, days):
        on = self.later(days)
        self.attempt(self.app.submit_report, ctx(APPLICANT, on), self.id, summary="bilan", expenses=[],
                     signed_by="x")
        self.attempt(self.app.accept_report, ctx(INSTRUCTOR, on), self.id, justified_expenses=justified)

    @rule(amount=st.none() | cents, receipt=cents, days=st.integers(0, 60))
    def refund(self, amount, receipt, days):
        on = self.later(days)
        demanded = self.attempt(self.app.demand_refund, ctx(FINANCE, on), self.id,
                                title_number=f"T-{self.app.recorder.max_notification_id()}", issued_on=on,
                                amount=amount)
        dossier = self.app.load(Dossier, self.id)
        for r in dossier.refunds:
            self.attempt(self.app.receive_refund, ctx(FINANCE, on), self.id, r["id"], amount=receipt)
        del demanded

    @rule(reason=st.sampled_from(["non_execution", "misuse", "false_declaration", "beneficiary_request"]),
          days=st.integers(0, 90))
    def terminate(self, reason, days):
        on = self.later(days)
        self.attempt(self.app.terminate, ctx(INSTRUCTOR, on), self.id, reason=reason, notice_received_on=on)

    @rule(days=st.integers(0, 400))
    def tick(self, days):
        self.app.tick(self.later(days), [self.id])

    @invariant()
    def money_holds(self):
        if not hasattr(self, "app"):
            return
        dossier = self.app.load(Dossier, self.id)
        line = self.app.load(BudgetLine, dossier.budget_line_id)
        assert dossier.paid_total <= self.granted
        assert dossier.ordered_total <= self.granted
        assert line.reserved + line.committed <= line.credits
        assert line.committed >= line.paid - dossier.refunded_total
        if dossier.final_amount is not None:
            owed = max(Decimal("0"), dossier.paid_total - dossier.final_amount)
            assert dossier.refund_due + dossier.refunded_total == owed
            assert dossier.final_amount <= self.granted

    @invariant()
    def history_replays_to_the_same_state(self):
        if not hasattr(self, "app"):
            return
        live = self.app.load(Dossier, self.id)
        replayed = None
        for event in self.app.events.get(self.id):
            replayed = event.mutate(replayed)
        assert replayed.as_dict() == live.as_dict()


EXAMPLES = int(os.environ.get("SUBVENTIO_HYPOTHESIS_EXAMPLES", "40"))
GrantLifecycle.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=15, deadline=None,
                                            suppress_health_check=[HealthCheck.too_slow])
TestGrantLifecycle = GrantLifecycle.TestCase
