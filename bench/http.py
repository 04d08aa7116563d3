"""HTTP figures through the real server (gunicorn, 2 worker processes, 10 client connections).

`GET /dossiers/{id}` and `POST /dossiers/{id}/instruct`: requests/s, p50 and p99 in ms, on SQLite
and (with --postgres) on PostgreSQL. The load generator runs in 2 separate processes of 5
keep-alive connections each, on the same 2-core machine as the server.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
CONNECTIONS = 10
PROCESSES = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(env: dict[str, str], dossiers: int) -> dict[str, Any]:
    """Creates a programme and `dossiers` submitted dossiers through the application; returns ids and tokens."""
    from domain.programme import ProgrammeRules
    from domain.values import Actor, Ctx
    from subventio import Settings, build

    services = build(Settings.from_env(env))
    app = services.app
    today = services.today()
    ctx = Ctx(Actor("bench", "instructor"), today, today)
    line = app.open_budget_line(ctx, code="BENCH", imputation="65748//93043", label="bench", year=today.year,
                                credits=Decimal("100000000.00"))
    programme = app.open_programme(ctx, code="BENCH", title="bench", year=today.year,
                                   opens_on=today - timedelta(days=10), closes_on=today + timedelta(days=10),
                                   budget_line_id=line.id, rules=ProgrammeRules.parse({}),
                                   required_documents={})
    applicant = app.register_applicant(ctx, kind="association", name="Bench", siret="43853522100024",
                                       address="Lille", email="bench@example.org", phone=None,
                                       legal_representative={"name": "x", "role": "y"}, bank=None)
    ids = []
    for _ in range(dossiers):
        d = app.open_dossier(ctx, programme_id=programme.id, applicant_id=applicant.id, project_name="p",
                             total_budget=Decimal("18695.00"), amount_requested=Decimal("7000.00"))
        app.submit_dossier(ctx, d.id, sworn_statement={"signatory": "x", "place": "Lille", "signed_on": today})
        ids.append(str(d.id))
    services.runner.catch_up()
    token = services.tokens.create(role="instructor", name="bench", applicant_id=None)
    services.app.close()
    services.read.dispose()
    return {"ids": ids, "token": token}


def worker(port: int, token: str, jobs: list[tuple[str, str, bytes | None]], seconds: float, threads: int,
           queue: Any) -> None:
    """One load process: `threads` keep-alive connections; reports latencies (s) and error count."""
    import threading

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    cursor = [0]

    def loop() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        mine: list[float] = []
        while time.perf_counter() < deadline:
            with lock:
                if cursor[0] >= len(jobs):
                    break
                method, path, body = jobs[cursor[0]]
                cursor[0] += 1
            start = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status < 300
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
            mine.append(time.perf_counter() - start)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    queue.put((latencies, errors[0]))


def load(port: int, token: str, jobs: list[tuple[str, str, bytes | None]], seconds: float) -> dict[str, float]:
    queue: Any = multiprocessing.Queue()
    shares = [jobs[i::PROCESSES] for i in range(PROCESSES)]
    start = time.perf_counter()
    procs = [multiprocessing.Process(target=worker, args=(port, token, share, seconds, CONNECTIONS // PROCESSES,
                                                          queue)) for share in shares]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    latencies = sorted(lat for lats, _ in results for lat in lats)
    errors = sum(e for _, e in results)
    if not latencies:
        return {"rps": 0.0, "p50_ms": 0.0, "p99_ms": 0.0, "errors": float(errors)}
    return {"rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
            "errors": float(errors), "requests": float(len(latencies))}


def measure(env: dict[str, str], quick: bool) -> dict[str, float]:
    dossiers = 300 if quick else 3000
    seconds = 3.0 if quick else 10.0
    seeded = seed(env, dossiers)
    port = free_port()
    log = open(Path(env["SUBVENTIO_DATA_DIR"]) / "serve.log", "wb")  # noqa: SIM115
    server = subprocess.Popen([str(BIN / "subventio"), "serve", "--port", str(port), "--workers", "2"],
                              env={**os.environ, **env, "SUBVENTIO_LOG_LEVEL": "WARNING"}, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            wait_for(port)
        except RuntimeError:
            log.flush()
            print((Path(env["SUBVENTIO_DATA_DIR"]) / "serve.log").read_text()[-3000:], file=sys.stderr)
            raise
        ids = seeded["ids"]
        gets = [("GET", f"/dossiers/{random.choice(ids)}", None) for _ in range(200000)]
        load(port, seeded["token"], gets[:2000], 1.0)  # warm-up
        get = load(port, seeded["token"], gets, seconds)
        body = json.dumps({"opinion": "favourable", "proposed_amount": "7000.00",
                           "eligible_cost": "18695.00"}).encode()
        posts = [("POST", f"/dossiers/{i}/instruct", body) for i in ids]
        post = load(port, seeded["token"], posts, seconds)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)
        log.close()
    return {"http_get_rps": get["rps"], "http_get_p50_ms": get["p50_ms"], "http_get_p99_ms": get["p99_ms"],
            "http_get_errors": get["errors"], "http_command_rps": post["rps"],
            "http_command_p50_ms": post["p50_ms"], "http_command_p99_ms": post["p99_ms"],
            "http_command_errors": post["errors"]}


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def run(quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results.update(measure({"SUBVENTIO_DATA_DIR": tmp}, quick))
    if postgres:
        import psycopg

        name = f"subventio_bench_{uuid.uuid4().hex[:8]}"
        base = os.environ.get("SUBVENTIO_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            with tempfile.TemporaryDirectory() as tmp:
                figures = measure({"SUBVENTIO_DATA_DIR": tmp, "SUBVENTIO_DATABASE_URL": f"{base}/{name}"}, quick)
            results.update({f"pg_{k}": v for k, v in figures.items()})
        finally:
            with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return results


