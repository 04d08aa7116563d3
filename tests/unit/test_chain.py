"""The hash chain: canonical encoding, chaining, and what verification detects (in memory)."""

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

from domain.chain import canonical_bytes, event_hash
from domain.values import Actor
from tests.unit.factories import applicant, ctx, memory_app, programme

AGG = UUID("12345678-1234-5678-1234-567812345678")
WHEN = datetime(2025, 9, 15, 10, 0, tzinfo=UTC)


def test_canonical_encoding_is_sorted_compact_and_typed():
    data = {"b": Decimal("9380.00"), "a": date(2025, 9, 15), "actor": Actor("Mme X", "secretary"), "t": ("x",)}
    encoded = canonical_bytes(AGG, 3, "domain.dossier:Dossier.Submitted", WHEN, data)
    assert encoded == (
        b'{"aggregate_id":"12345678-1234-5678-1234-567812345678","data":{"a":"2025-09-15",'
        b'"actor":{"name":"Mme X","role":"secretary"},"b":"9380.00","t":["x"]},"recorded_at":'
        b'"2025-09-15T10:00:00+00:00","topic":"domain.dossier:Dossier.Submitted","version":3}'
    )


def test_hash_changes_with_any_part():
    base = event_hash(AGG, 1, "t", WHEN, {"amount": Decimal("1.00")})
    assert base != event_hash(AGG, 2, "t", WHEN, {"amount": Decimal("1.00")})
    assert base != event_hash(AGG, 1, "u", WHEN, {"amount": Decimal("1.00")})
    assert base != event_hash(AGG, 1, "t", WHEN, {"amount": Decimal("1.01")})
    assert len(base) == 64


def test_each_event_links_to_the_previous_one():
    app = memory_app()
    prog = programme(app)
    history = app.history(prog.budget_line_id)
    assert history[0]["previous_hash"] is None
    app_history = app.history(applicant(app).id)
    assert app_history[0]["previous_hash"] is None
    line = app.change_credits(ctx(), prog.budget_line_id, amount=Decimal("-500.00"), reason="DM1")
    chain = app.history(line.id)
    assert chain[1]["previous_hash"] == chain[0]["hash"]


def test_verification_passes_on_an_untouched_store():
    app = memory_app()
    programme(app)
    applicant(app)
    result = app.verify_chains()
    assert result.ok
    assert result.events_checked == app.recorder.max_notification_id()
