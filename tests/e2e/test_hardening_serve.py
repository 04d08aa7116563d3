"""Hardening on the real server (issue 8): `subventio token revoke` end to end, and the body limits behind gunicorn.

Revocation: a token made with `subventio token create` works in both worker processes; after
`subventio token revoke TOKEN` every process refuses it (401) once its cache of at most 2 s has expired — the
test polls (bounded) rather than timing anything — reads and writes alike; revoking it again exits 1.
"""

from __future__ import annotations

import subprocess
import time

import pytest
import requests

from tests.e2e.conftest import BIN

pytestmark = pytest.mark.e2e


def answers(server, headers, times: int = 8) -> set[int]:
    """The statuses of several requests, spread by keep-alive-less connections over both worker processes."""
    return {requests.get(f"{server.url}/programmes", headers={**headers, "Connection": "close"},
                         timeout=10).status_code for _ in range(times)}


def test_a_revoked_token_is_refused_by_every_process_and_body_limits_hold(server):
    admin = server.token("admin")
    value = admin["Authorization"].removeprefix("Bearer ")
    assert answers(server, admin) == {200}

    revoked = subprocess.run([str(BIN / "subventio"), "token", "revoke", value], env=server.env,
                             capture_output=True, text=True, timeout=60, check=False)
    assert revoked.returncode == 0, revoked.stderr
    assert value not in revoked.stdout + revoked.stderr

    seen: set[int] = set()
    for _ in range(100):  # each process trusts a cached answer for at most 2 s
        seen = answers(server, admin)
        if seen == {401}:
            break
        time.sleep(0.2)
    assert seen == {401}
    write = requests.post(f"{server.url}/budget-lines", headers=admin, timeout=10, json={
        "code": "C", "imputation": "I", "label": "L", "year": 2026, "credits": "1.00"})
    assert (write.status_code, write.json()["error"]["code"]) == (401, "unauthorized")
    again = subprocess.run([str(BIN / "subventio"), "token", "revoke", value], env=server.env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode == 1 and "unknown token" in again.stderr
    other = server.token("admin")
    assert answers(server, other) == {200}  # only that token

    # One server for both (a start costs seconds): the body limits hold behind gunicorn too.
    admin = other
    deep = requests.post(f"{server.url}/budget-lines", headers={**admin, "Content-Type": "application/json"},
                         data=b"[" * 200_000, timeout=30)
    assert (deep.status_code, deep.json()["error"]["code"]) == (400, "json_too_deep")
    large = requests.post(f"{server.url}/budget-lines", headers={**admin, "Content-Type": "application/json"},
                          data=b'{"label": "' + b"x" * (2 * 1024 * 1024) + b'"}', timeout=30)
    assert (large.status_code, large.json()["error"]["code"]) == (413, "too_large")
    assert large.headers["Cache-Control"] == "no-store" and large.headers["X-Content-Type-Options"] == "nosniff"
    assert requests.get(f"{server.url}/health", timeout=10).status_code == 200  # and it still serves
