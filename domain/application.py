"""The application: its methods are the commands; each loads, decides, then saves atomically."""

from __future__ import annotations

import copy
import functools
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Transcoding,
)
from eventsourcing.utils import get_topic

from domain.applicant import Applicant
from domain.budget import BudgetLine
from domain.chain import event_data, event_hash
from domain.deliberation import Deliberation
from domain.dossier import Dossier, ReferenceSequence
from domain.errors import Check, InvalidFields, NotFound, RuleViolation, StaleVersion
from domain.integrity import Link, Undecodable, Verification, stitch, walk
from domain.legality import Authority, cross_act_inconsistencies
from domain.programme import Programme, ProgrammeRules
from domain.record import Record, system_actor
from domain.seal import Seal, merkle_root
from domain.values import Actor, Ctx

P = ParamSpec("P")
T = TypeVar("T")
A = TypeVar("A", bound=Record)
R = TypeVar("R")


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class ActorAsDict(Transcoding):
    type = Actor
    name = "actor"

    def encode(self, obj: Actor) -> dict[str, str]:
        return obj.as_dict()

    def decode(self, data: dict[str, str]) -> Actor:
        return Actor(name=data["name"], role=data["role"])


class Conflict(Exception):
    """Another writer saved the same aggregate first; the command may be retried."""


RETRIES = 20
"""Attempts of a command that keeps losing races: with n writers on one aggregate, one wins each round, so the
last may lose n − 1 times; a short random pause between attempts spreads the losers out."""


