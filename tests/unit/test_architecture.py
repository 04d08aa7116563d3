"""The dependency rule as tests: import-linter's contracts (setup.cfg); a domain that never reads the environment."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "domain"

# Frameworks and outer layers the domain must not import (setup.cfg's domain-pure contract says the
# same for the packages import-linter sees; this also covers modules it cannot, like the CLI).
FORBIDDEN_IMPORTS = {
    "flask", "flask_smorest", "marshmallow", "webargs", "apispec", "sqlalchemy", "kombu", "amqp",
    "psycopg", "psycopg_pool", "gunicorn", "waitress", "jinja2", "requests",
    "projections", "api", "workers", "subventio", "demo",
}
# Ways to read (or change) the process environment.
ENVIRONMENT_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def test_import_linter_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    assert lint_imports.exists(), f"{lint_imports} is missing: install the dev extras (pip install -e '.[dev]')"
    result = subprocess.run([str(lint_imports), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, f"lint-imports failed:\n{result.stdout}\n{result.stderr}"


def offences(path: Path, base: Path = ROOT) -> list[str]:
    """What one module of the domain imports or reads that it must not, as `file:line: what`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(base)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_IMPORTS:
                    found.append(f"{where}:{node.lineno}: imports {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if top in FORBIDDEN_IMPORTS:
                found.append(f"{where}:{node.lineno}: imports from {node.module}")
            if top == "os" and {alias.name for alias in node.names} & ENVIRONMENT_NAMES:
                names = ", ".join(alias.name for alias in node.names)
                found.append(f"{where}:{node.lineno}: imports {names} from os (reads the environment)")
        elif (isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT_NAMES
              and isinstance(node.value, ast.Name) and node.value.id == "os"):
            found.append(f"{where}:{node.lineno}: reads os.{node.attr}")
    return found


def test_domain_imports_no_framework_and_never_reads_the_environment() -> None:
    modules = sorted(DOMAIN.rglob("*.py"))
    assert modules, "no module found under domain/"
    found = [offence for module in modules for offence in offences(module)]
    assert not found, "the domain must stay pure (stdlib + eventsourcing, settings passed in):\n" + "\n".join(found)


def test_the_offence_finder_finds_offences(tmp_path: Path) -> None:
    """A guard that cannot fail is no guard: each kind of offence is reported, docstrings are not."""
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nimport flask\nfrom sqlalchemy.orm import Session\nfrom os import getenv\n"
                      "x = os.environ.get('A')\n'''os.environ in a docstring is fine'''\n", encoding="utf-8")
    found = sorted(offences(sample, base=tmp_path), key=lambda line: int(line.split(":")[1]))
    assert found == [
        "sample.py:2: imports flask",
        "sample.py:3: imports from sqlalchemy.orm",
        "sample.py:4: imports getenv from os (reads the environment)",
        "sample.py:5: reads os.environ",
    ]


def test_the_application_takes_its_settings_only_from_the_composition_root(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """eventsourcing reads os.environ by default; Subventio.construct_env must not."""
    from eventsourcing.popo import POPOApplicationRecorder

    from domain.application import Subventio

    decoy = tmp_path / "from-the-environment.sqlite"
    for prefix in ("", "SUBVENTIO_"):
        monkeypatch.setenv(f"{prefix}PERSISTENCE_MODULE", "eventsourcing.sqlite")
        monkeypatch.setenv(f"{prefix}SQLITE_DBNAME", str(decoy))
    app = Subventio(env={})
    try:
        assert isinstance(app.recorder, POPOApplicationRecorder)
        assert not decoy.exists()
    finally:
        app.close()
