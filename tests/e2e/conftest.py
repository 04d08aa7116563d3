"""A real `subventio serve` process on a free port, driven over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUBVENTIO_")}
    env["SUBVENTIO_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["SUBVENTIO_DATABASE_URL"] = settings.database_url
    return env


class Server:
    def __init__(self, settings: Any, workers: int = 2) -> None:
        self.env = server_env(settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = settings.data_dir.parent / "serve.log"
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [str(BIN / "subventio"), "serve", "--port", str(self.port), "--workers", str(workers)],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"subventio serve exited: {self.log.read_text()}")
            try:
                if requests.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or busy starting up
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"subventio serve did not answer: {self.log.read_text()}")

    def cli(self, *args: str) -> str:
        done = subprocess.run([str(BIN / "subventio"), *args], env=self.env, capture_output=True, text=True,
                              timeout=60, check=True)
        return done.stdout

    def token(self, role: str, applicant_id: str | None = None) -> dict[str, str]:
        extra = ["--applicant", applicant_id] if applicant_id else []
        value = self.cli("token", "create", "--role", role, "--name", f"e2e-{role}", *extra).strip()
        return {"Authorization": f"Bearer {value}"}

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def server(settings: Any) -> Iterator[Server]:
    running = Server(settings)
    yield running
    running.stop()