def retried(command: Callable[P, T]) -> Callable[P, T]:
    """Retries a command that lost an optimistic-concurrency race, unless a version was expected."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        attempts = 1 if kwargs.get("expected_version") is not None else RETRIES
        for attempt in range(attempts):
            try:
                return command(*args, **kwargs)
            except Conflict:
                if attempt == attempts - 1:
                    break
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # noqa: S311 - jitter, not a secret
        if kwargs.get("expected_version") is not None:
            raise StaleVersion("Le dossier a été modifié entre-temps (version périmée).")
        raise RuleViolation("concurrent_modification",
                            "Modification concurrente : réessayez.")

    return wrapper


class Subventio(Application[UUID]):
    """The grants of a Département, event-sourced."""

    name = "subventio"

    FROZEN_CACHE_SIZE = 10_000

    def __init__(self, env: Any = None, authority: Authority | None = None,
                 write_lock: Callable[[], AbstractContextManager[Any]] | None = None) -> None:
        super().__init__(env)
        self.authority = authority or Authority()
        self._frozen: dict[UUID, Record] = {}  # aggregates whose class has no event but its creation
        self._write_lock = write_lock or nullcontext

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Records the pending events of the given aggregates in one transaction, holding the write lock.

        The composition root may give a lock that writers of the same store take before they ask the
        store for a connection (on SQLite: one writer at a time across processes, waiting in the kernel
        instead of SQLite's busy loop, which sleeps up to 100 ms between tries).
        """
        with self._write_lock():
            return super().save(*objs, **kwargs)

    def construct_env(self, name: str, env: Any = None) -> Any:
        """Configured only by what the composition root passes: the domain never reads os.environ."""
        from eventsourcing.utils import Environment

        return Environment(name, dict(env or {}))

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(ActorAsDict())

    # --- loading and saving ------------------------------------------------------------------

    def load(self, cls: type[A], aggregate_id: UUID, *, expected_version: int | None = None,
             what: str = "ressource", read_only: bool = False) -> A:
        """Loads an aggregate; read_only shares the cached object (never mutate or save it).

        An aggregate that can never change after its creation (its class declares no other event,
        e.g. a programme) is read from the store once per process: later read-only loads skip the
        repository's fast-forward query.
        """
        frozen = self._frozen.get(aggregate_id) if read_only else None
        if frozen is not None and isinstance(frozen, cls):
            return frozen
        # A command changes a copy of the cached aggregate (`copied`: eventsourcing's deepcopy, faster).
        own_copy = not read_only and self.repository.cache is not None and self.repository.deepcopy_from_cache
        try:
            aggregate: Record = self.repository.get(aggregate_id, projector_func=_folded,
                                                    deepcopy_from_cache=not read_only and not own_copy)
        except AggregateNotFoundError:
            raise NotFound(f"{what} introuvable : {aggregate_id}") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"{what} introuvable : {aggregate_id}")
        if own_copy:
            aggregate = copied(aggregate)
        if read_only and never_changes(type(aggregate)):
            if len(self._frozen) >= self.FROZEN_CACHE_SIZE:
                self._frozen.clear()
            self._frozen[aggregate_id] = aggregate
        if expected_version is not None and aggregate.version != expected_version:
            raise StaleVersion(f"Version périmée : attendue {expected_version}, actuelle {aggregate.version}.")
        return aggregate

    def exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def commit(self, *aggregates: Record) -> None:
        """Saves every pending event of the given aggregates in one transaction, or none."""
        try:
            self.save(*aggregates)
        except IntegrityError as exc:
            raise Conflict(str(exc)) from exc

    def _create(self, aggregate: A, what: str) -> A:
        if self.exists(aggregate.id):
            raise RuleViolation("already_exists", f"{what} existe déjà (id {aggregate.id}).")
        try:
            self.save(aggregate)
        except IntegrityError:
            raise RuleViolation("already_exists", f"{what} existe déjà (id {aggregate.id}).") from None
        return aggregate

    # --- budget lines ------------------------------------------------------------------------

    def open_budget_line(self, ctx: Ctx, *, code: str, imputation: str, label: str, year: int,
                         credits: Decimal) -> BudgetLine:
        return self._create(BudgetLine.open(ctx, code=code, imputation=imputation, label=label, year=year,
                                            credits=credits), f"La ligne budgétaire {code} ({year})")

    @retried
    def change_credits(self, ctx: Ctx, budget_line_id: UUID, *, amount: Decimal, reason: str,
                       expected_version: int | None = None) -> BudgetLine:
        line = self.load(BudgetLine, budget_line_id, expected_version=expected_version, what="Ligne budgétaire")
        line.change_credits(ctx, amount, reason)
        self.commit(line)
        return line

    # --- programmes ----------------------------------------------------------------------------

    def open_programme(self, ctx: Ctx, *, code: str, title: str, year: int, opens_on: date, closes_on: date,
                       budget_line_id: UUID, rules: ProgrammeRules,
                       required_documents: dict[str, list[str]]) -> Programme:
        self.load(BudgetLine, budget_line_id, what="Ligne budgétaire", read_only=True)
        return self._create(Programme.open(ctx, code=code, title=title, year=year, opens_on=opens_on,
                                           closes_on=closes_on, budget_line_id=budget_line_id, rules=rules,
                                           required_documents=required_documents),
                            f"Le dispositif {code}")

    # --- applicants ----------------------------------------------------------------------------

    def register_applicant(self, ctx: Ctx, **fields: Any) -> Applicant:
        return self._create(Applicant.register(ctx, **fields), "Ce porteur (même SIRET)")

    @retried
    def change_bank(self, ctx: Ctx, applicant_id: UUID, *, bank: dict[str, str],
                    expected_version: int | None = None) -> Applicant:
        applicant = self.load(Applicant, applicant_id, expected_version=expected_version, what="Porteur")
        applicant.change_bank(ctx, bank)
        self.commit(applicant)
        return applicant

    # --- dossiers ------------------------------------------------------------------------------

    def open_dossier(self, ctx: Ctx, *, programme_id: UUID, applicant_id: UUID, project_name: str,
                     total_budget: Decimal, amount_requested: Decimal,
                     other_public_funding: Decimal | None = None) -> Dossier:
        programme = self.load(Programme, programme_id, what="Dispositif", read_only=True)
        self.load(Applicant, applicant_id, what="Porteur", read_only=True)
        dossier = Dossier.open(ctx, programme=programme, applicant_id=applicant_id, project_name=project_name,
                               total_budget=total_budget, amount_requested=amount_requested,
                               other_public_funding=other_public_funding)
        self.commit(dossier)
        return dossier

    @retried
    def edit_dossier(self, ctx: Ctx, dossier_id: UUID, *, changes: dict[str, Any],
                     expected_version: int | None = None) -> Dossier:
        dossier = self.load(Dossier, dossier_id, expected_version=expected_version, what="Dossier")
        dossier.edit(ctx, changes)
        self.commit(dossier)
        return dossier

    @retried
    def attach_document(self, ctx: Ctx, dossier_id: UUID, *, kind: str, label: str, sha256: str, size: int,
                        filename: str, content_type: str, expected_version: int | None = None) -> dict[str, Any]:
        dossier = self.load(Dossier, dossier_id, expected_version=expected_version, what="Dossier")
        document_id = dossier.attach(ctx, kind=kind, label=label, sha256=sha256, size=size,
                                     filename=filename, content_type=content_type)
        self.commit(dossier)
        return next(d for d in dossier.documents if d["id"] == document_id)

    @retried
    def submit_dossier(self, ctx: Ctx, dossier_id: UUID, *, sworn_statement: dict[str, Any],
                       expected_version: int | None = None) -> Dossier:
        dossier = self.load(Dossier, dossier_id, expected_version=expected_version, what="Dossier")
        programme = self.load(Programme, dossier.programme_id, what="Dispositif", read_only=True)
        applicant = self.load(Applicant, dossier.applicant_id, what="Porteur", read_only=True)
        sequence: ReferenceSequence | None = None
        reference = None
        if dossier.reference is None:
            year = ctx.effective_on.year
            try:
                sequence = self.load(ReferenceSequence, ReferenceSequence.id_for(year))
            except NotFound:
                sequence = ReferenceSequence.start(Ctx(system_actor(), ctx.effective_on, ctx.today), year)
            reference = sequence.issue(ctx, dossier.id)
        dossier.submit(ctx, programme=programme, applicant_kind=applicant.kind,
                       sworn_statement=sworn_statement, reference=reference)
        self.commit(dossier, *([sequence] if sequence else []))
        return dossier

    @retried
    def request_documents(self, ctx: Ctx, dossier_id: UUID, *, documents: list[str], message: str,
                          expected_version: int | None = None) -> Dossier:
        dossier = self.load(Dossier, dossier_id, expected_version=expected_version, what="Dossier")
        dossier.request_documents(ctx, documents, message)
        self.commit(dossier)
        return dossier

    @retried
    def instruct_dossier(self, ctx: Ctx, dossier_id: UUID, *, opinion: str, proposed_amount: Decimal | None,
                         eligible_cost: Decimal, rate: Decimal | None = None, comment: str = "",
                         expected_version: int | None = None) -> Dossier:
        dossier = self.load(Dossier, dossier_id, expected_version=expected_version, what="Dossier")
        programme = self.load(Programme, dossier.programme_id, what="Dispositif", read_only=True)
        dossier.instruct(ctx, programme=programme, opinion=opinion, proposed_amount=proposed_amount,
                         eligible_cost=eligible_cost, rate=rate, comment=comment)
        self.commit(dossier)
        return dossier

    @retried
    def decline_dossier(self, ctx: Ctx, dossier_id: UUID, *, reason: str,
                        expected_version: int | None = None) -> Dossier:
        dossier = self.load(Dossier, dossier_id, expected_version=expected_version, what="Dossier")
        dossier.decline(ctx, reason)
        self.commit(dossier)
        return dossier

    @retried
    def withdraw_dossier(self, ctx: Ctx, dossier_id: UUID, *, reason: str = "",
                         expected_version: int | None = None) -> Dossier:
        dossier = self.load(Dossier, dossier_id, expected_version=expected_version, what="Dossier")
        dossier.withdraw(ctx, reason)
        self.commit(dossier)
        return dossier

    # --- deliberations ----------------------------------------------------------------------

    @retried
    def create_deliberation(self, ctx: Ctx, *, number: str, title: str, session_on: date, members_in_office: int,
                            attendance: dict[str, Any], items: list[dict[str, Any]]) -> Deliberation:
        """Drafts a deliberation and reserves every item on its budget line, all in one transaction.

        A race lost to another writer of the same line or dossier is decided again on the new state (retried):
        the other reservation may leave no credits (409 `insufficient_credits`) or enough, never a spurious 409.
        """
        deliberation = Deliberation.draft(ctx, number=number, title=title, session_on=session_on,
                                          members_in_office=members_in_office, attendance=attendance, items=items)
        if self.exists(deliberation.id):
            raise RuleViolation("already_exists", f"La délibération {number} existe déjà.")
        dossiers, lines = self._items(deliberation, fields_prefix="items")
        for item in deliberation.items:
            dossiers[item["dossier_id"]].schedule(ctx, deliberation.id, item["amount"], item["budget_line_id"])
            lines[item["budget_line_id"]].reserve(ctx, dossier_id=item["dossier_id"],
                                                  deliberation_id=deliberation.id, amount=item["amount"])
        self.commit(deliberation, *dossiers.values(), *lines.values())
        return deliberation

    def _items(self, deliberation: Deliberation, fields_prefix: str = "items") -> tuple[
            dict[UUID, Dossier], dict[UUID, BudgetLine]]:
        dossiers: dict[UUID, Dossier] = {}
        lines: dict[UUID, BudgetLine] = {}
        errors: dict[str, list[str]] = {}
        for index, item in enumerate(deliberation.items):
            try:
                dossiers[item["dossier_id"]] = self.load(Dossier, item["dossier_id"], what="Dossier")
            except NotFound as exc:
                errors[f"{fields_prefix}.{index}.dossier_id"] = [exc.message]
            if item["budget_line_id"] not in lines:
                try:
                    lines[item["budget_line_id"]] = self.load(BudgetLine, item["budget_line_id"],
                                                              what="Ligne budgétaire")
                except NotFound as exc:
                    errors[f"{fields_prefix}.{index}.budget_line_id"] = [exc.message]
        if errors:
            raise InvalidFields(errors)
        return dossiers, lines

    @retried
    def record_vote(self, ctx: Ctx, deliberation_id: UUID, *, votes_for: int, votes_against: int,
                    abstention: int, not_participating: list[str], interested: list[str],
                    president_casting_vote: str | None = None, expected_version: int | None = None) -> Deliberation:
        """Records the vote; adoption grants every dossier and commits the budget atomically with it."""
        deliberation = self.load(Deliberation, deliberation_id, expected_version=expected_version,
                                 what="Délibération")
        loaded = deliberation.version
        result = deliberation.vote_on(ctx, votes_for=votes_for, votes_against=votes_against, abstention=abstention,
                                      not_participating=not_participating, interested=interested,
                                      president_casting_vote=president_casting_vote)
        try:
            dossiers, lines = self._items(deliberation)
            for item in deliberation.items:
                dossier, line = dossiers[item["dossier_id"]], lines[item["budget_line_id"]]
                if result == "adopted":
                    dossier.grant(ctx, deliberation.id)
                    line.commit_reservation(ctx, dossier.id)
                else:
                    dossier.refuse(ctx, deliberation.id)
                    line.release(ctx, dossier.id)
        except RuleViolation:
            if self.changed_since(deliberation_id, loaded):  # a concurrent vote already moved its items
                raise Conflict("the deliberation was voted meanwhile") from None
            raise
        self.commit(deliberation, *dossiers.values(), *lines.values())
        return deliberation

    def changed_since(self, aggregate_id: UUID, version: int) -> bool:
        """Whether another writer recorded an event of the aggregate after `version` (read after loading it)."""
        return bool(self.recorder.select_events(aggregate_id, gt=version, limit=1))

    @retried
    def sign_deliberation(self, ctx: Ctx, deliberation_id: UUID, *, signatory: str,
                          expected_version: int | None = None) -> Deliberation:
        deliberation = self.load(Deliberation, deliberation_id, expected_version=expected_version,
                                 what="Délibération")
        deliberation.sign(ctx, signatory)
        self.commit(deliberation)
        return deliberation

    @retried
    def transmit_deliberation(self, ctx: Ctx, deliberation_id: UUID, *, act_id: str, transmitted_on: date,
                              expected_version: int | None = None) -> Deliberation:
        deliberation = self.load(Deliberation, deliberation_id, expected_version=expected_version,
                                 what="Délibération")
        deliberation.transmit(ctx, act_id=act_id, transmitted_on=transmitted_on, authority=self.authority)
        self.commit(deliberation)
        return deliberation

    @retried
    def publish_deliberation(self, ctx: Ctx, deliberation_id: UUID, *, mode: str,
                             expected_version: int | None = None) -> Deliberation:
        if mode not in ("display", "electronic"):
            raise InvalidFields({"mode": ["Valeur attendue : display ou electronic."]})
        deliberation = self.load(Deliberation, deliberation_id, expected_version=expected_version,
                                 what="Délibération")
        deliberation.publish(ctx, mode)
        self.commit(deliberation)
        return deliberation

    @retried
    def record_prefect_letter(self, ctx: Ctx, deliberation_id: UUID, *, kind: str, summary: str,
                              expected_version: int | None = None) -> Deliberation:
        if kind not in ("observations", "request_documents", "referral"):
            raise InvalidFields({"kind": ["Valeur attendue : observations, request_documents ou referral."]})
        deliberation = self.load(Deliberation, deliberation_id, expected_version=expected_version,
                                 what="Délibération")
        deliberation.receive_letter(ctx, kind, summary)
        self.commit(deliberation)
        return deliberation

    # --- execution: convention, payments, report, refunds, termination, lapse ------------------

    def _granted(self, dossier_id: UUID, expected_version: int | None) -> tuple[Dossier, Programme]:
        dossier = self.load(Dossier, dossier_id, expected_version=expected_version, what="Dossier")
        programme = self.load(Programme, dossier.programme_id, what="Dispositif", read_only=True)
        return dossier, programme

    def _line(self, dossier: Dossier) -> BudgetLine:
        return self.load(BudgetLine, cast("UUID", dossier.budget_line_id), what="Ligne budgétaire")

    @retried
    def draft_convention(self, ctx: Ctx, dossier_id: UUID, *, eligible_cost: Decimal, rate: Decimal | None,
                         action_from: date, action_to: date, report_due_on: date | None = None,
                         payment_plan: list[dict[str, Any]] | None = None, settlement: str | None = None,
                         cites: dict[str, Any], expected_version: int | None = None) -> Dossier:
        dossier, programme = self._granted(dossier_id, expected_version)
        dossier.draft_convention(ctx, programme=programme, eligible_cost=eligible_cost, rate=rate,
                                 action_from=action_from, action_to=action_to, report_due_on=report_due_on,
                                 payment_plan=payment_plan, settlement=settlement, cites=cites)
        self.commit(dossier)
        return dossier

    @retried
    def sign_convention(self, ctx: Ctx, dossier_id: UUID, *, party: str, signatory: str,
                        expected_version: int | None = None) -> Dossier:
        dossier = self.load(Dossier, dossier_id, expected_version=expected_version, what="Dossier")
        dossier.sign_convention(ctx, party=party, signatory=signatory)
        self.commit(dossier)
        return dossier

    @retried
    def amend_convention(self, ctx: Ctx, dossier_id: UUID, *, changes: dict[str, date], reason: str,
                         expected_version: int | None = None) -> Dossier:
        dossier = self.load(Dossier, dossier_id, expected_version=expected_version, what="Dossier")
        dossier.amend(ctx, changes=changes, reason=reason)
        self.commit(dossier)
        return dossier

    def payment_legality(self, dossier: Dossier, on: date) -> list[Check]:
        if dossier.deliberation_id is None:
            return [Check("deliberation_adopted", False, "aucune délibération")]
        deliberation = self.load(Deliberation, dossier.deliberation_id, what="Délibération", read_only=True)
        return deliberation.legality_checks(on)

    @retried
    def order_payment(self, ctx: Ctx, dossier_id: UUID, *, tranche: str, amount: Decimal | None = None,
                      justified_expenses: Decimal | None = None,
                      expected_version: int | None = None) -> tuple[Dossier, dict[str, Any]]:
        dossier, programme = self._granted(dossier_id, expected_version)
        applicant = self.load(Applicant, dossier.applicant_id, what="Porteur", read_only=True)
        payment = dossier.order_payment(ctx, tranche=tranche, amount=amount, justified_expenses=justified_expenses,
                                        legality=self.payment_legality(dossier, ctx.effective_on),
                                        bank_on_file=applicant.bank is not None,
                                        rounding=programme.rules.rounding)
        self.commit(dossier)
        return dossier, payment

    @retried
    def mark_payment_paid(self, ctx: Ctx, dossier_id: UUID, payment_id: str, *, bank_reference: str,
                          expected_version: int | None = None) -> Dossier:
        dossier = self.load(Dossier, dossier_id, expected_version=expected_version, what="Dossier")
        amount = dossier.mark_paid(ctx, payment_id, bank_reference)
        line = self._line(dossier)
        line.record_payment(ctx, dossier.id, amount)
        dossier.close_if_settled(ctx)
        self.commit(dossier, line)
        return dossier

    @retried
    def submit_report(self, ctx: Ctx, dossier_id: UUID, *, summary: str, expenses: list[dict[str, Any]],
                      signed_by: str, expected_version: int | None = None) -> Dossier:
        dossier = self.load(Dossier, dossier_id, expected_version=expected_version, what="Dossier")
        dossier.submit_report(ctx, summary=summary, expenses=expenses, signed_by=signed_by)
        self.commit(dossier)
        return dossier

    @retried
    def accept_report(self, ctx: Ctx, dossier_id: UUID, *, justified_expenses: Decimal,
                      expected_version: int | None = None) -> Dossier:
        dossier, programme = self._granted(dossier_id, expected_version)
        released = dossier.accept_report(ctx, justified_expenses=justified_expenses,
                                         rounding=programme.rules.rounding)
        line = self._line(dossier)
        line.release_commitment(ctx, dossier.id, released)
        dossier.close_if_settled(ctx)
        self.commit(dossier, line)
        return dossier

    @retried
    def demand_refund(self, ctx: Ctx, dossier_id: UUID, *, title_number: str, issued_on: date,
                      received_by_beneficiary_on: date | None = None, amount: Decimal | None = None,
                      reason: str = "", expected_version: int | None = None) -> tuple[Dossier, dict[str, Any]]:
        dossier = self.load(Dossier, dossier_id, expected_version=expected_version, what="Dossier")
        refund = dossier.demand_refund(ctx, title_number=title_number, issued_on=issued_on,
                                       received_by_beneficiary_on=received_by_beneficiary_on, amount=amount,
                                       reason=reason)
        self.commit(dossier)
        return dossier, refund

    @retried
    def receive_refund(self, ctx: Ctx, dossier_id: UUID, refund_id: str, *, amount: Decimal,
                       expected_version: int | None = None) -> Dossier:
        dossier = self.load(Dossier, dossier_id, expected_version=expected_version, what="Dossier")
        restores = dossier.receive_refund(ctx, refund_id=refund_id, amount=amount)
        changed: list[Record] = [dossier]
        if restores:
            line = self._line(dossier)
            line.reduce_mandate(ctx, dossier.id, amount)
            changed.append(line)
        dossier.close_if_settled(ctx)
        self.commit(*changed)
        return dossier

    @retried
    def terminate(self, ctx: Ctx, dossier_id: UUID, *, reason: str, notice_received_on: date,
                  hearing_on: date | None = None, expected_version: int | None = None) -> Dossier:
        dossier = self.load(Dossier, dossier_id, expected_version=expected_version, what="Dossier")
        dossier.notify_termination(ctx, reason=reason, notice_received_on=notice_received_on, hearing_on=hearing_on)
        changed: list[Record] = [dossier]
        if dossier.termination_due(ctx.today):
            changed += self._take_termination_effect(ctx, dossier)
        self.commit(*changed)
        return dossier

    def _take_termination_effect(self, ctx: Ctx, dossier: Dossier) -> list[Record]:
        on = cast("dict[str, Any]", dossier.termination)["effective_on"]
        effect = Ctx(ctx.actor, on, ctx.today)
        released = dossier.take_termination_effect(effect)
        line = self._line(dossier)
        line.release_commitment(effect, dossier.id, released)
        dossier.close_if_settled(effect)
        return [line]

    def legality_report(self, dossier_id: UUID, on: date) -> dict[str, Any]:
        """What a payment on `on` would need, the acts behind the grant, and every cross-act mismatch."""
        dossier = self.load(Dossier, dossier_id, what="Dossier", read_only=True)
        acts: list[dict[str, Any]] = []
        inconsistencies: list[dict[str, Any]] = []
        checks: list[Check] = []
        if dossier.deliberation_id is not None:
            deliberation = self.load(Deliberation, dossier.deliberation_id, what="Délibération", read_only=True)
            acts.append({"kind": "deliberation", "id": str(deliberation.id), "number": deliberation.number,
                         "session_on": deliberation.session_on, "result": deliberation.result,
                         **deliberation.legality()})
            if dossier.convention is not None and dossier.budget_line_id is not None:
                line = self.load(BudgetLine, dossier.budget_line_id, what="Ligne budgétaire", read_only=True)
                inconsistencies = cross_act_inconsistencies(
                    dossier.convention["cites"], number=deliberation.number, session_on=deliberation.session_on,
                    amount=dossier.granted_amount, budget_code=line.code, imputation=line.imputation)
        if dossier.granted_amount is not None:
            applicant = self.load(Applicant, dossier.applicant_id, what="Porteur", read_only=True)
            programme = self.load(Programme, dossier.programme_id, what="Dispositif", read_only=True)
            ordered = {p["tranche"] for p in dossier.payments}
            # The next tranche of the plan: the first not yet ordered (instalments repeat), else the last one.
            step = next((s["tranche"] for s in dossier.plan
                         if s["tranche"] == "instalment" or s["tranche"] not in ordered),
                        dossier.plan[-1]["tranche"]) if dossier.plan else "single"
            checks, _ = dossier.payment_checks(on=on, tranche=step, amount=None, justified_expenses=None,
                                               legality=self.payment_legality(dossier, on),
                                               bank_on_file=applicant.bank is not None,
                                               rounding=programme.rules.rounding)
        else:
            checks = [Check("deliberation_adopted", False, f"dossier « {dossier.status} » : aucune attribution")]
        if dossier.convention is not None:
            acts.append({"kind": "convention", "status": dossier.convention["status"],
                         "signatures": dossier.convention["signatures"],
                         "amendments": dossier.convention["amendments"]})
        return {"ready_for_payment": all(c.ok for c in checks), "checks": [c.as_dict() for c in checks],
                "acts": acts, "inconsistencies": inconsistencies}

    def tick(self, today: date, dossier_ids: list[UUID]) -> dict[str, list[str]]:
        """The daily deadline run: lapses and terminations taking effect, one dossier at a time."""
        done: dict[str, list[str]] = {"lapsed": [], "terminated": []}
        robot = Ctx(system_actor(), today, today)
        for dossier_id in dossier_ids:
            try:
                dossier = self.load(Dossier, dossier_id, what="Dossier")
            except NotFound:
                continue
            if dossier.termination_due(today):
                changed = self._take_termination_effect(robot, dossier)
                self.commit(dossier, *changed)
                done["terminated"].append(str(dossier.id))
            elif dossier.lapse_due(today):
                due = cast("dict[str, Any]", dossier.convention)["report_due_on"]
                lapse_ctx = Ctx(robot.actor, due + timedelta(days=1), today)
                released = dossier.declare_lapsed(lapse_ctx)
                line = self._line(dossier)
                line.release_commitment(lapse_ctx, dossier.id, released)
                self.commit(dossier, line)
                done["lapsed"].append(str(dossier.id))
        return done

    # --- history and time travel -------------------------------------------------------------

    def as_of(self, cls: type[A], aggregate_id: UUID, instant: datetime, what: str = "ressource") -> A:
        """The aggregate as it stood at a recorded instant (NotFound if it did not exist yet)."""
        return self._fold_until(cls, aggregate_id, lambda event: event.timestamp > instant, what)

    def as_of_effective(self, cls: type[A], aggregate_id: UUID, day: date, what: str = "ressource") -> A:
        """The aggregate through the facts effective on or before a real-world date, in recorded order.

        Folding stops at the first fact dated later, so a fact recorded afterwards but dated earlier
        (entered late on paper) is not shown out of its order.
        """
        return self._fold_until(cls, aggregate_id, lambda event: event.effective_on > day, what)

    def _fold_until(self, cls: type[A], aggregate_id: UUID, stop: Callable[[Record.Event], bool], what: str) -> A:
        aggregate: Any = None
        for event in cast("Iterator[Record.Event]", self.events.get(aggregate_id)):
            if stop(event):
                break
            aggregate = event.mutate(aggregate)
        if aggregate is None or not isinstance(aggregate, cls):
            raise NotFound(f"{what} introuvable à cette date : {aggregate_id}")
        return aggregate

    def history(self, aggregate_id: UUID) -> list[dict[str, Any]]:
        """Every event of one aggregate in order, with its actor, dates, data and hashes."""
        items = []
        for event in cast("Iterator[Record.Event]", self.events.get(aggregate_id)):
            state = dict(vars(event))
            data = event_data(state)
            for key in ("actor", "effective_on", "previous_hash", "originator_topic"):
                data.pop(key, None)
            items.append({
                "version": event.originator_version,
                "type": type(event).__qualname__,
                "recorded_at": event.timestamp,
                "effective_on": state["effective_on"],
                "actor": state["actor"].as_dict(),
                "data": data,
                "hash": state["hash"],
                "previous_hash": state["previous_hash"] or None,
            })
        return items

    # --- integrity --------------------------------------------------------------------------

    def verify_chains(self, *, batch: int = 1000,
                      progress: Callable[[int], None] | None = None) -> Verification:
        """Walks the whole log and checks every aggregate's hash chain; names the first break.

        The reference check, one event after the other through the domain events (`link_of`);
        `projections.integrity.verify` gives the same verdict faster (what the CLI and the API run).
        """
        segment = walk(self._all_notifications(batch), self.link_of, from_start=True, progress=progress)
        return stitch([segment])

    def link_of(self, notification: Any) -> Link:
        """What a stored event says of its chain, read back through the domain event (raises Undecodable)."""
        try:
            event = cast("Record.Event", self.mapper.to_domain_event(notification))
            state = dict(vars(event))
        except Exception as exc:
            raise Undecodable(f"stored event cannot be decoded: {type(exc).__name__}") from exc
        try:
            expected: str | None = event_hash(notification.originator_id, notification.originator_version,
                                              notification.topic, event.timestamp, event_data(state))
        except (TypeError, ValueError, AttributeError):  # a value no recorded event can hold (a float, say)
            expected = None
        stored = state.get("hash")
        return Link(state.get("previous_hash"), stored, expected is not None and stored == expected)

    def _all_notifications(self, batch: int, topics: tuple[str, ...] = ()) -> Iterator[Any]:
        position = 0
        while True:
            page = self.recorder.select_notifications(position, batch, topics=topics, inclusive_of_start=False)
            if not page:
                return
            yield from page
            position = page[-1].id

    def chain_heads(self, until: int | None = None) -> tuple[dict[UUID, tuple[int, str]], int, int]:
        """Every aggregate's last (version, hash) up to a log position; also the events read and last position."""
        heads: dict[UUID, tuple[int, str]] = {}
        events = last = 0
        for notification in self._all_notifications(1000):
            if until is not None and notification.id > until:
                break
            state = vars(self.mapper.to_domain_event(notification))
            heads[notification.originator_id] = (notification.originator_version, state["hash"])
            events, last = events + 1, notification.id
        return heads, events, last

    def seal(self, ctx: Ctx, day: date) -> Seal:
        """Writes the day's seal: the Merkle root of every chain head (the seal itself is chained too)."""
        if self.exists(Seal.id_for(day)):
            raise RuleViolation("already_exists", f"Le scellement du {day:%d/%m/%Y} existe déjà.")
        heads, events, last = self.chain_heads()
        seal = Seal.write(ctx, day=day, heads=heads, events=events, last_position=last)
        return self._create(seal, f"Le scellement du {day:%d/%m/%Y}")

    def seal_days(self) -> list[date]:
        """The days that have a seal, in order (seals are few: one a day)."""
        days = []
        for notification in self._all_notifications(1000, topics=(get_topic(Seal.Sealed),)):
            days.append(cast("Seal.Sealed", self.mapper.to_domain_event(notification)).day)
        return sorted(days)

    def seal_export(self, day: date) -> dict[str, Any]:
        """What an auditor needs offline: the seal and every chain head it covers."""
        seal = self.load(Seal, Seal.id_for(day), what="Scellement", read_only=True)
        heads, _, _ = self.chain_heads(until=seal.last_position)
        return {"format": "subventio-seal-export/1", "seal": seal.as_dict(),
                "seal_chain": self.history(seal.id),
                "heads": [[str(a), v, h] for a, (v, h) in sorted(heads.items(), key=lambda i: str(i[0]))],
                "encoding": "docs/adr/0002-hash-chain.md"}

    def verify_seal(self, day: date) -> dict[str, Any]:
        """Recomputes the heads as they stood at the sealed position and compares the Merkle root."""
        seal = self.load(Seal, Seal.id_for(day), what="Scellement", read_only=True)
        heads, events, _ = self.chain_heads(until=seal.last_position)
        root = merkle_root(heads)
        return {"day": day, "ok": root == seal.merkle_root and events == seal.events,
                "sealed_root": seal.merkle_root, "recomputed_root": root, "sealed_events": seal.events,
                "events_now_before_position": events}


