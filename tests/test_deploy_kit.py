"""The deploy kit: Dockerfile, compose.yaml and deploy/ (docs/deployment.md, "Containers and
monitoring"). No image is built here; what can be checked without Docker is:

* compose.yaml names web, worker, beat, db (PostgreSQL 15), redis (Redis 7) and nginx, with
  health checks, only nginx reachable from outside, and every service described in the docs;
* the image runs `bin/serve` itself, so its runtime commands are bin/serve's (check --deploy,
  migrate, collectstatic, gunicorn with fpdjango/gunicorn.conf.py), and gunicorn, reading that
  command line as it does, binds 0.0.0.0:8000; non-root user, slim Python 3.11 base, the
  pinned requirements installed by bin/setup, static files collected at build time;
* deploy/env.example names every production variable with placeholders only, and settings
  loaded from it pass `check --deploy` once the placeholders are filled in;
* every metric a Grafana query or an alert uses is one /metrics serves (read from
  `risk.observability.metrics_exposition()` after a real signup);
* deploy/nginx.conf, run by the local nginx (skipped without one) in front of the live app,
  passes Host, X-Forwarded-Proto and an appended X-Forwarded-For, which is what
  RISK_TRUSTED_PROXY_COUNT=1 needs;
* deploy/healthcheck.py answers 0 only when /healthz answers 200.

Each checker is a function tested on a made-up bad input too, so that a check cannot pass
vacuously.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import request_started
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from risk.client_ip import request_client_ip

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SERVE = ROOT / "bin" / "serve"
DEPLOY = ROOT / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
SCRAPE = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARDS = sorted((DEPLOY / "grafana").glob("*.json"))
ENV_EXAMPLE = DEPLOY / "env.example"
NGINX_CONF = DEPLOY / "nginx.conf"
HEALTHCHECK = DEPLOY / "healthcheck.py"
DOCS = ROOT / "docs" / "deployment.md"
SECTION = "## Containers and monitoring"
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
PASSWORD = "correct-horse-battery-9"

SERVICES = ("web", "worker", "beat", "db", "redis", "nginx")
APP_SERVICES = ("web", "worker", "beat")
# What each service's health check must run.
HEALTHCHECKS = {
    "web": "/healthz",
    "worker": "inspect ping",
    "db": "pg_isready",
    "redis": "redis-cli ping",
    "nginx": "/nginx-health",
}
CONTAINER_BIND = "0.0.0.0:8000"


def _load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


# --- compose.yaml ------------------------------------------------------------------------------


def _command_text(value) -> str:
    return " ".join(value) if isinstance(value, list) else str(value or "")


def _depends(service: dict) -> dict:
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):  # the short form has no condition
        return {name: {} for name in depends}
    return depends


def compose_problems(compose: dict) -> list[str]:
    """What compose.yaml gets wrong, one line each; [] when nothing."""
    services = compose.get("services") or {}
    problems = [f"no {name} service" for name in SERVICES if name not in services]
    for name, needle in HEALTHCHECKS.items():
        if name in services:
            test = _command_text((services[name].get("healthcheck") or {}).get("test"))
            if needle not in test:
                problems.append(f"{name}: no health check running {needle!r}")
    images = {"db": "postgres:15", "redis": "redis:7"}
    for name, image in images.items():
        if name in services and not str(services[name].get("image", "")).startswith(image):
            problems.append(f"{name}: image is not {image}")
    app = {name: services[name] for name in APP_SERVICES if name in services}
    if len({service.get("image") for service in app.values()}) > 1:
        problems.append("web, worker and beat do not run one image")
    for name, service in app.items():
        if service.get("build") not in (".", {"context": "."}):
            problems.append(f"{name}: not built from the repository's Dockerfile")
        if service.get("env_file") not in ("deploy/env", ["deploy/env"]):
            problems.append(f"{name}: settings do not come from deploy/env")
    if "web" in app and app["web"].get("command"):
        problems.append("web: overrides the image's command (bin/serve)")
    for name in ("worker", "beat"):
        command = _command_text(app.get(name, {}).get("command"))
        if name in app and not command.startswith(f"celery -A fpdjango {name}"):
            problems.append(f"{name}: command is not `celery -A fpdjango {name}`")
    for name, service in services.items():
        if name != "nginx" and service.get("ports"):
            problems.append(
                f"{name}: publishes a port (only nginx may be reached: it is the one proxy "
                "RISK_TRUSTED_PROXY_COUNT trusts)"
            )
    needs = {
        "web": ("db", "redis"),
        "worker": ("db", "redis", "web"),
        "beat": ("db", "redis", "web"),
        "nginx": ("web",),
    }
    for name, wanted in needs.items():
        if name in services:
            depends = _depends(services[name])
            for other in wanted:
                if (depends.get(other) or {}).get("condition") != "service_healthy":
                    problems.append(f"{name}: does not wait for {other} to be healthy")
    mounts = [str(v).split(":")[0] for v in (services.get("nginx") or {}).get("volumes", [])]
    if "./deploy/nginx.conf" not in mounts:
        problems.append("nginx: deploy/nginx.conf is not mounted")
    for source in mounts:
        if source.startswith("./") and not (ROOT / source).exists():
            problems.append(f"nginx: mounts {source}, which does not exist")
    return problems


def test_compose_has_every_service_with_health_checks():
    assert compose_problems(_load_yaml(COMPOSE)) == []


def test_compose_check_finds_a_broken_compose_file():
    broken = copy.deepcopy(_load_yaml(COMPOSE))
    services = broken["services"]
    del services["beat"]
    del services["web"]["healthcheck"]
    services["web"]["ports"] = ["8000:8000"]
    services["db"]["image"] = "postgres:16"
    services["worker"]["command"] = ["celery", "-A", "other", "worker"]
    services["nginx"]["depends_on"] = ["web"]
    services["nginx"]["volumes"] = []
    assert set(compose_problems(broken)) == {
        "no beat service",
        "web: no health check running '/healthz'",
        "web: publishes a port (only nginx may be reached: it is the one proxy "
        "RISK_TRUSTED_PROXY_COUNT trusts)",
        "db: image is not postgres:15",
        "worker: command is not `celery -A fpdjango worker`",
        "nginx: does not wait for web to be healthy",
        "nginx: deploy/nginx.conf is not mounted",
    }


def docs_section(text: str) -> str:
    """The "Containers and monitoring" section of docs/deployment.md ('' when missing)."""
    start = text.find(SECTION)
    if start < 0:
        return ""
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end >= 0 else len(text)]


def undocumented_services(services, section: str) -> list[str]:
    return [name for name in services if f"`{name}`" not in section]


def test_every_compose_service_is_described_in_the_deployment_docs():
    services = _load_yaml(COMPOSE)["services"]
    section = docs_section(DOCS.read_text())
    assert section, f"docs/deployment.md has no {SECTION!r} section"
    assert undocumented_services(services, section) == []


def test_docs_check_finds_an_undescribed_service():
    section = docs_section(DOCS.read_text()).replace("`beat`", "beat")
    assert undocumented_services(["web", "beat"], section) == ["beat"]
    assert docs_section("# Deployment\n## Other\n") == ""


# --- Dockerfile and bin/serve --------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each instruction: continuations joined, comments dropped."""
    instructions, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        if whole:
            keyword, _, rest = whole.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _exec_form(arguments: str) -> list[str]:
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        return shlex.split(arguments)  # the shell form: what /bin/sh -c would be given
    return [str(part) for part in value]


