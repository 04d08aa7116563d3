"""Worker figures on RabbitMQ (PostgreSQL stores when reachable, else SQLite), with a real SMTP server (aiosmtpd).

- latency: a dossier is submitted every 50 ms (the command through `Subventio.submit_dossier`);
  from the start of the command to the acknowledgment in the SMTP sink: p50 and p99 in ms, through
  `subventio worker relay` and `subventio worker notify` processes (relay polling every 0.2 s).
- throughput: with the notifiers stopped, the relay fills the queue with N acknowledgments; then
  one (then two) `subventio worker notify` processes drain it: notifications/s from the first mail
  to the last.

`run(quick)` returns the figures (`python -m bench --only workers` once bench/__main__.py lists it).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
PG_URL = os.environ.get("SUBVENTIO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")


def reachable(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Sink:
    """Counts accepted mails and when each arrived, by recipient."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.times: list[float] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.monotonic()
        with self.lock:
            for to in envelope.rcpt_tos:
                self.arrivals.setdefault(to, now)
            self.times.append(now)
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.times)


def wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class Bench:
    def __init__(self, tmp: Path, database_url: str | None, smtp_port: int) -> None:
        from subventio import Settings, build

        self.prefix = f"bench{uuid.uuid4().hex[:8]}."
        self.settings = Settings(data_dir=tmp / "var", database_url=database_url)
        self.services = build(self.settings)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SUBVENTIO_")}
        self.env.update(SUBVENTIO_DATA_DIR=str(self.settings.data_dir), SUBVENTIO_BROKER_URL=RABBITMQ_URL,
                        SUBVENTIO_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}", SUBVENTIO_LOG_LEVEL="WARNING")
        if database_url:
            self.env["SUBVENTIO_DATABASE_URL"] = database_url
        self.processes: list[subprocess.Popen[bytes]] = []
        self.log = open(tmp / "workers.log", "ab")  # noqa: SIM115 - closed in close()
        self._setup()

    def _setup(self) -> None:
        from domain.programme import ProgrammeRules
        from domain.values import Actor, Ctx

        app = self.services.app
        self.ctx = Ctx(Actor("bench", "instructor"), date(2025, 6, 2), date(2025, 6, 2))
        line = app.open_budget_line(self.ctx, code="BENCH", imputation="65748//93043", label="bench", year=2025,
                                    credits=Decimal("100000000.00"))
        self.programme = app.open_programme(self.ctx, code="BENCH", title="bench", year=2025,
                                            opens_on=date(2025, 1, 1), closes_on=date(2025, 12, 31),
                                            budget_line_id=line.id, rules=ProgrammeRules.parse({}),
                                            required_documents={})
        self.serial = 0

    def draft(self) -> tuple[Any, str]:
        """A registered applicant (its own address) and an open dossier, ready to submit."""
        app = self.services.app
        self.serial += 1
        address = f"porteur{self.serial}@bench.example"
        applicant = app.register_applicant(self.ctx, kind="person", name=f"Porteur {self.serial}", siret=None,
                                           address="Lille", email=address, phone=None,
                                           legal_representative={"name": "x", "role": "y"}, bank=None)
        dossier = app.open_dossier(self.ctx, programme_id=self.programme.id, applicant_id=applicant.id,
                                   project_name="Projet", total_budget=Decimal("18695.00"),
                                   amount_requested=Decimal("7000.00"))
        return dossier, address

    def submit(self, dossier: Any) -> None:
        self.services.app.submit_dossier(self.ctx, dossier.id, sworn_statement={
            "signatory": "x", "place": "Lille", "signed_on": date(2025, 6, 2)})

    def start(self, name: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([str(BIN / "subventio"), "worker", name, "--prefix", self.prefix], env=self.env,
                                   stdout=self.log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.processes.remove(process)

    def queue_depth(self) -> int:
        from kombu import Connection

        from workers.broker import Topology

        with Connection(RABBITMQ_URL) as conn:
            name = Topology(self.prefix).notifications.name
            return int(conn.channel().queue_declare(name, passive=True).message_count)

    def close(self) -> None:
        for process in list(self.processes):
            self.stop(process)
        from kombu import Connection

        from workers.broker import Topology

        with Connection(RABBITMQ_URL) as conn:
            Topology(self.prefix).delete(conn.channel())
        self.services.app.close()
        self.services.read.dispose()
        self.log.close()


def latency(bench: Bench, sink: Sink, samples: int) -> list[float]:
    relay, notifier = bench.start("relay"), bench.start("notify")
    warm, address = bench.draft()
    bench.submit(warm)
    if not wait(lambda: address in sink.arrivals, 60):
        raise RuntimeError("the workers did not deliver the first mail")
    drafts = [bench.draft() for _ in range(samples)]
    started: dict[str, float] = {}
    for dossier, to in drafts:
        started[to] = time.monotonic()
        bench.submit(dossier)
        time.sleep(0.05)
    if not wait(lambda: all(to in sink.arrivals for to in started), 120):
        raise RuntimeError("mails missing in the latency run")
    bench.stop(relay)
    bench.stop(notifier)
    return [(sink.arrivals[to] - t0) * 1000 for to, t0 in started.items()]


def throughput(bench: Bench, sink: Sink, count: int, notifiers: int) -> float:
    drafts = [bench.draft() for _ in range(count)]
    before = bench.queue_depth()
    relay = bench.start("relay")
    for dossier, _ in drafts:
        bench.submit(dossier)
    if not wait(lambda: bench.queue_depth() >= before + count, 300):
        raise RuntimeError("the relay did not publish everything")
    bench.stop(relay)
    already = sink.count()
    running = [bench.start("notify") for _ in range(notifiers)]
    if not wait(lambda: sink.count() >= already + count, 600):
        raise RuntimeError("the notifiers did not send everything")
    for process in running:
        bench.stop(process)
    times = sink.times[already:already + count]
    return (count - 1) / (times[-1] - times[0])


def run(quick: bool = False) -> dict[str, Any]:
    if not reachable(5672):
        return {"workers_skipped": "RabbitMQ is not reachable on 127.0.0.1:5672"}
    from aiosmtpd.controller import Controller

    from tests.integration.test_workers_support import free_port

    samples, count = (40, 300) if quick else (200, 2000)
    database = None
    if reachable(5432):
        import psycopg

        database = f"subventio_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bench = Bench(Path(tmp), f"{PG_URL}/{database}" if database else None, port)
            try:
                lat = sorted(latency(bench, sink, samples))
                one = throughput(bench, sink, count, 1)
                two = throughput(bench, sink, count, 2)
            finally:
                bench.close()
    finally:
        controller.stop()
        if database:
            import psycopg

            with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return {
        "workers_store": "postgresql" if database else "sqlite",
        "workers_latency_p50_ms": round(statistics.median(lat), 1),
        "workers_latency_p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1),
        "workers_latency_samples": len(lat),
        "workers_notifications_per_s_1_notifier": round(one, 1),
        "workers_notifications_per_s_2_notifiers": round(two, 1),
        "workers_throughput_mails": count,
    }


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    for key, value in run(quick=quick).items():
        print(f"{key}  {value}")
