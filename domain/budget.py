"""Budget lines: credits of one year; reservations and commitments never exceed them (rule 6)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from domain.errors import RuleViolation
from domain.programme import NAMESPACE
from domain.record import Record
from domain.values import ZERO, Ctx


class BudgetLine(Record):
    """A budget line (code opération + imputation) for one year; id derives from code, imputation, year."""

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

    class CreditsChanged(Record.Event):
        amount: Decimal
        reason: str

        def apply(self, b: BudgetLine) -> None:
            b.credits += self.amount

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

    def as_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "code": self.code, "imputation": self.imputation, "label": self.label,
                "year": self.year, "credits": self.credits, "reserved": self.reserved,
                "committed": self.committed, "paid": self.paid, "available": self.available,
                "version": self.version}

