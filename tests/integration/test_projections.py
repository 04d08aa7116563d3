"""The read side on the real stores (SQLite, or PostgreSQL with SUBVENTIO_TEST_BACKEND=postgres).

Domain facts are recorded through the application's commands; the projections must show exactly
what the aggregates say, once, after a crash, under a race, and after a rebuild.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from sqlalchemy import func, select, update

from domain.applicant import Applicant
from domain.budget import BudgetLine
from domain.dossier import Dossier, ReferenceSequence
from domain.programme import Programme, ProgrammeRules
from domain.values import Actor, Ctx
from projections import queries
from projections.database import ReadStore, tracking
from projections.read_models import (
    ApplicantProjection,
    BudgetLineProjection,
    DossierProjection,
    ProgrammeProjection,
    RowSet,
    rm_applicants,
    rm_budget_lines,
    rm_dossiers,
    rm_programmes,
)
from projections.runner import ProjectionRunner
from tests.unit.factories import IBAN, SIRET, full_attendance, sworn

ADMIN = Actor("Mme Admin", "admin")
INSTRUCTOR = Actor("M. Instructeur", "instructor")
APPLICANT = Actor("Association", "applicant")
SECRETARY = Actor("Secrétariat des assemblées", "secretary")
FINANCE = Actor("Paierie départementale", "finance")
DAY = date(2025, 6, 2)


def ctx(actor: Actor = ADMIN, on: date = DAY) -> Ctx:
    return Ctx(actor, on, on)


def record_scene(app: Any, dossiers: int = 12) -> dict[str, Any]:
    """A budget line, a programme, applicants and dossiers in every issue-2 state, plus one granted dossier."""
    line = app.open_budget_line(ctx(), code="C05-043A06", imputation="65748//93043",
                                label="Actions européennes et internationales", year=2025,
                                credits=Decimal("40000.00"))
    app.change_credits(ctx(FINANCE), line.id, amount=Decimal("2500.50"), reason="Décision modificative n° 1")
    programme = app.open_programme(
        ctx(), code="AAP-EUR-2025", title="Actions européennes 2025", year=2025, opens_on=date(2025, 1, 1),
        closes_on=date(2025, 12, 31), budget_line_id=line.id,
        rules=ProgrammeRules.parse({"max_amount": "20000.00", "rounding": "euro"}),
        required_documents={"association": ["statuts"]})
    people = [app.register_applicant(ctx(), kind="person", name=f"Porteur {i}", siret=None,
                                     address="1 rue de France, 06000 Nice", email=f"p{i}@example.org",
                                     phone=None, legal_representative={"name": f"Porteur {i}", "role": "porteur"},
                                     bank=None) for i in range(3)]
    association = app.register_applicant(ctx(), kind="association", name="Association des jumelages",
                                         siret=SIRET, address="1 rue de la République, 06000 Nice",
                                         email="contact@jumelages.example", phone=None,
                                         legal_representative={"name": "M. Président", "role": "président"},
                                         bank=None)
    app.change_bank(ctx(), association.id, bank={"holder": "Jumelages", "iban": IBAN, "bic": "AGRIFRPP"})
    applicants = [*people, association]
    ids = []
    for i in range(dossiers):
        owner = applicants[i % len(applicants)]
        d = app.open_dossier(ctx(APPLICANT), programme_id=programme.id, applicant_id=owner.id,
                             project_name=f"Projet {i:03d}", total_budget=Decimal("18695.00"),
                             amount_requested=Decimal("7000.00"))
        ids.append(d.id)
        if owner.id == association.id:
            app.attach_document(ctx(APPLICANT), d.id, kind="statuts", label="Statuts", sha256="ab" * 32,
                                size=1234, filename="statuts.pdf", content_type="application/pdf")
        step = i % 7
        if step == 1:
            app.edit_dossier(ctx(APPLICANT), d.id, changes={"project_name": f"Projet {i:03d} révisé",
                                                            "amount_requested": Decimal("6500.50")})
        if step >= 2 and step != 6:
            app.submit_dossier(ctx(APPLICANT), d.id, sworn_statement=sworn(DAY))
        if step == 3:
            app.request_documents(ctx(INSTRUCTOR), d.id, documents=["budget"], message="Budget détaillé")
        if step == 4:
            app.instruct_dossier(ctx(INSTRUCTOR), d.id, opinion="favourable", proposed_amount=Decimal("7000.00"),
                                 eligible_cost=Decimal("18695.00"))
        if step == 5:
            app.decline_dossier(ctx(INSTRUCTOR), d.id, reason="Hors champ")
        if step == 6:
            app.withdraw_dossier(ctx(APPLICANT), d.id, reason="Projet abandonné")
    granted = app.open_dossier(ctx(APPLICANT), programme_id=programme.id, applicant_id=people[0].id,
                               project_name="Projet voté", total_budget=Decimal("18695.00"),
                               amount_requested=Decimal("7000.00"))
    app.submit_dossier(ctx(APPLICANT), granted.id, sworn_statement=sworn(DAY))
    app.instruct_dossier(ctx(INSTRUCTOR), granted.id, opinion="favourable", proposed_amount=Decimal("7000.00"),
                         eligible_cost=Decimal("18695.00"))
    deliberation = app.create_deliberation(
        ctx(SECRETARY, date(2025, 6, 20)), number="2025-344", title="Subventions européennes",
        session_on=date(2025, 6, 20), members_in_office=44, attendance=full_attendance(),
        items=[{"dossier_id": granted.id, "amount": Decimal("7000.00"), "budget_line_id": line.id}])
    app.record_vote(ctx(SECRETARY, date(2025, 6, 20)), deliberation.id, votes_for=44, votes_against=0,
                    abstention=0, not_participating=[], interested=[])
    ids.append(granted.id)
    return {"line": line.id, "programme": programme.id, "applicants": [a.id for a in applicants],
            "dossiers": ids, "granted": granted.id}


def head(app: Any) -> int:
    return int(app.recorder.max_notification_id() or 0)


def log_ids(app: Any) -> list[int]:
    """The notification ids in the log (PostgreSQL's may have gaps, so counts are compared with these)."""
    return [n.id for n in app.recorder.select_notifications(0, 1_000_000, inclusive_of_start=False)]


def rows(read: ReadStore, table: Any) -> dict[str, dict[str, Any]]:
    with read.begin() as conn:
        return {r["id"]: dict(r) for r in conn.execute(select(table)).mappings()}


def counts(read: ReadStore) -> dict[str, int]:
    with read.begin() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (rm_dossiers, rm_budget_lines, rm_programmes, rm_applicants)}


