"""The dossier: one application and the grant that follows it (intake part of the lifecycle)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4, uuid5

from domain.errors import RuleViolation
from domain.programme import NAMESPACE, Programme
from domain.record import Record
from domain.values import Ctx, rate_of

EDITABLE = ("draft", "incomplete")


class Dossier(Record):
    """A grant application; public methods decide and raise, nested events only record."""

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

        def apply(self, d: Dossier) -> None:
            d.status, d.deliberation_id, d.scheduled_amount = "scheduled", self.deliberation_id, self.amount

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

    # --- commands -------------------------------------------------------------------------

    @classmethod
    def open(cls, ctx: Ctx, *, programme: Programme, applicant_id: UUID, project_name: str,
             total_budget: Decimal, amount_requested: Decimal,
             other_public_funding: Decimal | None) -> Dossier:
        _check_amounts(total_budget, amount_requested)
        return cls._start(cls.Opened, ctx, uuid4(), programme_id=programme.id, applicant_id=applicant_id,
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

    def schedule(self, ctx: Ctx, deliberation_id: UUID, amount: Decimal) -> None:
        """Puts the dossier on a deliberation: it must be instructed with a favourable opinion."""
        if self.status == "scheduled":
            raise RuleViolation("already_scheduled",
                                f"Le dossier {self.reference} figure déjà sur une délibération en attente de vote.")
        self._require(("instructed",), "inscrire le dossier à une délibération")
        if (self.instruction or {}).get("opinion") != "favourable":
            raise RuleViolation("unfavourable_opinion",
                                f"Le dossier {self.reference} a reçu un avis défavorable : il ne peut être proposé.")
        self._record(self.Scheduled, ctx, deliberation_id=deliberation_id, amount=amount)

    def grant(self, ctx: Ctx, deliberation_id: UUID) -> None:
        self._require(("scheduled",), "attribuer la subvention")
        self._record(self.Granted, ctx, deliberation_id=deliberation_id, amount=self.scheduled_amount)

    def refuse(self, ctx: Ctx, deliberation_id: UUID) -> None:
        self._require(("scheduled",), "refuser la subvention")
        self._record(self.Refused, ctx, deliberation_id=deliberation_id)

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
            "convention": None, "payments": [],
            "paid_total": Decimal("0.00"), "report": None, "final_amount": None, "balance_due": None,
            "refund_due": None, "refunds": [], "termination": None, "lapse": None,
            "version": self.version,
        }


def _check_amounts(total_budget: Decimal, amount_requested: Decimal) -> None:
    if amount_requested > total_budget:
        raise RuleViolation("amount_exceeds_budget",
                            f"Le montant demandé ({amount_requested} €) dépasse le budget total "
                            f"du projet ({total_budget} €).")


class ReferenceSequence(Record):
    """The yearly counter of dossier references ("2026-00042"): unique, never reused."""

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
