"""Response schemas of the auditors' endpoints (issue 6): seals, the integrity report, the legality bundle.

Kept apart from `api/schemas.py` so that the audit views change without touching the resources' schemas;
the field types are the same ones (`Money`, `Day`).
"""

from __future__ import annotations

from marshmallow import fields

from api.schemas import (
    AmendmentSchema,
    AttendanceSchema,
    CheckSchema,
    CitesSchema,
    Day,
    InconsistencySchema,
    ItemOutSchema,
    LegalitySchema,
    Money,
    PaymentSchema,
    Rate,
    Schema,
    SignatureSchema,
    VerificationSchema,
    VoteResultSchema,
)


class SealSchema(Schema):
    """A daily seal: the Merkle root of every chain head when it was written (docs/adr/0002-hash-chain.md)."""

    id = fields.String()
    day = Day()
    merkle_root = fields.String(metadata={"description": "SHA-256 hex"})
    aggregates = fields.Integer(metadata={"description": "chaînes couvertes"})
    events = fields.Integer(metadata={"description": "événements couverts"})
    last_position = fields.Integer(metadata={"description": "dernière position du journal couverte"})
    recorded_at = fields.DateTime(format="iso")
    version = fields.Integer()


class SealListSchema(Schema):
    items = fields.List(fields.Nested(SealSchema))


class SealVerificationSchema(Schema):
    day = Day()
    ok = fields.Boolean()
    sealed_root = fields.String(allow_none=True)
    recomputed_root = fields.String(allow_none=True)
    sealed_events = fields.Integer(allow_none=True)
    events_now_before_position = fields.Integer(allow_none=True)
    error = fields.String(metadata={"description": "pourquoi le scellement n'a pu être recalculé"})


class AuditReportSchema(VerificationSchema):
    """`ok` is true only when every chain and every seal verifies."""

    seals = fields.List(fields.Nested(SealVerificationSchema))


# --- the legality bundle of a deliberation ----------------------------------------------------------


class QuorumSchema(Schema):
    members_in_office = fields.Integer()
    present = fields.Integer()
    excused = fields.Integer()
    absent = fields.Integer()
    proxies = fields.Integer()
    voting = fields.Integer(metadata={"description": "présents + pouvoirs"})
    required = fields.Integer(metadata={"description": "majorité des membres en exercice"})
    reached = fields.Boolean()


class BundleActSchema(LegalitySchema):
    number = fields.String()
    session_on = Day()
    signed_on = Day(allow_none=True)
    signatory = fields.String(allow_none=True)


class BundleLineSchema(Schema):
    id = fields.String()
    code = fields.String()
    imputation = fields.String()
    label = fields.String()
    year = fields.Integer()


class BundleApplicantSchema(Schema):
    id = fields.String()
    kind = fields.String()
    name = fields.String()
    siret = fields.String(allow_none=True)


class BundleConventionSchema(Schema):
    status = fields.String()
    required = fields.Boolean()
    eligible_cost = Money(allow_none=True)
    rate = Rate(allow_none=True)
    action_from = Day(allow_none=True)
    action_to = Day(allow_none=True)
    report_due_on = Day(allow_none=True)
    drafted_on = Day(allow_none=True)
    signed_on = Day(allow_none=True)
    cites = fields.Nested(CitesSchema)
    signatures = fields.List(fields.Nested(SignatureSchema))
    amendments = fields.List(fields.Nested(AmendmentSchema))


class BundlePaymentSchema(PaymentSchema):
    checks = fields.List(fields.Nested(CheckSchema), metadata={
        "description": "les contrôles passés quand le paiement a été ordonnancé, tels qu'enregistrés"})


class BundleDossierSchema(Schema):
    id = fields.String()
    reference = fields.String(allow_none=True)
    status = fields.String()
    project_name = fields.String()
    granted_amount = Money(allow_none=True)
    paid_total = Money()
    deliberation_id = fields.String(allow_none=True)
    applicant = fields.Nested(BundleApplicantSchema)
    convention = fields.Nested(BundleConventionSchema, allow_none=True)
    payments = fields.List(fields.Nested(BundlePaymentSchema))


class BundleItemSchema(ItemOutSchema):
    budget_line = fields.Nested(BundleLineSchema)
    dossier = fields.Nested(BundleDossierSchema)
    ready_for_payment = fields.Boolean(allow_none=True)
    checks = fields.List(fields.Nested(CheckSchema), metadata={"description": "un paiement aujourd'hui passerait-il"})
    inconsistencies = fields.List(fields.Nested(InconsistencySchema))


class BundleInconsistencySchema(InconsistencySchema):
    dossier_id = fields.String()
    dossier_reference = fields.String(allow_none=True)


class LegalityBundleSchema(Schema):
    """Everything the contrôle de légalité or the chambre régionale des comptes asks about one deliberation."""

    id = fields.String()
    number = fields.String()
    title = fields.String()
    session_on = Day()
    status = fields.String()
    result = fields.String(allow_none=True)
    attendance = fields.Nested(AttendanceSchema)
    quorum = fields.Nested(QuorumSchema)
    vote = fields.Nested(VoteResultSchema, allow_none=True)
    act = fields.Nested(BundleActSchema)
    items = fields.List(fields.Nested(BundleItemSchema))
    total_amount = Money()
    total_paid = Money()
    inconsistencies = fields.List(fields.Nested(BundleInconsistencySchema))
    version = fields.Integer()
    generated_on = Day()