def container_command(text: str) -> list[str]:
    """What the image runs: ENTRYPOINT + CMD of the last stage."""
    instructions = dockerfile_instructions(text)
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    stage = instructions[last_from:]
    entrypoint = [_exec_form(args) for keyword, args in stage if keyword == "ENTRYPOINT"]
    cmd = [_exec_form(args) for keyword, args in stage if keyword == "CMD"]
    return (entrypoint[-1] if entrypoint else []) + (cmd[-1] if cmd else [])


def dockerfile_problems(text: str) -> list[str]:
    instructions = dockerfile_instructions(text)
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    if not froms:
        return ["no FROM"]
    problems = []
    base = froms[-1].split()[0]
    if not re.fullmatch(r"python:3\.11(\.\d+)?-slim(-[a-z]+)?", base):
        problems.append(f"the base image {base} is not a slim Python 3.11")
    stage = instructions[max(i for i, (k, _) in enumerate(instructions) if k == "FROM") :]
    users = [(i, args.split(":")[0]) for i, (kind, args) in enumerate(stage) if kind == "USER"]
    runtime = [i for i, (keyword, _) in enumerate(stage) if keyword in ("CMD", "ENTRYPOINT")]
    if not users or users[-1][1] in ("root", "0"):
        problems.append("runs as root")
    elif runtime and users[-1][0] > min(runtime):
        problems.append("USER comes after the command")
    runs = [args for keyword, args in stage if keyword == "RUN"]
    copies = [args for keyword, args in stage if keyword == "COPY"]
    # bin/setup installs requirements.txt and leaves a stamp named after requirements*.txt's
    # hash: bin/serve's own bin/setup at start then finds it and installs nothing.
    if not any(re.fullmatch(r"(\.?/?)bin/setup", args.split("&&")[0].strip()) for args in runs):
        problems.append("the pinned requirements are not installed by bin/setup")
    if not any(args.startswith("requirements*.txt ") for args in copies):
        problems.append("requirements*.txt (bin/setup's stamp) is not copied before bin/setup")
    if not any("manage.py collectstatic --no-input" in args for args in runs):
        problems.append("static files are not collected at build time")
    command = container_command(text)
    if command[:1] != ["bin/serve"]:
        problems.append(f"the container runs {command}, not bin/serve")
    elif "--bind" not in command or command[command.index("--bind") + 1] != CONTAINER_BIND:
        problems.append(f"bin/serve is not given --bind {CONTAINER_BIND}")
    return problems