def second_store(settings: Any) -> ReadStore:
    """Another engine on the same read store, as a second process would have."""
    return ReadStore(settings.read_store_url(), schema=settings.database_schema)


def test_catch_up_projects_what_the_aggregates_say(services: Any, app: Any) -> None:
    scene = record_scene(app)
    runner = services.runner

    consumed = runner.catch_up()

    assert consumed == len(log_ids(app)) > 0
    assert runner.position() == head(app) and runner.lag() == 0
    dossiers = rows(services.read, rm_dossiers)
    assert set(dossiers) == {str(i) for i in scene["dossiers"]}
    for dossier_id in scene["dossiers"]:
        expected = app.load(Dossier, dossier_id).as_dict()
        row = dossiers[str(dossier_id)]
        for name in ("reference", "status", "programme_id", "applicant_id", "project_name", "total_budget",
                     "amount_requested", "proposed_amount", "granted_amount", "submitted_on", "version"):
            assert row[name] == expected[name], (name, row, expected)
    statuses = {row["status"] for row in dossiers.values()}
    assert statuses == {"draft", "submitted", "incomplete", "instructed", "declined", "withdrawn", "granted"}
    granted = dossiers[str(scene["granted"])]
    assert granted["granted_amount"] == Decimal("7000.00") and isinstance(granted["granted_amount"], Decimal)
    assert granted["created_at"].tzinfo is not None and granted["updated_at"] >= granted["created_at"]

    line = rows(services.read, rm_budget_lines)[str(scene["line"])]
    expected_line = app.load(BudgetLine, scene["line"]).as_dict()
    for name in ("code", "imputation", "label", "year", "credits", "reserved", "committed", "paid", "available",
                 "version"):
        assert line[name] == expected_line[name], name
    assert line["credits"] == Decimal("42500.50") and line["available"] == Decimal("35500.50")

    programme = rows(services.read, rm_programmes)[str(scene["programme"])]
    expected_programme = app.load(Programme, scene["programme"]).as_dict()
    assert programme["rules"] == expected_programme["rules"]
    assert programme["required_documents"] == {"association": ["statuts"]}
    assert (programme["opens_on"], programme["closes_on"]) == (date(2025, 1, 1), date(2025, 12, 31))
    assert programme["version"] == 1

    applicants = rows(services.read, rm_applicants)
    assert set(applicants) == {str(i) for i in scene["applicants"]}
    association = applicants[str(scene["applicants"][-1])]
    assert association["siret"] == SIRET
    assert association["version"] == app.load(Applicant, scene["applicants"][-1]).version == 2
    # The reference counter's events are in the log but have no read model: skipped, position moved past them.
    assert app.exists(ReferenceSequence.id_for(2025))
    assert str(ReferenceSequence.id_for(2025)) not in dossiers


