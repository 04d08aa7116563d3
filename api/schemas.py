"""Marshmallow schemas: the validation of every request and the shape of every response (and the OpenAPI).

Value rules (money, rates, SIRET, IBAN, BIC, text) are the domain's own functions wrapped as fields,
so they live in one place. Numbers arrive as Decimal (see common.JSONProvider), never as floats.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from api.auth import current_user
from api.services import current_services
from domain import values
from domain.applicant import EMAIL
from domain.errors import InvalidValue
from domain.programme import APPLICANT_KINDS, SETTLEMENTS, TRANCHES, WHEN, ProgrammeRules, parse_required_documents

PARIS = ZoneInfo("Europe/Paris")

# --- fields ----------------------------------------------------------------------------------


def domain_rule(parse: Callable[..., Any], value: Any, attr: str | None, **options: Any) -> Any:
    """Runs a domain parser and turns its InvalidValue into the field's validation messages."""
    try:
        return parse(value, field=attr or "value", **options)
    except InvalidValue as exc:
        raise ma.ValidationError([m for messages in exc.fields.values() for m in messages]) from None


class Money(fields.Field):
    """Euros: in, a string or a JSON number with at most two decimals; out, a string "9380.00"."""

    def __init__(self, *, allow_zero: bool = False, allow_negative: bool = False, **kwargs: Any) -> None:
        self.allow_zero, self.allow_negative = allow_zero, allow_negative
        kwargs["metadata"] = {"example": "9380.00", "description": "Euros : chaîne (ou nombre JSON) avec au plus "
                              "deux décimales ; toujours une chaîne en réponse.", **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        return domain_rule(values.money, value, attr, allow_zero=self.allow_zero,  # type: ignore[no-any-return]
                           allow_negative=self.allow_negative)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else f"{Decimal(str(value)):.2f}"


class Rate(fields.Field):
    """A fraction as a decimal string: "0.3744" for 37.44 %."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {"example": "0.3744"})
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        return domain_rule(values.rate, value, attr)  # type: ignore[no-any-return]

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)


class Text(fields.String):
    """Stripped free text with a length limit; required text may not be blank."""

    def __init__(self, max_length: int, *, blank: bool = False, **kwargs: Any) -> None:
        self.max_length, self.blank = max_length, blank
        kwargs["metadata"] = {"maxLength": max_length, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return domain_rule(values.text, value, attr, max_length=self.max_length,  # type: ignore[no-any-return]
                           required=not self.blank)


class Email(Text):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(254, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        address = super()._deserialize(value, attr, data, **kwargs)
        if not EMAIL.match(address):
            raise ma.ValidationError("Adresse électronique invalide.")
        return address


class Checked(fields.String):
    """A string checked and normalised by a domain function (SIRET, IBAN, BIC)."""

    def __init__(self, parse: Callable[..., str], **kwargs: Any) -> None:
        self.parse = parse
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise ma.ValidationError("Texte attendu.")
        return domain_rule(self.parse, value, attr)  # type: ignore[no-any-return]


class Day(fields.Date):
    """A date YYYY-MM-DD (dumps dates already stored as ISO strings unchanged)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return value if isinstance(value, str) else super()._serialize(value, attr, obj, **kwargs)


class PastDate(Day):
    """A real-world date: today at the latest."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        day = super()._deserialize(value, attr, data, **kwargs)
        if day > current_services().today():
            raise ma.ValidationError("La date ne peut pas être dans le futur.")
        return day


class FactDate(PastDate):
    """The real date of the fact a command records (default today); staff only, never in the future."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {"description": "Date réelle du fait (par défaut aujourd'hui) ; "
                                                      "refusée avec le jeton d'un porteur."})
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        if current_user().is_applicant:
            raise ma.ValidationError("Un porteur ne peut pas choisir la date de ses actes : c'est la date du jour.")
        return super()._deserialize(value, attr, data, **kwargs)


