"""render.yaml stays honest: what settings read is declared, what it runs exists, its shape is Render's."""

from __future__ import annotations

import os
import platform
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands

from leads.partners import PARTNERS

ROOT = Path(__file__).resolve().parent.parent
BLUEPRINT = yaml.safe_load((ROOT / "render.yaml").read_text())
SERVICES = {service["name"]: service for service in BLUEPRINT["services"]}
WEB = next(service for service in BLUEPRINT["services"] if service["type"] == "web")
GROUPS = {group["name"]: group for group in BLUEPRINT.get("envVarGroups", [])}


def declared(service: dict) -> dict[str, dict]:
    variables = {}
    for entry in service.get("envVars", []):
        if "fromGroup" in entry:
            variables.update({var["key"]: var for var in GROUPS[entry["fromGroup"]]["envVars"]})
        else:
            variables[entry["key"]] = entry
    return variables


def variables_read_by_the_code() -> set[str]:
    names = set()
    for path in (ROOT / "raamcrm" / "settings.py", ROOT / "gunicorn.conf.py", ROOT / "raamcrm" / "http_server.py"):
        text = path.read_text()
        names |= set(re.findall(r'env_\w+\(\s*"([A-Z0-9_]+)"', text))
        names |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z0-9_]+)"', text))
    names |= {name for partner in PARTNERS for name in settings.LEAD_API_KEY_VARIABLES[partner.slug]}
    return names


def documented_as_optional() -> set[str]:
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (ROOT / "docs" / "configuration.md").read_text()))


def test_every_variable_the_code_reads_is_declared_or_documented():
    web_vars = set(declared(WEB))

    missing = variables_read_by_the_code() - web_vars - documented_as_optional()

    assert not missing, f"declare these in render.yaml or document them in docs/configuration.md: {sorted(missing)}"


def test_structure_matches_the_blueprint_spec():
    assert set(BLUEPRINT) <= {"services", "databases", "envVarGroups", "projects", "previews"}
    assert BLUEPRINT["databases"] and BLUEPRINT["services"]
    for service in BLUEPRINT["services"]:
        assert service["type"] in {"web", "pserv", "worker", "cron", "keyvalue"}
        assert service.get("region") == "singapore"
    keyvalue = [s for s in BLUEPRINT["services"] if s["type"] == "keyvalue"]
    assert len(keyvalue) == 1
    assert keyvalue[0]["ipAllowList"] == []
    (database,) = BLUEPRINT["databases"]
    assert database["region"] == "singapore"
    assert database["ipAllowList"] == []


def test_web_service_is_a_paid_python_service_pinned_to_our_python():
    assert WEB["runtime"] == "python"
    assert WEB["plan"] not in (None, "free")
    assert declared(WEB)["PYTHON_VERSION"]["value"] == platform.python_version()
    assert re.fullmatch(r"3\.11\.\d+", declared(WEB)["PYTHON_VERSION"]["value"])
    assert WEB["healthCheckPath"] == "/healthz"
    assert "collectstatic" in WEB["buildCommand"] and "pip install -r requirements.txt" in WEB["buildCommand"]
    # The deploy check runs first, so a leaked or weak key stops the deploy (tests/test_security.py runs it).
    assert WEB["preDeployCommand"] == (
        "python manage.py check --deploy --fail-level WARNING && python manage.py migrate --noinput"
    )
    # tests/servers.py starts the live servers with this very command, and `make run` with the same config.
    assert WEB["startCommand"] == "gunicorn --config gunicorn.conf.py"


def test_environment_wiring():
    env = declared(WEB)
    assert env["SECRET_KEY"] == {"key": "SECRET_KEY", "generateValue": True}
    assert env["DATABASE_URL"]["fromDatabase"] == {
        "name": BLUEPRINT["databases"][0]["name"],
        "property": "connectionString",
    }
    redis = env["REDIS_URL"]["fromService"]
    assert SERVICES[redis["name"]]["type"] == redis["type"] == "keyvalue"
    assert redis["property"] == "connectionString"
    for partner in PARTNERS:
        variable = settings.LEAD_API_KEY_VARIABLES[partner.slug][0]
        assert env[variable] == {"key": variable, "sync": False}


def test_a_worker_runs_the_job_queue_and_there_are_no_cron_services_left():
    workers = [s for s in BLUEPRINT["services"] if s["type"] == "worker"]

    assert [s for s in BLUEPRINT["services"] if s["type"] == "cron"] == []
    (worker,) = workers
    assert worker["startCommand"] == "python manage.py procrastinate worker"
    assert worker["runtime"] == "python" and worker["plan"] not in (None, "free")
    assert worker["buildCommand"] == "pip install -r requirements.txt"
    assert declared(worker)["PYTHON_VERSION"] == declared(WEB)["PYTHON_VERSION"]
    assert declared(worker)["DATABASE_URL"] == declared(WEB)["DATABASE_URL"]
    # The worker mails and reads settings like the web service: the same group of variables.
    assert {"SECRET_KEY", "REDIS_URL", "EMAIL_HOST", "PUBLIC_BASE_URL", "ADMINS"} <= set(declared(worker))


def test_the_periodic_checks_the_cron_services_ran_are_jobs_of_that_worker():
    from procrastinate.contrib.django import app

    schedules = {task.task.name: task.cron for task in app.periodic_registry.periodic_tasks.values()}

    assert schedules["leads.tasks.check_lead_flow"] == "*/15 * * * *"
    minute, hour, *rest = schedules["leads.tasks.prune_deliveries"].split()
    assert minute.isdigit() and hour.isdigit() and rest == ["*", "*", "*"]


def every_command() -> list[str]:
    commands = []
    for service in BLUEPRINT["services"]:
        for field in ("buildCommand", "preDeployCommand", "startCommand"):
            if field in service:
                commands += [part.strip() for part in service[field].split("&&")]
    return commands


@pytest.mark.parametrize("command", sorted(set(every_command())))
def test_every_command_it_names_exists(command):
    words = shlex.split(command)
    if words[:2] == ["python", "manage.py"]:
        assert words[2] in get_commands()
        # A command with subcommands (procrastinate worker): the options are the subcommand's.
        subcommands = [word for word in words[3:] if not word.startswith("-")][:1]
        result = subprocess.run(
            [sys.executable, "manage.py", words[2], *subcommands, "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "DEBUG": "1"},
        )
        assert result.returncode == 0, result.stderr[-2000:]
        for option in (word.split("=")[0] for word in words[3:] if word.startswith("--")):
            assert option in result.stdout
    elif words[0] == "pip":
        assert (ROOT / words[words.index("-r") + 1]).is_file()
    elif words[0] == "gunicorn":
        config = ROOT / words[words.index("--config") + 1]
        app = re.search(r'^wsgi_app = "([\w.]+):\w+"', config.read_text(), re.M)
        assert app, "the config names the app"
        assert (ROOT / (app[1].replace(".", "/") + ".py")).is_file()
    else:
        pytest.fail(f"unknown command in render.yaml: {command}")


def test_the_guides_production_keys_appear_nowhere_in_the_repository():
    guide = ROOT.parent / "shared" / "integration-guide.md"
    if not guide.is_file():
        pytest.skip("the integration guide is not beside this checkout")
    production_values = re.findall(r"\|\s*`(LEAD_API_KEY_\w+)`\s*\|\s*`([^`]+)`", guide.read_text())
    assert production_values, "the guide's key table changed shape"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        path = ROOT / name
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            for _, value in production_values:
                assert value not in text, f"{name} contains a production key"
