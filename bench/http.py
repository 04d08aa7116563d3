"""HTTP figures through the real server (`subventio serve`: gunicorn, 2 worker processes, 10 client connections).

`GET /dossiers/{id}` (random dossiers) and `POST /dossiers/{id}/instruct` (each to a distinct
submitted dossier): requests/s, p50 and p99 in ms, on SQLite and (with --postgres) on PostgreSQL.

The client is wrk (C, epoll: 2 threads, 10 keep-alive connections, `--latency` percentiles), so
that the figures measure the server rather than the client on this 2-core machine; without wrk,
a Python generator (2 processes of 5 connections) stands in, and `http_client` says which ran.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
CONNECTIONS = 10
PROCESSES = 2
WRK_THREADS = 2
WRK = shutil.which("wrk")


def clean_environ() -> dict[str, str]:
    """This process's environment without any SUBVENTIO_* setting: the server gets only the bench's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SUBVENTIO_")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(env: dict[str, str], dossiers: int) -> dict[str, Any]:
    """A programme and `dossiers` submitted dossiers; returns their ids and an instructor's token.

    The reference data goes through the commands; the dossiers are opened and submitted by the
    domain itself and saved 200 at a time (the same events as the commands write, far faster).
    """
    from domain.dossier import Dossier, ReferenceSequence
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
    sequence = ReferenceSequence.start(ctx, today.year)
    ids: list[str] = []
    while len(ids) < dossiers:
        batch = []
        for _ in range(min(200, dossiers - len(ids))):
            d = Dossier.open(ctx, programme=programme, applicant_id=applicant.id, project_name="p",
                             total_budget=Decimal("18695.00"), amount_requested=Decimal("7000.00"),
                             other_public_funding=None)
            d.submit(ctx, programme=programme, applicant_kind=applicant.kind, reference=sequence.issue(ctx, d.id),
                     sworn_statement={"signatory": "x", "place": "Lille", "signed_on": today})
            batch.append(d)
            ids.append(str(d.id))
        app.save(*batch, sequence)
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


# --- wrk ------------------------------------------------------------------------------------

GET_SCRIPT = """
local ids = {%(ids)s}
wrk.headers["Authorization"] = "Bearer %(token)s"
request = function()
  return wrk.format("GET", "/dossiers/" .. ids[math.random(#ids)])
end
"""

# The warm-up: each wrk thread reads every dossier as many times as it has connections (in a stride order), then
# stops. A connection stays with one server process (SO_REUSEPORT) and a thread's requests go out over all its
# connections, so each process reads (and caches) nearly every dossier before the measured run, which then
# measures the steady state rather than first reads (a first read loads the dossier and dumps its JSON).
WARM_SCRIPT = """
local ids = {%(ids)s}
local rounds = %(rounds)d
wrk.headers["Authorization"] = "Bearer %(token)s"
local counter = 0
request = function()
  counter = counter + 1
  if counter > rounds * #ids then
    wrk.thread:stop()
    return wrk.format("GET", "/health")
  end
  return wrk.format("GET", "/dossiers/" .. ids[((counter * 7919) %% #ids) + 1])
end
"""

# Each wrk thread takes every WRK_THREADS-th dossier from its offset: every POST hits a distinct
# submitted dossier; a thread that runs out stops (then the rate is a lower bound: `exhausted`).
POST_SCRIPT = """
local ids = {%(ids)s}
local threads = %(threads)d
local counter = 0
local created = 0
wrk.method = "POST"
wrk.body = '%(body)s'
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.headers["Content-Type"] = "application/json"
function setup(thread)
  thread:set("offset", created)
  created = created + 1
end
request = function()
  local i = offset + counter * threads + 1
  counter = counter + 1
  if i > #ids then
    wrk.thread:stop()
    return wrk.format("GET", "/health")
  end
  return wrk.format(nil, "/dossiers/" .. ids[i] .. "/instruct")
end
"""

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(match[1]) * UNITS[match[2]]