class Instant(fields.DateTime):
    """An ISO instant (UTC if no offset) or a date, meaning the end of that day in Paris."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if isinstance(value, str) and len(value) == 10:
            try:
                day = date.fromisoformat(value)
            except ValueError:
                raise ma.ValidationError("Date AAAA-MM-JJ ou instant ISO 8601 attendu.") from None
            return datetime.combine(day, time.max, tzinfo=PARIS).astimezone(UTC)
        instant = super()._deserialize(value, attr, data, **kwargs)
        return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def one_of(choices: tuple[str, ...] | list[str], **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(choices, error="Valeur attendue : {choices}."), **kwargs)


def year_field(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(2000, 2100, error="Année entre {min} et {max}."),
                          **kwargs)


# --- base schema -----------------------------------------------------------------------------

FRENCH = {"required": "Ce champ est obligatoire.", "null": "Ce champ ne peut pas être null.",
          "invalid_uuid": "Identifiant invalide (UUID attendu).", "type": "Objet JSON attendu."}
INVALID = [(fields.Integer, "Nombre entier attendu."), (fields.Date, "Date attendue au format AAAA-MM-JJ."),
           (fields.DateTime, "Instant ISO 8601 attendu."), (fields.String, "Texte attendu."),
           (fields.List, "Liste attendue."), (fields.Mapping, "Objet JSON attendu."),
           (fields.Boolean, "Booléen attendu.")]


def in_french(field: fields.Field) -> None:
    field.error_messages.update({k: v for k, v in FRENCH.items() if k in field.error_messages})
    field.error_messages.update(next(({"invalid": text} for cls, text in INVALID if isinstance(field, cls)), {}))
    for inner in (getattr(field, "inner", None), getattr(field, "key_field", None),
                  getattr(field, "value_field", None)):
        if inner is not None:
            in_french(inner)


class Schema(ma.Schema):
    """Unknown fields are refused; messages in French."""

    error_messages: ClassVar[dict[str, str]] = {"unknown": "Champ inconnu.", "type": "Objet JSON attendu."}

    class Meta:
        unknown = ma.RAISE

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        in_french(field_obj)


# --- errors, pages, operations ---------------------------------------------------------------


class CheckSchema(Schema):
    check = fields.String()
    ok = fields.Boolean()
    detail = fields.String()


class ErrorBodySchema(Schema):
    code = fields.String(metadata={"example": "deadline_passed"})
    message = fields.String()
    field_messages = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), data_key="fields",
                                 attribute="fields")
    checks = fields.List(fields.Nested(CheckSchema))


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema)


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "ok"})
    store = fields.String(metadata={"example": "ok"})
    broker = fields.String(metadata={"example": "embedded"})
    projections_lag = fields.Integer()


class ChainBreakSchema(Schema):
    aggregate_id = fields.String()
    version = fields.Integer()
    reason = fields.String()


class VerificationSchema(Schema):
    ok = fields.Boolean()
    events_checked = fields.Integer()
    first_broken = fields.Nested(ChainBreakSchema, allow_none=True)


class ActorSchema(Schema):
    name = fields.String()
    role = fields.String()


class HistoryItemSchema(Schema):
    version = fields.Integer()
    type = fields.String(metadata={"example": "Dossier.Submitted"})
    recorded_at = fields.DateTime(format="iso")
    effective_on = Day()
    actor = fields.Nested(ActorSchema)
    data = fields.Dict()
    hash = fields.String()
    previous_hash = fields.String(allow_none=True)


class HistorySchema(Schema):
    items = fields.List(fields.Nested(HistoryItemSchema))


# --- budget lines ----------------------------------------------------------------------------


class BudgetLineSchema(Schema):
    id = fields.String(dump_only=True)
    code = Text(50, required=True, metadata={"example": "C05-043A06"})
    imputation = Text(50, required=True, metadata={"example": "65748//93043"})
    label = Text(200, required=True)
    year = year_field(required=True)
    credits = Money(required=True, metadata={"example": "10000.00"})
    reserved = Money(dump_only=True)
    committed = Money(dump_only=True)
    paid = Money(dump_only=True)
    available = Money(dump_only=True)
    version = fields.Integer(dump_only=True)


class BudgetLineListSchema(Schema):
    items = fields.List(fields.Nested(BudgetLineSchema))


class CreditsChangeSchema(Schema):
    amount = Money(required=True, allow_negative=True, metadata={"example": "-500.00"})
    reason = Text(500, required=True)
    decided_on = FactDate()


# --- programmes ------------------------------------------------------------------------------


class PlanStepSchema(Schema):
    tranche = one_of(TRANCHES, required=True)
    share = Rate(allow_none=True, metadata={"example": "0.50"})
    when = one_of(WHEN, required=True)


class RulesSchema(Schema):
    """Loads into the domain's ProgrammeRules (which checks them as a whole)."""

    max_amount = Money(allow_none=True)
    min_amount = Money(allow_none=True)
    max_rate = Rate(allow_none=True)
    rounding = one_of(("cent", "euro", "ten_euros"), load_default="cent")
    convention_required_above = Money(allow_zero=True, load_default=Decimal("23000.00"),
                                      metadata={"example": "23000.00"})
    settlement = one_of(SETTLEMENTS, load_default="prorata")
    payment_plan = fields.List(fields.Nested(PlanStepSchema))
    report_due_on = Day(allow_none=True)
    report_due_months_after_action_end = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(0, 120, error="Entre {min} et {max} mois."))

    @ma.post_load
    def parse(self, data: dict[str, Any], **kwargs: Any) -> ProgrammeRules:
        return ProgrammeRules.parse(data)


