"""Runs workers as threads of one process until told to stop: `subventio worker NAME` and `serve`'s companion.

With the embedded broker (memory://) the broker exists only inside this process, so the relay and
the notifier must run here together (`all`); they share an `InFlight` record so that the relay's
position never passes a message the notifier has not finished (workers/relay.py).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from domain.application import Subventio
from projections.database import ReadStore
from workers.broker import MEMORY_URL, Broker, Topology
from workers.mail import Mailer, mailer_for
from workers.notifier import RETRY_DELAYS, Notifier
from workers.relay import InFlight, Relay
from workers.scheduler import Scheduler
from workers.tables import create_tables

log = logging.getLogger("subventio.workers")

NAMES = ("relay", "notify", "scheduler", "projections")


class NeedsBroker(ValueError):
    """A worker started alone on the embedded broker would publish to (or read from) nobody."""


@dataclass
class Workers:
    """The workers of one process, built from what the composition root gives them."""

    app: Subventio
    read: ReadStore
    runner: Any
    today: Callable[[], date]
    dossier_ids: Callable[[], Iterable[UUID]]
    broker_url: str | None = None
    smtp_url: str | None = None
    prefix: str = ""
    mailer: Mailer | None = None
    retry_delays: tuple[float, ...] = RETRY_DELAYS
    poll_interval: float = 0.2
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    relay: Relay | None = None
    notifier: Notifier | None = None
    scheduler: Scheduler | None = None
    failed: bool = False

    def __post_init__(self) -> None:
        self.broker = Broker(self.broker_url or MEMORY_URL, Topology(self.prefix))
        self.mail: Mailer = self.mailer or mailer_for(self.smtp_url)

    def resolve(self, *names: str) -> tuple[str, ...]:
        """The workers to run ("all" is every one); on the embedded broker relay and notifier go together."""
        chosen = NAMES if "all" in names else tuple(dict.fromkeys(names))
        unknown = set(chosen) - set(NAMES)
        if unknown or not chosen:
            raise ValueError(f"unknown worker: {', '.join(sorted(unknown)) or '(none)'}")
        if self.broker.is_memory and ("relay" in chosen) != ("notify" in chosen):
            alone = "relay" if "relay" in chosen else "notify"
            raise NeedsBroker(f"`worker {alone}` needs SUBVENTIO_BROKER_URL: the embedded broker lives inside one "
                              "process (use `worker all`, or `serve`, which starts it)")
        return chosen

    def start(self, *names: str) -> None:
        names = self.resolve(*(names or ("all",)))
        create_tables(self.read)
        in_flight = InFlight() if self.broker.is_memory and "relay" in names else None
        targets: dict[str, Callable[[threading.Event], None]] = {}
        if "notify" in names:
            self.notifier = Notifier(self.broker, self.read, self.mail, retry_delays=self.retry_delays,
                                     on_finished=in_flight.finished if in_flight else None)
            targets["notify"] = self.notifier.run
        if "relay" in names:
            self.relay = Relay(self.app, self.read, self.broker, interval=self.poll_interval, in_flight=in_flight)
            targets["relay"] = self.relay.run
        if "scheduler" in names:
            self.scheduler = Scheduler(self.app, self.read, dossier_ids=self.dossier_ids,
                                       catch_up=self.runner.catch_up, today=self.today)
            targets["scheduler"] = self.scheduler.run
        if "projections" in names:
            targets["projections"] = lambda stop: self.runner.run_forever(stop, interval=self.poll_interval)
        for worker, target in targets.items():
            thread = threading.Thread(target=self._guard, args=(worker, target), name=f"subventio-{worker}",
                                      daemon=True)
            thread.start()
            self.threads.append(thread)
        log.info("workers %s running (broker: %s, mail: %s)", ", ".join(targets), self.broker.describe(),
                 "SMTP" if self.smtp_url else "log")

    def _guard(self, worker: str, target: Callable[[threading.Event], None]) -> None:
        """A worker that dies stops the whole process, so that its supervisor restarts it."""
        try:
            target(self.stop)
        except BaseException:
            log.exception("worker %s died; stopping the process", worker)
            raise
        finally:
            if not self.stop.is_set():
                log.error("worker %s stopped unexpectedly; stopping the process", worker)
                self.failed = True
                self.stop.set()

    def close(self, timeout: float = 10.0) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)
        self.threads.clear()

    def run(self, name: str = "all", parent_pid: int | None = None,
            started: Callable[[], None] | None = None) -> int:
        """Runs until SIGTERM/SIGINT (or the parent process is gone); returns the exit status."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop.set())
        self.start(name)
        if started is not None:
            started()
        while not self.stop.wait(1.0):
            if parent_pid is not None and os.getppid() != parent_pid:
                log.info("workers: parent process %d is gone; stopping", parent_pid)
                self.stop.set()
        self.close()
        return 1 if self.failed else 0
