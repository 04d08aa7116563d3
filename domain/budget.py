"""Budget lines: credits of one year; reservations and commitments never exceed them (rule 6)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

from domain.errors import RuleViolation
from domain.programme import NAMESPACE
from domain.record import Record
from domain.values import ZERO, Ctx


class BudgetLine(Record):
    """A budget line (code opération + imputation) for one year; id derives from code, imputation, year."""

    if TYPE_CHECKING:  # state set by apply(); runtime annotations would become dataclass fields
        code: str
        imputation: str
        label: str
        year: int
        credits: Decimal
        reserved: Decimal
        committed: Decimal
        paid: Decimal
        reservations: dict[str, Decimal]
        commitments: dict[str, Decimal]

    @staticmethod
    def id_for(code: str, imputation: str, year: int) -> UUID:
        return uuid5(NAMESPACE, f"budget-line:{code}:{imputation}:{year}")

    class Opened(Record.Created):
        code: str
        imputation: str
        label: str
        year: int
        credits: Decimal

        def apply(self, b: BudgetLine) -> None:
            b.code, b.imputation, b.label, b.year = self.code, self.imputation, self.label, self.year
            b.credits, b.reserved, b.committed, b.paid = self.credits, ZERO, ZERO, ZERO
            b.reservations, b.commitments = {}, {}

    class CreditsChanged(Record.Event):
        amount: Decimal
        reason: str

        def apply(self, b: BudgetLine) -> None:
            b.credits += self.amount

    class Reserved(Record.Event):
        dossier_id: UUID
        deliberation_id: UUID
        amount: Decimal

        def apply(self, b: BudgetLine) -> None:
            b.reserved += self.amount
            b.reservations[str(self.dossier_id)] = self.amount

    class ReservationReleased(Record.Event):
        dossier_id: UUID
        amount: Decimal

        def apply(self, b: BudgetLine) -> None:
            b.reserved -= self.amount
            b.reservations.pop(str(self.dossier_id), None)

    class Committed(Record.Event):
        dossier_id: UUID
        amount: Decimal

        def apply(self, b: BudgetLine) -> None:
            b.reserved -= b.reservations.pop(str(self.dossier_id), ZERO)
            b.committed += self.amount
            b.commitments[str(self.dossier_id)] = self.amount

    class Paid(Record.Event):
        dossier_id: UUID
        amount: Decimal

        def apply(self, b: BudgetLine) -> None:
            b.paid += self.amount

    class CommitmentReleased(Record.Event):
        dossier_id: UUID
        amount: Decimal

        def apply(self, b: BudgetLine) -> None:
            b.committed -= self.amount
            b.commitments[str(self.dossier_id)] = b.commitments.get(str(self.dossier_id), ZERO) - self.amount

    class MandateReduced(Record.Event):
        dossier_id: UUID
        amount: Decimal

        def apply(self, b: BudgetLine) -> None:
            b.paid -= self.amount
            b.committed -= self.amount
            b.commitments[str(self.dossier_id)] = b.commitments.get(str(self.dossier_id), ZERO) - self.amount

    @classmethod
    def open(cls, ctx: Ctx, *, code: str, imputation: str, label: str, year: int, credits: Decimal) -> BudgetLine:
        return cls._start(cls.Opened, ctx, cls.id_for(code, imputation, year), code=code,
                          imputation=imputation, label=label, year=year, credits=credits)

    @property
    def available(self) -> Decimal:
        return self.credits - self.reserved - self.committed

    def change_credits(self, ctx: Ctx, amount: Decimal, reason: str) -> None:
        if self.credits + amount < self.reserved + self.committed:
            raise RuleViolation(
                "insufficient_credits",
                f"Les crédits ne peuvent descendre sous le réservé + engagé "
                f"({self.reserved + self.committed} €) : {self.credits} + ({amount}) = {self.credits + amount} €.",
            )
        self._record(self.CreditsChanged, ctx, amount=amount, reason=reason)

    def reserve(self, ctx: Ctx, *, dossier_id: UUID, deliberation_id: UUID, amount: Decimal) -> None:
        """Reserves an amount put on a deliberation; availability counts every other reservation (rule 6)."""
        if str(dossier_id) in self.reservations or str(dossier_id) in self.commitments:
            raise RuleViolation("already_reserved", f"Le dossier {dossier_id} est déjà réservé sur cette ligne.")
        if amount > self.available:
            raise RuleViolation(
                "insufficient_credits",
                f"Crédits insuffisants sur {self.code} ({self.imputation}, {self.year}) : disponible "
                f"{self.available} €, proposition {amount} €, solde {self.available - amount} €.",
            )
        self._record(self.Reserved, ctx, dossier_id=dossier_id, deliberation_id=deliberation_id, amount=amount)

    def release(self, ctx: Ctx, dossier_id: UUID) -> None:
        amount = self.reservations.get(str(dossier_id))
        if amount is not None:
            self._record(self.ReservationReleased, ctx, dossier_id=dossier_id, amount=amount)

    def commit_reservation(self, ctx: Ctx, dossier_id: UUID) -> None:
        amount = self.reservations.get(str(dossier_id))
        if amount is None:
            raise RuleViolation("not_reserved", f"Aucune réservation pour le dossier {dossier_id}.")
        self._record(self.Committed, ctx, dossier_id=dossier_id, amount=amount)

    def record_payment(self, ctx: Ctx, dossier_id: UUID, amount: Decimal) -> None:
        self._record(self.Paid, ctx, dossier_id=dossier_id, amount=amount)

    def release_commitment(self, ctx: Ctx, dossier_id: UUID, amount: Decimal) -> None:
        """Releases the part of a commitment that will never be paid (settlement, lapse, termination)."""
        if amount > 0:
            self._record(self.CommitmentReleased, ctx, dossier_id=dossier_id, amount=amount)

    def reduce_mandate(self, ctx: Ctx, dossier_id: UUID, amount: Decimal) -> None:
        """A refund received in the year of payment restores the credits (rule 18)."""
        self._record(self.MandateReduced, ctx, dossier_id=dossier_id, amount=amount)

    def as_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "code": self.code, "imputation": self.imputation, "label": self.label,
                "year": self.year, "credits": self.credits, "reserved": self.reserved,
                "committed": self.committed, "paid": self.paid, "available": self.available,
                "version": self.version}