def test_catch_up_with_nothing_new_changes_nothing(services: Any, app: Any) -> None:
    record_scene(app, dossiers=3)
    services.runner.catch_up()
    before = queries.checksum(services.read)

    assert services.runner.catch_up() == 0
    assert services.runner.position() == head(app)
    assert queries.checksum(services.read) == before


def test_later_events_update_rows_and_versions(services: Any, app: Any) -> None:
    scene = record_scene(app, dossiers=3)
    services.runner.catch_up()
    draft = scene["dossiers"][0]

    app.edit_dossier(ctx(APPLICANT), draft, changes={"total_budget": Decimal("20000.00")})
    app.submit_dossier(ctx(APPLICANT), draft, sworn_statement=sworn(DAY))
    app.change_credits(ctx(FINANCE), scene["line"], amount=Decimal("-500.50"), reason="Virement")
    assert services.runner.catch_up() == 4  # edited, submitted, reference issued, credits changed

    row = rows(services.read, rm_dossiers)[str(draft)]
    dossier = app.load(Dossier, draft)
    assert (row["status"], row["reference"], row["version"]) == ("submitted", dossier.reference, 3)
    assert row["total_budget"] == Decimal("20000.00") and row["submitted_on"] == DAY
    line = rows(services.read, rm_budget_lines)[str(scene["line"])]
    assert line["credits"] == Decimal("42000.00") and line["version"] == app.load(BudgetLine, scene["line"]).version


def test_event_types_without_a_handler_are_skipped(services: Any, app: Any) -> None:
    record_scene(app, dossiers=2)
    services.runner.catch_up()
    before = queries.checksum(services.read)
    future = StoredEvent(originator_id=uuid4(), originator_version=1, topic="domain.future:Thing.Happened",
                         state=b"{}")
    app.recorder.insert_events([future])  # a type this code does not know (a later release wrote it)
    app.withdraw_dossier(ctx(APPLICANT), record_scene_dossier(services), reason="Annulé")

    assert services.runner.catch_up() == 2
    assert services.runner.position() == head(app)
    assert queries.checksum(services.read) != before
    assert {r["status"] for r in rows(services.read, rm_dossiers).values()} >= {"withdrawn"}


def record_scene_dossier(services: Any) -> UUID:
    """The first draft dossier of the read model."""
    page, _ = queries.list_dossiers(services.read, status="draft", limit=1)
    return UUID(page[0]["id"])


