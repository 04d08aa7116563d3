"""The dossier: one application and the grant that follows it, from draft to closure."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID, uuid5

from domain.errors import Check, InvalidFields, NotFound, RuleViolation
from domain.ids import time_ordered_id
from domain.legality import add_months
from domain.programme import NAMESPACE, Programme, ProgrammeRules
from domain.record import Record
from domain.values import Ctx, Rounding, rate_of

EDITABLE = ("draft", "incomplete")


class Dossier(Record):
    """A grant application; public methods decide and raise, nested events only record."""

    if TYPE_CHECKING:  # state set by apply(); runtime annotations would become dataclass fields
        programme_id: UUID
        applicant_id: UUID
        project_name: str
        total_budget: Decimal
        amount_requested: Decimal
        other_public_funding: Decimal | None
        status: str
        reference: str | None
        documents: list[dict[str, Any]]
        requested_documents: list[str]
        documents_request: dict[str, Any]
        sworn_statement: dict[str, Any] | None
        submitted_on: date | None
        instruction: dict[str, Any] | None
        decision: dict[str, Any] | None
        deliberation_id: UUID | None
        granted_amount: Decimal | None
        scheduled_amount: Decimal | None
        budget_line_id: UUID | None
        convention: dict[str, Any] | None
        payments: list[dict[str, Any]]
        paid_total: Decimal
        report: dict[str, Any] | None
        final_amount: Decimal | None
        refunds: list[dict[str, Any]]
        refunded_total: Decimal
        termination: dict[str, Any] | None
        lapse: dict[str, Any] | None
        closed_on: date | None
        released_total: Decimal

    class Opened(Record.Created):
        programme_id: UUID
        applicant_id: UUID
        project_name: str
        total_budget: Decimal
        amount_requested: Decimal
        other_public_funding: Decimal | None

        def apply(self, d: Dossier) -> None:
            d.programme_id, d.applicant_id = self.programme_id, self.applicant_id
            d.project_name, d.total_budget = self.project_name, self.total_budget
            d.amount_requested, d.other_public_funding = self.amount_requested, self.other_public_funding
            d.status, d.reference = "draft", None
            d.documents, d.requested_documents = [], []
            d.sworn_statement, d.submitted_on = None, None
            d.instruction, d.decision = None, None
            d.deliberation_id, d.granted_amount, d.scheduled_amount = None, None, None
            d.budget_line_id, d.convention, d.payments, d.paid_total = None, None, [], Decimal("0.00")
            d.report, d.final_amount, d.refunds, d.refunded_total = None, None, [], Decimal("0.00")
            d.termination, d.lapse, d.closed_on = None, None, None
            d.released_total = Decimal("0.00")

    class Edited(Record.Event):
        changes: dict[str, Any]

        def apply(self, d: Dossier) -> None:
            for name, value in self.changes.items():
                setattr(d, name, value)

    class DocumentAttached(Record.Event):
        document_id: str
        kind: str
        label: str
        sha256: str
        size: int
        filename: str
        content_type: str

        def apply(self, d: Dossier) -> None:
            d.documents.append({"id": self.document_id, "kind": self.kind, "label": self.label,
                                "sha256": self.sha256, "size": self.size, "filename": self.filename,
                                "content_type": self.content_type, "attached_on": self.effective_on})

    class Submitted(Record.Event):
        reference: str
        sworn_statement: dict[str, Any]

        def apply(self, d: Dossier) -> None:
            d.status, d.reference = "submitted", self.reference
            d.sworn_statement, d.submitted_on = self.sworn_statement, self.effective_on
            d.requested_documents = []

    class DocumentsRequested(Record.Event):
        documents: list[str]
        message: str

        def apply(self, d: Dossier) -> None:
            d.status, d.requested_documents = "incomplete", list(self.documents)
            d.documents_request = {"documents": list(self.documents), "message": self.message,
                                   "requested_on": self.effective_on}

    class Instructed(Record.Event):
        opinion: str
        proposed_amount: Decimal
        eligible_cost: Decimal
        rate: Decimal
        comment: str

        def apply(self, d: Dossier) -> None:
            d.status = "instructed"
            d.instruction = {"opinion": self.opinion, "proposed_amount": self.proposed_amount,
                             "eligible_cost": self.eligible_cost, "rate": self.rate,
                             "comment": self.comment, "instructed_on": self.effective_on}

    class Declined(Record.Event):
        reason: str

        def apply(self, d: Dossier) -> None:
            d.status = "declined"
            d.decision = {"kind": "declined", "reason": self.reason, "decided_on": self.effective_on}

    class Withdrawn(Record.Event):
        reason: str

        def apply(self, d: Dossier) -> None:
            d.status = "withdrawn"
            d.decision = {"kind": "withdrawn", "reason": self.reason, "decided_on": self.effective_on}

    class Scheduled(Record.Event):
        deliberation_id: UUID
        amount: Decimal
        budget_line_id: UUID

        def apply(self, d: Dossier) -> None:
            d.status, d.deliberation_id, d.scheduled_amount = "scheduled", self.deliberation_id, self.amount
            d.budget_line_id = self.budget_line_id

    class Granted(Record.Event):
        deliberation_id: UUID
        amount: Decimal

        def apply(self, d: Dossier) -> None:
            d.status, d.granted_amount = "granted", self.amount
            d.decision = {"kind": "granted", "deliberation_id": self.deliberation_id, "amount": self.amount,
                          "decided_on": self.effective_on}

    class Refused(Record.Event):
        deliberation_id: UUID

        def apply(self, d: Dossier) -> None:
            d.status = "refused"
            d.decision = {"kind": "refused", "deliberation_id": self.deliberation_id,
                          "decided_on": self.effective_on}

    # --- execution: convention, payments, report, refunds, termination, lapse ---------------

    class ConventionDrafted(Record.Event):
        eligible_cost: Decimal
        rate: Decimal
        action_from: date
        action_to: date
        report_due_on: date
        payment_plan: list[dict[str, Any]]
        settlement: str
        cites: dict[str, Any]
        required: bool

        def apply(self, d: Dossier) -> None:
            d.status = "convention_drafted"
            d.convention = {"status": "drafted", "eligible_cost": self.eligible_cost, "rate": self.rate,
                            "action_from": self.action_from, "action_to": self.action_to,
                            "report_due_on": self.report_due_on, "payment_plan": [dict(p) for p in self.payment_plan],
                            "settlement": self.settlement, "cites": dict(self.cites), "required": self.required,
                            "drafted_on": self.effective_on, "signatures": [], "amendments": []}

    class ConventionSigned(Record.Event):
        party: str
        signatory: str

        def apply(self, d: Dossier) -> None:
            convention = cast("dict[str, Any]", d.convention)  # drafted before any signature
            convention["signatures"].append({"party": self.party, "signatory": self.signatory,
                                             "signed_on": self.effective_on})
            if {s["party"] for s in convention["signatures"]} == {"beneficiary", "department"}:
                convention["status"] = "signed"
                convention["signed_on"] = self.effective_on
                d.status = "convention_signed"

    class Amended(Record.Event):
        changes: dict[str, Any]
        reason: str

        def apply(self, d: Dossier) -> None:
            convention = cast("dict[str, Any]", d.convention)  # only a signed convention is amended
            convention["amendments"].append({"number": len(convention["amendments"]) + 1,
                                             "changes": dict(self.changes), "reason": self.reason,
                                             "signed_on": self.effective_on})
            convention.update(self.changes)

    class PaymentOrdered(Record.Event):
        payment_id: str
        tranche: str
        amount: Decimal
        justified_expenses: Decimal | None
        checks: list[dict[str, Any]]

        def apply(self, d: Dossier) -> None:
            d.payments.append({"id": self.payment_id, "tranche": self.tranche, "amount": self.amount,
                               "status": "ordered", "ordered_on": self.effective_on, "paid_on": None,
                               "bank_reference": None, "justified_expenses": self.justified_expenses,
                               "checks": list(self.checks)})

    class PaymentMade(Record.Event):
        payment_id: str
        bank_reference: str

        def apply(self, d: Dossier) -> None:
            payment = next(p for p in d.payments if p["id"] == self.payment_id)
            payment.update(status="paid", paid_on=self.effective_on, bank_reference=self.bank_reference)
            d.paid_total += payment["amount"]

    class ReportSubmitted(Record.Event):
        summary: str
        expenses: list[dict[str, Any]]
        signed_by: str

        def apply(self, d: Dossier) -> None:
            d.report = {"status": "received", "submitted_on": self.effective_on, "summary": self.summary,
                        "expenses": [dict(e) for e in self.expenses], "signed_by": self.signed_by,
                        "justified_expenses": None, "accepted_on": None}

    class ReportAccepted(Record.Event):
        justified_expenses: Decimal
        final_amount: Decimal
        released: Decimal

        def apply(self, d: Dossier) -> None:
            d.released_total += self.released
            cast("dict[str, Any]", d.report).update(status="accepted", justified_expenses=self.justified_expenses,
                                                    accepted_on=self.effective_on)
            d.final_amount = self.final_amount
            d.status = "report_accepted"

    class RefundDemanded(Record.Event):
        refund_id: str
        title_number: str
        amount: Decimal
        issued_on: date
        received_by_beneficiary_on: date | None
        due_on: date
        reason: str

        def apply(self, d: Dossier) -> None:
            d.refunds.append({"id": self.refund_id, "title_number": self.title_number, "amount": self.amount,
                              "issued_on": self.issued_on,
                              "received_by_beneficiary_on": self.received_by_beneficiary_on,
                              "due_on": self.due_on, "reason": self.reason, "received_total": Decimal("0.00"),
                              "receipts": [], "status": "open"})

    class RefundReceived(Record.Event):
        refund_id: str
        amount: Decimal
        restores_credits: bool

        def apply(self, d: Dossier) -> None:
            refund = next(r for r in d.refunds if r["id"] == self.refund_id)
            refund["received_total"] += self.amount
            refund["receipts"].append({"received_on": self.effective_on, "amount": self.amount,
                                       "restores_credits": self.restores_credits})
            if refund["received_total"] >= refund["amount"]:
                refund["status"] = "closed"
            d.refunded_total += self.amount

    class TerminationNotified(Record.Event):
        reason: str
        notice_received_on: date
        hearing_on: date | None
        takes_effect_on: date

        def apply(self, d: Dossier) -> None:
            d.termination = {"reason": self.reason, "notice_received_on": self.notice_received_on,
                             "hearing_on": self.hearing_on, "effective_on": self.takes_effect_on,
                             "status": "notified", "notified_on": self.effective_on}

    class Terminated(Record.Event):
        final_amount: Decimal
        released: Decimal

        def apply(self, d: Dossier) -> None:
            d.released_total += self.released
            d.status = "terminated"
            cast("dict[str, Any]", d.termination)["status"] = "effective"
            d.final_amount = self.final_amount

    class Lapsed(Record.Event):
        report_due_on: date
        released: Decimal

        def apply(self, d: Dossier) -> None:
            d.released_total += self.released
            d.status = "lapsed"
            d.lapse = {"lapsed_on": self.effective_on, "report_due_on": self.report_due_on,
                       "released": self.released}
            d.final_amount = d.paid_total

    class Closed(Record.Event):
        def apply(self, d: Dossier) -> None:
            d.status = "closed"
            d.closed_on = self.effective_on

    # --- commands -------------------------------------------------------------------------

    @classmethod
    def open(cls, ctx: Ctx, *, programme: Programme, applicant_id: UUID, project_name: str,
             total_budget: Decimal, amount_requested: Decimal,
             other_public_funding: Decimal | None) -> Dossier:
        _check_amounts(total_budget, amount_requested)
        return cls._start(cls.Opened, ctx, time_ordered_id(), programme_id=programme.id, applicant_id=applicant_id,
                          project_name=project_name, total_budget=total_budget,
                          amount_requested=amount_requested, other_public_funding=other_public_funding)

    def edit(self, ctx: Ctx, changes: dict[str, Any]) -> None:
        self._require(EDITABLE, "modifier le dossier")
        if not changes:
            return
        _check_amounts(changes.get("total_budget", self.total_budget),
                       changes.get("amount_requested", self.amount_requested))
        self._record(self.Edited, ctx, changes=changes)

    def attach(self, ctx: Ctx, *, kind: str, label: str, sha256: str, size: int, filename: str,
               content_type: str) -> str:
        self._require(EDITABLE, "joindre une pièce")
        document_id = str(uuid5(self.id, f"document:{len(self.documents) + 1}:{sha256}"))
        self._record(self.DocumentAttached, ctx, document_id=document_id, kind=kind, label=label,
                     sha256=sha256, size=size, filename=filename, content_type=content_type)
        return document_id

    def submit(self, ctx: Ctx, *, programme: Programme, applicant_kind: str,
               sworn_statement: dict[str, Any], reference: str | None) -> None:
        """Submits (or resubmits after a request for documents); the reference is issued once."""
        self._require(EDITABLE, "déposer le dossier")
        on = ctx.effective_on
        if on > programme.closes_on:
            raise RuleViolation("deadline_passed",
                                f"Dossier déposé hors délais : l'appel à projets « {programme.title} » "
                                f"a clos le {programme.closes_on:%d/%m/%Y}.")
        if on < programme.opens_on:
            raise RuleViolation("programme_not_open",
                                f"L'appel à projets « {programme.title} » n'ouvre que le "
                                f"{programme.opens_on:%d/%m/%Y}.")
        missing = self.missing_documents(programme, applicant_kind)
        if missing:
            raise RuleViolation("missing_documents",
                                "Pièces obligatoires manquantes : " + ", ".join(missing) + ".")
        if sworn_statement.get("signed_on") and sworn_statement["signed_on"] > on:
            raise RuleViolation("invalid_date",
                                "L'attestation sur l'honneur est datée après le dépôt.")
        if self.reference is None and reference is None:
            raise RuleViolation("not_allowed_in_state", "Aucune référence n'a été attribuée.")
        self._record(self.Submitted, ctx, reference=self.reference or reference,
                     sworn_statement=sworn_statement)

    def missing_documents(self, programme: Programme, applicant_kind: str) -> list[str]:
        attached = {d["kind"] for d in self.documents}
        required = set(programme.required_for(applicant_kind)) | set(self.requested_documents)
        return sorted(required - attached)

    def request_documents(self, ctx: Ctx, documents: list[str], message: str) -> None:
        self._require(("submitted",), "demander des pièces")
        self._not_before(ctx, self.submitted_on, "le dépôt")
        self._record(self.DocumentsRequested, ctx, documents=sorted(set(documents)), message=message)

    def instruct(self, ctx: Ctx, *, programme: Programme, opinion: str, proposed_amount: Decimal | None,
                 eligible_cost: Decimal, rate: Decimal | None, comment: str) -> None:
        self._require(("submitted",), "instruire le dossier")
        self._not_before(ctx, self.submitted_on, "le dépôt")
        rules = programme.rules
        if proposed_amount is None:
            if opinion == "favourable" and rate is not None:
                proposed_amount = rules.rounding.apply(rate * eligible_cost)
            elif opinion == "favourable":
                raise RuleViolation("proposed_amount_required",
                                    "Un avis favorable doit proposer un montant (ou un taux).")
            else:
                proposed_amount = Decimal("0.00")
        if opinion == "favourable":
            problems = []
            if rules.max_amount is not None and proposed_amount > rules.max_amount:
                problems.append(f"le plafond de {rules.max_amount} €")
            if rules.min_amount is not None and proposed_amount < rules.min_amount:
                problems.append(f"le minimum de {rules.min_amount} €")
            if rules.max_rate is not None and proposed_amount > rules.max_rate * eligible_cost:
                problems.append(f"le taux maximal de {rules.max_rate * 100:.2f} % de la dépense "
                                f"subventionnable ({(rules.max_rate * eligible_cost).quantize(Decimal('0.01'))} €)")
            if proposed_amount > eligible_cost:
                problems.append(f"la dépense subventionnable ({eligible_cost} €)")
            if problems:
                raise RuleViolation("programme_cap_exceeded",
                                    f"Le montant proposé ({proposed_amount} €) dépasse "
                                    + " et ".join(problems) + ".")
            if not rules.rounding.is_rounded(proposed_amount):
                raise RuleViolation("rounding_rule",
                                    f"Le dispositif arrondit à « {rules.rounding.value} » : "
                                    f"{proposed_amount} € devrait être {rules.rounding.apply(proposed_amount)} €.")
        self._record(self.Instructed, ctx, opinion=opinion, proposed_amount=proposed_amount,
                     eligible_cost=eligible_cost,
                     rate=rate if rate is not None else rate_of(proposed_amount, eligible_cost),
                     comment=comment)

    def decline(self, ctx: Ctx, reason: str) -> None:
        self._require(("submitted", "incomplete", "instructed"), "rejeter le dossier")
        self._not_before(ctx, self.submitted_on, "le dépôt")
        self._record(self.Declined, ctx, reason=reason)

    def withdraw(self, ctx: Ctx, reason: str) -> None:
        self._require(("draft", "submitted", "incomplete"), "retirer le dossier")
        self._record(self.Withdrawn, ctx, reason=reason)

    def schedule(self, ctx: Ctx, deliberation_id: UUID, amount: Decimal, budget_line_id: UUID) -> None:
        """Puts the dossier on a deliberation: it must be instructed with a favourable opinion."""
        if self.status == "scheduled":
            raise RuleViolation("already_scheduled",
                                f"Le dossier {self.reference} figure déjà sur une délibération en attente de vote.")
        self._require(("instructed",), "inscrire le dossier à une délibération")
        if (self.instruction or {}).get("opinion") != "favourable":
            raise RuleViolation("unfavourable_opinion",
                                f"Le dossier {self.reference} a reçu un avis défavorable : il ne peut être proposé.")
        self._record(self.Scheduled, ctx, deliberation_id=deliberation_id, amount=amount,
                     budget_line_id=budget_line_id)

    def grant(self, ctx: Ctx, deliberation_id: UUID) -> None:
        self._require(("scheduled",), "attribuer la subvention")
        self._record(self.Granted, ctx, deliberation_id=deliberation_id, amount=self.scheduled_amount)

    def refuse(self, ctx: Ctx, deliberation_id: UUID) -> None:
        self._require(("scheduled",), "refuser la subvention")
        self._record(self.Refused, ctx, deliberation_id=deliberation_id)

    # --- execution commands -----------------------------------------------------------------

    def draft_convention(self, ctx: Ctx, *, programme: Programme, eligible_cost: Decimal, rate: Decimal | None,
                         action_from: date, action_to: date, report_due_on: date | None,
                         payment_plan: list[dict[str, Any]] | None, settlement: str | None,
                         cites: dict[str, Any]) -> None:
        """Drafts (or redrafts, while unsigned) the convention; defaults come from the programme."""
        self._require(("granted", "convention_drafted"), "rédiger la convention")
        if self.convention and self.convention["signatures"]:
            raise RuleViolation("convention_signed_already",
                                "La convention est déjà signée par une partie : seul un avenant peut la modifier.")
        if action_to < action_from:
            raise InvalidFields({"action_to": ["La fin de l'action précède son début."]})
        rules = programme.rules
        if report_due_on is None:
            if rules.report_due_on is not None:
                report_due_on = rules.report_due_on
            elif rules.report_due_months_after_action_end is not None:
                report_due_on = add_months(action_to, rules.report_due_months_after_action_end)
            else:
                raise InvalidFields({"report_due_on": ["Date limite du bilan requise (le dispositif n'en fixe pas)."]})
        plan = ProgrammeRules.parse({"payment_plan": payment_plan}).payment_plan if payment_plan else rules.payment_plan
        shares = sum((step.share or Decimal("0")) for step in plan if step.tranche == "advance")
        if shares > 1:
            raise InvalidFields({"payment_plan": ["Les avances dépassent 100 % de la subvention."]})
        granted = self.granted_amount or Decimal("0.00")
        self._record(self.ConventionDrafted, ctx, eligible_cost=eligible_cost,
                     rate=rate if rate is not None else rate_of(granted, eligible_cost),
                     action_from=action_from, action_to=action_to, report_due_on=report_due_on,
                     payment_plan=[{"tranche": s.tranche, "share": None if s.share is None else str(s.share),
                                    "when": s.when} for s in plan],
                     settlement=settlement or rules.settlement, cites=cites,
                     required=granted > rules.convention_required_above)

    def sign_convention(self, ctx: Ctx, *, party: str, signatory: str) -> None:
        self._require(("convention_drafted",), "signer la convention")
        if party in {s["party"] for s in cast("dict[str, Any]", self.convention)["signatures"]}:
            raise RuleViolation("already_signed", f"La convention est déjà signée par la partie « {party} ».")
        self._not_before(ctx, self.decision["decided_on"] if self.decision else None, "l'attribution")
        self._record(self.ConventionSigned, ctx, party=party, signatory=signatory)

    def amend(self, ctx: Ctx, *, changes: dict[str, date], reason: str) -> None:
        """An avenant signed by both parties moves the report due date or the end of the action."""
        self._require(("convention_signed", "report_received"), "signer un avenant")
        if not changes:
            raise InvalidFields({"changes": ["Au moins une modification est attendue."]})
        for name, new in changes.items():
            current = cast("dict[str, Any]", self.convention)[name]
            if ctx.effective_on > current:
                raise RuleViolation("amendment_too_late",
                                    f"L'avenant du {ctx.effective_on:%d/%m/%Y} arrive après la date qu'il modifie "
                                    f"({name} : {current:%d/%m/%Y}).")
            if new < ctx.effective_on:
                raise InvalidFields({f"changes.{name}": ["La nouvelle date précède l'avenant."]})
        self._record(self.Amended, ctx, changes=changes, reason=reason)

    @property
    def plan(self) -> list[dict[str, Any]]:
        return list(self.convention["payment_plan"]) if self.convention else []

    @property
    def ordered_total(self) -> Decimal:
        return sum((p["amount"] for p in self.payments), Decimal("0.00"))

    @property
    def net_paid(self) -> Decimal:
        return self.paid_total - self.refunded_total

    @property
    def balance_due(self) -> Decimal | None:
        if self.final_amount is None:
            return None
        return max(Decimal("0.00"), self.final_amount - self.net_paid)

    @property
    def refund_due(self) -> Decimal | None:
        if self.final_amount is None:
            return None
        return max(Decimal("0.00"), self.net_paid - self.final_amount)

    @property
    def refund_outstanding_to_demand(self) -> Decimal:
        demanded = sum((r["amount"] - r["received_total"] for r in self.refunds), Decimal("0.00"))
        return max(Decimal("0.00"), (self.refund_due or Decimal("0.00")) - demanded)

    def payment_checks(self, *, on: date, tranche: str, amount: Decimal | None, justified_expenses: Decimal | None,
                       legality: list[Check], bank_on_file: bool, rounding: Rounding) -> tuple[list[Check], Decimal]:
        """Every check of rule 15 for a payment ordered on a date, and the amount it would be."""
        granted = self.granted_amount or Decimal("0.00")
        checks = list(legality)
        convention = self.convention
        if convention is None:
            checks.append(Check("convention_signed", False, "aucune convention rédigée"))
        elif not convention["required"]:
            checks.append(Check("convention_signed", True, "convention non obligatoire pour ce montant"))
        else:
            signed_on = convention.get("signed_on")
            checks.append(Check("convention_signed", signed_on is not None and signed_on <= on,
                                f"signée par les deux parties le {signed_on:%d/%m/%Y}" if signed_on
                                else "signatures manquantes : " + ", ".join(
                                    sorted({"beneficiary", "department"}
                                           - {s["party"] for s in convention["signatures"]}))))
        checks.append(Check("bank_details", bank_on_file, "RIB enregistré" if bank_on_file else "aucun RIB"))
        step = next((s for s in self.plan if s["tranche"] == tranche), None)
        cap = self.final_amount if self.final_amount is not None else granted
        allowed, why = True, ""
        if step is None:
            allowed, why = False, f"tranche « {tranche} » absente du plan de paiement"
        elif tranche in ("single", "advance", "balance") and any(p["tranche"] == tranche for p in self.payments):
            allowed, why = False, f"tranche « {tranche} » déjà ordonnancée"
        elif step["when"] == "report_accepted" and (self.report or {}).get("status") != "accepted":
            allowed, why = False, "le bilan n'est pas encore accepté"
        elif step["when"] == "justified_expenses" and not justified_expenses:
            allowed, why = False, "dépenses justifiées requises pour cette tranche"
        elif step["when"] == "convention_signed" and convention and convention["required"] \
                and convention["status"] != "signed":
            allowed, why = False, "la convention n'est pas signée"
        if amount is None and step is not None:
            if tranche == "single":
                amount = cap - self.ordered_total
            elif tranche == "advance":
                amount = rounding.apply(Decimal(step["share"] or "1") * granted)
            elif tranche == "balance":
                amount = cap - self.ordered_total
            elif justified_expenses and convention:
                amount = self._justified_share(justified_expenses) - self.ordered_total
        amount = amount if amount is not None else Decimal("0.00")
        checks.append(Check("tranche_allowed", allowed and amount > 0,
                            why or (f"tranche « {tranche} » : {amount} €" if amount > 0 else "rien à payer")))
        total = self.ordered_total + amount
        checks.append(Check("within_grant", total <= cap,
                            f"cumul {total} € pour {cap} € "
                            + ("(montant définitif)" if self.final_amount is not None else "attribués")))
        if tranche == "instalment" and justified_expenses and convention:
            share = self._justified_share(justified_expenses)
            checks.append(Check("within_justified_share", total <= share,
                                f"cumul {total} € pour une part justifiée de {share} €"))
        ended = self.status in ("terminated", "lapsed", "closed") or (
            self.termination is not None and self.termination["effective_on"] <= on)
        checks.append(Check("not_terminated_or_lapsed", not ended,
                            f"dossier {self.status}" if ended else "subvention en cours"))
        return checks, amount

    def _justified_share(self, justified: Decimal) -> Decimal:
        granted = self.granted_amount or Decimal("0.00")
        eligible = cast("dict[str, Any]", self.convention)["eligible_cost"]
        return min(granted, (granted * justified / eligible).quantize(Decimal("0.01"))) if eligible else granted

    def order_payment(self, ctx: Ctx, *, tranche: str, amount: Decimal | None, justified_expenses: Decimal | None,
                      legality: list[Check], bank_on_file: bool, rounding: Rounding) -> dict[str, Any]:
        """Orders a payment only if every check passes; otherwise the refusal lists them all."""
        if self.status in ("draft", "submitted", "incomplete", "instructed", "scheduled", "declined",
                           "withdrawn", "refused"):
            raise RuleViolation("not_allowed_in_state",
                                f"Aucun paiement possible : le dossier est « {self.status} ».")
        self._not_before(ctx, self.decision["decided_on"] if self.decision else None, "l'attribution")
        checks, amount = self.payment_checks(on=ctx.effective_on, tranche=tranche, amount=amount,
                                             justified_expenses=justified_expenses, legality=legality,
                                             bank_on_file=bank_on_file, rounding=rounding)
        failed = [c for c in checks if not c.ok]
        if failed:
            money_only = all(c.check in ("within_grant", "within_justified_share") for c in failed)
            raise RuleViolation("payment_exceeds_grant" if money_only else "legality_check_failed",
                                "Paiement refusé : " + "; ".join(f"{c.check} ({c.detail})" for c in failed) + ".",
                                checks)
        payment_id = str(uuid5(self.id, f"payment:{len(self.payments) + 1}"))
        self._record(self.PaymentOrdered, ctx, payment_id=payment_id, tranche=tranche, amount=amount,
                     justified_expenses=justified_expenses, checks=[c.as_dict() for c in checks])
        return self.payments[-1]

    def mark_paid(self, ctx: Ctx, payment_id: str, bank_reference: str) -> Decimal:
        payment = next((p for p in self.payments if p["id"] == payment_id), None)
        if payment is None:
            raise NotFound(f"Paiement introuvable : {payment_id}")
        if payment["status"] != "ordered":
            raise RuleViolation("already_paid", f"Le paiement {payment_id} est déjà payé.")
        self._not_before(ctx, payment["ordered_on"], "l'ordonnancement")
        self._record(self.PaymentMade, ctx, payment_id=payment_id, bank_reference=bank_reference)
        return Decimal(payment["amount"])

    def submit_report(self, ctx: Ctx, *, summary: str, expenses: list[dict[str, Any]], signed_by: str) -> None:
        self._require(("granted", "convention_drafted", "convention_signed"), "déposer le bilan")
        if self.report and self.report["status"] == "accepted":
            raise RuleViolation("report_already_accepted", "Le bilan est déjà accepté.")
        self._not_before(ctx, self.decision["decided_on"] if self.decision else None, "l'attribution")
        self._record(self.ReportSubmitted, ctx, summary=summary, expenses=expenses, signed_by=signed_by)

    def accept_report(self, ctx: Ctx, *, justified_expenses: Decimal, rounding: Rounding) -> Decimal:
        """Settles the grant (rule 17); returns the commitment no longer needed."""
        if not self.report or self.report["status"] != "received":
            raise RuleViolation("no_report", "Aucun bilan reçu à accepter.")
        self._require(("granted", "convention_drafted", "convention_signed"), "accepter le bilan")
        self._not_before(ctx, self.report["submitted_on"], "la réception du bilan")
        final = settle(self.convention["settlement"] if self.convention else "reduce",
                       granted=self.granted_amount or Decimal("0.00"), justified=justified_expenses,
                       eligible_cost=self.convention["eligible_cost"] if self.convention else justified_expenses,
                       rate=self.convention["rate"] if self.convention else Decimal("1"), rounding=rounding)
        released = self._unneeded_commitment(final)
        self._record(self.ReportAccepted, ctx, justified_expenses=justified_expenses, final_amount=final,
                     released=released)
        return released

    def _unneeded_commitment(self, due: Decimal) -> Decimal:
        """What is still committed beyond what is due or already paid: released exactly once."""
        still_committed = (self.granted_amount or Decimal("0.00")) - self.released_total
        return max(Decimal("0.00"), still_committed - max(due, self.paid_total))

    def demand_refund(self, ctx: Ctx, *, title_number: str, issued_on: date, received_by_beneficiary_on: date | None,
                      amount: Decimal | None, reason: str) -> dict[str, Any]:
        """A titre de perception: payable one month after receipt (or issue), rule 18."""
        outstanding = self.refund_outstanding_to_demand
        if outstanding <= 0:
            raise RuleViolation("no_refund_due", "Aucun reversement n'est dû sur ce dossier.")
        if any(r["title_number"] == title_number for r in self.refunds):
            raise RuleViolation("already_exists", f"Le titre {title_number} existe déjà.")
        amount = outstanding if amount is None else amount
        if amount > outstanding:
            raise RuleViolation("refund_exceeds_due",
                                f"Le titre ({amount} €) dépasse le reversement dû restant ({outstanding} €).")
        if received_by_beneficiary_on is not None and received_by_beneficiary_on < issued_on:
            raise RuleViolation("invalid_date", "La réception du titre précède son émission.")
        due_on = add_months(received_by_beneficiary_on or issued_on, 1)
        refund_id = str(uuid5(self.id, f"refund:{title_number}"))
        self._record(self.RefundDemanded, ctx, refund_id=refund_id, title_number=title_number, amount=amount,
                     issued_on=issued_on, received_by_beneficiary_on=received_by_beneficiary_on, due_on=due_on,
                     reason=reason)
        return self.refunds[-1]

    def receive_refund(self, ctx: Ctx, *, refund_id: str, amount: Decimal) -> bool:
        """Records a (partial) receipt; returns whether it restores credits (same year as the payment)."""
        refund = next((r for r in self.refunds if r["id"] == refund_id), None)
        if refund is None:
            raise NotFound(f"Titre introuvable : {refund_id}")
        owed = refund["amount"] - refund["received_total"]
        if amount > owed:
            raise RuleViolation("receipt_exceeds_due",
                                f"L'encaissement ({amount} €) dépasse le restant dû sur le titre ({owed} €).")
        self._not_before(ctx, refund["issued_on"], "l'émission du titre")
        paid_years = [p["paid_on"].year for p in self.payments if p["paid_on"] is not None]
        restores = bool(paid_years) and ctx.effective_on.year == max(paid_years)
        self._record(self.RefundReceived, ctx, refund_id=refund_id, amount=amount, restores_credits=restores)
        return restores

    def notify_termination(self, ctx: Ctx, *, reason: str, notice_received_on: date, hearing_on: date | None) -> None:
        """Résiliation (rule 19): one full month after receipt of the notice, at once for a false declaration."""
        self._require(("granted", "convention_drafted", "convention_signed", "report_accepted"), "résilier")
        if self.termination is not None:
            raise RuleViolation("already_terminated", "Une résiliation est déjà notifiée.")
        immediate = reason in ("false_declaration", "beneficiary_request")
        takes_effect_on = notice_received_on if immediate else add_months(notice_received_on, 1) + timedelta(days=1)
        self._record(self.TerminationNotified, ctx, reason=reason, notice_received_on=notice_received_on,
                     hearing_on=hearing_on, takes_effect_on=takes_effect_on)

    def termination_due(self, today: date) -> bool:
        return (self.termination is not None and self.termination["status"] == "notified"
                and self.termination["effective_on"] <= today)

    def take_termination_effect(self, ctx: Ctx) -> Decimal:
        """On its effective date: what is due is the accepted final amount, or nothing; returns the release."""
        final = self.final_amount if (self.report or {}).get("status") == "accepted" else None
        final = final if final is not None else Decimal("0.00")
        released = self._unneeded_commitment(final)
        self._record(self.Terminated, ctx, final_amount=final, released=released)
        return released

    def lapse_due(self, today: date) -> bool:
        """The report is missing after its due date (rule 16)."""
        if self.status not in ("granted", "convention_drafted", "convention_signed") or self.report:
            return False
        due = (self.convention or {}).get("report_due_on")
        return due is not None and today > due

    def declare_lapsed(self, ctx: Ctx) -> Decimal:
        if not self.lapse_due(ctx.effective_on):
            raise RuleViolation("not_allowed_in_state", "La caducité ne s'applique pas à ce dossier.")
        released = self._unneeded_commitment(Decimal("0.00"))
        self._record(self.Lapsed, ctx, report_due_on=cast("dict[str, Any]", self.convention)["report_due_on"],
                     released=released)
        return released

    def close_if_settled(self, ctx: Ctx) -> bool:
        if self.status != "report_accepted" or self.final_amount is None:
            return False
        if self.balance_due or self.refund_due or any(p["status"] == "ordered" for p in self.payments):
            return False
        self._record(self.Closed, ctx)
        return True

    def _not_before(self, ctx: Ctx, earlier: date | None, what: str) -> None:
        if earlier is not None and ctx.effective_on < earlier:
            raise RuleViolation("invalid_date",
                                f"La date du {ctx.effective_on:%d/%m/%Y} précède {what} "
                                f"({earlier:%d/%m/%Y}).")

    # --- view -----------------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """The whole current state, in the shape of the API contract (later stages stay empty)."""
        instruction = self.instruction or {}
        return {
            "id": str(self.id), "reference": self.reference, "status": self.status,
            "programme_id": str(self.programme_id), "applicant_id": str(self.applicant_id),
            "project_name": self.project_name, "total_budget": self.total_budget,
            "amount_requested": self.amount_requested, "other_public_funding": self.other_public_funding,
            "submitted_on": self.submitted_on, "sworn_statement": self.sworn_statement,
            "documents": [dict(d) for d in self.documents],
            "requested_documents": list(self.requested_documents),
            "instruction": dict(instruction) if instruction else None,
            "proposed_amount": instruction.get("proposed_amount"),
            "decision": self.decision,
            "granted_amount": self.granted_amount,
            "deliberation_id": str(self.deliberation_id) if self.deliberation_id else None,
            "budget_line_id": str(self.budget_line_id) if self.budget_line_id else None,
            "convention": _copy(self.convention), "payments": [dict(p) for p in self.payments],
            "paid_total": self.paid_total, "refunded_total": self.refunded_total,
            "report": _copy(self.report), "final_amount": self.final_amount, "balance_due": self.balance_due,
            "refund_due": self.refund_due, "refunds": [dict(r) for r in self.refunds],
            "termination": _copy(self.termination), "lapse": _copy(self.lapse), "closed_on": self.closed_on,
            "version": self.version,
        }


def _copy(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)


def settle(rule: str, *, granted: Decimal, justified: Decimal, eligible_cost: Decimal, rate: Decimal,
           rounding: Rounding) -> Decimal:
    """The final amount after the report (rule 17): `prorata` (003) or `reduce` (002), then rounded."""
    if rule == "prorata":
        by_share = granted * justified / eligible_cost if eligible_cost else granted
        final = min(granted, by_share, rate * justified)
    else:
        final = min(granted, justified)
    return min(granted, rounding.apply(final))


def _check_amounts(total_budget: Decimal, amount_requested: Decimal) -> None:
    if amount_requested > total_budget:
        raise RuleViolation("amount_exceeds_budget",
                            f"Le montant demandé ({amount_requested} €) dépasse le budget total "
                            f"du projet ({total_budget} €).")


class ReferenceSequence(Record):
    """The yearly counter of dossier references ("2026-00042"): unique, never reused."""

    if TYPE_CHECKING:  # state set by apply(); runtime annotations would become dataclass fields
        year: int
        last: int

    @staticmethod
    def id_for(year: int) -> UUID:
        return uuid5(NAMESPACE, f"dossier-references:{year}")

    class Started(Record.Created):
        year: int

        def apply(self, s: ReferenceSequence) -> None:
            s.year, s.last = self.year, 0

    class Issued(Record.Event):
        number: int
        dossier_id: UUID

        def apply(self, s: ReferenceSequence) -> None:
            s.last = self.number

    @classmethod
    def start(cls, ctx: Ctx, year: int) -> ReferenceSequence:
        return cls._start(cls.Started, ctx, cls.id_for(year), year=year)

    def issue(self, ctx: Ctx, dossier_id: UUID) -> str:
        self._record(self.Issued, ctx, number=self.last + 1, dossier_id=dossier_id)
        return f"{self.year}-{self.last:05d}"