def serve_commands(text: str) -> list[list[str]]:
    """The commands bin/serve runs, as argument lists ($PY expanded, echo and setup left out)."""
    variables = dict(re.findall(r"^(\w+)=(\S+)$", text, re.M))
    commands = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "echo", "set ", "cd ", "export ", "rm ")):
            continue
        if re.match(r"^\w+=", line):
            continue
        words = shlex.split(line.removeprefix("exec "))
        commands.append([variables.get(w[1:], w) if w.startswith("$") else w for w in words])
    return commands


def test_the_image_runs_bin_serve_as_a_non_root_user_on_slim_python_3_11():
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


def test_bin_serve_runs_check_migrate_collectstatic_then_gunicorn():
    """The container's runtime commands are bin/serve's: these, in this order."""
    commands = serve_commands(SERVE.read_text())
    manage = [c[2:] for c in commands if c[:2] == [".venv/bin/python", "manage.py"]]
    assert [c[0] for c in manage] == ["check", "migrate", "collectstatic"]
    assert manage[0] == ["check", "--deploy"]
    assert "--no-input" in manage[1] and "--no-input" in manage[2]
    assert commands[-1] == [
        ".venv/bin/gunicorn",
        "-c",
        "fpdjango/gunicorn.conf.py",
        "$@",
        "fpdjango.wsgi:application",
    ]
    # The image collects static files at build time with bin/serve's own command.
    build = [a for k, a in dockerfile_instructions(DOCKERFILE.read_text()) if k == "RUN"]
    collect = " ".join(["manage.py", *manage[2][:2]])
    assert any(collect in args for args in build), collect


def gunicorn_config(argv: list[str], monkeypatch, cmd_args: str | None = None):
    """gunicorn's settings for this command line, read by gunicorn itself (nothing is run)."""
    from gunicorn.app.wsgiapp import WSGIApplication

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["gunicorn", *argv])
    if cmd_args is None:
        monkeypatch.delenv("GUNICORN_CMD_ARGS", raising=False)
    else:
        monkeypatch.setenv("GUNICORN_CMD_ARGS", cmd_args)
    return WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]")


def test_gunicorn_in_the_container_binds_all_interfaces_with_the_project_config(monkeypatch):
    """bin/serve's gunicorn line with the image's arguments in place of "$@"."""
    gunicorn_line = serve_commands(SERVE.read_text())[-1]
    extra = container_command(DOCKERFILE.read_text())[1:]
    at = gunicorn_line.index("$@")
    argv = gunicorn_line[1:at] + extra + gunicorn_line[at + 1 :]
    app = gunicorn_config(argv, monkeypatch)
    assert app.cfg.bind == [CONTAINER_BIND]
    assert app.cfg.worker_class_str == "gthread" and app.cfg.threads == 32  # the config file's
    assert app.app_uri == "fpdjango.wsgi:application"
    # GUNICORN_CMD_ARGS (deploy/env.example) reaches it too; without the image's --bind the
    # config file's loopback bind applies.
    tuned = gunicorn_config(argv, monkeypatch, cmd_args="--workers 3")
    assert tuned.cfg.workers == 3 and tuned.cfg.bind == [CONTAINER_BIND]
    plain = gunicorn_line[1:at] + gunicorn_line[at + 1 :]
    assert gunicorn_config(plain, monkeypatch).cfg.bind == ["127.0.0.1:8000"]