def parse_wrk(output: str) -> dict[str, float]:
    """requests/s, p50/p99 (ms, from --latency), requests, errors (socket errors + non-2xx/3xx)."""
    figures: dict[str, float] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "99%"):
            figures[f"p{parts[0][:-1]}_ms"] = round(_ms(parts[1]), 2)
        elif line.startswith("Requests/sec:"):
            figures["rps"] = round(float(parts[1]), 1)
        elif re.match(r"\s*\d+ requests in", line):
            figures["requests"] = float(parts[0])
        elif "Non-2xx or 3xx responses:" in line:
            figures["errors"] = figures.get("errors", 0.0) + float(parts[-1])
        elif line.strip().startswith("Socket errors:"):
            figures["errors"] = figures.get("errors", 0.0) + sum(
                float(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", line))
    if "rps" not in figures or "p99_ms" not in figures:
        raise RuntimeError(f"unreadable wrk output:\n{output}")
    figures.setdefault("errors", 0.0)
    return figures


def wrk(port: int, script: str, seconds: float, workdir: Path) -> dict[str, float]:
    path = workdir / f"wrk-{time.monotonic_ns()}.lua"
    path.write_text(script)
    done = subprocess.run([str(WRK), "-t", str(WRK_THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds:g}s",
                           "--latency", "--timeout", "10s", "-s", str(path), f"http://127.0.0.1:{port}"],
                          capture_output=True, text=True, timeout=seconds + 60, check=True)
    return parse_wrk(done.stdout)


def lua_list(ids: list[str]) -> str:
    return ",".join(f'"{i}"' for i in ids)


# --- one backend ----------------------------------------------------------------------------

INSTRUCT = {"opinion": "favourable", "proposed_amount": "7000.00", "eligible_cost": "18695.00"}


def measure(env: dict[str, str], quick: bool, client: str) -> dict[str, float]:
    dossiers = 3000 if quick else 14000  # 3/4 are instructed by the POSTs: enough for ~1 000/s without running out
    seconds = 3.0 if quick else 10.0
    seeded = seed(env, dossiers)
    port = free_port()
    workdir = Path(env["SUBVENTIO_DATA_DIR"])
    log = open(workdir / "serve.log", "wb")  # noqa: SIM115
    server = subprocess.Popen([str(BIN / "subventio"), "serve", "--port", str(port), "--workers", "2"],
                              env={**clean_environ(), **env, "SUBVENTIO_LOG_LEVEL": "WARNING"}, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    ids, token = seeded["ids"], seeded["token"]
    reads, writes = ids[: len(ids) // 4], ids[len(ids) // 4:]
    try:
        try:
            wait_for(port)
            wait_relayed(env)
        except RuntimeError:
            log.flush()
            print((workdir / "serve.log").read_text()[-3000:], file=sys.stderr)
            raise
        if client == "wrk":
            get_script = GET_SCRIPT % {"ids": lua_list(reads), "token": token}
            rounds = CONNECTIONS // WRK_THREADS  # (wrk waits out its duration: sized for ~1 000 reads/s)
            wrk(port, WARM_SCRIPT % {"ids": lua_list(reads), "token": token, "rounds": rounds},
                max(5, -(-rounds * len(reads) // 1000)), workdir)
            get = wrk(port, get_script, seconds, workdir)
            ref = reference(quick, reads, token, workdir)
            post = wrk(port, POST_SCRIPT % {"ids": lua_list(writes), "token": token, "threads": WRK_THREADS,
                                            "body": json.dumps(INSTRUCT)}, seconds, workdir)
            post["exhausted"] = float(post.get("requests", 0) >= len(writes))
        else:
            gets = [("GET", f"/dossiers/{random.choice(reads)}", None) for _ in range(200000)]
            load(port, token, gets[:2000], 1.0)  # warm-up
            get = load(port, token, gets, seconds)
            ref = {"rps": 0.0}
            body = json.dumps(INSTRUCT).encode()
            post = load(port, token, [("POST", f"/dossiers/{i}/instruct", body) for i in writes], seconds)
            post["exhausted"] = float(post.get("requests", 0) >= len(writes))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    return {"http_get_rps": get["rps"], "http_get_p50_ms": get["p50_ms"], "http_get_p99_ms": get["p99_ms"],
            "http_reference_get_rps": ref["rps"],
            "http_get_ratio": round(get["rps"] / ref["rps"], 3) if ref["rps"] else 0.0,
            "http_get_errors": get["errors"], "http_command_rps": post["rps"],
            "http_command_p50_ms": post["p50_ms"], "http_command_p99_ms": post["p99_ms"],
            "http_command_errors": post["errors"], "http_command_exhausted": post["exhausted"]}


def reference(quick: bool, ids: list[str], token: str, workdir: Path) -> dict[str, float]:
    """GET on bench/hello.py (a bare Flask app) under the same gunicorn settings as `serve`, through wrk."""
    port = free_port()
    server = subprocess.Popen([str(BIN / "gunicorn"), "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                               "--reuse-port", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                               "bench.hello:app"], cwd=Path(__file__).resolve().parents[1],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(port)
        time.sleep(2.0)
        script = GET_SCRIPT % {"ids": lua_list(ids), "token": token}
        wrk(port, script, 1.0, workdir)
        return wrk(port, script, 3.0 if quick else 10.0, workdir)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def wait_relayed(env: dict[str, str], timeout: float = 300.0) -> None:
    """Waits until serve's companion has relayed the seeded log (its backlog is not the load measured)."""
    from sqlalchemy import text

    from subventio import Settings, build

    settings = Settings.from_env(env)
    services = build(settings)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            head = services.app.recorder.max_notification_id() or 0
            with services.read.begin() as conn:
                try:
                    position = conn.execute(text("SELECT position FROM relay_position WHERE name = 'relay'")).scalar()
                except Exception:  # noqa: BLE001 - the companion has not created its tables yet
                    position = None
            if position is not None and position >= head:
                time.sleep(2.0)  # and every worker process has loaded the application
                return
            time.sleep(0.5)
    finally:
        services.app.close()
        services.read.dispose()
    raise RuntimeError("the companion did not relay the seeded log in time")


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


def run(quick: bool = False, postgres: bool = False, **_: Any) -> dict[str, Any]:
    from bench.common import note, pg_database, pg_reachable

    client = "wrk" if WRK else "python"
    if not WRK:
        note("wrk not found (apt-get install wrk): the Python load generator stands in")
    results: dict[str, Any] = {"http_client": client}
    with tempfile.TemporaryDirectory() as tmp:
        results.update(measure({"SUBVENTIO_DATA_DIR": tmp}, quick, client))
    note(f"SQLite: GET {results['http_get_rps']}/s p99 {results['http_get_p99_ms']} ms, "
         f"commands {results['http_command_rps']}/s")
    if postgres and pg_reachable():
        with pg_database("http") as url, tempfile.TemporaryDirectory() as tmp:
            figures = measure({"SUBVENTIO_DATA_DIR": tmp, "SUBVENTIO_DATABASE_URL": url}, quick, client)
        results.update({f"pg_{k}": v for k, v in figures.items()})
        note(f"PostgreSQL: GET {figures['http_get_rps']}/s p99 {figures['http_get_p99_ms']} ms, "
             f"commands {figures['http_command_rps']}/s")
    return results
