"""The demo history, from the seed documents (../shared/seeds); each fact notes its source line.

Issue #2 loads the intake part of two real grants to Lianes coopération (seeds 002 and 003):
budget lines, programmes, the association, both dossiers submitted and instructed. Later issues
extend it with the deliberations, conventions, payments and the Commission Permanente of 2022.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from domain.programme import ProgrammeRules
from domain.values import Actor, Ctx

SECRETARIAT = Actor("Secrétariat des assemblées", "secretary")
ADMIN = Actor("Administration subventio", "admin")
MCEI = Actor("Service MCEI (instruction)", "instructor")

LIANES = {
    "kind": "association", "name": "Lianes coopération",
    "siret": "43853522100024",  # 002 L812, 003 L805: "438 535 221 00024"
    "address": "5 rue Jules de Vicq, 59800 Lille",  # 002 L810
    "email": "contact@lianes-cooperation.example",  # not printed in the seeds: a placeholder
    "phone": None,
    "legal_representative": {"name": "Elise MOULENE", "role": "Présidente"},  # 002 L814
    "bank": None,
}

GRANTS: list[dict[str, Any]] = [
    {
        "source": "seed 003 (deliberation 2023-388, convention 2023)",
        "line": {"code": "C05-043A06", "imputation": "65748//93043",  # 003 L84
                 "label": "Actions européennes et internationales", "year": 2023,
                 "credits": "43056.00"},  # 003 L88 "CP 43 056,00"
        "programme": {"code": "OUVERTURE-MONDE-2023", "title": "L'ouverture au monde : actions d'ECSI 2023",
                      "year": 2023, "opens_on": date(2023, 1, 1), "closes_on": date(2023, 12, 31),
                      "rules": {"settlement": "prorata", "rounding": "cent",  # 003 art. 5: prorata
                                "convention_required_above": "0.00",
                                "payment_plan": [{"tranche": "single", "when": "convention_signed"}],
                                "report_due_on": "2024-04-01"},  # 003 L883
                      "required_documents": {"association": ["statuts", "rib", "budget_previsionnel"]}},
        "dossier": {"project_name": "Actions d'éducation à la citoyenneté et à la solidarité internationale 2023",
                    "total_budget": "18695.00", "amount_requested": "7000.00"},  # 003 L889-890
        "submitted_on": date(2023, 6, 1),  # not printed: assumed before the vote of 18/09/2023
        "instruction": {"opinion": "favourable", "proposed_amount": "7000.00", "eligible_cost": "18695.00",
                        "instructed_on": date(2023, 8, 28)},  # 003 L889: 7 000 € on 18 695 €, 37.44 %
    },
    {
        "source": "seed 002 (deliberation 2025-344, convention 2025)",
        "line": {"code": "C05-043A06", "imputation": "65748//93043",  # 002 L73
                 "label": "Actions européennes et internationales", "year": 2025,
                 "credits": "10000.00"},  # 002 L73 "10 000,00 | 9 380,00"
        "programme": {"code": "OUVERTURE-MONDE-2025", "title": "L'ouverture au monde : accompagnement 62MEI "
                      "et Jumelages 2025", "year": 2025, "opens_on": date(2025, 1, 1),
                      "closes_on": date(2025, 12, 31),
                      "rules": {"settlement": "reduce", "rounding": "cent",  # 002 art. 5: "réduite"
                                "convention_required_above": "0.00",
                                "payment_plan": [{"tranche": "single", "when": "convention_signed"}],
                                "report_due_on": "2026-04-01"},
                      "required_documents": {"association": ["statuts", "rib", "budget_previsionnel"]}},
        "dossier": {"project_name": "Accompagnement et suivi des dispositifs 62MEI et Jumelages 2025",
                    "total_budget": "9380.00", "amount_requested": "9380.00"},  # 002 L1238 total 9 380,00 €
        "submitted_on": date(2025, 6, 2),  # not printed: assumed before the vote of 15/09/2025
        "instruction": {"opinion": "favourable", "proposed_amount": "9380.00", "eligible_cost": "9380.00",
                        "instructed_on": date(2025, 8, 25)},
    },
]

DOCUMENTS = {"statuts": "Statuts de l'association", "rib": "RIB", "budget_previsionnel": "Budget prévisionnel"}


def load(services: Any) -> dict[str, Any]:
    """Loads the demo history through the application's commands; returns what it created."""
    import hashlib

    app = services.app
    today = services.today()

    def ctx(actor: Actor, on: date) -> Ctx:
        return Ctx(actor, on, today)

    applicant = app.register_applicant(ctx(ADMIN, date(2023, 5, 15)), **LIANES)
    created: dict[str, Any] = {"applicant_id": str(applicant.id), "dossiers": [], "budget_lines": [],
                               "programmes": []}
    for grant in GRANTS:
        opened = grant["programme"]["opens_on"]
        line_fields = dict(grant["line"], credits=Decimal(grant["line"]["credits"]))
        line = app.open_budget_line(ctx(ADMIN, opened), **line_fields)
        programme_fields = {k: v for k, v in grant["programme"].items() if k not in ("rules",)}
        programme = app.open_programme(ctx(ADMIN, opened), budget_line_id=line.id,
                                       rules=ProgrammeRules.parse(grant["programme"]["rules"]),
                                       **programme_fields)
        on = grant["submitted_on"]
        fields = {k: Decimal(v) if k != "project_name" else v for k, v in grant["dossier"].items()}
        dossier = app.open_dossier(ctx(MCEI, on), programme_id=programme.id, applicant_id=applicant.id, **fields)
        for kind, label in DOCUMENTS.items():
            content = f"{grant['source']} — {label}".encode()
            app.attach_document(ctx(MCEI, on), dossier.id, kind=kind, label=label,
                                sha256=hashlib.sha256(content).hexdigest(), size=len(content),
                                filename=f"{kind}.pdf", content_type="application/pdf")
        sworn = {"signatory": LIANES["legal_representative"]["name"], "place": "Lille", "signed_on": on}
        dossier = app.submit_dossier(ctx(MCEI, on), dossier.id, sworn_statement=sworn)
        instruction = grant["instruction"]
        dossier = app.instruct_dossier(
            ctx(MCEI, instruction["instructed_on"]), dossier.id, opinion=instruction["opinion"],
            proposed_amount=Decimal(instruction["proposed_amount"]),
            eligible_cost=Decimal(instruction["eligible_cost"]),
            comment=f"Source : {grant['source']}")
        created["budget_lines"].append(str(line.id))
        created["programmes"].append(str(programme.id))
        created["dossiers"].append({"id": str(dossier.id), "reference": dossier.reference,
                                    "status": dossier.status})
    created["admin_token"] = services.tokens.create(role="admin", name="demo-admin", applicant_id=None)
    return created
