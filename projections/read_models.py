"""The read models: one table and one `<Name>Projection` each, fed event by event by the runner.

A projection maps event classes to handlers; a handler changes rows of its own table through a
`RowSet` (the batch's rows, loaded once and written once). Event types without a handler are
skipped, so a later feature adds a handler without touching the runner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    String,
    Table,
    bindparam,
    insert,
    select,
    update,
)

from domain.applicant import Applicant
from domain.budget import BudgetLine
from domain.dossier import Dossier
from domain.programme import Programme
from projections.database import Money, UTCDateTime, metadata

log = logging.getLogger(__name__)

Row = dict[str, Any]
Handler = Callable[["RowSet", Any, str], None]
"""handler(rows, event, key): changes the row `key` (Projection.key(event)) of `rows`."""

# --- tables -------------------------------------------------------------------------------------

rm_dossiers = Table(
    "rm_dossiers", metadata,
    Column("id", String(36), primary_key=True),
    Column("reference", String(20), nullable=True),
    Column("status", String(30), nullable=False),
    Column("programme_id", String(36), nullable=False),
    Column("applicant_id", String(36), nullable=False),
    Column("project_name", String(500), nullable=False),
    Column("total_budget", Money, nullable=False),
    Column("amount_requested", Money, nullable=False),
    Column("proposed_amount", Money, nullable=True),
    Column("granted_amount", Money, nullable=True),
    Column("submitted_on", Date, nullable=True),
    Column("signed_parties", String(40), nullable=False, default=""),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_rm_dossiers_created", "created_at", "id"),
    Index("ix_rm_dossiers_status", "status", "created_at", "id"),
    Index("ix_rm_dossiers_programme", "programme_id", "created_at", "id"),
    Index("ix_rm_dossiers_applicant", "applicant_id", "created_at", "id"),
    info={"read_model": True},
)

rm_budget_lines = Table(
    "rm_budget_lines", metadata,
    Column("id", String(36), primary_key=True),
    Column("code", String(50), nullable=False),
    Column("imputation", String(50), nullable=False),
    Column("label", String(500), nullable=False),
    Column("year", Integer, nullable=False),
    Column("credits", Money, nullable=False),
    Column("reserved", Money, nullable=False),
    Column("committed", Money, nullable=False),
    Column("paid", Money, nullable=False),
    Column("available", Money, nullable=False),
    Column("version", Integer, nullable=False),
    info={"read_model": True},
)

rm_programmes = Table(
    "rm_programmes", metadata,
    Column("id", String(36), primary_key=True),
    Column("code", String(50), nullable=False),
    Column("title", String(500), nullable=False),
    Column("year", Integer, nullable=False),
    Column("opens_on", Date, nullable=False),
    Column("closes_on", Date, nullable=False),
    Column("budget_line_id", String(36), nullable=False),
    Column("rules", JSON, nullable=False),
    Column("required_documents", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    info={"read_model": True},
)

rm_applicants = Table(
    "rm_applicants", metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("name", String(500), nullable=False),
    Column("siret", String(14), nullable=True),
    Column("email", String(320), nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_rm_applicants_name", "name", "id"),
    info={"read_model": True},
)


# --- the rows of one batch ----------------------------------------------------------------------


class RowSet:
    """One table's rows touched by a batch: loaded in one query, changed in memory, written in one go."""

    LOAD_CHUNK = 500

    def __init__(self, table: Table) -> None:
        self.table = table
        self.rows: dict[str, Row] = {}
        self.new: set[str] = set()
        self.dirty: set[str] = set()

    def load(self, conn: Connection, keys: Iterable[str]) -> None:
        wanted = sorted(set(keys) - self.rows.keys())
        key = self.table.c.id
        for start in range(0, len(wanted), self.LOAD_CHUNK):
            chunk = wanted[start:start + self.LOAD_CHUNK]
            for row in conn.execute(select(self.table).where(key.in_(chunk))).mappings():
                self.rows[row["id"]] = dict(row)

    def get(self, key: str) -> Row | None:
        return self.rows.get(key)

    def put(self, row: Row) -> None:
        """A new row (or a full replacement of an existing one)."""
        key = row["id"]
        if key in self.rows and key not in self.new:
            self.dirty.add(key)
        else:
            self.new.add(key)
        self.rows[key] = row

    def change(self, key: str, values: Mapping[str, Any]) -> Row | None:
        """Updates an existing row; an event for a row never created is logged and skipped."""
        row = self.rows.get(key)
        if row is None:
            log.warning("%s: no row %s to update; event skipped", self.table.name, key)
            return None
        row.update(values)
        if key not in self.new:
            self.dirty.add(key)
        return row

    def flush(self, conn: Connection) -> None:
        """Inserts the new rows and updates the changed ones, each as one executemany."""
        if self.new:
            _executemany(conn, insert(self.table), {c.name: c.name for c in self.table.columns},
                         [self.rows[k] for k in sorted(self.new)])
        if self.dirty:
            others = [c.name for c in self.table.columns if c.name != "id"]
            statement = (update(self.table).where(self.table.c.id == bindparam("k_id"))
                         .values({c: bindparam(f"v_{c}") for c in others}))
            binds = {"k_id": "id", **{f"v_{c}": c for c in others}}
            _executemany(conn, statement, binds, [self.rows[k] for k in sorted(self.dirty)])
        self.new.clear()
        self.dirty.clear()