def test_position_is_stored_with_the_rows(services: Any, app: Any, settings: Any) -> None:
    record_scene(app, dossiers=4)
    services.runner.catch_up(limit=7)

    with services.read.begin() as conn:
        stored = conn.execute(select(tracking.c.position).where(tracking.c.name == services.runner.name)).scalar()
    assert stored == head(app)
    other = second_store(settings)
    try:
        fresh = ProjectionRunner(app, other)
        assert fresh.position() == head(app)
        assert fresh.lag() == 0
        assert fresh.catch_up() == 0
    finally:
        other.dispose()


class CrashOnSubmit(DossierProjection):
    """Dies on the n-th submission it sees, like a process killed in the middle of a batch."""

    def __init__(self, after: int) -> None:
        self.left = after

    def handlers(self) -> dict[type[Any], Any]:
        handlers = super().handlers()
        submitted = handlers[Dossier.Submitted]

        def crash(rows: RowSet, event: Any, key: str) -> None:
            self.left -= 1
            if self.left < 0:
                raise RuntimeError("simulated crash")
            submitted(rows, event, key)

        handlers[Dossier.Submitted] = crash
        return handlers


def test_resume_after_a_crash_continues_from_the_stored_position(services: Any, app: Any, settings: Any) -> None:
    record_scene(app, dossiers=14)
    crashing = ProjectionRunner(app, services.read, projections=[
        CrashOnSubmit(after=3), BudgetLineProjection(), ProgrammeProjection(), ApplicantProjection()])

    with pytest.raises(RuntimeError, match="simulated crash"):
        crashing.catch_up(limit=5)

    stopped_at = crashing.position()
    assert 0 < stopped_at < head(app)
    assert stopped_at in log_ids(app)[4::5]  # only whole batches of 5 were committed
    before = counts(services.read)

    other = second_store(settings)
    try:
        restarted = ProjectionRunner(app, other)  # a new process, its own engine
        assert restarted.position() == stopped_at
        assert restarted.catch_up(limit=5) == len([i for i in log_ids(app) if i > stopped_at])
        assert restarted.position() == head(app)
    finally:
        other.dispose()
    after = counts(services.read)
    assert after["rm_dossiers"] >= before["rm_dossiers"]
    live = queries.checksum(services.read)
    services.runner.rebuild()
    assert queries.checksum(services.read) == live  # nothing lost, nothing applied twice


def test_a_runner_behind_the_stored_position_applies_nothing_twice(services: Any, app: Any, settings: Any) -> None:
    scene = record_scene(app, dossiers=3)
    other = second_store(settings)
    try:
        late = ProjectionRunner(app, other)
        assert late.catch_up() == len(log_ids(app))  # it now believes the position is this head
        seen = late.position()
        app.withdraw_dossier(ctx(APPLICANT), scene["dossiers"][0], reason="Annulé")
        app.change_credits(ctx(FINANCE), scene["line"], amount=Decimal("100.00"), reason="Abondement")
        assert services.runner.catch_up() == 2  # another process applies the two new events
        expected = queries.checksum(services.read)

        assert late.catch_up() == 0  # its conditional update found another position: rolled back
        assert late.position() == head(app) > seen
        assert queries.checksum(services.read) == expected
        assert rows(services.read, rm_budget_lines)[str(scene["line"])]["credits"] == Decimal("42600.50")
    finally:
        other.dispose()


def test_two_runners_racing_apply_each_event_once(services: Any, app: Any, settings: Any) -> None:
    record_scene(app, dossiers=30)
    stores = [second_store(settings), second_store(settings)]
    runners = [ProjectionRunner(app, store) for store in stores]
    consumed = [0, 0]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(index: int) -> None:
        try:
            start.wait()
            consumed[index] = runners[index].catch_up(limit=3)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.dispose()

    assert errors == []
    assert sum(consumed) == len(log_ids(app))  # every batch was committed by exactly one of them
    assert services.runner.position() == head(app)
    raced = queries.checksum(services.read)
    services.runner.rebuild()
    assert queries.checksum(services.read) == raced


