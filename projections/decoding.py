"""Stored events back into domain events, as the application's mapper makes them, in a third of its time.

The readers of the whole log (the projection runner, its rebuild) decode every event; eventsourcing's
JSONTranscoder does it with the standard json module and an object hook called for every object.
`EventDecoder` parses with orjson, then applies the same transcodings (the mapper's own `Transcoding`
objects, looked up by the same names, innermost first as the object hook applies them) and builds
the event exactly as `Mapper.to_domain_event` does. Whatever it is not sure to decode identically —
a cipher or compressor, an upcast class, JSON that orjson refuses (NaN, lone surrogates) or reads
otherwise (an integer beyond 64 bits becomes a float: any float goes to the mapper), any failure —
goes to the mapper itself, which decodes it or raises its own error.
`tests/unit/test_decoding.py` checks both give equal events for every event the domain writes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import orjson
from eventsourcing.persistence import JSONTranscoder, Mapper, find_id_convertor
from eventsourcing.utils import resolve_topic


class EventDecoder:
    """notification → domain event, equal to `mapper.to_domain_event(notification)`."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        self.usable = mapper.cipher is None and mapper.compressor is None and isinstance(transcoder, JSONTranscoder)
        self.decoders: dict[str, Callable[[Any], Any]] = (
            {name: t.decode for name, t in transcoder.names.items()} if isinstance(transcoder, JSONTranscoder) else {})
        self._plans: dict[tuple[str, type[Any]], tuple[type[Any], Callable[[Any], Any]] | None] = {}
        self.fallbacks = 0

    def __call__(self, notification: Any) -> Any:
        if self.usable:
            event = self._fast(notification)
            if event is not None:
                return event
        self.fallbacks += 1
        return self.mapper.to_domain_event(notification)

    def _plan(self, topic: str, id_type: type[Any]) -> tuple[type[Any], Callable[[Any], Any]] | None:
        """The event class and id convertor of a topic; None if the mapper must decode it (upcast, unknown)."""
        key = (topic, id_type)
        if key not in self._plans:
            try:
                cls = resolve_topic(topic)
                upcast = getattr(cls, "class_version", 1) != 1
                plan = None if upcast else (cls, find_id_convertor(cls, cast("Any", id_type)))
            except Exception:  # noqa: BLE001 - the mapper raises the error it raises
                plan = None
            self._plans[key] = plan
        return self._plans[key]

    def _fast(self, notification: Any) -> Any:
        originator_id = notification.originator_id
        plan = self._plan(notification.topic, type(originator_id))
        if plan is None:
            return None
        cls, convert_id = plan
        try:
            state = orjson.loads(notification.state)
            if type(state) is not dict or "class_version" in state:
                return None
            state = self._object(state)
            if type(state) is not dict:
                return None
            state["originator_id"] = convert_id(originator_id)
            state["originator_version"] = notification.originator_version
        except Exception:  # noqa: BLE001 - whatever failed, the mapper decodes it (or raises its own error)
            return None
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    def _object(self, value: dict[str, Any]) -> Any:
        """What json's object hook makes of a decoded object: its members first, then the object itself."""
        decoders = self.decoders
        for key, member in value.items():
            kind = type(member)
            if kind is dict:
                if len(member) == 2 and type(member.get("_data_")) is str and "_type_" in member:
                    value[key] = decoders[member["_type_"]](member["_data_"])  # (inline: most transcoded values)
                else:
                    value[key] = self._object(member)
            elif kind is list:
                value[key] = self._list(member)
            elif kind is float:
                raise _Float
        if len(value) == 2 and "_type_" in value and "_data_" in value:  # a transcoded value
            return self.decoders[value["_type_"]](value["_data_"])
        return value

    def _list(self, value: list[Any]) -> list[Any]:
        for index, member in enumerate(value):
            kind = type(member)
            if kind is dict:
                value[index] = self._object(member)
            elif kind is list:
                value[index] = self._list(member)
            elif kind is float:
                raise _Float
        return value


class _Float(Exception):
    """orjson reads an integer beyond 64 bits as a float, where json reads an int: the mapper decides (no event
    the domain records holds a float: the hash chain cannot encode one)."""

