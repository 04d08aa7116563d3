"""Programmes (dispositifs, appels à projets): dates, caps, rounding, plan, required documents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

from domain.errors import InvalidFields, InvalidValue
from domain.record import Record
from domain.values import Ctx, Rounding, money, rate

NAMESPACE = UUID("6f1c2f3e-9d1a-4c38-9a53-3c0f4b1e2a10")
APPLICANT_KINDS = ("association", "commune", "public_body", "company", "person")
TRANCHES = ("single", "advance", "instalment", "balance")
WHEN = ("convention_signed", "report_accepted", "justified_expenses")
SETTLEMENTS = ("prorata", "reduce")


@dataclass(frozen=True)
class PlanStep:
    tranche: str
    share: Decimal | None
    when: str


@dataclass(frozen=True)
class ProgrammeRules:
    """The programme's rules as parsed values; stored in events as a JSON-native dict."""

    max_amount: Decimal | None
    min_amount: Decimal | None
    max_rate: Decimal | None
    rounding: Rounding
    convention_required_above: Decimal
    settlement: str
    payment_plan: tuple[PlanStep, ...]
    report_due_on: date | None
    report_due_months_after_action_end: int | None

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> ProgrammeRules:
        """Validates the rules given by an admin (or read back from an event)."""
        errors: dict[str, list[str]] = {}

        def field(name: str, parse: Any) -> Any:
            if raw.get(name) is None:
                return None
            try:
                return parse(raw[name])
            except InvalidValue as exc:
                errors.update({f"rules.{name}": exc.fields[next(iter(exc.fields))]})
                return None

        max_amount = field("max_amount", lambda v: money(v, field="max_amount"))
        min_amount = field("min_amount", lambda v: money(v, field="min_amount"))
        max_rate = field("max_rate", lambda v: rate(v, field="max_rate"))
        above = field("convention_required_above",
                      lambda v: money(v, field="convention_required_above", allow_zero=True))
        rounding = raw.get("rounding", "cent")
        if rounding not in {r.value for r in Rounding}:
            errors["rules.rounding"] = ["Valeur attendue : cent, euro ou ten_euros."]
            rounding = "cent"
        settlement = raw.get("settlement", "prorata")
        if settlement not in SETTLEMENTS:
            errors["rules.settlement"] = ["Valeur attendue : prorata ou reduce."]
        plan: list[PlanStep] = []
        for index, step in enumerate(raw.get("payment_plan") or [{"tranche": "single", "when": "convention_signed"}]):
            where = f"rules.payment_plan.{index}"
            if not isinstance(step, dict) or step.get("tranche") not in TRANCHES or step.get("when") not in WHEN:
                errors[where] = ["Tranche attendue : single|advance|instalment|balance, when : "
                                 "convention_signed|report_accepted|justified_expenses."]
                continue
            share = None
            if step.get("share") is not None:
                try:
                    share = rate(step["share"], field="share")
                except InvalidValue:
                    errors[f"{where}.share"] = ["Part attendue : une fraction entre 0 et 1."]
            plan.append(PlanStep(step["tranche"], share, step["when"]))
        due = raw.get("report_due_on")
        if isinstance(due, str):
            try:
                due = date.fromisoformat(due)
            except ValueError:
                errors["rules.report_due_on"] = ["Date attendue au format AAAA-MM-JJ."]
                due = None
        months = raw.get("report_due_months_after_action_end")
        if months is not None and (not isinstance(months, int) or isinstance(months, bool) or not 0 <= months <= 120):
            errors["rules.report_due_months_after_action_end"] = ["Nombre de mois entre 0 et 120 attendu."]
            months = None
        if max_amount is not None and min_amount is not None and min_amount > max_amount:
            errors["rules.min_amount"] = ["Le minimum dépasse le maximum."]
        if errors:
            raise InvalidFields(errors)
        return cls(max_amount, min_amount, max_rate, Rounding(rounding),
                   above if above is not None else Decimal("23000.00"), settlement, tuple(plan), due, months)

    def as_dict(self) -> dict[str, Any]:
        def s(v: Decimal | None) -> str | None:
            return None if v is None else str(v)

        return {
            "max_amount": s(self.max_amount), "min_amount": s(self.min_amount), "max_rate": s(self.max_rate),
            "rounding": self.rounding.value,
            "convention_required_above": str(self.convention_required_above),
            "settlement": self.settlement,
            "payment_plan": [{"tranche": p.tranche, "share": s(p.share), "when": p.when} for p in self.payment_plan],
            "report_due_on": self.report_due_on.isoformat() if self.report_due_on else None,
            "report_due_months_after_action_end": self.report_due_months_after_action_end,
        }


def parse_required_documents(raw: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    result: dict[str, list[str]] = {}
    for kind, docs in (raw or {}).items():
        if kind not in APPLICANT_KINDS:
            errors[f"required_documents.{kind}"] = [
                f"Type de porteur inconnu (attendu : {', '.join(APPLICANT_KINDS)})."]
        elif not isinstance(docs, list) or not all(isinstance(d, str) and 0 < len(d) <= 50 for d in docs):
            errors[f"required_documents.{kind}"] = ["Liste de types de pièces attendue (50 caractères au plus)."]
        else:
            result[kind] = sorted(set(docs))
    if errors:
        raise InvalidFields(errors)
    return result


class Programme(Record):
    """A funding programme; its id derives from its code, which is therefore unique."""

    if TYPE_CHECKING:  # state set by apply(); runtime annotations would become dataclass fields
        code: str
        title: str
        year: int
        opens_on: date
        closes_on: date
        budget_line_id: UUID
        rules_data: dict[str, Any]
        required_documents: dict[str, list[str]]

    @staticmethod
    def id_for(code: str) -> UUID:
        return uuid5(NAMESPACE, f"programme:{code}")

    class Opened(Record.Created):
        code: str
        title: str
        year: int
        opens_on: date
        closes_on: date
        budget_line_id: UUID
        rules: dict[str, Any]
        required_documents: dict[str, list[str]]

        def apply(self, p: Programme) -> None:
            p.code, p.title, p.year = self.code, self.title, self.year
            p.opens_on, p.closes_on, p.budget_line_id = self.opens_on, self.closes_on, self.budget_line_id
            p.rules_data, p.required_documents = self.rules, self.required_documents

    @classmethod
    def open(cls, ctx: Ctx, *, code: str, title: str, year: int, opens_on: date, closes_on: date,
             budget_line_id: UUID, rules: ProgrammeRules, required_documents: dict[str, list[str]]) -> Programme:
        if closes_on < opens_on:
            raise InvalidValue("closes_on", "La date de clôture précède la date d'ouverture.")
        return cls._start(cls.Opened, ctx, cls.id_for(code), code=code, title=title, year=year,
                          opens_on=opens_on, closes_on=closes_on, budget_line_id=budget_line_id,
                          rules=rules.as_dict(), required_documents=required_documents)

    @property
    def rules(self) -> ProgrammeRules:
        return ProgrammeRules.parse(self.rules_data)

    def required_for(self, kind: str) -> list[str]:
        return list(self.required_documents.get(kind, []))

    def as_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "code": self.code, "title": self.title, "year": self.year,
                "opens_on": self.opens_on, "closes_on": self.closes_on,
                "budget_line_id": str(self.budget_line_id), "rules": self.rules_data,
                "required_documents": self.required_documents, "version": self.version}
