"""Value objects: money in Decimal cents, rates, rounding rules, SIRET, IBAN, actor, context."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from domain.errors import InvalidValue

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""A decimal as text: ASCII digits only — no spaces, no `_` separators, no other script's digits, which
Decimal() would otherwise read silently ("1_000", " 100 ", "١٠٠" are all 100 or 1000 to it)."""


def money(value: object, *, field: str = "amount", allow_zero: bool = False,
          allow_negative: bool = False) -> Decimal:
    """Parses euros with at most two decimals into a Decimal quantized to the cent; never a float."""
    if isinstance(value, (bool, float)):
        raise InvalidValue(field, "Montant invalide : utiliser une chaîne décimale (ex. \"9380.00\").")
    if isinstance(value, str) and not DECIMAL_TEXT.fullmatch(value):
        raise InvalidValue(field, "Montant invalide : chiffres 0-9 et point décimal seulement (ex. \"9380.00\").")
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise InvalidValue(field, "Montant invalide : ce n'est pas un nombre.") from None
    if not amount.is_finite():
        raise InvalidValue(field, "Montant invalide : ce n'est pas un nombre fini.")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and amount != amount.quantize(CENT):
        raise InvalidValue(field, "Montant invalide : au plus deux décimales.")
    if abs(amount) >= Decimal("1000000000000"):
        raise InvalidValue(field, "Montant invalide : trop grand.")
    amount = amount.quantize(CENT)
    if amount < 0 and not allow_negative:
        raise InvalidValue(field, "Montant invalide : il ne peut pas être négatif.")
    if amount == 0 and not allow_zero:
        raise InvalidValue(field, "Montant invalide : il doit être supérieur à zéro.")
    return amount


def rate(value: object, *, field: str = "rate") -> Decimal:
    """Parses a fraction in [0, 1] given as a decimal string ("0.3744" for 37.44 %)."""
    if isinstance(value, (bool, float)):
        raise InvalidValue(field, "Taux invalide : utiliser une fraction décimale (ex. \"0.3744\").")
    try:
        fraction = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise InvalidValue(field, "Taux invalide : ce n'est pas un nombre.") from None
    if not fraction.is_finite() or fraction < 0 or fraction > 1:
        raise InvalidValue(field, "Taux invalide : une fraction entre 0 et 1 est attendue.")
    exponent = fraction.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        raise InvalidValue(field, "Taux invalide : au plus six décimales.")
    return fraction


class Rounding(StrEnum):
    """How a programme rounds computed amounts (rule 4)."""

    CENT = "cent"
    EURO = "euro"
    TEN_EUROS = "ten_euros"

    @property
    def unit(self) -> Decimal:
        return {"cent": CENT, "euro": Decimal("1"), "ten_euros": Decimal("10")}[self.value]

    def apply(self, amount: Decimal) -> Decimal:
        """Rounds half-up to the unit, then back to cents."""
        unit = self.unit
        return ((amount / unit).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * unit).quantize(CENT)

    def is_rounded(self, amount: Decimal) -> bool:
        return self.apply(amount) == amount


def rate_of(amount: Decimal, base: Decimal) -> Decimal:
    """The rate amount/base as a fraction with four decimals, half-up (7000/18695 → 0.3744)."""
    if base <= 0:
        return Decimal("0")
    return (amount / base).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def share_of(fraction: Decimal, base: Decimal) -> Decimal:
    """fraction × base rounded half-up to the cent."""
    return (fraction * base).quantize(CENT, rounding=ROUND_HALF_UP)


_SIRET = re.compile(r"^\d{14}$")


def siret(value: object, *, field: str = "siret") -> str:
    """Validates a SIRET: 14 digits whose Luhn key is valid (La Poste's establishments excepted)."""
    text = re.sub(r"\s", "", str(value or ""))
    if not _SIRET.match(text):
        raise InvalidValue(field, "SIRET invalide : 14 chiffres attendus.")
    if not luhn_ok(text) and not (text.startswith("356000000") and sum(map(int, text)) % 5 == 0):
        raise InvalidValue(field, "SIRET invalide : la clé de contrôle (Luhn) est fausse.")
    return text


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")
_BIC = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")


def iban(value: object, *, field: str = "iban") -> str:
    """Validates an IBAN's ISO 13616 check digits (mod 97 = 1); returns it without spaces."""
    text = re.sub(r"\s", "", str(value or "")).upper()
    if not _IBAN.match(text):
        raise InvalidValue(field, "IBAN invalide : format attendu FRkk BBBB BGGG GGCC CCCC CCCC CKK.")
    rearranged = text[4:] + text[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    if int(number) % 97 != 1:
        raise InvalidValue(field, "IBAN invalide : la clé de contrôle est fausse.")
    return text


def bic(value: object, *, field: str = "bic") -> str:
    text = re.sub(r"\s", "", str(value or "")).upper()
    if not _BIC.match(text):
        raise InvalidValue(field, "BIC invalide : 8 ou 11 caractères attendus.")
    return text


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
"""No free text holds a control character but tab and line breaks (NUL cannot be stored in PostgreSQL text),
nor a lone surrogate (not Unicode: it cannot be encoded, stored or hashed)."""


def text(value: object, *, field: str, max_length: int, required: bool = True) -> str:
    """A stripped free-text value with a length limit."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidValue(field, "Texte attendu.")
    stripped = value.strip()
    if required and not stripped:
        raise InvalidValue(field, "Ce champ est obligatoire.")
    if CONTROL_CHARACTERS.search(stripped):
        raise InvalidValue(field, "Caractère interdit : caractère de contrôle ou texte Unicode invalide.")
    if len(stripped) > max_length:
        raise InvalidValue(field, f"Au plus {max_length} caractères.")
    return stripped


@dataclass(frozen=True)
class Actor:
    """Who recorded a fact: a user's name and role."""

    name: str
    role: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "role": self.role}


@dataclass(frozen=True)
class Ctx:
    """The context of a command: who acts, the real-world date of the fact, and today's date."""

    actor: Actor
    effective_on: date
    today: date