_Plan = tuple[str, bool, list[tuple[str, str, Any]]]
_COMPILED: dict[tuple[str, int, tuple[str, ...]], _Plan] = {}


def _executemany(conn: Connection, statement: Any, binds: Mapping[str, str], rows: list[Row]) -> None:
    """conn.execute(statement, rows), minus SQLAlchemy's per-row bookkeeping (most of a rebuild's writing cost).

    `binds` maps each bind parameter to the column whose value and type it takes; the values go
    through the columns' own bind processors (Money, UTCDateTime, Date), so the result is the same.
    """
    dialect = conn.dialect
    table = statement.table
    cache_key = (dialect.name, id(table), tuple(binds))
    plan = _COMPILED.get(cache_key)
    if plan is None:
        compiled = statement.compile(dialect=dialect)
        names = list(compiled.positiontup or []) if compiled.positional else list(compiled.binds)
        steps = [(name, binds[name], table.c[binds[name]].type.dialect_impl(dialect).bind_processor(dialect))
                 for name in names]
        plan = (str(compiled), compiled.positional, steps)
        _COMPILED[cache_key] = plan
    sql, positional, steps = plan
    if positional:
        conn.exec_driver_sql(sql, [tuple([row.get(c) if p is None else p(row.get(c)) for _, c, p in steps])
                                   for row in rows])
    else:
        conn.exec_driver_sql(sql, [{n: row.get(c) if p is None else p(row.get(c)) for n, c, p in steps}
                                   for row in rows])


# --- projections --------------------------------------------------------------------------------


class Projection:
    """A read model: its table and, for each event class it follows, a handler."""

    table: ClassVar[Table]

    def handlers(self) -> dict[type[Any], Handler]:
        raise NotImplementedError

    def key(self, event: Any) -> str:
        """The row an event changes: by default its aggregate's."""
        return _text_of(event.originator_id)

    @staticmethod
    def version(event: Any) -> dict[str, Any]:
        return {"version": event.originator_version}


_TEXTS: dict[Any, str] = {}


def _text_of(aggregate_id: Any) -> str:
    """str(aggregate_id), remembered (an aggregate has ~10 events, str(UUID) costs as much as a handler)."""
    text = _TEXTS.get(aggregate_id)
    if text is None:
        if len(_TEXTS) > 10_000:  # (bounded: memory stays flat with the size of the log)
            _TEXTS.clear()
        text = _TEXTS[aggregate_id] = str(aggregate_id)
    return text


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


class DossierProjection(Projection):
    """`rm_dossiers`: one row per dossier, for the lists and filters of the API."""

    table = rm_dossiers
    EDITABLE_COLUMNS = ("project_name", "total_budget", "amount_requested")

    def handlers(self) -> dict[type[Any], Handler]:
        d = Dossier
        status_only = {d.DocumentsRequested: "incomplete", d.Declined: "declined", d.Withdrawn: "withdrawn",
                       d.Scheduled: "scheduled", d.Refused: "refused", d.ConventionDrafted: "convention_drafted",
                       d.ReportAccepted: "report_accepted", d.Terminated: "terminated", d.Lapsed: "lapsed",
                       d.Closed: "closed"}
        handlers: dict[type[Any], Handler] = {cls: self._status(status) for cls, status in status_only.items()}
        for cls in (d.DocumentAttached, d.Amended, d.PaymentOrdered, d.PaymentMade, d.ReportSubmitted,
                    d.RefundDemanded, d.RefundReceived, d.TerminationNotified):
            handlers[cls] = self._touch
        handlers.update({d.Opened: self._opened, d.Edited: self._edited, d.Submitted: self._submitted,
                         d.Instructed: self._instructed, d.Granted: self._granted,
                         d.ConventionSigned: self._convention_signed})
        return handlers

    @staticmethod
    def _set(rows: RowSet, event: Any, key: str, **values: Any) -> None:
        rows.change(key, {"version": event.originator_version, "updated_at": event.timestamp, **values})

    def _opened(self, rows: RowSet, e: Any, key: str) -> None:
        rows.put({"id": key, "reference": None, "status": "draft",
                  "programme_id": str(e.programme_id), "applicant_id": str(e.applicant_id),
                  "project_name": e.project_name, "total_budget": e.total_budget,
                  "amount_requested": e.amount_requested, "proposed_amount": None, "granted_amount": None,
                  "submitted_on": None, "signed_parties": "", "version": e.originator_version,
                  "created_at": e.timestamp, "updated_at": e.timestamp})

    def _edited(self, rows: RowSet, e: Any, key: str) -> None:
        self._set(rows, e, key, **{k: v for k, v in e.changes.items() if k in self.EDITABLE_COLUMNS})

    def _touch(self, rows: RowSet, e: Any, key: str) -> None:
        self._set(rows, e, key)

    def _status(self, status: str) -> Handler:
        def handler(rows: RowSet, e: Any, key: str) -> None:
            self._set(rows, e, key, status=status)

        return handler

    def _submitted(self, rows: RowSet, e: Any, key: str) -> None:
        self._set(rows, e, key, status="submitted", reference=e.reference, submitted_on=e.effective_on)

    def _instructed(self, rows: RowSet, e: Any, key: str) -> None:
        self._set(rows, e, key, status="instructed", proposed_amount=e.proposed_amount)

    def _granted(self, rows: RowSet, e: Any, key: str) -> None:
        self._set(rows, e, key, status="granted", granted_amount=e.amount)

    def _convention_signed(self, rows: RowSet, e: Any, key: str) -> None:
        row = rows.get(key)
        parties = set(filter(None, (row or {}).get("signed_parties", "").split(","))) | {e.party}
        values: dict[str, Any] = {"signed_parties": ",".join(sorted(parties))}
        if parties >= {"beneficiary", "department"}:
            values["status"] = "convention_signed"
        self._set(rows, e, key, **values)


