"""docker-compose.yml and the Dockerfile can't run here: read them, and check them against the code and the contract."""

from __future__ import annotations

import argparse
import configparser
import fnmatch
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

import subventio

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("postgres", "rabbitmq", "mailcatcher", "api", "worker")
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - inside its container, so that the published port reaches it
API_COMMAND = ["subventio", "serve", "--host", ALL_INTERFACES, "--port", "8000"]
WORKER_COMMAND = ["subventio", "worker", "all"]

# The command line documented in the API contract (../shared/api-contract.md, "Command line"):
# each command and its sub-commands (None: it takes options only).
DOCUMENTED_CLI: dict[str, set[str] | None] = {
    "serve": None,
    "worker": {"relay", "notify", "scheduler", "projections", "all"},
    "token": {"create"},
    "tick": None,
    "projections": {"rebuild"},
    "replay": None,
    "audit": {"verify"},
    "demo": None,
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-parsers of a parser, by name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def as_argv(command: Any) -> list[str]:
    assert isinstance(command, list), f"use the exec (list) form, not a shell string: {command!r}"
    return [str(part) for part in command]


def test_the_five_services_are_defined(services: dict[str, Any]) -> None:
    assert set(SERVICES) <= set(services), f"missing: {set(SERVICES) - set(services)}"


@pytest.mark.parametrize("name", ["api", "worker"])
def test_api_and_worker_are_built_from_the_dockerfile(services: dict[str, Any], name: str) -> None:
    build = services[name]["build"]
    context = build if isinstance(build, str) else build["context"]
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (ROOT / context).resolve() == ROOT
    assert (ROOT / context / dockerfile).is_file()


def test_api_and_worker_share_one_image(services: dict[str, Any]) -> None:
    assert services["api"].get("image") == services["worker"].get("image")


def test_the_commands_are_serve_and_worker_all(services: dict[str, Any]) -> None:
    assert as_argv(services["api"]["command"]) == API_COMMAND
    assert as_argv(services["worker"]["command"]) == WORKER_COMMAND


def dockerfile_cmd() -> list[str]:
    cmds = [rest for keyword, rest in dockerfile_instructions(ROOT / "Dockerfile") if keyword == "CMD"]
    assert len(cmds) == 1, "one CMD"
    return as_argv(json.loads(cmds[0]))


def commands(services: dict[str, Any]) -> dict[str, list[str]]:
    return {"api": as_argv(services["api"]["command"]), "worker": as_argv(services["worker"]["command"]),
            "Dockerfile CMD": dockerfile_cmd()}


def test_every_command_is_in_the_documented_cli(services: dict[str, Any]) -> None:
    for where, argv in commands(services).items():
        assert argv[0] == "subventio", where
        name = argv[1]
        assert name in DOCUMENTED_CLI, f"{where}: `subventio {name}` is not in the contract's command line"
        documented = DOCUMENTED_CLI[name]
        if documented is not None:
            assert len(argv) > 2 and argv[2] in documented, f"{where}: {argv[2:]} not in {sorted(documented)}"


@pytest.mark.parametrize("where", ["api", "worker", "Dockerfile CMD"])
def test_every_command_parses_with_the_real_cli(services: dict[str, Any], where: str) -> None:
    argv = commands(services)[where]
    parser = subventio.parser()
    if argv[1] not in subcommands(parser):
        pytest.fail(f"{where}: `subventio {argv[1]}` is not a subcommand of subventio.parser()")
    try:
        parser.parse_args(argv[1:])
    except SystemExit as exc:
        pytest.fail(f"{where}: subventio rejects {argv[1:]} (exit {exc.code})")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


@pytest.mark.parametrize("name", ["api", "worker"])
def test_settings_point_at_the_compose_services(services: dict[str, Any], name: str) -> None:
    env = environment(services[name])
    expected = {
        "SUBVENTIO_DATABASE_URL": ("postgresql", "postgres", 5432),
        "SUBVENTIO_BROKER_URL": ("amqp", "rabbitmq", 5672),
        "SUBVENTIO_SMTP_URL": ("smtp", "mailcatcher", 1025),
    }
    for variable, (scheme, host, port) in expected.items():
        url = urlparse(env[variable])
        assert (url.scheme, url.hostname, url.port) == (scheme, host, port), variable
        assert host in services, f"{variable} names {host!r}, which is not a compose service"
    assert urlparse(env["SUBVENTIO_DATABASE_URL"]).path == "/subventio"

    settings = subventio.Settings.from_env(env)
    store = settings.event_store_env()
    assert settings.is_postgres
    assert (store["POSTGRES_HOST"], store["POSTGRES_PORT"], store["POSTGRES_DBNAME"]) == ("postgres", "5432",
                                                                                          "subventio")
    assert settings.read_store_url().startswith("postgresql+psycopg://")


def test_the_database_url_matches_the_postgres_service(services: dict[str, Any]) -> None:
    pg = environment(services["postgres"])
    url = urlparse(environment(services["api"])["SUBVENTIO_DATABASE_URL"])
    assert url.username == pg.get("POSTGRES_USER", "postgres")
    assert pg.get("POSTGRES_HOST_AUTH_METHOD") == "trust" or url.password == pg["POSTGRES_PASSWORD"]
    assert url.path.lstrip("/") == pg.get("POSTGRES_DB", "postgres")


@pytest.mark.parametrize("name", ["api", "worker"])
def test_they_wait_for_healthy_services(services: dict[str, Any], name: str) -> None:
    depends = services[name]["depends_on"]
    assert isinstance(depends, dict), "use the long form of depends_on, with conditions"
    for needed in ("postgres", "rabbitmq"):
        assert depends[needed]["condition"] == "service_healthy", f"{name} → {needed}"
    for target, rule in depends.items():
        if rule["condition"] == "service_healthy":
            assert "healthcheck" in services[target], f"{name} waits for {target}, which has no healthcheck"


@pytest.mark.parametrize("name", ["postgres", "rabbitmq", "mailcatcher", "api"])
def test_healthchecks_are_defined(services: dict[str, Any], name: str) -> None:
    test = services[name]["healthcheck"]["test"]
    assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1


def published(service: dict[str, Any]) -> set[int]:
    """The container ports a service publishes ("[ip:]host:container" short syntax, or long syntax)."""
    ports = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).split(":")[-1].split("/")[0]))
    return ports