def test_dockerfile_check_finds_a_root_image_on_the_wrong_base_with_other_commands():
    bad = """
        # a comment
        FROM python:3.12
        COPY . .
        RUN pip install -r requirements.txt \\
            && true
        CMD gunicorn fpdjango.wsgi:application
    """
    assert dockerfile_problems(bad) == [
        "the base image python:3.12 is not a slim Python 3.11",
        "runs as root",
        "the pinned requirements are not installed by bin/setup",
        "requirements*.txt (bin/setup's stamp) is not copied before bin/setup",
        "static files are not collected at build time",
        "the container runs ['gunicorn', 'fpdjango.wsgi:application'], not bin/serve",
    ]
    late_user = DOCKERFILE.read_text().replace("USER fpdjango\n", "") + "USER fpdjango\n"
    assert dockerfile_problems(late_user) == ["USER comes after the command"]
    loopback = DOCKERFILE.read_text().replace(CONTAINER_BIND, "127.0.0.1:8000")
    assert dockerfile_problems(loopback) == [f"bin/serve is not given --bind {CONTAINER_BIND}"]
    as_root = DOCKERFILE.read_text().replace("USER fpdjango", "USER root")
    assert dockerfile_problems(as_root) == ["runs as root"]


def test_the_build_context_leaves_out_the_host_virtualenv_and_secrets():
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    # The host's .venv would replace the image's; .env and deploy/env hold secrets.
    assert {".venv", ".env", "deploy/env", "deploy/tls", "var", ".git"} <= ignored
    assert not {"requirements*.txt", "bin", "bin/setup"} & ignored


# --- deploy/env.example --------------------------------------------------------------------

REQUIRED_VARIABLES = {
    "DJANGO_SECRET_KEY",
    "FINGERPRINT_SECRET_API_KEY",
    "DATABASE_URL",
    "DJANGO_ALLOWED_HOSTS",
    "RISK_TRUSTED_PROXY_COUNT",
    "REDIS_URL",
    "METRICS_TOKEN",
}
SECRET_VARIABLES = {
    "DJANGO_SECRET_KEY",
    "FINGERPRINT_SECRET_API_KEY",
    "FINGERPRINT_WEBHOOK_SECRET",
    "POSTGRES_PASSWORD",
    "METRICS_TOKEN",
}
PLACEHOLDER = "change-me"
# Read by the containers' programs rather than by fpdjango/settings.py.
OTHER_READERS = {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "GUNICORN_CMD_ARGS"}


def env_file(text: str) -> dict[str, str]:
    pairs = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def settings_variables() -> set[str]:
    """What settings.py reads: through django-environ, or os.environ (where an empty value
    must stay empty)."""
    source = (ROOT / "fpdjango" / "settings.py").read_text()
    return set(re.findall(r"(?:env\.\w+|os\.environ\.get)\(\s*\"([A-Z][A-Z0-9_]*)\"", source))


def env_problems(values: dict[str, str], compose: dict) -> list[str]:
    known = settings_variables() | OTHER_READERS
    problems = [f"{name} is missing" for name in sorted(REQUIRED_VARIABLES - set(values))]
    problems += [f"{name} is read by nothing" for name in values if name not in known]
    for name in sorted(SECRET_VARIABLES & set(values)):
        if values[name] and PLACEHOLDER not in values[name]:
            problems.append(f"{name} holds a value, not a placeholder")
    nginx_count = sum(name == "nginx" for name in compose.get("services", {}))
    if values.get("RISK_TRUSTED_PROXY_COUNT") != str(nginx_count):
        problems.append("RISK_TRUSTED_PROXY_COUNT is not the number of proxies (nginx)")
    services = set(compose.get("services", {}))
    database = urlsplit(values.get("DATABASE_URL", ""))
    if database.hostname not in services:
        problems.append("DATABASE_URL does not point at a compose service")
    expected = (values.get("POSTGRES_USER"), values.get("POSTGRES_PASSWORD"))
    if (database.username, database.password) != expected or database.path.lstrip(
        "/"
    ) != values.get("POSTGRES_DB"):
        problems.append("DATABASE_URL is not POSTGRES_USER:POSTGRES_PASSWORD@.../POSTGRES_DB")
    if urlsplit(values.get("REDIS_URL", "")).hostname not in services:
        problems.append("REDIS_URL does not point at a compose service")
    return problems


def test_env_example_lists_every_production_variable_with_placeholders():
    assert env_problems(env_file(ENV_EXAMPLE.read_text()), _load_yaml(COMPOSE)) == []


