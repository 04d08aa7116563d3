"""kill -9 in the middle of a load run, restart, and nothing acknowledged is lost (issue 8).

`SUBVENTIO_CRASH_CLIENTS` clients drive dossiers through intake, instruction and deliberations over HTTP while a
killer sends SIGKILL to the whole `subventio serve` process group — the gunicorn master, both API worker
processes and the companion worker process (relay, notifier, scheduler) — at random points (seeded:
`SUBVENTIO_CRASH_SEED`), `SUBVENTIO_CRASH_KILLS` times, restarting it each time. Then:

- `subventio audit verify` passes: every hash chain is whole;
- `subventio projections verify-rebuild` passes: the read models equal a rebuild from the log in a scratch store;
- every 2xx answer's effect is in the store: each created resource exists, each acknowledged command's event
  is in its aggregate's history at the version the answer gave, and the dossier list shows every dossier.
Requests cut by a kill have no answer: they may or may not have been recorded, and nothing is asserted on them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
import requests

from tests.e2e.conftest import BIN, Server

pytestmark = pytest.mark.e2e

CLIENTS = int(os.environ.get("SUBVENTIO_CRASH_CLIENTS", "3"))
KILLS = int(os.environ.get("SUBVENTIO_CRASH_KILLS", "3"))
SEED = int(os.environ.get("SUBVENTIO_CRASH_SEED", "8"))
EVENT_OF = {"submit": "Dossier.Submitted", "instruct": "Dossier.Instructed", "vote": "Deliberation.VoteRecorded"}
MEMBERS = [f"Membre {i:02d}" for i in range(1, 45)]
ATTENDANCE = {"present": MEMBERS[:36], "excused": MEMBERS[36:], "absent": [],
              "proxies": [{"from": MEMBERS[36 + i], "to": MEMBERS[i]} for i in range(8)]}


@dataclass
class Acknowledged:
    """Every 2xx answer: what it created (Location) or the version it reported for which resource."""

    created: list[str] = field(default_factory=list)
    commands: list[tuple[str, str, int]] = field(default_factory=list)  # (resource url, command, version)
    dossiers: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def count(self) -> int:
        return len(self.created) + len(self.commands)


class Load:
    """Clients acting until told to stop; a request cut by a kill is retried on the restarted server."""

    def __init__(self, server: Server, acked: Acknowledged, admin: dict[str, str], line: str, programme: str) -> None:
        self.server, self.acked, self.admin, self.line, self.programme = server, acked, admin, line, programme
        self.stop = threading.Event()
        self.up = threading.Event()
        self.up.set()
        self.sent = 0
        self.cut = 0
        self.errors: list[str] = []

    def call(self, session: requests.Session, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        """One request; None if the server died under it."""
        self.up.wait(timeout=120)
        try:
            response = session.request(method, f"{self.server.url}{path}", timeout=30, **kwargs)
        except requests.RequestException:
            self.cut += 1
            time.sleep(0.05)
            return None
        self.sent += 1
        if response.status_code >= 500:
            self.errors.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response

    def client(self, number: int, token: dict[str, str]) -> None:
        today = date.today().isoformat()
        ready: list[str] = []
        with requests.Session() as session:
            session.headers.update(token)
            while not self.stop.is_set():
                opened = self.call(session, "POST", "/dossiers", json={
                    "programme_id": self.programme, "project_name": f"Projet {number}",
                    "total_budget": "2000.00", "amount_requested": "1000.00", "applicant_id": self.applicant(number)})
                if opened is None or opened.status_code != 201:
                    continue
                dossier = opened.json()["id"]
                self.record_created(opened.headers["Location"], dossier)
                submitted = self.command(session, f"/dossiers/{dossier}", "submit", json={
                    "sworn_statement": {"signatory": "E", "place": "Lille", "signed_on": today}})
                if submitted and self.command(session, f"/dossiers/{dossier}", "instruct", json={
                        "opinion": "favourable", "proposed_amount": "1000.00", "eligible_cost": "2000.00"}):
                    ready.append(dossier)
                if len(ready) >= 2:
                    self.deliberate(session, number, ready)
                    ready = []

    def deliberate(self, session: requests.Session, number: int, dossiers: list[str]) -> None:
        created = self.call(session, "POST", "/deliberations", headers=self.secretary, json={
            "number": f"C{number}-{time.monotonic_ns()}", "title": "Charge", "session_on": date.today().isoformat(),
            "members_in_office": 44, "attendance": ATTENDANCE,
            "items": [{"dossier_id": d, "amount": "1000.00", "budget_line_id": self.line} for d in dossiers]})
        if created is None or created.status_code != 201:
            return
        self.record_created(created.headers["Location"])
        url = f"/deliberations/{created.json()['id']}"
        self.command(session, url, "vote", headers=self.secretary, json={
            "voted_on": date.today().isoformat(), "for": 44, "against": 0, "abstention": 0, "not_participating": []})

    def command(self, session: requests.Session, resource: str, name: str, **kwargs: Any) -> bool:
        response = self.call(session, "POST", f"{resource}/{name}", **kwargs)
        if response is None or response.status_code != 200:
            return False
        with self.acked.lock:
            self.acked.commands.append((resource, name, int(response.json()["version"])))
        return True

    def record_created(self, location: str, dossier: str | None = None) -> None:
        with self.acked.lock:
            self.acked.created.append(location)
            if dossier:
                self.acked.dossiers.add(dossier)

    applicants: dict[int, str]
    secretary: dict[str, str]

    def applicant(self, number: int) -> str:
        return self.applicants[number]


def restart(server: Server, settings: Any) -> Server:
    """A new `subventio serve` on the same store (a new port: the old one may linger in TIME_WAIT)."""
    fresh = Server(settings)
    server.__dict__.update(fresh.__dict__)
    return server


def kill(server: Server) -> None:
    os.killpg(server.process.pid, signal.SIGKILL)  # the master, its API workers and the companion workers
    server.process.wait(timeout=30)


def cli(settings: Any, *args: str) -> subprocess.CompletedProcess[str]:
    from tests.e2e.conftest import server_env

    return subprocess.run([str(BIN / "subventio"), *args], env=server_env(settings), capture_output=True, text=True,
                          timeout=300, check=False)


def test_kill_9_during_a_load_run_loses_nothing_acknowledged(settings, services, server):
    staff = {role: {"Authorization": f"Bearer {services.tokens.create(role=role, name=role, applicant_id=None)}"}
             for role in ("admin", "instructor", "secretary", "auditor")}
    year = date.today().year
    line = requests.post(f"{server.url}/budget-lines", headers=staff["admin"], timeout=30, json={
        "code": "CRASH", "imputation": "65748//93043", "label": "Charge", "year": year, "credits": "9000000.00"})
    assert line.status_code == 201, line.text
    programme = requests.post(f"{server.url}/programmes", headers=staff["admin"], timeout=30, json={
        "code": "CRASH", "title": "Charge", "year": year, "opens_on": f"{year}-01-01", "closes_on": f"{year}-12-31",
        "budget_line_id": line.json()["id"], "rules": {}, "required_documents": {}})
    assert programme.status_code == 201, programme.text
    acked = Acknowledged()
    load = Load(server, acked, staff["admin"], line.json()["id"], programme.json()["id"])
    load.secretary = staff["secretary"]
    load.applicants = {}
    for number in range(CLIENTS):
        applicant = requests.post(f"{server.url}/applicants", headers=staff["instructor"], timeout=30, json={
            "kind": "person", "name": f"Porteur {number}", "address": "Arras", "email": f"p{number}@example.org",
            "legal_representative": {"name": f"Porteur {number}", "role": "porteur"}})
        assert applicant.status_code == 201, applicant.text
        load.applicants[number] = applicant.json()["id"]
    threads = [threading.Thread(target=load.client, args=(n, staff["instructor"]), daemon=True)
               for n in range(CLIENTS)]
    for thread in threads:
        thread.start()

    rng = random.Random(SEED)  # noqa: S311 - kill points, not secrets
    kills = 0
    try:
        for _ in range(KILLS):
            target = acked.count + rng.randint(5, 40)  # a random point of the run
            deadline = time.monotonic() + 120
            while acked.count < target and time.monotonic() < deadline:
                time.sleep(0.005)
            load.up.clear()
            kill(server)
            kills += 1
            restart(server, settings)
            load.up.set()
        time.sleep(0.5)  # the last incarnation serves a little load too
    finally:
        load.stop.set()
        load.up.set()
        for thread in threads:
            thread.join(timeout=60)

    assert kills == KILLS and acked.count > KILLS * 5, (kills, acked.count)
    assert load.errors == [], load.errors

    verified = cli(settings, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert '"ok": true' in verified.stdout
    rebuilt = cli(settings, "projections", "verify-rebuild")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr

    auditor = staff["auditor"]
    for location in acked.created:
        found = requests.get(f"{server.url}{location}", headers=auditor, timeout=30)
        assert found.status_code == 200, (location, found.status_code)
    for resource, name, version in acked.commands:
        history = requests.get(f"{server.url}{resource}/history", headers=auditor, timeout=30).json()["items"]
        recorded = [item["type"] for item in history if item["version"] == version]
        assert recorded == [EVENT_OF[name]], (resource, name, version, [i["type"] for i in history])
    listed: set[str] = set()
    cursor = None
    while True:
        page = requests.get(f"{server.url}/dossiers", headers=auditor, timeout=60,
                            params={"limit": 200, **({"cursor": cursor} if cursor else {})}).json()
        listed |= {item["id"] for item in page["items"]}
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert acked.dossiers <= listed, sorted(acked.dossiers - listed)
    REPORT.update(kills=kills, acknowledged=acked.count, answered=load.sent, cut=load.cut)
    print(f"crash recovery: {REPORT}")


REPORT: dict[str, int] = {}