class BudgetLineProjection(Projection):
    """`rm_budget_lines`: credits, reserved, committed (paid included), paid and available per line."""

    table = rm_budget_lines

    def handlers(self) -> dict[type[Any], Handler]:
        b = BudgetLine
        return {b.Opened: self._opened, b.CreditsChanged: self._credits_changed, b.Reserved: self._reserved,
                b.ReservationReleased: self._reservation_released, b.Committed: self._committed,
                b.Paid: self._paid, b.CommitmentReleased: self._commitment_released,
                b.MandateReduced: self._mandate_reduced}

    def _opened(self, rows: RowSet, e: Any, key: str) -> None:
        zero = e.credits - e.credits
        rows.put({"id": key, "code": e.code, "imputation": e.imputation, "label": e.label,
                  "year": e.year, "credits": e.credits, "reserved": zero, "committed": zero, "paid": zero,
                  "available": e.credits, "version": e.originator_version})

    @staticmethod
    def _add(rows: RowSet, e: Any, key: str, **deltas: Any) -> None:
        row = rows.get(key)
        if row is None:
            rows.change(key, {})  # logs the missing row
            return
        values = {name: row[name] + delta for name, delta in deltas.items()}
        merged = {**row, **values}
        values["available"] = merged["credits"] - merged["reserved"] - merged["committed"]
        rows.change(key, {**values, "version": e.originator_version})

    def _credits_changed(self, rows: RowSet, e: Any, key: str) -> None:
        self._add(rows, e, key, credits=e.amount)

    def _reserved(self, rows: RowSet, e: Any, key: str) -> None:
        self._add(rows, e, key, reserved=e.amount)

    def _reservation_released(self, rows: RowSet, e: Any, key: str) -> None:
        self._add(rows, e, key, reserved=-e.amount)

    def _committed(self, rows: RowSet, e: Any, key: str) -> None:
        self._add(rows, e, key, reserved=-e.amount, committed=e.amount)

    def _paid(self, rows: RowSet, e: Any, key: str) -> None:
        self._add(rows, e, key, paid=e.amount)

    def _commitment_released(self, rows: RowSet, e: Any, key: str) -> None:
        self._add(rows, e, key, committed=-e.amount)

    def _mandate_reduced(self, rows: RowSet, e: Any, key: str) -> None:
        self._add(rows, e, key, paid=-e.amount, committed=-e.amount)


class ProgrammeProjection(Projection):
    """`rm_programmes`: every programme with its dates, rules and required documents."""

    table = rm_programmes

    def handlers(self) -> dict[type[Any], Handler]:
        return {Programme.Opened: self._opened}

    def _opened(self, rows: RowSet, e: Any, key: str) -> None:
        rows.put({"id": key, "code": e.code, "title": e.title, "year": e.year,
                  "opens_on": e.opens_on, "closes_on": e.closes_on, "budget_line_id": str(e.budget_line_id),
                  "rules": e.rules, "required_documents": e.required_documents,
                  "version": e.originator_version})


class ApplicantProjection(Projection):
    """`rm_applicants`: who applies (bank details stay in the event store, never in a list)."""

    table = rm_applicants

    def handlers(self) -> dict[type[Any], Handler]:
        return {Applicant.Registered: self._registered, Applicant.BankDetailsChanged: self._touch}

    def _registered(self, rows: RowSet, e: Any, key: str) -> None:
        rows.put({"id": key, "kind": e.kind, "name": e.name, "siret": e.siret,
                  "email": e.email, "version": e.originator_version})

    def _touch(self, rows: RowSet, e: Any, key: str) -> None:
        rows.change(key, self.version(e))


def default_projections() -> list[Projection]:
    from projections.acts import act_projections  # acts builds on this module: imported when asked

    return [DossierProjection(), BudgetLineProjection(), ProgrammeProjection(), ApplicantProjection(),
            *act_projections()]
