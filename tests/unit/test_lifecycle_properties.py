"""The whole lifecycle under random commands and dates (issue 8): several dossiers of two applicants on two
programmes sharing budget lines, intake, instruction, deliberations adopting or rejecting them (with valid and
invalid votes), legality, conventions, payments, reports, refunds, terminations, lapses and credit changes.

After every step:
- paid ≤ granted and ordered ≤ granted for every dossier; nothing is paid on a dossier never granted;
- reserved + committed ≤ credits on every line, the line's totals equal its per-dossier entries, and what is
  reserved on a line is exactly the amounts of the dossiers scheduled on it;
- every dossier went through the lifecycle only: each status change in its history is an arrow of the domain
  brief's diagram, from `draft`;
- every aggregate's history replays to the state the application loads;
- a refused command (any DomainError) left every history unchanged; any other exception fails the test.

Sizes: SUBVENTIO_LIFECYCLE_EXAMPLES machines of SUBVENTIO_LIFECYCLE_STEPS steps (default 100 × 40).
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from domain.applicant import Applicant
from domain.application import Subventio
from domain.budget import BudgetLine
from domain.deliberation import Deliberation
from domain.dossier import Dossier
from domain.errors import DomainError
from domain.programme import ProgrammeRules
from domain.values import Ctx
from tests.unit.factories import (
    ADMIN,
    APPLICANT,
    FINANCE,
    IBAN,
    INSTRUCTOR,
    SECRETARY,
    full_attendance,
)

EXAMPLES = int(os.environ.get("SUBVENTIO_LIFECYCLE_EXAMPLES", "100"))
STEPS = int(os.environ.get("SUBVENTIO_LIFECYCLE_STEPS", "40"))

LIFECYCLE: dict[str, set[str]] = {
    "draft": {"submitted", "withdrawn"},
    "submitted": {"incomplete", "instructed", "declined", "withdrawn"},
    "incomplete": {"submitted", "declined", "withdrawn"},
    "instructed": {"scheduled", "declined"},
    "scheduled": {"granted", "refused"},
    "granted": {"convention_drafted", "report_accepted", "terminated", "lapsed", "closed"},
    "convention_drafted": {"convention_signed", "report_accepted", "terminated", "lapsed", "closed"},
    "convention_signed": {"report_accepted", "terminated", "lapsed", "closed"},
    "report_accepted": {"closed", "terminated"},
    "terminated": {"closed"},
    "lapsed": {"closed"},
    "declined": set(), "withdrawn": set(), "refused": set(), "closed": set(),
}
"""The domain brief's diagram: each status and the statuses one event may lead to (staying is always allowed)."""

PLANS = [
    [{"tranche": "single", "when": "convention_signed"}],
    [{"tranche": "advance", "share": "0.50", "when": "convention_signed"},
     {"tranche": "balance", "when": "report_accepted"}],
    [{"tranche": "instalment", "when": "justified_expenses"}, {"tranche": "balance", "when": "report_accepted"}],
]
YEAR = 2023
PAYABLE = ("granted", "convention_drafted", "convention_signed", "report_accepted")
EXECUTION = ("granted", "convention_drafted", "convention_signed", "report_accepted", "terminated", "lapsed")
cents = st.integers(min_value=1, max_value=1_500_000).map(lambda c: Decimal(c) / 100)
ZERO = Decimal("0.00")


def ctx(actor: Any, on: date) -> Ctx:
    return Ctx(actor, on, on)