class ProgrammeSchema(Schema):
    id = fields.String(dump_only=True)
    code = Text(50, required=True, metadata={"example": "OUVERTURE-MONDE-2025"})
    title = Text(300, required=True)
    year = year_field(required=True)
    opens_on = Day(required=True)
    closes_on = Day(required=True)
    budget_line_id = fields.UUID(required=True)
    rules = fields.Nested(RulesSchema, required=True)
    required_documents = fields.Dict(keys=one_of(APPLICANT_KINDS), values=fields.List(Text(50)),
                                     load_default=dict,
                                     metadata={"example": {"association": ["statuts", "rib"]}})
    version = fields.Integer(dump_only=True)

    @ma.post_load
    def documents(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return dict(data, required_documents=parse_required_documents(data["required_documents"]))


class ProgrammeListSchema(Schema):
    items = fields.List(fields.Nested(ProgrammeSchema))


# --- applicants ------------------------------------------------------------------------------


class BankSchema(Schema):
    holder = Text(140, required=True)
    iban = Checked(values.iban, required=True, metadata={"example": "FR7630006000011234567890189"})
    bic = Checked(values.bic, required=True, metadata={"example": "AGRIFRPP"})


class RepresentativeSchema(Schema):
    name = Text(200, required=True)
    role = Text(100, required=True)


class ApplicantSchema(Schema):
    id = fields.String(dump_only=True)
    kind = one_of(APPLICANT_KINDS, required=True)
    name = Text(200, required=True)
    siret = Checked(values.siret, allow_none=True, load_default=None,
                    metadata={"description": "14 chiffres, clé de Luhn ; obligatoire sauf pour une personne",
                              "example": "43853522100024"})
    address = Text(500, required=True)
    email = Email(required=True)
    phone = Text(30, allow_none=True, load_default=None)
    legal_representative = fields.Nested(RepresentativeSchema, required=True)
    bank = fields.Nested(BankSchema, allow_none=True, load_default=None)
    version = fields.Integer(dump_only=True)

    @ma.validates_schema
    def siret_unless_person(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("kind") not in (None, "person") and not data.get("siret"):
            raise ma.ValidationError("SIRET obligatoire (sauf pour une personne).", "siret")


# --- dossiers --------------------------------------------------------------------------------


class DossierEditSchema(Schema):
    project_name = Text(300)
    total_budget = Money()
    amount_requested = Money()
    other_public_funding = Money(allow_zero=True, allow_none=True)


class DossierDraftSchema(DossierEditSchema):
    programme_id = fields.UUID(required=True)
    applicant_id = fields.UUID(metadata={"description": "obligatoire pour un instructeur ; "
                                                        "un porteur dépose pour lui-même"})
    project_name = Text(300, required=True)
    total_budget = Money(required=True, metadata={"example": "18695.00"})
    amount_requested = Money(required=True, metadata={"example": "7000.00"})
    other_public_funding = Money(allow_zero=True, allow_none=True, load_default=None)


class DocumentFormSchema(Schema):
    file = Upload(required=True)
    kind = Text(50, required=True, metadata={"example": "statuts"})
    label = Text(50, required=True, metadata={"example": "Statuts de l'association"})
    received_on = FactDate()


class DocumentSchema(Schema):
    id = fields.String()
    kind = fields.String()
    label = fields.String()
    sha256 = fields.String()
    size = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    attached_on = Day()


class SwornStatementSchema(Schema):
    signatory = Text(200, required=True)
    place = Text(100, required=True)
    signed_on = PastDate(required=True)


class SubmitSchema(Schema):
    sworn_statement = fields.Nested(SwornStatementSchema, required=True)
    submitted_on = FactDate()


class RequestDocumentsSchema(Schema):
    documents = fields.List(Text(50), required=True,
                            validate=validate.Length(min=1, error="Au moins une pièce."))
    message = Text(2000, required=True)
    requested_on = FactDate()


class InstructSchema(Schema):
    opinion = one_of(("favourable", "unfavourable"), required=True)
    proposed_amount = Money(allow_none=True, load_default=None)
    eligible_cost = Money(required=True, metadata={"example": "18695.00"})
    rate = Rate(allow_none=True, load_default=None)
    comment = Text(2000, blank=True, load_default="")
    instructed_on = FactDate()


class DeclineSchema(Schema):
    reason = Text(2000, required=True)
    decided_on = FactDate()


class WithdrawSchema(Schema):
    reason = Text(2000, blank=True, load_default="")


class InstructionSchema(Schema):
    opinion = fields.String()
    proposed_amount = Money()
    eligible_cost = Money()
    rate = Rate()
    comment = fields.String()
    instructed_on = Day()


class DecisionSchema(Schema):
    kind = fields.String(metadata={"example": "declined"})
    reason = fields.String()
    deliberation_id = fields.String()
    amount = Money()
    decided_on = Day()


class SignatureSchema(Schema):
    party = fields.String(metadata={"example": "beneficiary"})
    signatory = fields.String()
    signed_on = Day()


class AmendmentSchema(Schema):
    number = fields.Integer()
    changes = fields.Dict()
    reason = fields.String()
    signed_on = Day()


class CitesSchema(Schema):
    deliberation_number = fields.String()
    deliberation_date = Day()
    amount = Money()
    budget_code = fields.String()


class ConventionSchema(Schema):
    status = fields.String(metadata={"example": "signed"})
    eligible_cost = Money()
    rate = Rate()
    action_from = Day()
    action_to = Day()
    report_due_on = Day()
    payment_plan = fields.List(fields.Nested(PlanStepSchema))
    settlement = fields.String()
    cites = fields.Nested(CitesSchema)
    required = fields.Boolean()
    drafted_on = Day()
    signed_on = Day()
    signatures = fields.List(fields.Nested(SignatureSchema))
    amendments = fields.List(fields.Nested(AmendmentSchema))


class PaymentSchema(Schema):
    id = fields.String()
    tranche = fields.String()
    amount = Money()
    status = fields.String()
    ordered_on = Day()
    paid_on = Day(allow_none=True)
    bank_reference = fields.String(allow_none=True)
    justified_expenses = Money(allow_none=True)
    checks = fields.List(fields.Nested(CheckSchema))


class ExpenseSchema(Schema):
    label = fields.String()
    amount = Money()


class ReportSchema(Schema):
    status = fields.String()
    submitted_on = Day()
    summary = fields.String()
    expenses = fields.List(fields.Nested(ExpenseSchema))
    signed_by = fields.String()
    justified_expenses = Money(allow_none=True)
    accepted_on = Day(allow_none=True)


class ReceiptSchema(Schema):
    received_on = Day()
    amount = Money()
    restores_credits = fields.Boolean()


class RefundSchema(Schema):
    id = fields.String()
    title_number = fields.String()
    amount = Money()
    issued_on = Day()
    received_by_beneficiary_on = Day(allow_none=True)
    due_on = Day()
    reason = fields.String()
    received_total = Money()
    receipts = fields.List(fields.Nested(ReceiptSchema))
    status = fields.String()


class TerminationSchema(Schema):
    reason = fields.String()
    notice_received_on = Day()
    hearing_on = Day(allow_none=True)
    effective_on = Day()
    status = fields.String()
    notified_on = Day()


class LapseSchema(Schema):
    lapsed_on = Day()
    report_due_on = Day()
    released = Money()


class DossierSchema(Schema):
    """The whole current state of a dossier (later stages stay empty until they happen)."""

    id = fields.String()
    reference = fields.String(allow_none=True, metadata={"example": "2026-00042"})
    status = fields.String(metadata={"example": "submitted"})
    programme_id = fields.String()
    applicant_id = fields.String()
    project_name = fields.String()
    total_budget = Money()
    amount_requested = Money()
    other_public_funding = Money(allow_none=True)
    submitted_on = Day(allow_none=True)
    sworn_statement = fields.Nested(SwornStatementSchema, allow_none=True)
    documents = fields.List(fields.Nested(DocumentSchema))
    requested_documents = fields.List(fields.String())
    instruction = fields.Nested(InstructionSchema, allow_none=True)
    proposed_amount = Money(allow_none=True)
    decision = fields.Nested(DecisionSchema, allow_none=True)
    granted_amount = Money(allow_none=True)
    deliberation_id = fields.String(allow_none=True)
    budget_line_id = fields.String(allow_none=True)
    convention = fields.Nested(ConventionSchema, allow_none=True)
    payments = fields.List(fields.Nested(PaymentSchema))
    paid_total = Money()
    refunded_total = Money()
    report = fields.Nested(ReportSchema, allow_none=True)
    final_amount = Money(allow_none=True)
    balance_due = Money(allow_none=True)
    refund_due = Money(allow_none=True)
    refunds = fields.List(fields.Nested(RefundSchema))
    termination = fields.Nested(TerminationSchema, allow_none=True)
    lapse = fields.Nested(LapseSchema, allow_none=True)
    closed_on = Day(allow_none=True)
    version = fields.Integer()


class AsOfSchema(Schema):
    as_of = Instant(metadata={"description": "l'état enregistré à cet instant ISO 8601, ou à la fin de cette "
                                             "date (heure de Paris)"})
    effective_on = Day(metadata={"description": "l'état après les faits datés de ce jour ou avant (date réelle)"})

    @ma.validates_schema
    def one_moment(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "as_of" in data and "effective_on" in data:
            raise ma.ValidationError("as_of ou effective_on, pas les deux.", "effective_on")


class DossierQuerySchema(Schema):
    status = fields.String()
    programme_id = fields.UUID()
    applicant_id = fields.UUID()
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200, error="Entre {min} et {max}."))
    cursor = fields.String()


class DossierSummarySchema(Schema):
    id = fields.String()
    reference = fields.String(allow_none=True)
    status = fields.String()
    programme_id = fields.String()
    applicant_id = fields.String()
    project_name = fields.String()
    total_budget = Money()
    amount_requested = Money()
    proposed_amount = Money(allow_none=True)
    granted_amount = Money(allow_none=True)
    submitted_on = Day(allow_none=True)
    version = fields.Integer()
    created_at = fields.DateTime(format="iso")
    updated_at = fields.DateTime(format="iso")


class DossierPageSchema(Schema):
    items = fields.List(fields.Nested(DossierSummarySchema))
    next_cursor = fields.String(allow_none=True)
