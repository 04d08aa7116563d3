"""Applicants (porteurs de projet): kind, identity, contact, bank details."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

from domain import values
from domain.errors import InvalidValue
from domain.ids import time_ordered_id
from domain.programme import APPLICANT_KINDS, NAMESPACE
from domain.record import Record
from domain.values import Ctx

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def validate_bank(bank: dict[str, str]) -> dict[str, str]:
    """Bank details: holder, IBAN with valid check digits, BIC."""
    return {"holder": values.text(bank.get("holder"), field="bank.holder", max_length=140),
            "iban": values.iban(bank.get("iban"), field="bank.iban"),
            "bic": values.bic(bank.get("bic"), field="bank.bic")}


class Applicant(Record):
    """An association, commune, public body, company or person; a SIRET identifies it once."""

    if TYPE_CHECKING:  # state set by apply(); runtime annotations would become dataclass fields
        kind: str
        name: str
        siret: str | None
        address: str
        email: str
        phone: str | None
        legal_representative: dict[str, str]
        bank: dict[str, str] | None

    @staticmethod
    def id_for(siret: str | None) -> UUID:
        return uuid5(NAMESPACE, f"applicant:{siret}") if siret else time_ordered_id()

    class Registered(Record.Created):
        kind: str
        name: str
        siret: str | None
        address: str
        email: str
        phone: str | None
        legal_representative: dict[str, str]
        bank: dict[str, str] | None

        def apply(self, a: Applicant) -> None:
            a.kind, a.name, a.siret, a.address = self.kind, self.name, self.siret, self.address
            a.email, a.phone = self.email, self.phone
            a.legal_representative, a.bank = dict(self.legal_representative), self.bank

    class BankDetailsChanged(Record.Event):
        bank: dict[str, str]

        def apply(self, a: Applicant) -> None:
            a.bank = dict(self.bank)

    @classmethod
    def register(cls, ctx: Ctx, *, kind: str, name: str, siret: str | None, address: str, email: str,
                 phone: str | None, legal_representative: dict[str, str], bank: dict[str, str] | None) -> Applicant:
        if kind not in APPLICANT_KINDS:
            raise InvalidValue("kind", f"Type inconnu (attendu : {', '.join(APPLICANT_KINDS)}).")
        if kind != "person" or siret:
            siret = values.siret(siret)
        if not EMAIL.match(email or ""):
            raise InvalidValue("email", "Adresse électronique invalide.")
        bank = validate_bank(bank) if bank is not None else None
        return cls._start(cls.Registered, ctx, cls.id_for(siret), kind=kind, name=name, siret=siret,
                          address=address, email=email, phone=phone,
                          legal_representative=legal_representative, bank=bank)

    def change_bank(self, ctx: Ctx, bank: dict[str, str]) -> None:
        self._record(self.BankDetailsChanged, ctx, bank=validate_bank(bank))

    def as_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "kind": self.kind, "name": self.name, "siret": self.siret,
                "address": self.address, "email": self.email, "phone": self.phone,
                "legal_representative": self.legal_representative, "bank": self.bank,
                "version": self.version}