_SHARED = frozenset((str, int, float, bool, type(None), Decimal, date, datetime, UUID, Actor))


def _copy(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: _copy(v) for k, v in value.items()}
    if kind is list:
        return [_copy(v) for v in value]
    if kind in _SHARED:  # immutable: deepcopy would share (or uselessly rebuild) them too
        return value
    if kind is tuple:
        return tuple(_copy(v) for v in value)
    return copy.deepcopy(value)


def copied(aggregate: R) -> R:
    """A deep copy of an aggregate, as copy.deepcopy makes it, for the plain state aggregates hold.

    Dicts, lists and tuples are rebuilt, immutable values shared, anything else deep-copied;
    several times faster than copy.deepcopy (no memo, no __reduce_ex__ per object).
    """
    clone = object.__new__(type(aggregate))
    clone.__dict__.update(_copy(aggregate.__dict__))
    return clone


def _folded(aggregate: Any, events: Iterable[Any]) -> Any:
    """eventsourcing's `project_aggregate` without its `assert isinstance(event, CanMutateProtocol)` on every
    event: a runtime Protocol check, ~3 % of a command's CPU; every stored event of ours is a Record.Event."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


@functools.cache
def never_changes(cls: type[Record]) -> bool:
    """True when the class (and its bases below Record) declares no event but creation ones."""
    for klass in cls.__mro__:
        if klass in (Record, Aggregate):
            break
        for name, value in vars(klass).items():
            if name != "Event" and isinstance(value, type) and issubclass(value, Aggregate.Event) \
                    and not issubclass(value, Aggregate.Created):  # (`Event` is each class's abstract base)
                return False
    return True


def topic_of(cls: type[Any]) -> str:
    return get_topic(cls)