class Lifecycle(RuleBasedStateMachine):
    """Two lines, three programmes (two on the first line), two applicants, dossiers opened as it goes."""

    @initialize(credits=st.tuples(st.integers(2_000, 30_000), st.integers(2_000, 30_000)),
                plans=st.tuples(*(st.sampled_from(range(len(PLANS))) for _ in range(3))),
                settlements=st.tuples(*(st.sampled_from(["prorata", "reduce"]) for _ in range(3))),
                required=st.booleans(), votes=st.lists(st.tuples(st.integers(0, 2), st.integers(20, 44), cents),
                                                       max_size=2))
    def world(self, credits, plans, settlements, required, votes):
        self.app = Subventio(env={"PERSISTENCE_MODULE": "eventsourcing.popo", "AGGREGATE_CACHE_MAXSIZE": "1000"})
        self.on = date(YEAR, 2, 1)
        start = ctx(ADMIN, self.on)
        self.lines = [self.app.open_budget_line(start, code=f"C05-04{i}A06", imputation="65748//93043",
                                                label=f"Ligne {i}", year=YEAR, credits=Decimal(c)).id
                      for i, c in enumerate(credits)]
        self.programmes = []
        for i, line in enumerate((self.lines[0], self.lines[0], self.lines[1])):
            rules = ProgrammeRules.parse({"settlement": settlements[i], "convention_required_above": "0.00",
                                          "payment_plan": PLANS[plans[i]], "report_due_on": f"{YEAR + 2}-04-01"})
            self.programmes.append(self.app.open_programme(
                start, code=f"AAP-{i}", title=f"Dispositif {i}", year=YEAR, opens_on=date(YEAR, 1, 1),
                closes_on=date(YEAR + 1, 6, 30), budget_line_id=line, rules=rules,
                required_documents={"association": ["statuts"] if required else []}).id)
        bank = {"holder": "Lianes coopération", "iban": IBAN, "bic": "AGRIFRPP"}
        self.applicants = [
            self.app.register_applicant(start, kind="association", name="Lianes coopération",
                                        siret="43853522100024", address="Lille", email="a@lianes.example",
                                        phone=None, legal_representative={"name": "E", "role": "présidente"},
                                        bank=bank).id,
            self.app.register_applicant(start, kind="person", name="Marie Durand", siret=None, address="Arras",
                                        email="m@durand.example", phone=None,
                                        legal_representative={"name": "Marie Durand", "role": "porteuse"},
                                        bank=None).id,
        ]
        self.dossiers: list[UUID] = []
        self.deliberations: list[UUID] = []
        self.refused = 0
        self.accepted = 0
        for programme, votes_for, requested in votes:  # dossiers already voted on, mostly granted
            self.to_a_vote(programme, 0, requested, share=100, votes_for=votes_for, valid=True, days=1)

    # --- helpers ------------------------------------------------------------------------------

    def attempt(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        """Runs a command; a refusal must leave every history exactly as it was."""
        before = self.app.recorder.max_notification_id()  # one store, one writer: any event recorded moves it
        try:
            result = command(*args, **kwargs)
        except DomainError as error:
            assert self.app.recorder.max_notification_id() == before, \
                f"{command.__name__} was refused but recorded something"
            self.refused += 1
            REFUSALS[f"{command.__name__}: {error.code}"] = REFUSALS.get(f"{command.__name__}: {error.code}", 0) + 1
            return None
        self.accepted += 1
        ACCEPTED[command.__name__] = ACCEPTED.get(command.__name__, 0) + 1
        return result

    def later(self, days: int) -> date:
        self.on = min(self.on + timedelta(days=days), date(YEAR + 2, 12, 31))
        return self.on

    def dossier(self, index: int, among: tuple[str, ...] = ()) -> Dossier:
        """The index-th dossier, counted among those in one of the statuses `among` when there are any."""
        candidates = [i for i in self.dossiers if self.app.load(Dossier, i).status in among] or self.dossiers
        return self.app.load(Dossier, candidates[index % len(candidates)])

    # --- intake -------------------------------------------------------------------------------

    @rule(programme=st.integers(0, 2), applicant=st.integers(0, 1), requested=cents, budget_share=st.integers(1, 4))
    def open_dossier(self, programme, applicant, requested, budget_share):
        opened = self.attempt(self.app.open_dossier, ctx(APPLICANT, self.on),
                              programme_id=self.programmes[programme], applicant_id=self.applicants[applicant],
                              project_name="Projet", total_budget=requested * budget_share,
                              amount_requested=requested)
        if opened is not None:
            self.dossiers.append(opened.id)

    @precondition(lambda self: self.dossiers)
    @rule(index=st.integers(0, 99), requested=cents)
    def edit(self, index, requested):
        self.attempt(self.app.edit_dossier, ctx(APPLICANT, self.on), self.dossier(index).id,
                     changes={"amount_requested": requested})

    @precondition(lambda self: self.dossiers)
    @rule(index=st.integers(0, 99), kind=st.sampled_from(["statuts", "rib", "budget"]))
    def attach(self, index, kind):
        self.attempt(self.app.attach_document, ctx(APPLICANT, self.on), self.dossier(index).id, kind=kind,
                     label=kind, sha256=(kind.encode().hex() * 64)[:64], size=10, filename=f"{kind}.pdf",
                     content_type="application/pdf")

    @precondition(lambda self: self.dossiers)
    @rule(index=st.integers(0, 99), days=st.integers(0, 20), by_staff=st.booleans())
    def submit(self, index, days, by_staff):
        on = self.later(days)
        self.attempt(self.app.submit_dossier, ctx(INSTRUCTOR if by_staff else APPLICANT, on), self.dossier(index).id,
                     sworn_statement={"signatory": "E", "place": "Lille", "signed_on": on})

    @precondition(lambda self: self.dossiers)
    @rule(index=st.integers(0, 99), kind=st.sampled_from(["rib", "budget"]))
    def request_documents(self, index, kind):
        self.attempt(self.app.request_documents, ctx(INSTRUCTOR, self.on), self.dossier(index).id,
                     documents=[kind], message="Merci")

    @precondition(lambda self: self.dossiers)
    @rule(index=st.integers(0, 99), favourable=st.booleans(), share=st.integers(1, 110), days=st.integers(0, 30))
    def instruct(self, index, favourable, share, days):
        d = self.dossier(index)
        proposed = (d.amount_requested * share / 100).quantize(Decimal("0.01"))
        self.attempt(self.app.instruct_dossier, ctx(INSTRUCTOR, self.later(days)), d.id,
                     opinion="favourable" if favourable else "unfavourable",
                     proposed_amount=proposed if favourable and proposed > 0 else None,
                     eligible_cost=d.total_budget)

    @precondition(lambda self: self.dossiers)
    @rule(index=st.integers(0, 99), share=st.integers(50, 100), days=st.integers(0, 20))
    def through_intake(self, index, share, days):
        """The usual path in one go (each step may still be refused): documents, submission, favourable opinion."""
        self.attach(index, "statuts")
        self.submit(index, days, by_staff=False)
        self.instruct(index, favourable=True, share=share, days=0)

    @rule(programme=st.integers(0, 2), applicant=st.integers(0, 1), requested=cents, share=st.integers(50, 100),
          votes_for=st.integers(0, 44), valid=st.booleans(), days=st.integers(0, 20))
    def to_a_vote(self, programme, applicant, requested, share, votes_for, valid, days):
        """A new dossier the whole way to a vote (each step may still be refused), beside any other ready one."""
        self.open_dossier(programme, applicant, requested, budget_share=2)
        index = len(self.dossiers) - 1
        self.through_intake(index, share, days)
        self.deliberate([index, 0], days=0, swap_line=False, ready_only=True)
        if self.deliberations:
            self.vote(len(self.deliberations) - 1, votes_for, valid, executory=True)

    @precondition(lambda self: self.dossiers)
    @rule(index=st.integers(0, 99), withdraw=st.booleans())
    def decline_or_withdraw(self, index, withdraw):
        d = self.dossier(index)
        if withdraw:
            self.attempt(self.app.withdraw_dossier, ctx(APPLICANT, self.on), d.id, reason="")
        else:
            self.attempt(self.app.decline_dossier, ctx(INSTRUCTOR, self.on), d.id, reason="Hors dispositif")

    # --- deliberations ------------------------------------------------------------------------

    @precondition(lambda self: self.dossiers)
    @rule(picks=st.lists(st.integers(0, 99), min_size=1, max_size=3), days=st.integers(0, 30),
          swap_line=st.booleans(), ready_only=st.booleans())
    def deliberate(self, picks, days, swap_line, ready_only):
        on = self.later(days)
        candidates = self.dossiers
        if ready_only:  # mostly the dossiers instructed favourably, or the draw rarely reaches a vote
            candidates = [i for i in self.dossiers if self.app.load(Dossier, i).status == "instructed"] or candidates
        items = []
        for pick in dict.fromkeys(i % len(candidates) for i in picks):
            d = self.app.load(Dossier, candidates[pick])
            line = self.programme_line(d.programme_id)
            if swap_line:
                line = self.lines[1] if line == self.lines[0] else self.lines[0]
            amount = (d.instruction or {}).get("proposed_amount") or d.amount_requested
            items.append({"dossier_id": d.id, "amount": amount, "budget_line_id": line})
        created = self.attempt(self.app.create_deliberation, ctx(SECRETARY, on),
                               number=f"{YEAR}-{len(self.deliberations) + 100}", title="Subventions",
                               session_on=on, members_in_office=44, attendance=full_attendance(), items=items)
        if created is not None:
            self.deliberations.append(created.id)

    def programme_line(self, programme_id: UUID) -> UUID:
        return self.lines[0] if self.programmes.index(programme_id) < 2 else self.lines[1]

    @precondition(lambda self: self.deliberations)
    @rule(index=st.integers(0, 99), votes_for=st.integers(0, 44), valid=st.booleans(), executory=st.booleans())
    def vote(self, index, votes_for, valid, executory):
        deliberation = self.app.load(Deliberation, self.deliberations[index % len(self.deliberations)])
        against = 44 - votes_for if valid else 44 - votes_for + 1
        on = deliberation.session_on
        voted = self.attempt(self.app.record_vote, ctx(SECRETARY, on), deliberation.id, votes_for=votes_for,
                             votes_against=against, abstention=0, not_participating=[], interested=[],
                             president_casting_vote="for" if votes_for == against else None)
        if voted is not None and executory:
            self.attempt(self.app.transmit_deliberation, ctx(SECRETARY, on), deliberation.id,
                         act_id=f"062-226200012-{on:%Y%m%d}-lmc1-DE-1-1", transmitted_on=on)
            self.attempt(self.app.publish_deliberation, ctx(SECRETARY, on), deliberation.id, mode="electronic")

    # --- execution ----------------------------------------------------------------------------

    @precondition(lambda self: self.dossiers)
    @rule(index=st.integers(0, 99), executed=st.booleans(),
          sign=st.booleans(), days=st.integers(0, 30))
    def convention(self, index, executed, sign, days, chosen=None):
        d = self.app.load(Dossier, chosen) if chosen else self.dossier(index, EXECUTION if executed else ())
        on = self.later(days)
        self.attempt(self.app.draft_convention, ctx(INSTRUCTOR, on), d.id, eligible_cost=d.total_budget, rate=None,
                     action_from=date(YEAR, 1, 1), action_to=date(YEAR, 12, 31), report_due_on=date(YEAR + 2, 4, 1),
                     cites={})
        if sign:
            self.attempt(self.app.sign_convention, ctx(INSTRUCTOR, on), d.id, party="beneficiary", signatory="E")
            self.attempt(self.app.sign_convention, ctx(SECRETARY, on), d.id, party="department", signatory="P")

    @precondition(lambda self: self.dossiers)
    @rule(index=st.integers(0, 99), executed=st.booleans(),
          tranche=st.sampled_from(["single", "advance", "instalment", "balance"]),
          amount=st.none() | cents, justified=st.none() | cents, days=st.integers(0, 60), pay=st.booleans())
    def payment(self, index, executed, tranche, amount, justified, days, pay, chosen=None):
        d = self.app.load(Dossier, chosen) if chosen else self.dossier(index, EXECUTION if executed else ())
        on = self.later(days)
        ordered = self.attempt(self.app.order_payment, ctx(FINANCE, on), d.id, tranche=tranche, amount=amount,
                               justified_expenses=justified)
        if ordered is not None and pay:
            self.attempt(self.app.mark_payment_paid, ctx(FINANCE, on), d.id, ordered[1]["id"], bank_reference="VIR")

    @precondition(lambda self: self.dossiers)
    @rule(index=st.integers(0, 99), tranche=st.sampled_from(["single", "advance", "instalment", "balance"]),
          amount=st.none() | cents, justified=st.none() | cents, days=st.integers(0, 30), plan=st.booleans())
    def to_a_payment(self, index, tranche, amount, justified, days, plan):
        """A granted dossier the whole way to a payment (each step may still be refused)."""
        d = self.dossier(index, PAYABLE)
        self.convention(0, executed=True, sign=True, days=days, chosen=d.id)
        d = self.app.load(Dossier, d.id)
        ordered = {p["tranche"] for p in d.payments}
        planned = [step["tranche"] for step in d.plan or [] if step["tranche"] not in ordered]
        self.payment(0, executed=True, tranche=planned[0] if planned and plan else tranche, amount=amount,
                     justified=justified, days=0, pay=True, chosen=d.id)

    @precondition(lambda self: self.dossiers)
    @rule(index=st.integers(0, 99), executed=st.booleans(),
          justified=cents, days=st.integers(0, 200))
    def report(self, index, executed, justified, days):
        d = self.dossier(index, EXECUTION if executed else ())
        on = self.later(days)
        self.attempt(self.app.submit_report, ctx(APPLICANT, on), d.id, summary="bilan", expenses=[], signed_by="E")
        self.attempt(self.app.accept_report, ctx(INSTRUCTOR, on), d.id, justified_expenses=justified)

    @precondition(lambda self: self.dossiers)
    @rule(index=st.integers(0, 99), executed=st.booleans(),
          amount=st.none() | cents, receipt=cents, days=st.integers(0, 60))
    def refund(self, index, executed, amount, receipt, days):
        d = self.dossier(index, EXECUTION if executed else ())
        on = self.later(days)
        self.attempt(self.app.demand_refund, ctx(FINANCE, on), d.id,
                     title_number=f"T-{self.app.recorder.max_notification_id()}", issued_on=on, amount=amount)
        for r in self.app.load(Dossier, d.id).refunds:
            self.attempt(self.app.receive_refund, ctx(FINANCE, on), d.id, r["id"], amount=receipt)

    @precondition(lambda self: self.dossiers)
    @rule(index=st.integers(0, 99), executed=st.booleans(),
          days=st.integers(0, 90),
          reason=st.sampled_from(["non_execution", "misuse", "false_declaration", "beneficiary_request"]))
    def terminate(self, index, executed, days, reason):
        on = self.later(days)
        self.attempt(self.app.terminate, ctx(INSTRUCTOR, on), self.dossier(index, EXECUTION if executed else ()).id,
                     reason=reason,
                     notice_received_on=on)

    @rule(line=st.integers(0, 1), amount=st.integers(-20_000, 20_000).filter(bool))
    def change_credits(self, line, amount):
        self.attempt(self.app.change_credits, ctx(FINANCE, self.on), self.lines[line], amount=Decimal(amount),
                     reason="Décision modificative")

    @rule(days=st.integers(0, 90))
    def tick(self, days):
        self.app.tick(self.later(days), list(self.dossiers))

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def money_holds(self):
        if not hasattr(self, "app"):
            return
        dossiers = [self.app.load(Dossier, i) for i in self.dossiers]
        for d in dossiers:
            granted = d.granted_amount if d.granted_amount is not None else ZERO
            assert d.paid_total <= granted, (d.status, d.paid_total, granted)
            assert d.ordered_total <= granted, (d.status, d.ordered_total, granted)
        for line_id in self.lines:
            line = self.app.load(BudgetLine, line_id)
            assert line.reserved >= 0 and line.committed >= 0 and line.paid >= 0, line.as_dict()
            assert line.reserved + line.committed <= line.credits, line.as_dict()
            assert sum(line.reservations.values(), ZERO) == line.reserved
            assert sum(line.commitments.values(), ZERO) == line.committed
            scheduled = sum((d.scheduled_amount for d in dossiers
                             if d.status == "scheduled" and d.budget_line_id == line_id), ZERO)
            assert line.reserved == scheduled, (line.reserved, scheduled)

    @invariant()
    def histories_replay_to_the_same_state_through_the_lifecycle(self):
        """Each history, folded event by event, gives the state the application holds; a dossier's statuses
        follow the lifecycle's arrows from `draft`."""
        if not hasattr(self, "app"):
            return
        for cls, ids in ((Dossier, self.dossiers), (BudgetLine, self.lines), (Deliberation, self.deliberations),
                         (Applicant, self.applicants)):
            for aggregate_id in ids:
                replayed: Any = None
                status = None
                for event in self.app.events.get(aggregate_id):
                    replayed = event.mutate(replayed)
                    if cls is Dossier:
                        if status is None:
                            assert replayed.status == "draft"
                        elif replayed.status != status:
                            assert replayed.status in LIFECYCLE[status], \
                                f"{status} → {replayed.status} ({type(event).__name__})"
                        status = replayed.status
                assert replayed.as_dict() == self.app.load(cls, aggregate_id).as_dict()

    def teardown(self):
        if hasattr(self, "app"):
            STATS["machines"] += 1
            STATS["accepted"] += self.accepted
            STATS["refused"] += self.refused
            STATS["dossiers"] += len(self.dossiers)
            STATS["deliberations"] += len(self.deliberations)
            STATS["granted"] += sum(self.app.load(Dossier, i).granted_amount is not None for i in self.dossiers)


REFUSALS: dict[str, int] = {}
ACCEPTED: dict[str, int] = {}
STATS = dict.fromkeys(("machines", "accepted", "refused", "dossiers", "deliberations", "granted"), 0)
Lifecycle.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                                       derandomize=not os.environ.get("SUBVENTIO_LIFECYCLE_RANDOM"),
                                       suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestLifecycle = Lifecycle.TestCase


def test_the_machines_reached_grants_payments_and_refusals():
    """Runs after the machine (same module, in order): the random runs did reach deep into the lifecycle."""
    if STATS["machines"] == 0:
        return  # run alone (-k): nothing to judge
    assert STATS["accepted"] > 0 and STATS["refused"] > 0, STATS
    assert STATS["deliberations"] > 0 and STATS["granted"] > 0, (STATS, sorted(ACCEPTED.items()))
    assert ACCEPTED.get("order_payment", 0) > 0 and ACCEPTED.get("record_vote", 0) > 0, sorted(ACCEPTED.items())