def test_rebuild_gives_the_same_read_models_as_live(services: Any, app: Any) -> None:
    record_scene(app)
    services.runner.catch_up(limit=4)
    live = queries.checksum(services.read)
    batches: list[int] = []

    count = services.runner.rebuild(progress=batches.append, batch=10)

    assert count == len(log_ids(app)) == sum(batches)
    assert max(batches) == 10 and len(batches) == -(-count // 10)
    assert services.runner.position() == head(app)
    assert queries.checksum(services.read) == live


def test_rebuild_repairs_a_damaged_read_model(services: Any, app: Any) -> None:
    scene = record_scene(app, dossiers=4)
    services.runner.catch_up()
    live = queries.checksum(services.read)
    with services.read.begin() as conn:
        conn.execute(update(rm_dossiers).where(rm_dossiers.c.id == str(scene["granted"]))
                     .values(status="closed", granted_amount=Decimal("1.00")))
        conn.execute(rm_applicants.delete())
    assert queries.checksum(services.read) != live

    services.runner.rebuild()

    assert queries.checksum(services.read) == live
    assert rows(services.read, rm_dossiers)[str(scene["granted"])]["granted_amount"] == Decimal("7000.00")


def test_drop_all_keeps_the_tokens_and_catch_up_rebuilds_from_zero(services: Any, app: Any) -> None:
    record_scene(app, dossiers=3)
    services.runner.catch_up()
    live = queries.checksum(services.read)
    token = services.tokens.create(role="auditor", name="CRC", applicant_id=None)

    services.read.drop_all()
    services.read.create_all()
    assert counts(services.read) == {"rm_dossiers": 0, "rm_budget_lines": 0, "rm_programmes": 0,
                                     "rm_applicants": 0}
    fresh = ProjectionRunner(app, services.read)
    assert fresh.position() == 0

    assert fresh.catch_up() == len(log_ids(app))
    assert queries.checksum(services.read) == live
    info = services.tokens.authenticate(token)
    assert info is not None and info.role == "auditor"


def test_run_forever_follows_new_events_until_stopped(services: Any, app: Any) -> None:
    scene = record_scene(app, dossiers=2)
    stop = threading.Event()
    done = threading.Event()
    original = services.runner.catch_up

    def catch_up(limit: int = 500, **options: Any) -> int:
        applied = original(limit, **options)
        if services.runner.lag() == 0:
            done.set()
        return applied

    services.runner.catch_up = catch_up
    thread = threading.Thread(target=services.runner.run_forever, args=(stop, 0.01))
    thread.start()
    try:
        assert done.wait(30)
        app.withdraw_dossier(ctx(APPLICANT), scene["dossiers"][0], reason="Annulé")
        # The runner may report "caught up" between our write and its next poll: wait for the row itself.
        deadline = time.monotonic() + 30
        while rows(services.read, rm_dossiers)[str(scene["dossiers"][0])]["status"] != "withdrawn":
            assert time.monotonic() < deadline, "the runner never projected the withdrawal"
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert rows(services.read, rm_dossiers)[str(scene["dossiers"][0])]["status"] == "withdrawn"


# --- queries ------------------------------------------------------------------------------------


def walk(read: ReadStore, limit: int, **filters: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        page, cursor = queries.list_dossiers(read, limit=limit, cursor=cursor, **filters)
        assert len(page) <= limit
        items += page
        if cursor is None:
            return items
        assert page, "a cursor is only given when a page is full"
    raise AssertionError("pagination did not end")


def test_pagination_walks_every_dossier_exactly_once_in_order(services: Any, app: Any) -> None:
    scene = record_scene(app, dossiers=23)
    services.runner.catch_up()

    items = walk(services.read, limit=5)

    ids = [item["id"] for item in items]
    assert sorted(ids) == sorted(str(i) for i in scene["dossiers"]) and len(set(ids)) == len(ids) == 24
    keys = [(item["created_at"], item["id"]) for item in items]
    assert keys == sorted(keys)
    for limit in (1, 24, 200):
        assert [i["id"] for i in walk(services.read, limit=limit)] == ids
    first = items[0]
    assert isinstance(first["total_budget"], Decimal) and first["total_budget"] == Decimal("18695.00")
    assert isinstance(first["created_at"], datetime) and first["created_at"].tzinfo is not None
    assert "signed_parties" not in first
    page, cursor = queries.list_dossiers(services.read, limit=24)
    assert len(page) == 24 and cursor is None


def test_pagination_with_filters(services: Any, app: Any) -> None:
    scene = record_scene(app, dossiers=21)
    services.runner.catch_up()
    owner = scene["applicants"][0]

    mine = walk(services.read, limit=2, applicant_id=owner)
    submitted = walk(services.read, limit=2, status="submitted")
    in_programme = walk(services.read, limit=7, programme_id=str(scene["programme"]))

    expected_mine = {str(i) for i in scene["dossiers"] if app.load(Dossier, i).applicant_id == owner}
    assert {i["id"] for i in mine} == expected_mine and len(mine) == len(expected_mine)
    assert submitted and all(i["status"] == "submitted" for i in submitted)
    assert {i["id"] for i in submitted} == {str(i) for i in scene["dossiers"]
                                             if app.load(Dossier, i).status == "submitted"}
    assert all(isinstance(i["submitted_on"], date) for i in submitted)
    assert len(in_programme) == 22
    assert queries.list_dossiers(services.read, status="closed") == ([], None)


def test_bad_limits_and_cursors_are_refused(services: Any, app: Any) -> None:
    record_scene(app, dossiers=3)
    services.runner.catch_up()
    _, cursor = queries.list_dossiers(services.read, limit=1)
    assert cursor is not None

    for limit in (0, 201, -1):
        with pytest.raises(ValueError, match="limit"):
            queries.list_dossiers(services.read, limit=limit)
    for bad in ("not-a-cursor!", "AAAA", queries.encode_cursor("yesterday", "x"), cursor[:-3]):
        with pytest.raises(ValueError, match="cursor"):
            queries.list_dossiers(services.read, cursor=bad)
        with pytest.raises(ValueError, match="cursor"):
            queries.list_applicants(services.read, cursor=bad[:4] + "!!")


def test_lists_of_programmes_budget_lines_and_applicants(services: Any, app: Any) -> None:
    scene = record_scene(app, dossiers=2)
    services.runner.catch_up()

    programmes = queries.list_programmes(services.read)
    lines = queries.list_budget_lines(services.read)
    applicants: list[dict[str, Any]] = []
    cursor = None
    while True:
        page, cursor = queries.list_applicants(services.read, 3, cursor)
        applicants += page
        if cursor is None:
            break

    assert [p["id"] for p in programmes] == [str(scene["programme"])]
    assert [line["id"] for line in lines] == [str(scene["line"])]
    assert lines[0]["available"] == Decimal("35500.50")
    assert [a["name"] for a in applicants] == sorted(a["name"] for a in applicants)
    assert {a["id"] for a in applicants} == {str(i) for i in scene["applicants"]} and len(applicants) == 4


def test_dossier_ids_for_tick_are_the_granted_ones(services: Any, app: Any) -> None:
    scene = record_scene(app, dossiers=7)
    services.runner.catch_up()

    assert queries.dossier_ids_for_tick(services.read) == [scene["granted"]]
    assert all(isinstance(i, UUID) for i in queries.dossier_ids_for_tick(services.read))


def test_checksum_sees_every_change(services: Any, app: Any) -> None:
    scene = record_scene(app, dossiers=2)
    services.runner.catch_up()
    before = queries.checksum(services.read)
    assert before == queries.checksum(services.read) and len(before) == 64

    with services.read.begin() as conn:
        conn.execute(update(rm_budget_lines).values(paid=Decimal("0.01")))
    damaged = queries.checksum(services.read)
    with services.read.begin() as conn:
        conn.execute(update(rm_budget_lines).values(paid=Decimal("0.00")))
        conn.execute(update(rm_dossiers).where(rm_dossiers.c.id == str(scene["granted"]))
                     .values(updated_at=datetime(2020, 1, 1, tzinfo=UTC)))

    assert damaged != before
    assert queries.checksum(services.read) not in (before, damaged)