def test_env_check_finds_a_typo_a_real_secret_and_a_wrong_proxy_count():
    values = env_file(ENV_EXAMPLE.read_text())
    values["DJANGO_SECRETKEY"] = values.pop("DJANGO_SECRET_KEY")
    values["METRICS_TOKEN"] = secrets.token_urlsafe(32)
    values["RISK_TRUSTED_PROXY_COUNT"] = "2"
    values["DATABASE_URL"] = "postgres://fpdjango:other@localhost:5432/fpdjango"
    assert env_problems(values, _load_yaml(COMPOSE)) == [
        "DJANGO_SECRET_KEY is missing",
        "DJANGO_SECRETKEY is read by nothing",
        "METRICS_TOKEN holds a value, not a placeholder",
        "RISK_TRUSTED_PROXY_COUNT is not the number of proxies (nginx)",
        "DATABASE_URL does not point at a compose service",
        "DATABASE_URL is not POSTGRES_USER:POSTGRES_PASSWORD@.../POSTGRES_DB",
    ]


def filled_in(values: dict[str, str], tmp_path: Path, prefix: str) -> dict[str, str]:
    """env.example as an operator fills it in, with the stores moved to this machine."""
    filled = {
        name: value.replace(PLACEHOLDER, secrets.token_urlsafe(50))
        for name, value in values.items()
    }
    filled["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    filled["REDIS_URL"] = TEST_REDIS_URL
    filled["REDIS_KEY_PREFIX"] = prefix
    return filled


def test_settings_from_the_env_example_pass_check_deploy_once_filled_in(tmp_path):
    """The example's set of variables is enough for production: `check --deploy`, as bin/serve
    runs it first, finds no error and no warning."""
    values = env_file(ENV_EXAMPLE.read_text())
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "fpdjango.settings",
        **filled_in(values, tmp_path, f"fpdjango-test-deploy-{uuid.uuid4().hex[:8]}"),
    }
    args = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # ... and the placeholders as they are would not start: a weak secret key (risk.E013).
    env["DJANGO_SECRET_KEY"] = values["DJANGO_SECRET_KEY"]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "risk.E013" in done.stdout + done.stderr


# --- metrics: dashboards and alerts use only what /metrics serves ---------------------------

STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
METRIC = re.compile(r"(?<![\w:])fpdjango_[a-z_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def metric_names(expr: str) -> set[str]:
    """The fpdjango_* metric names a PromQL expression reads (label values left out)."""
    return set(METRIC.findall(STRING.sub('""', expr)))


def served_names(exposition: str) -> set[str]:
    """Every series name a query can select in this exposition, as prometheus-client writes
    it: a counter as `<name>_total`, a histogram as `_bucket`, `_count`, `_sum` (no
    `_created`: multiprocess mode, as under gunicorn, does not write it)."""
    names = set()
    for name, kind in served_families(exposition).items():
        names |= {name + suffix for suffix in SUFFIXES.get(kind, ("",))}
    return names


def served_families(exposition: str) -> dict[str, str]:
    """name -> type of each metric family, less the `_created` gauges."""
    return {
        family.name: family.type
        for family in text_string_to_metric_families(exposition)
        if not family.name.endswith("_created")
    }


def unknown_metrics(queries: dict[str, str], served: set[str]) -> dict[str, set[str]]:
    """where -> the metric names its query reads that are not served."""
    unknown = {where: metric_names(expr) - served for where, expr in queries.items()}
    return {where: names for where, names in unknown.items() if names}


def _dashboard_queries(node, where: str, found: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "query", "definition") and isinstance(value, str):
                found[f"{where}:{key}#{len(found)}"] = value
            else:
                _dashboard_queries(value, f"{where}/{node.get('title', key)}", found)
    elif isinstance(node, list):
        for item in node:
            _dashboard_queries(item, where, found)


def deployed_queries() -> dict[str, str]:
    """Every PromQL expression of the Grafana dashboards and the alert rules."""
    queries: dict[str, str] = {}
    for path in DASHBOARDS:
        _dashboard_queries(json.loads(path.read_text()), path.name, queries)
    for group in _load_yaml(ALERTS)["groups"]:
        for rule in group["rules"]:
            queries[f"alerts.yml:{rule['alert']}"] = rule["expr"]
    return queries


@pytest.mark.django_db
def test_every_metric_the_dashboards_and_alerts_use_is_served(settings, sandbox):
    settings.METRICS_TOKEN = "scrape-token-for-tests"
    api = APIClient(REMOTE_ADDR="127.0.0.1")
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    body = {"event_id": event["event_id"], "username": "kit1", "password": PASSWORD}
    assert api.post("/api/signup", body, format="json").status_code == 201
    # A Redis broker (as in compose.yaml): the queue depth gauge is read from it.
    settings.CELERY_BROKER_URL = TEST_REDIS_URL
    settings.CELERY_TASK_DEFAULT_QUEUE = f"fpdjango-test-deploy-{uuid.uuid4().hex[:8]}"
    from risk.observability import metrics_exposition

    exposition = metrics_exposition().decode()
    served = served_names(exposition)
    assert "fpdjango_signup_decisions_total" in served
    assert "fpdjango_celery_queue_depth" in served, "Redis at TEST_REDIS_URL must answer"
    queries = deployed_queries()
    used = set().union(*(metric_names(expr) for expr in queries.values()))
    # The dashboards and alerts cover every family /metrics serves.
    families = served_families(exposition)
    assert {name for name in families if name.startswith("fpdjango_")} <= {
        re.sub(r"_(total|bucket|count|sum)$", "", name) for name in used
    }
    assert unknown_metrics(queries, served) == {}


def test_the_metric_check_finds_a_misspelt_or_unsuffixed_metric():
    exposition = (
        "# HELP fpdjango_signup_decisions decisions\n"
        "# TYPE fpdjango_signup_decisions counter\n"
        'fpdjango_signup_decisions_total{decision="allow",reason="none"} 1.0\n'
        "# HELP fpdjango_upstream_request_seconds calls\n"
        "# TYPE fpdjango_upstream_request_seconds histogram\n"
        'fpdjango_upstream_request_seconds_bucket{le="+Inf",service="drn"} 1.0\n'
        'fpdjango_upstream_request_seconds_count{service="drn"} 1.0\n'
        'fpdjango_upstream_request_seconds_sum{service="drn"} 0.1\n'
        "# HELP fpdjango_review_backlog held\n"
        "# TYPE fpdjango_review_backlog gauge\n"
        "fpdjango_review_backlog 2.0\n"
    )
    served = served_names(exposition)
    assert served == {
        "fpdjango_signup_decisions_total",
        "fpdjango_upstream_request_seconds_bucket",
        "fpdjango_upstream_request_seconds_count",
        "fpdjango_upstream_request_seconds_sum",
        "fpdjango_review_backlog",
    }
    queries = {
        "good": 'sum by (reason) (rate(fpdjango_signup_decisions_total{reason!="none"}[5m]))',
        "typo": "sum(rate(fpdjango_signup_decision_total[5m]))",
        "bare counter": "rate(fpdjango_signup_decisions[5m])",
        "bare histogram": "histogram_quantile(0.95, fpdjango_upstream_request_seconds)",
        "label value": 'fpdjango_review_backlog{queue="fpdjango_not_a_metric"}',
    }
    assert unknown_metrics(queries, served) == {
        "typo": {"fpdjango_signup_decision_total"},
        "bare counter": {"fpdjango_signup_decisions"},
        "bare histogram": {"fpdjango_upstream_request_seconds"},
    }
    assert len(deployed_queries()) > 20  # the walk finds the dashboards' and alerts' queries


# --- alert rules and the scrape config --------------------------------------------------------

DURATION = re.compile(r"^\d+[smhd]$")
# Each concern the alerts must cover: a pattern one rule's expression matches.
ALERT_CONCERNS = {
    "Fingerprint errors": r"fpdjango_upstream_errors_total\{kind=~\"timeout\|5xx",
    "quota exhaustion (429)": r"fpdjango_upstream_errors_total\{kind=~\"[^\"]*429",
    "client-side rate limit": r"fpdjango_upstream_errors_total\{kind=~\"[^\"]*client_rate_limited",
    "key refused": r"fpdjango_upstream_errors_total\{kind=\"auth\"\}",
    "p95 latency": r"histogram_quantile\(0\.95,.*fpdjango_upstream_request_seconds_bucket",
    "old review backlog": r"fpdjango_review_oldest_pending_age_seconds",
    "unverified signups": r"fpdjango_unverified_signups",
    "Celery queue growing": r"deriv\(fpdjango_celery_queue_depth",
    "cache errors": r"fpdjango_cache_errors_total",
    "no scrape": r"^up\{job=\"(?P<job>[^\"]+)\"\} == 0$",
}


def alert_problems(rules_file: dict) -> list[str]:
    problems, names = [], []
    rules = [rule for group in rules_file.get("groups", []) for rule in group.get("rules", [])]
    for rule in rules:
        name = rule.get("alert", "?")
        names.append(name)
        if not rule.get("expr"):
            problems.append(f"{name}: no expr")
        if (rule.get("labels") or {}).get("severity") not in ("critical", "warning", "info"):
            problems.append(f"{name}: no severity")
        if not (rule.get("annotations") or {}).get("summary"):
            problems.append(f"{name}: no summary")
        if "for" in rule and not DURATION.match(str(rule["for"])):
            problems.append(f"{name}: `for` is not a duration")
    problems += [f"{name}: twice" for name in sorted({n for n in names if names.count(n) > 1})]
    expressions = [" ".join(str(rule.get("expr", "")).split()) for rule in rules]
    for concern, pattern in ALERT_CONCERNS.items():
        if not any(re.search(pattern, expr) for expr in expressions):
            problems.append(f"no alert on {concern}")
    return problems


def test_alert_rules_cover_every_concern():
    assert alert_problems(_load_yaml(ALERTS)) == []


def test_alert_check_finds_a_rule_without_severity_and_a_missing_concern():
    rules = _load_yaml(ALERTS)
    group = rules["groups"][0]["rules"]
    group[:] = [r for r in group if "fpdjango_cache_errors_total" not in r["expr"]]
    del group[0]["labels"]
    group[1]["for"] = "soon"
    problems = alert_problems(rules)
    assert f"{group[0]['alert']}: no severity" in problems
    assert f"{group[1]['alert']}: `for` is not a duration" in problems
    assert "no alert on cache errors" in problems


def test_the_scrape_config_sends_the_bearer_token_and_loads_the_alerts():
    config = _load_yaml(SCRAPE)
    assert [(SCRAPE.parent / path).resolve() for path in config["rule_files"]] == [ALERTS]
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "fpdjango"]
    assert job["metrics_path"] == "/metrics" and job["scheme"] == "https"
    assert job["authorization"]["type"] == "Bearer"
    assert "credentials_file" in job["authorization"]  # the token stays out of the file
    assert "credentials" not in job["authorization"]
    # The "no scrape" alert and the dashboards look for this job name.
    expressions = [r["expr"] for g in _load_yaml(ALERTS)["groups"] for r in g["rules"]]
    jobs = {m.group("job") for e in expressions if (m := re.search(ALERT_CONCERNS["no scrape"], e))}
    assert jobs == {"fpdjango"}


