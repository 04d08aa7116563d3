"""A realistic event log, fast: real aggregates driven by their own domain methods, saved in batches.

Every event is made by the domain (validated, stamped, hash-chained) exactly as the commands make
it; only the loading is skipped: the generator keeps the aggregates it drives in memory and saves
each stage of a cohort of dossiers in one `app.save(...)` (one transaction), so a million events
take minutes, not hours. The log looks like a Département's: one reference sequence, budget lines
and programmes per year, applicants who file several times, deliberations of ~50 dossiers, and
dossiers that stop at every stage (draft, withdrawn, declined, convention drafted, paid), with the
stages of a cohort interleaved in the log as they would be over a year.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from domain.applicant import Applicant
from domain.budget import BudgetLine
from domain.deliberation import Deliberation
from domain.dossier import Dossier, ReferenceSequence
from domain.programme import Programme, ProgrammeRules
from domain.record import Record
from domain.values import Actor, Ctx, luhn_ok

ADMIN = Actor("Administration", "admin")
APPLICANT = Actor("Porteur", "applicant")
INSTRUCTOR = Actor("Service instructeur", "instructor")
SECRETARY = Actor("Secrétariat des assemblées", "secretary")
FINANCE = Actor("Paierie départementale", "finance")
MEMBERS = [f"Membre {i:02d}" for i in range(1, 45)]
ATTENDANCE = {"present": MEMBERS[:36], "excused": MEMBERS[36:], "absent": [],
              "proxies": [{"from": MEMBERS[36 + i], "to": MEMBERS[i]} for i in range(8)]}
SINGLE = [{"tranche": "single", "when": "convention_signed"}]
RIB = {"holder": "Association", "iban": "FR7630006000011234567890189", "bic": "AGRIFRPP"}

# What becomes of a dossier (cumulative thresholds) and how many events each fate writes in all
# (dossier + reference + budget line): about 10 events per dossier on average.
FATES = (("draft", 0.12), ("withdrawn", 0.22), ("declined", 0.38), ("convention", 0.55), ("paid", 1.0))


@dataclass
class Year:
    year: int
    sequence: ReferenceSequence
    lines: list[BudgetLine]
    programmes: list[Programme]
    deliberations: int = 0


@dataclass
class Generator:
    """Appends cohorts of dossiers to `app`'s store; `saved(events, seconds)` is told after each save."""

    app: Any
    dossiers_per_year: int = 5000
    cohort: int = 250
    per_deliberation: int = 50
    lines_per_year: int = 12
    programmes_per_year: int = 8
    applicants: int = 3000
    first_year: int = 1990
    seed: int = 7
    numbering: int = 0  # first SIRET number of its applicants (two generators into one store must not share them)
    saved: Callable[[int, float], None] | None = None
    events: int = 0
    dossiers: int = 0
    _years: dict[int, Year] = field(default_factory=dict)
    _applicants: list[Applicant] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # --- saving --------------------------------------------------------------------------------

    def _save(self, aggregates: list[Record]) -> None:
        pending = sum(len(a.pending_events) for a in aggregates)
        if not pending:
            return
        start = time.perf_counter()
        self.app.save(*aggregates)
        elapsed = time.perf_counter() - start
        self.events += pending
        if self.saved is not None:
            self.saved(pending, elapsed)

    # --- reference data ------------------------------------------------------------------------

    def _ensure_applicants(self) -> None:
        if self._applicants:
            return
        on = date(self.first_year, 1, 2)
        ctx = Ctx(ADMIN, on, on)
        batch: list[Record] = []
        for i in range(self.applicants):
            kind = ("association", "association", "company", "commune", "person")[i % 5]
            applicant = Applicant.register(
                ctx, kind=kind, name=f"Porteur {i:05d}", siret=None if kind == "person" else siret(self.numbering + i),
                address=f"{i} rue de la République, 62000 Arras", email=f"contact{i}@example.org", phone=None,
                legal_representative={"name": f"Représentant {i}", "role": "président"}, bank=RIB)
            self._applicants.append(applicant)
            batch.append(applicant)
            if len(batch) >= 500:
                self._save(batch)
                batch = []
        self._save(batch)

    def _year(self, year: int) -> Year:
        found = self._years.get(year)
        if found is not None:
            return found
        on = date(year, 1, 5)
        ctx = Ctx(ADMIN, on, on)
        lines = [BudgetLine.open(ctx, code=f"C{n:02d}-{year % 100:02d}A", imputation=f"65{n:03d}//93043",
                                 label=f"Ligne {n} ({year})", year=year, credits=Decimal("900000000.00"))
                 for n in range(self.lines_per_year)]
        programmes = [Programme.open(ctx, code=f"AAP-{year}-{n:02d}", title=f"Appel à projets {n} ({year})",
                                     year=year, opens_on=date(year, 1, 1), closes_on=date(year, 12, 31),
                                     budget_line_id=lines[n % len(lines)].id,
                                     rules=ProgrammeRules.parse({"payment_plan": SINGLE,
                                                                 "convention_required_above": "0.00"}),
                                     required_documents={"association": ["rib"], "company": ["rib", "kbis"]})
                      for n in range(self.programmes_per_year)]
        sequence = ReferenceSequence.start(Ctx(ADMIN, on, on), year)
        self._save([*lines, *programmes, sequence])
        found = Year(year, sequence, lines, programmes)
        self._years[year] = found
        return found

    # --- dossiers ------------------------------------------------------------------------------

    def fate(self) -> str:
        draw = self.rng.random()
        return next(name for name, threshold in FATES if draw < threshold)

    def run(self, dossiers: int) -> None:
        """Appends `dossiers` more dossiers, cohort by cohort."""
        self._ensure_applicants()
        while dossiers > 0:
            size = min(self.cohort, dossiers)
            self._cohort(size)
            dossiers -= size

    def _cohort(self, size: int) -> None:
        year = self.first_year + self.dossiers // self.dossiers_per_year
        y = self._year(year)
        rng = self.rng

        def ctx(actor: Actor, month: int, day: int) -> Ctx:
            on = date(year, month, day)
            return Ctx(actor, on, on)

        opened: list[tuple[Dossier, Programme, Applicant, str]] = []
        for _ in range(size):
            programme = rng.choice(y.programmes)
            applicant = rng.choice(self._applicants)
            total = Decimal(rng.randrange(2_000, 200_000)).quantize(Decimal("1.00"))
            asked = (total * Decimal(rng.choice(("0.2", "0.3", "0.4", "0.5")))).quantize(Decimal("1.00"))
            dossier = Dossier.open(ctx(APPLICANT, 2, 1), programme=programme, applicant_id=applicant.id,
                                   project_name=f"Projet {self.dossiers + len(opened)}", total_budget=total,
                                   amount_requested=asked, other_public_funding=None)
            opened.append((dossier, programme, applicant, self.fate()))
        self.dossiers += size
        for dossier, _, applicant, _ in opened:
            for kind in ("rib", "kbis") if applicant.kind == "company" else ("rib",):
                dossier.attach(ctx(APPLICANT, 2, 10), kind=kind, label=kind.upper(),
                               sha256=f"{rng.getrandbits(256):064x}", size=rng.randrange(10_000, 2_000_000),
                               filename=f"{kind}.pdf", content_type="application/pdf")
        self._save([d for d, _, _, _ in opened])

        moving = [(d, p, a, f) for d, p, a, f in opened if f != "draft"]
        fate_of = {d.id: f for d, _, _, f in opened}
        sworn = {"signatory": "Le président", "place": "Arras", "signed_on": date(year, 3, 1)}
        for dossier, programme, applicant, _ in moving:
            reference = y.sequence.issue(ctx(APPLICANT, 3, 1), dossier.id)
            dossier.submit(ctx(APPLICANT, 3, 1), programme=programme, applicant_kind=applicant.kind,
                           sworn_statement=sworn, reference=reference)
        self._save([*(d for d, _, _, _ in moving), y.sequence])

        for dossier, _, _, fate in moving:
            if fate == "withdrawn":
                dossier.withdraw(ctx(APPLICANT, 3, 20), "Projet abandonné")
        instructed = [(d, p) for d, p, _, f in moving if f != "withdrawn"]
        for dossier, programme in instructed:
            favourable = fate_of[dossier.id] in ("convention", "paid")
            amount = dossier.amount_requested if favourable else Decimal("0.00")
            dossier.instruct(ctx(INSTRUCTOR, 4, 15), programme=programme,
                             opinion="favourable" if favourable else "unfavourable",
                             proposed_amount=amount, eligible_cost=dossier.total_budget, rate=None,
                             comment="")
        for dossier, _, _, fate in moving:
            if fate == "declined":
                dossier.decline(ctx(INSTRUCTOR, 5, 2), "Hors critères du dispositif")
        self._save([d for d, _, _, _ in moving])

        granted = [(d, p, a) for d, p, a, f in moving if f in ("convention", "paid")]
        lines = {line.id: line for line in y.lines}
        deliberations: list[Deliberation] = []
        for start in range(0, len(granted), self.per_deliberation):
            group = granted[start:start + self.per_deliberation]
            y.deliberations += 1
            session = date(year, 6, 1 + y.deliberations % 27)
            sctx = Ctx(SECRETARY, session, session)
            items = [{"dossier_id": d.id, "amount": d.amount_requested, "budget_line_id": p.budget_line_id}
                     for d, p, _ in group]
            deliberation = Deliberation.draft(sctx, number=f"{year}-{y.deliberations:04d}",
                                              title="Attribution de subventions", session_on=session,
                                              members_in_office=44, attendance=ATTENDANCE, items=items)
            for item, (dossier, _, _) in zip(items, group, strict=True):
                dossier.schedule(sctx, deliberation.id, item["amount"], item["budget_line_id"])
                lines[item["budget_line_id"]].reserve(sctx, dossier_id=dossier.id,
                                                      deliberation_id=deliberation.id, amount=item["amount"])
            deliberations.append(deliberation)
        self._save([*deliberations, *(d for d, _, _ in granted), *lines.values()])

        granted_by_id = {d.id: d for d, _, _ in granted}
        for deliberation in deliberations:
            session = deliberation.session_on
            sctx = Ctx(SECRETARY, session, session)
            deliberation.vote_on(sctx, votes_for=44, votes_against=0, abstention=0, not_participating=[],
                                 interested=[], president_casting_vote=None)
            for item in deliberation.items:
                dossier = granted_by_id[item["dossier_id"]]
                dossier.grant(sctx, deliberation.id)
                lines[item["budget_line_id"]].commit_reservation(sctx, dossier.id)
            deliberation.transmit(sctx, act_id=f"062-226200012-{session:%Y%m%d}-D{deliberation.number[5:]}-DE-1-1",
                                  transmitted_on=session, authority=self.app.authority)
            deliberation.publish(sctx, "electronic")
        self._save([*deliberations, *(d for d, _, _ in granted), *lines.values()])

        by_id = {d.id: d for d in deliberations}
        for dossier, programme, _ in granted:
            deliberation = by_id[dossier.deliberation_id]
            dossier.draft_convention(ctx(INSTRUCTOR, 7, 1), programme=programme, eligible_cost=dossier.total_budget,
                                     rate=None, action_from=date(year, 1, 1), action_to=date(year, 12, 31),
                                     report_due_on=date(year + 1, 6, 30), payment_plan=None, settlement=None,
                                     cites={"deliberation_number": deliberation.number,
                                            "deliberation_date": deliberation.session_on.isoformat(),
                                            "amount": str(dossier.granted_amount),
                                            "budget_code": lines[dossier.budget_line_id].code})
        self._save([d for d, _, _ in granted])

        paid = [(d, p, a) for d, p, a in granted if fate_of[d.id] == "paid"]
        for dossier, programme, applicant in paid:
            dossier.sign_convention(ctx(APPLICANT, 7, 10), party="beneficiary", signatory="Le président")
            dossier.sign_convention(ctx(INSTRUCTOR, 7, 15), party="department", signatory="Le président du CD")
            on = date(year, 8, 1)
            payment = dossier.order_payment(Ctx(FINANCE, on, on), tranche="single", amount=None,
                                            justified_expenses=None,
                                            legality=by_id[dossier.deliberation_id].legality_checks(on),
                                            bank_on_file=applicant.bank is not None,
                                            rounding=programme.rules.rounding)
            amount = dossier.mark_paid(ctx(FINANCE, 8, 20), payment["id"], f"VIR-{year}-{rng.getrandbits(32):08x}")
            lines[dossier.budget_line_id].record_payment(ctx(FINANCE, 8, 20), dossier.id, amount)
        self._save([*(d for d, _, _ in paid), *lines.values()])

    def aggregates(self) -> Iterator[Any]:
        """Some ids, for the benchmarks that read: budget lines of each year."""
        for y in self._years.values():
            yield from y.lines


def siret(n: int) -> str:
    """A valid SIRET (Luhn key) numbered n."""
    body = f"{4000000000000 + n * 7:013d}"
    for key in "0123456789":
        if luhn_ok(body + key):
            return body + key
    raise AssertionError(n)