def test_ports_are_published(services: dict[str, Any]) -> None:
    assert 8000 in published(services["api"])
    assert {1025, 8025} <= published(services["mailcatcher"])
    assert {5672, 15672} <= published(services["rabbitmq"])
    assert 5432 in published(services["postgres"])
    assert not published(services["worker"])


def test_the_api_listens_where_it_is_published(services: dict[str, Any]) -> None:
    argv = as_argv(services["api"]["command"])
    assert argv[argv.index("--host") + 1] == ALL_INTERFACES
    assert int(argv[argv.index("--port") + 1]) in published(services["api"])


def test_api_and_worker_share_the_data_directory(services: dict[str, Any]) -> None:
    """Attachments are stored under SUBVENTIO_DATA_DIR/blobs: it must be a volume, the same for both."""
    for name in ("api", "worker"):
        data_dir = environment(services[name])["SUBVENTIO_DATA_DIR"]
        mounts = [str(v).split(":")[1] for v in services[name].get("volumes") or []]
        assert data_dir in mounts, name
    assert services["api"]["volumes"] == services["worker"]["volumes"]


def test_the_dockerfile_installs_the_package() -> None:
    instructions = dockerfile_instructions(ROOT / "Dockerfile")
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    assert any("pip install" in run and run.split()[-1] == "." for run in runs), runs
    assert dockerfile_cmd() == API_COMMAND


def packaged_paths() -> set[str]:
    """What `pip install .` reads, from setup.cfg: metadata, the modules and the top-level packages."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    modules = {f"{m}.py" for m in cfg["options"]["py_modules"].split()}
    packages = {p for p in cfg["options.packages.find"]["include"].split() if "." not in p}
    readme = cfg["metadata"]["long_description"].removeprefix("file:").strip()
    return {"pyproject.toml", "setup.cfg", readme} | modules | packages


def test_the_dockerfile_copies_everything_the_package_needs() -> None:
    copied: set[str] = set()
    for keyword, rest in dockerfile_instructions(ROOT / "Dockerfile"):
        if keyword == "COPY":
            sources = [part for part in rest.split()[:-1] if not part.startswith("--")]
            copied.update(source.rstrip("/") for source in sources)
    assert packaged_paths() <= copied, f"not copied: {packaged_paths() - copied}"


def test_dockerignore_keeps_what_the_build_needs() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#") and not line.startswith("!")]
    for path in packaged_paths():
        excluded = [p for p in patterns if fnmatch.fnmatch(path, p)]
        assert not excluded, f"{path} is excluded from the build context by {excluded}"
    for secret_or_bulk in (".venv", "var", ".git"):
        assert secret_or_bulk in patterns
