"""Small builders for unit tests: an in-memory application and the real amounts of the seeds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from domain.application import Subventio
from domain.programme import ProgrammeRules
from domain.values import Actor, Ctx

ADMIN = Actor("Mme Admin", "admin")
INSTRUCTOR = Actor("M. Instructeur", "instructor")
APPLICANT = Actor("Association", "applicant")
SIRET = "73282932000074"
IBAN = "FR7630006000011234567890189"


def memory_app() -> Subventio:
    return Subventio(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def ctx(actor: Actor = ADMIN, on: date = date(2025, 6, 1)) -> Ctx:
    return Ctx(actor, on, on)


def programme(app: Subventio, *, closes_on: date = date(2025, 6, 30), rules: dict[str, Any] | None = None,
              required: dict[str, list[str]] | None = None, code: str = "AAP-EUR-2025") -> Any:
    line = app.open_budget_line(ctx(), code="C05-043A06", imputation="65748//93043",
                                label="Actions européennes et internationales", year=2025,
                                credits=Decimal("10000.00"))
    return app.open_programme(ctx(), code=code, title="Actions européennes 2025", year=2025,
                              opens_on=date(2025, 1, 1), closes_on=closes_on, budget_line_id=line.id,
                              rules=ProgrammeRules.parse(rules or {}),
                              required_documents=required if required is not None else {"association": ["statuts", "rib"]})


def applicant(app: Subventio, kind: str = "association") -> Any:
    return app.register_applicant(ctx(), kind=kind, name="Association des jumelages", siret=SIRET,
                                  address="1 rue de la République, 06000 Nice", email="contact@jumelages.example",
                                  phone=None, legal_representative={"name": "M. Président", "role": "président"},
                                  bank=None)


def dossier(app: Subventio, prog: Any, appl: Any, **overrides: Any) -> Any:
    fields = {"project_name": "Échanges européens 2025", "total_budget": Decimal("18695.00"),
              "amount_requested": Decimal("9380.00"), "other_public_funding": None}
    fields.update(overrides)
    return app.open_dossier(ctx(APPLICANT), programme_id=prog.id, applicant_id=appl.id, **fields)


def attach(app: Subventio, dossier_id: Any, *kinds: str, on: date = date(2025, 6, 1)) -> None:
    for kind in kinds:
        app.attach_document(ctx(APPLICANT, on), dossier_id, kind=kind, label=kind.capitalize(),
                            sha256=(kind.encode().hex() * 64)[:64], size=1234, filename=f"{kind}.pdf",
                            content_type="application/pdf")


def sworn(on: date = date(2025, 6, 1)) -> dict[str, Any]:
    return {"signatory": "M. Président", "place": "Nice", "signed_on": on}