# --- deploy/healthcheck.py ------------------------------------------------------------------


def _run_healthcheck(url: str, allowed_hosts: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "DJANGO_ALLOWED_HOSTS": allowed_hosts}
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), url], env=env, capture_output=True, timeout=30
    )


@pytest.mark.django_db(transaction=True)
def test_the_web_health_check_passes_only_when_healthz_answers_200(live_server, settings):
    settings.ALLOWED_HOSTS = ["signup.example.com"]
    url = f"{live_server.url}/healthz"
    assert _run_healthcheck(url, "signup.example.com,www.example.com").returncode == 0
    assert _run_healthcheck(url, ".signup.example.com").returncode == 0  # a domain pattern
    # A Host Django refuses (400), a path that is not there (404), nothing listening.
    assert _run_healthcheck(url, "other.example.com").returncode == 1
    assert _run_healthcheck(f"{live_server.url}/nothing", "signup.example.com").returncode == 1
    assert _run_healthcheck(f"http://127.0.0.1:{_free_port()}/healthz", "x").returncode == 1


# --- deploy/nginx.conf in front of the app, run by the local nginx ---------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _self_signed(folder: Path, name: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.joinpath("fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    folder.joinpath("privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _local_site(conf: str, *, app_port: int, ports: dict[str, int], folder: Path) -> str:
    """deploy/nginx.conf with this machine's addresses in place of the containers'. Each
    replaced text must be there exactly once: a changed config fails here, not silently."""
    replacements = [
        ("server web:8000;", f"server 127.0.0.1:{app_port};"),
        ("listen 80;", f"listen 127.0.0.1:{ports['http']};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{ports['https']} ssl http2;"),
        ("listen 127.0.0.1:8081;", f"listen 127.0.0.1:{ports['health']};"),
        ("/etc/nginx/tls/", f"{folder}/"),
        ("/var/log/nginx/access.log", f"{folder}/access.log"),
    ]
    conf = "\n".join(line for line in conf.splitlines() if "[::]" not in line)
    for old, new in replacements:
        count = conf.count(old)
        assert count == (2 if old == "/etc/nginx/tls/" else 1), (old, count)
        conf = conf.replace(old, new)
    return conf


