"""The demo history: real facts from the seed documents, replayed through the application's commands.

The fixtures (`history_*.json`, versioned) are scripts of steps: each step names a command, the
real-world date, the actor, its arguments and the source line in ../shared/seeds. `$name` refers
to the id of what an earlier step created (`"as": "name"`). Facts the seeds do not print are
marked `"assumed"` in their source note.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.programme import ProgrammeRules
from domain.values import Actor, Ctx

FIXTURES = sorted(Path(__file__).parent.glob("history_*.json"))
MONEY = {"credits", "total_budget", "amount_requested", "proposed_amount", "eligible_cost", "amount",
         "justified_expenses", "other_public_funding"}
RATES = {"rate"}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
KEEP_AS_TEXT = {"cites", "rules"}


def convert(key: str, value: Any, refs: dict[str, Any]) -> Any:
    """JSON → command arguments: `$refs` to ids, ISO dates to dates, money and rates to Decimal."""
    if isinstance(value, str) and value.startswith("$"):
        return refs[value[1:]]
    if key in KEEP_AS_TEXT:
        return value
    if isinstance(value, dict):
        return {k: convert(k, v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [convert(key, v, refs) for v in value]
    if isinstance(value, str) and (key in MONEY or key in RATES):
        return Decimal(value)
    if isinstance(value, str) and DATE.match(value):
        return date.fromisoformat(value)
    return value


def run_step(app: Any, step: dict[str, Any], refs: dict[str, Any], today: date) -> Any:
    actor = Actor(step["actor"]["name"], step["actor"]["role"])
    ctx = Ctx(actor, date.fromisoformat(step["on"]), today)
    args = {k: convert(k, v, refs) for k, v in step.get("args", {}).items()}
    command = step["command"]
    if command == "open_programme":
        args["rules"] = ProgrammeRules.parse(args["rules"])
    target = args.pop("target", None)
    positional = target if isinstance(target, list) else [] if target is None else [target]
    return getattr(app, command)(ctx, *positional, **args)


def identify(result: Any) -> Any:
    if isinstance(result, tuple):  # (dossier, payment|refund)
        return result[1]["id"]
    return getattr(result, "id", result)


def load(services: Any, fixtures: list[Path] | None = None) -> dict[str, Any]:
    """Loads every fixture through the application's commands; returns the ids it created."""
    app = services.app
    today = services.today()
    refs: dict[str, Any] = {}
    steps = 0
    for fixture in fixtures or FIXTURES:
        for step in json.loads(fixture.read_text(encoding="utf-8"))["steps"]:
            result = run_step(app, step, refs, today)
            steps += 1
            if "as" in step:
                refs[step["as"]] = identify(result)
    summary = {name: str(value) for name, value in refs.items() if isinstance(value, UUID | str)}
    return {"steps": steps, "created": summary,
            "admin_token": services.tokens.create(role="admin", name="demo-admin", applicant_id=None)}
