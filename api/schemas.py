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
    """A real-world date: today at the latest, and not before 2000 (the years the service knows)."""

    EARLIEST = date(2000, 1, 1)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        day = super()._deserialize(value, attr, data, **kwargs)
        if day > current_services().today():
            raise ma.ValidationError("La date ne peut pas être dans le futur.")
        if day < self.EARLIEST:
            raise ma.ValidationError(f"La date ne peut pas être antérieure au {self.EARLIEST:%d/%m/%Y}.")
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


class NotificationSchema(Schema):
    kind = fields.String(metadata={"example": "acknowledgment"})
    to = fields.String(metadata={"example": "contact@lianes.example"})
    subject = fields.String()
    sent_at = fields.DateTime(format="iso")


class NotificationListSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema))


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


# --- deliberations (issue 3) -------------------------------------------------------------------


class ProxySchema(Schema):
    giver = Text(200, required=True, data_key="from", metadata={"example": "Membre 37"})
    holder = Text(200, required=True, data_key="to", metadata={"example": "Membre 01"})


class AttendanceSchema(Schema):
    present = fields.List(Text(200), load_default=list)
    excused = fields.List(Text(200), load_default=list)
    absent = fields.List(Text(200), load_default=list)
    proxies = fields.List(fields.Nested(ProxySchema), load_default=list)

    @ma.post_load
    def named(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Proxies as the domain (and the contract) name them: {from, to}."""
        return dict(data, proxies=[{"from": p["giver"], "to": p["holder"]} for p in data["proxies"]])

    @ma.pre_dump
    def as_sent(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return dict(data, proxies=[{"giver": p["from"], "holder": p["to"]} for p in data.get("proxies", [])])


class ItemSchema(Schema):
    dossier_id = fields.UUID(required=True)
    amount = Money(required=True, metadata={"example": "9380.00"})
    budget_line_id = fields.UUID(required=True)


class DeliberationDraftSchema(Schema):
    number = Text(30, required=True, metadata={"example": "2025-344"})
    title = Text(500, required=True)
    session_on = Day(required=True, metadata={"example": "2025-09-15"})
    members_in_office = fields.Integer(strict=True, required=True,
                                       validate=validate.Range(1, 1000, error="Entre {min} et {max}."))
    attendance = fields.Nested(AttendanceSchema, required=True)
    items = fields.List(fields.Nested(ItemSchema), required=True,
                        validate=validate.Length(min=1, max=500, error="Entre {min} et {max} dossiers."))
    drafted_on = FactDate(metadata={"description": "inscription des dossiers (réservation des crédits) ; par "
                                                   "défaut la date de séance si elle est passée, sinon aujourd'hui"})


def count_field(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(0, 1000, error="Entre {min} et {max}."), **kwargs)


class VoteSchema(Schema):
    voted_on = FactDate()
    votes_for = count_field(required=True, data_key="for")
    votes_against = count_field(required=True, data_key="against")
    abstention = count_field(required=True, metadata={"description": "y compris les membres ne prenant pas part"})
    not_participating = fields.List(Text(200), load_default=list)
    interested = fields.List(Text(200), load_default=list)
    president_casting_vote = one_of(("for", "against"), allow_none=True, load_default=None)


class VoteResultSchema(Schema):
    voted_on = Day()
    votes_for = fields.Integer(data_key="for", attribute="for")
    votes_against = fields.Integer(data_key="against", attribute="against")
    abstention = fields.Integer()
    not_participating = fields.List(fields.String())
    interested = fields.List(fields.String())
    president_casting_vote = fields.String(allow_none=True)


class DeliberationSignSchema(Schema):
    signed_on = FactDate()
    signatory = Text(200, required=True, metadata={"example": "Jean-Claude LEROY"})


class TransmissionSchema(Schema):
    act_id = Text(100, required=True, metadata={"example": "062-226200012-20250915-lmc1526130-DE-1-1"})
    transmitted_on = FactDate(metadata={"description": "télétransmission (par défaut : l'accusé de réception)"})
    acknowledged_on = FactDate(metadata={"description": "accusé de réception de la préfecture, date d'effet "
                                                        "(par défaut : la télétransmission, sinon aujourd'hui)"})

    @ma.post_load
    def dates(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        acknowledged = data.get("acknowledged_on") or data.get("transmitted_on")
        return dict(data, acknowledged_on=acknowledged, transmitted_on=data.get("transmitted_on") or acknowledged)

    @ma.validates_schema
    def in_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("transmitted_on") and data.get("acknowledged_on") and \
                data["acknowledged_on"] < data["transmitted_on"]:
            raise ma.ValidationError("L'accusé de réception précède la télétransmission.", "acknowledged_on")


class PublicationSchema(Schema):
    published_on = FactDate()
    mode = one_of(("display", "electronic"), required=True)


class PrefectLetterSchema(Schema):
    kind = one_of(("observations", "request_documents", "referral"), required=True)
    received_on = FactDate()
    summary = Text(2000, required=True)


class LetterSchema(Schema):
    kind = fields.String()
    received_on = Day()
    summary = fields.String()


class LegalitySchema(Schema):
    act_id = fields.String(allow_none=True)
    transmitted_on = Day(allow_none=True)
    acknowledged_on = Day(allow_none=True)
    published_on = Day(allow_none=True)
    publication_mode = fields.String(allow_none=True)
    executory_on = Day(allow_none=True)
    referral_deadline = Day(allow_none=True)
    letters = fields.List(fields.Nested(LetterSchema))
    referred = fields.Boolean()


class ItemOutSchema(Schema):
    dossier_id = fields.String()
    amount = Money()
    budget_line_id = fields.String()


class DeliberationSchema(Schema):
    """A deliberation: attendance, vote, signature and its contrôle de légalité."""

    id = fields.String()
    number = fields.String(metadata={"example": "2025-344"})
    title = fields.String()
    session_on = Day()
    members_in_office = fields.Integer()
    attendance = fields.Nested(AttendanceSchema)
    status = fields.String(metadata={"example": "adopted"})
    vote = fields.Nested(VoteResultSchema, allow_none=True)
    result = fields.String(allow_none=True)
    signed_on = Day(allow_none=True)
    signatory = fields.String(allow_none=True)
    legality = fields.Nested(LegalitySchema)
    items = fields.List(fields.Nested(ItemOutSchema))
    version = fields.Integer()


class DeliberationQuerySchema(Schema):
    status = one_of(("draft", "adopted", "rejected"))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200, error="Entre {min} et {max}."))
    cursor = fields.String()


class ActSummarySchema(Schema):
    """An act as the read model lists it (the register of acts)."""

    id = fields.String()
    number = fields.String()
    title = fields.String()
    session_on = Day()
    status = fields.String()
    result = fields.String(allow_none=True)
    items = fields.Integer()
    total_amount = Money()
    signed_on = Day(allow_none=True)
    act_id = fields.String(allow_none=True)
    transmitted_on = Day(allow_none=True)
    acknowledged_on = Day(allow_none=True)
    published_on = Day(allow_none=True)
    publication_mode = fields.String(allow_none=True)
    executory_on = Day(allow_none=True)
    referral_deadline = Day(allow_none=True)
    letters = fields.Integer()
    referred = fields.Boolean()
    version = fields.Integer()


class DeliberationPageSchema(Schema):
    items = fields.List(fields.Nested(ActSummarySchema))
    next_cursor = fields.String(allow_none=True)


class PeriodQuerySchema(Schema):
    date_from = Day(data_key="from", metadata={"description": "à partir de cette date (incluse)"})
    date_to = Day(data_key="to", metadata={"description": "jusqu'à cette date (incluse)"})

    @ma.validates_schema
    def in_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ma.ValidationError("La fin de la période précède son début.", "to")


class RegisterActSchema(ActSummarySchema):
    pending = fields.List(fields.String(), metadata={
        "description": "ce que l'acte attend : vote, signature, transmission, publication, referral_window "
                       "(délai de déféré du préfet encore ouvert)"})
    referral_window_open = fields.Boolean()


class LegalityRegisterSchema(Schema):
    items = fields.List(fields.Nested(RegisterActSchema))


# --- execution on a granted dossier (issue 4) --------------------------------------------------


class CitesInSchema(Schema):
    deliberation_number = Text(30, allow_none=True, load_default=None, metadata={"example": "2025-344"})
    deliberation_date = Day(allow_none=True, load_default=None)
    amount = Money(allow_none=True, load_default=None)
    budget_code = Text(100, allow_none=True, load_default=None, metadata={"example": "C05-043A06"})


class ConventionDraftSchema(Schema):
    eligible_cost = Money(required=True, metadata={"example": "18695.00"})
    rate = Rate(allow_none=True, load_default=None)
    action_from = Day(required=True)
    action_to = Day(required=True)
    report_due_on = Day(allow_none=True, load_default=None,
                        metadata={"description": "par défaut, la règle du dispositif"})
    payment_plan = fields.List(fields.Nested(PlanStepSchema), allow_none=True, load_default=None)
    settlement = one_of(SETTLEMENTS, allow_none=True, load_default=None)
    cites = fields.Nested(CitesInSchema, required=True, metadata={
        "description": "ce que la convention cite de la délibération (comparé à l'acte : incohérences signalées)"})
    drafted_on = FactDate()


class ConventionSignatureSchema(Schema):
    party = one_of(("beneficiary", "department"), required=True)
    signatory = Text(200, required=True)
    signed_on = FactDate()


class AmendmentChangesSchema(Schema):
    report_due_on = Day()
    action_to = Day()


class AmendmentInSchema(Schema):
    changes = fields.Nested(AmendmentChangesSchema, required=True)
    reason = Text(2000, required=True)
    signed_on = FactDate()


class PaymentOrderSchema(Schema):
    tranche = one_of(TRANCHES, required=True)
    amount = Money(allow_none=True, load_default=None, metadata={"description": "par défaut, selon le plan"})
    ordered_on = FactDate()
    justified_expenses = Money(allow_none=True, load_default=None)


class PaidSchema(Schema):
    paid_on = FactDate()
    bank_reference = Text(100, required=True, metadata={"example": "VIR-2025-LIANES"})


class ExpenseInSchema(Schema):
    label = Text(200, required=True)
    amount = Money(required=True)


class ReportInSchema(Schema):
    submitted_on = FactDate()
    summary = Text(5000, required=True)
    expenses = fields.List(fields.Nested(ExpenseInSchema), load_default=list,
                           validate=validate.Length(max=500, error="Au plus {max} lignes."))
    signed_by = Text(200, required=True)


class ReportAcceptanceSchema(Schema):
    accepted_on = FactDate()
    justified_expenses = Money(required=True, allow_zero=True, metadata={"example": "11879.54"})


class RefundDemandSchema(Schema):
    title_number = Text(100, required=True, metadata={"example": "T-2024-118"})
    issued_on = FactDate()
    received_by_beneficiary_on = PastDate(allow_none=True, load_default=None)
    amount = Money(allow_none=True, load_default=None, metadata={"description": "par défaut, le reversement dû"})
    reason = Text(2000, required=True)


class RefundReceiptSchema(Schema):
    received_on = FactDate()
    amount = Money(required=True, metadata={"example": "2552.30"})


TERMINATION_REASONS = ("non_execution", "misuse", "refused_control", "false_declaration", "beneficiary_request")


class TerminationInSchema(Schema):
    reason = one_of(TERMINATION_REASONS, required=True)
    notice_received_on = FactDate(metadata={"description": "réception de la notification par le bénéficiaire"})
    hearing_on = PastDate(allow_none=True, load_default=None)

    @ma.validates_schema
    def heard_first(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("hearing_on") and data.get("notice_received_on") and \
                data["hearing_on"] > data["notice_received_on"]:
            raise ma.ValidationError("L'audition du bénéficiaire précède la notification.", "hearing_on")


class InconsistencySchema(Schema):
    field = fields.String(metadata={"example": "deliberation_date"})
    convention = fields.String(allow_none=True)
    deliberation = fields.String()
    detail = fields.String()


class LegalityActSchema(LegalitySchema):
    """A deliberation (with its legality dates) or the convention behind a grant."""

    kind = fields.String(metadata={"example": "deliberation"})
    id = fields.String()
    number = fields.String()
    session_on = Day()
    result = fields.String(allow_none=True)
    status = fields.String()
    signatures = fields.List(fields.Nested(SignatureSchema))
    amendments = fields.List(fields.Nested(AmendmentSchema))


class LegalityReportSchema(Schema):
    ready_for_payment = fields.Boolean()
    checks = fields.List(fields.Nested(CheckSchema))
    acts = fields.List(fields.Nested(LegalityActSchema))
    inconsistencies = fields.List(fields.Nested(InconsistencySchema))


class RefundQuerySchema(Schema):
    status = one_of(("open", "closed"))


class RefundRegisterItemSchema(Schema):
    id = fields.String()
    dossier_id = fields.String()
    dossier_reference = fields.String(allow_none=True)
    applicant_id = fields.String(allow_none=True)
    title_number = fields.String()
    amount = Money()
    issued_on = Day()
    received_by_beneficiary_on = Day(allow_none=True)
    due_on = Day()
    received_total = Money()
    outstanding = Money()
    last_received_on = Day(allow_none=True)
    status = fields.String()
    overdue = fields.Boolean()


class RefundRegisterSchema(Schema):
    items = fields.List(fields.Nested(RefundRegisterItemSchema))


class PaymentQuerySchema(PeriodQuerySchema):
    budget_line_id = fields.UUID()


class PaymentRegisterItemSchema(Schema):
    id = fields.String()
    dossier_id = fields.String()
    dossier_reference = fields.String(allow_none=True)
    deliberation_id = fields.String(allow_none=True)
    budget_line_id = fields.String(allow_none=True)
    tranche = fields.String()
    amount = Money()
    status = fields.String()
    ordered_on = Day()
    paid_on = Day(allow_none=True)
    bank_reference = fields.String(allow_none=True)
    justified_expenses = Money(allow_none=True)


class PaymentRegisterSchema(Schema):
    items = fields.List(fields.Nested(PaymentRegisterItemSchema))
