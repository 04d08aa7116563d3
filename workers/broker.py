"""The kombu topology and connections: one topic exchange, the notifier's durable queue, a dead-letter queue.

    subventio.events (topic) ──dossier.#──▶ subventio.notifications ──(rejected / 5 failures)──▶ subventio.dead

On RabbitMQ every publish waits for the broker's confirm (`confirm_publish`), messages are
persistent and queues durable. The embedded default is kombu's in-memory transport: it lives
inside one process, so the relay, notifier and scheduler share it as threads (`worker all`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from amqp.exceptions import AMQPError
from kombu import Connection, Exchange, Queue
from kombu.exceptions import OperationalError

MEMORY_URL = "memory://"
CONNECTION_ERRORS = (OSError, OperationalError, AMQPError)


def is_connection_error(exc: BaseException) -> bool:
    """The broker went away (expected, logged without a traceback), as opposed to a bug."""
    return isinstance(exc, CONNECTION_ERRORS)
DEAD_ROUTING_KEY = "dead"


@dataclass(frozen=True)
class Topology:
    """Exchange and queue names; `prefix` keeps test runs (or tenants) apart on one broker without a vhost."""

    prefix: str = ""
    events: Exchange = field(init=False)
    dead_exchange: Exchange = field(init=False)
    notifications: Queue = field(init=False)
    dead: Queue = field(init=False)

    def __post_init__(self) -> None:
        events = Exchange(f"{self.prefix}subventio.events", type="topic", durable=True)
        dead_exchange = Exchange(f"{self.prefix}subventio.dead", type="direct", durable=True)
        object.__setattr__(self, "events", events)
        object.__setattr__(self, "dead_exchange", dead_exchange)
        object.__setattr__(self, "notifications", Queue(
            f"{self.prefix}subventio.notifications", exchange=events, routing_key="dossier.#", durable=True,
            queue_arguments={"x-dead-letter-exchange": dead_exchange.name,
                             "x-dead-letter-routing-key": DEAD_ROUTING_KEY}))
        object.__setattr__(self, "dead", Queue(f"{self.prefix}subventio.dead", exchange=dead_exchange,
                                               routing_key=DEAD_ROUTING_KEY, durable=True))

    def declare(self, channel: Any) -> None:
        """Declares everything (idempotent): the relay declares the queues too, so nothing published is unroutable."""
        for queue in (self.dead, self.notifications):
            queue.bind(channel).declare()

    def delete(self, channel: Any) -> None:
        """Removes the queues and exchanges (tests clean up their prefix)."""
        for queue in (self.notifications, self.dead):
            queue.bind(channel).delete()
        for exchange in (self.events, self.dead_exchange):
            exchange.bind(channel).delete()


@dataclass(frozen=True)
class Broker:
    """Where messages go: a kombu URL and a topology; builds connections with the right transport options."""

    url: str = MEMORY_URL
    topology: Topology = field(default_factory=Topology)

    @property
    def is_memory(self) -> bool:
        return self.url.startswith("memory")

    def connection(self) -> Connection:
        """A new, unconnected connection: confirms on AMQP, a short polling interval in memory."""
        if self.is_memory:
            options: dict[str, Any] = {"polling_interval": 0.02}
        else:
            options = {"confirm_publish": True}
        return Connection(self.url, transport_options=options, connect_timeout=5, heartbeat=0)

    def describe(self) -> str:
        return "embedded" if self.is_memory else Connection(self.url).as_uri()  # as_uri() masks the password
