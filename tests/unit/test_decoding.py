"""projections.decoding.EventDecoder makes the events the application's mapper makes, or lets the mapper make them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.dossier import Dossier
from domain.values import Actor
from projections.decoding import EventDecoder
from tests.unit.factories import memory_app

TOPIC = "domain.dossier:Dossier.Edited"
ID = UUID("8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d")

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.text(),
    st.decimals(allow_nan=False, allow_infinity=False, places=2), st.dates(), st.uuids(),
    st.datetimes(timezones=st.just(UTC)), st.builds(Actor, st.text(), st.text()),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner,
                                                                                       max_size=4),
                      max_leaves=12)


odd_scalars = st.one_of(scalars, st.floats(allow_nan=False, allow_infinity=False), st.integers(2**64, 2**100),
                        st.integers(-(2**100), -(2**63) - 1))
odd_values = st.recursive(odd_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner,
                                                                                                    max_size=4),
                          max_leaves=12)


def stored(app: Any, state: dict[str, Any], topic: str = TOPIC) -> StoredEvent:
    return StoredEvent(originator_id=ID, originator_version=3, topic=topic, state=app.mapper.transcoder.encode(state))


def same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and vars(a) == vars(b)


@settings(max_examples=300, deadline=None)
@given(changes=st.dictionaries(st.text(), values, max_size=6))
def test_any_state_the_transcoder_writes_decodes_to_the_mappers_event(changes):
    app = memory_app()
    decoder = EventDecoder(app.mapper)
    state = {"timestamp": datetime(2025, 9, 15, 10, tzinfo=UTC), "actor": Actor("Mme X", "instructor"),
             "effective_on": date(2025, 9, 15), "previous_hash": "", "hash": "h", "changes": changes}
    event = stored(app, state)
    assert same(decoder(event), app.mapper.to_domain_event(event))
    assert decoder.fallbacks == 0


@settings(max_examples=200, deadline=None)
@given(changes=st.dictionaries(st.text(), odd_values, max_size=6))
def test_floats_and_huge_integers_are_left_to_the_mapper_and_decode_alike(changes):
    app = memory_app()
    event = stored(app, {"hash": "h", "changes": changes})
    assert same(EventDecoder(app.mapper)(event), app.mapper.to_domain_event(event))


@pytest.mark.parametrize("text", [
    b'{"amount":NaN}',                                # json reads NaN, orjson does not
    b'{"amount":123456789012345678901234567890}',    # beyond 64 bits
    b'{"name":"\\ud800"}',                            # a lone surrogate
], ids=["nan", "huge-int", "lone-surrogate"])
def test_what_orjson_refuses_is_decoded_by_the_mapper(text):
    app = memory_app()
    decoder = EventDecoder(app.mapper)
    event = StoredEvent(originator_id=ID, originator_version=3, topic=TOPIC, state=text)
    decoded = decoder(event)
    assert decoder.fallbacks == 1
    assert vars(decoded).keys() == vars(app.mapper.to_domain_event(event)).keys()


def test_an_unknown_transcoding_raises_the_mappers_error():
    app = memory_app()
    decoder = EventDecoder(app.mapper)
    event = StoredEvent(originator_id=ID, originator_version=3, topic=TOPIC,
                        state=b'{"amount":{"_type_":"money_cents","_data_":100}}')
    with pytest.raises(Exception) as mine:
        decoder(event)
    with pytest.raises(Exception) as theirs:
        app.mapper.to_domain_event(event)
    assert type(mine.value) is type(theirs.value) and str(mine.value) == str(theirs.value)


def test_every_event_of_a_lifecycle_decodes_alike_without_the_mapper():
    from tests.unit.factories import APPLICANT, INSTRUCTOR, applicant, attach, ctx, dossier, programme, sworn

    app = memory_app()
    prog = programme(app)
    d = dossier(app, prog, applicant(app))
    attach(app, d.id, "statuts", "rib")
    app.submit_dossier(ctx(APPLICANT), d.id, sworn_statement=sworn())
    app.instruct_dossier(ctx(INSTRUCTOR), d.id, opinion="favourable", proposed_amount=Decimal("7000.00"),
                         eligible_cost=Decimal("18695.00"))
    decoder = EventDecoder(app.mapper)
    notifications = app.recorder.select_notifications(0, 1000, inclusive_of_start=False)
    assert len(notifications) > 8
    for notification in notifications:
        assert same(decoder(notification), app.mapper.to_domain_event(notification))
    assert decoder.fallbacks == 0
    assert isinstance(decoder(notifications[-1]), Dossier.Instructed)


def test_an_id_of_another_type_is_converted_as_the_mapper_converts_it():
    app = memory_app()
    decoder = EventDecoder(app.mapper)
    event = StoredEvent(originator_id=str(uuid4()), originator_version=1, topic=TOPIC, state=b'{"hash":"h"}')
    assert same(decoder(event), app.mapper.to_domain_event(event))
