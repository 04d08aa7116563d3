"""The base of every aggregate: events stamped with actor, effective date and a hash chain."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from domain.chain import GENESIS, event_data, event_hash
from domain.errors import RuleViolation
from domain.values import Actor, Ctx

R = TypeVar("R", bound="Record")


class Record(Aggregate):
    """An aggregate whose every event says who recorded it, when it happened, and chains hashes."""

    chain_head: str = GENESIS

    class Event(Aggregate.Event):
        actor: Actor
        effective_on: date
        previous_hash: str
        hash: str

        def mutate(self, aggregate: Any) -> Any:
            aggregate = super().mutate(aggregate)
            aggregate.chain_head = self.hash
            return aggregate

    class Created(Event, Aggregate.Created):
        pass

    def __init__(self) -> None:
        """State is set by the Created event's apply()."""

    @classmethod
    def _start(cls: type[R], event_class: type[Any], ctx: Ctx, id: UUID, **data: Any) -> R:  # noqa: A002
        """Creates the aggregate with its first, chained event."""
        timestamp = event_class.create_timestamp()
        full = dict(data, originator_topic=get_topic(cls), actor=ctx.actor,
                    effective_on=ctx.effective_on, previous_hash=GENESIS)
        digest = event_hash(id, cls.INITIAL_VERSION, get_topic(event_class), timestamp, event_data(full))
        full.pop("originator_topic")
        return cls._create(event_class, id=id, timestamp=timestamp, hash=digest, **full)

    def _record(self, event_class: type[Any], ctx: Ctx, **data: Any) -> None:
        """Triggers the next event of this aggregate, stamped and chained."""
        timestamp = event_class.create_timestamp()
        version = self.version + 1
        full = dict(data, actor=ctx.actor, effective_on=ctx.effective_on, previous_hash=self.chain_head)
        digest = event_hash(self.id, version, get_topic(event_class), timestamp, event_data(full))
        self.trigger_event(event_class, timestamp=timestamp, hash=digest, **full)

    def _require(self, allowed: tuple[str, ...], action: str) -> None:
        status = getattr(self, "status", None)
        if status not in allowed:
            raise RuleViolation(
                "not_allowed_in_state",
                f"Impossible de « {action} » : l'état actuel est « {status} » "
                f"(attendu : {', '.join(allowed)}).",
            )


def system_actor() -> Actor:
    return Actor(name="subventio", role="system")
