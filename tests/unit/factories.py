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
                              required_documents=required if required is not None
                              else {"association": ["statuts", "rib"]})


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


SECRETARY = Actor("Secrétariat des assemblées", "secretary")
FINANCE = Actor("Paierie départementale", "finance")
MEMBERS = [f"Membre {i:02d}" for i in range(1, 45)]


def full_attendance() -> dict[str, Any]:
    return {"present": MEMBERS[:36], "excused": MEMBERS[36:], "absent": [],
            "proxies": [{"from": MEMBERS[36 + i], "to": MEMBERS[i]} for i in range(8)]}


def granted(app: Subventio, *, amount: str, eligible: str, year: int, session_on: date,
            rules: dict[str, Any], number: str, bank: bool = True, executory: bool = True) -> Any:
    """A dossier granted by an adopted (and, by default, executory) deliberation of `session_on`."""
    on = date(year, 3, 1)
    line = app.open_budget_line(ctx(on=on), code="C05-043A06", imputation="65748//93043",
                                label="Actions européennes et internationales", year=year,
                                credits=Decimal("43056.00"))
    prog = app.open_programme(ctx(on=on), code=f"AAP-{number}", title="Ouverture au monde", year=year,
                              opens_on=date(year, 1, 1), closes_on=date(year, 12, 31), budget_line_id=line.id,
                              rules=ProgrammeRules.parse(rules), required_documents={})
    bank_details = {"holder": "Lianes coopération", "iban": IBAN, "bic": "AGRIFRPP"} if bank else None
    appl = _applicant(app, on, number, bank_details)
    d = app.open_dossier(ctx(APPLICANT, on), programme_id=prog.id, applicant_id=appl.id, project_name="ECSI",
                         total_budget=Decimal(eligible), amount_requested=Decimal(amount))
    app.submit_dossier(ctx(APPLICANT, on), d.id, sworn_statement=sworn(on))
    app.instruct_dossier(ctx(INSTRUCTOR, on), d.id, opinion="favourable", proposed_amount=Decimal(amount),
                         eligible_cost=Decimal(eligible))
    deliberation = app.create_deliberation(
        ctx(SECRETARY, session_on), number=number, title="Subvention", session_on=session_on, members_in_office=44,
        attendance=full_attendance(), items=[{"dossier_id": d.id, "amount": Decimal(amount),
                                              "budget_line_id": line.id}])
    app.record_vote(ctx(SECRETARY, session_on), deliberation.id, votes_for=44, votes_against=0, abstention=0,
                    not_participating=[], interested=[])
    if executory:
        app.transmit_deliberation(ctx(SECRETARY, session_on), deliberation.id,
                                  act_id=f"062-226200012-{session_on:%Y%m%d}-lmc1-DE-1-1", transmitted_on=session_on)
        app.publish_deliberation(ctx(SECRETARY, session_on), deliberation.id, mode="electronic")
    return d


def _applicant(app: Subventio, on: date, number: str, bank: dict[str, str] | None) -> Any:
    return app.register_applicant(ctx(on=on), kind="person", name=f"Bénéficiaire {number}", siret=None,
                                  address="5 rue Jules de Vicq, 59800 Lille", email="contact@lianes.example",
                                  phone=None, legal_representative={"name": "Elise MOULENE", "role": "Présidente"},
                                  bank=bank)