@pytest.fixture
def nginx_in_front(live_server, tmp_path):
    """The local nginx running deploy/nginx.conf in front of the live app: its ports."""
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
    )
    if nginx is None:
        pytest.skip("no nginx on this machine")
    _self_signed(tmp_path, "signup.example.com")
    ports = {name: _free_port() for name in ("http", "https", "health")}
    app_port = urlsplit(live_server.url).port
    site = _local_site(NGINX_CONF.read_text(), app_port=app_port, ports=ports, folder=tmp_path)
    tmp_path.joinpath("site.conf").write_text(site)
    temp = {name: tmp_path / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    main = "\n".join(
        [
            "user root;" if os.geteuid() == 0 else "",
            "daemon off;",
            f"pid {tmp_path}/nginx.pid;",
            f"error_log {tmp_path}/error.log;",
            "events { worker_connections 64; }",
            "http {",
            f"  access_log {tmp_path}/access.log;",
            f"  client_body_temp_path {temp['body']};",
            f"  proxy_temp_path {temp['proxy']};",
            f"  fastcgi_temp_path {temp['fastcgi']};",
            f"  uwsgi_temp_path {temp['uwsgi']};",
            f"  scgi_temp_path {temp['scgi']};",
            f"  include {tmp_path}/site.conf;",
            "}",
        ]
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(main)
    command = [nginx, "-p", str(tmp_path), "-c", str(conf)]
    tested = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert tested.returncode == 0, tested.stderr
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                requests.get(f"http://127.0.0.1:{ports['health']}/nginx-health", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.1)
        yield ports
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def seen_by_django():
    """The WSGI environ of every request Django receives meanwhile."""
    seen = []

    def receiver(sender, environ, **kwargs):
        seen.append(dict(environ))

    request_started.connect(receiver, dispatch_uid="test_deploy_kit")
    yield seen
    request_started.disconnect(dispatch_uid="test_deploy_kit")


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.django_db(transaction=True)
def test_nginx_conf_passes_what_one_trusted_proxy_must(
    nginx_in_front, seen_by_django, sandbox, settings
):
    """Through deploy/nginx.conf, with one trusted proxy: Django sees HTTPS (production's
    SECURE_PROXY_SSL_HEADER), the Host, the request id, and the client's address appended to
    whatever X-Forwarded-For the client sent; the signup's IP check compares the real one."""
    settings.ALLOWED_HOSTS = ["signup.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.RISK_TRUSTED_PROXY_COUNT = 1
    https = f"https://127.0.0.1:{nginx_in_front['https']}"
    host = {"Host": "signup.example.com"}

    plain = requests.get(
        f"http://127.0.0.1:{nginx_in_front['http']}/signup",
        headers=host,
        allow_redirects=False,
        timeout=10,
    )
    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://signup.example.com/signup"

    health = requests.get(f"{https}/healthz", headers=host, verify=False, timeout=10)
    assert health.status_code == 200 and health.json()["database"] == "ok"

    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    body = {"event_id": event["event_id"], "username": "proxied1", "password": PASSWORD}
    spoofed = {**host, "X-Forwarded-For": "203.0.113.9"}
    signup = requests.post(
        f"{https}/api/signup", json=body, headers=spoofed, verify=False, timeout=30
    )
    # The IP check passed on nginx's view of the client, not on the address the client wrote.
    assert signup.status_code == 201, signup.text
    assert signup.json()["status"] == "created"
    environ = seen_by_django[-1]
    assert environ["PATH_INFO"] == "/api/signup"
    assert environ["HTTP_X_FORWARDED_FOR"] == "203.0.113.9, 127.0.0.1"
    request = WSGIRequest({**environ, "wsgi.input": io.BytesIO()})
    assert request.is_secure()  # so production's HTTPS redirect does not loop
    assert request.get_host() == "signup.example.com"
    assert request_client_ip(request) == "127.0.0.1"
    assert re.fullmatch(r"[0-9a-f]{32}", environ["HTTP_X_REQUEST_ID"])
    assert signup.headers["X-Request-ID"] == environ["HTTP_X_REQUEST_ID"]
    # The connection to the app is HTTP/1.1 with keepalive (the upstream pool).
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert "HTTP_CONNECTION" not in environ or environ["HTTP_CONNECTION"] == ""
