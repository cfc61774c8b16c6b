"""The signup fast path (accounts/fast_path.py): what it takes, and that through the project's
WSGI application (what gunicorn serves) it answers every request as the full stack does.

The signup test modules marked `both_stacks` run each of their tests through both as well."""

import json
import logging
import urllib.error
import urllib.request

import pytest
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory

from accounts.fast_path import (
    INERT_FOR_SIGNUP,
    SignupHandler,
    fast_path_middleware,
    takes,
    with_signup_fast_path,
)
from accounts.parsers import SIGNUP_MAX_BODY_BYTES
from accounts.views import CreateAccountView, SignupView
from tests.signup_clients import FastPathAPIClient

PASSWORD = "correct-horse-battery-9"
ROUTES = {"/api/signup": SignupView, "/api/create-account": CreateAccountView}


def environ(
    path="/api/signup",
    body=b"{}",
    *,
    method="POST",
    content_type="application/json",
    length=None,
    query="",
    **headers,
):
    """A WSGI environ as a server hands it over (built by Django's RequestFactory)."""
    extra = {f"HTTP_{name.upper()}": value for name, value in headers.items()}
    request = RequestFactory().generic(
        method, path, body, content_type, QUERY_STRING=query, REMOTE_ADDR="127.0.0.1", **extra
    )
    env = request.environ
    env.setdefault("CONTENT_TYPE", content_type)  # RequestFactory leaves both out without a body
    env["CONTENT_LENGTH"] = str(len(body)) if length is None else length
    return env


def test_takes_the_plain_signup_requests_only():
    assert takes(environ(), ROUTES) is SignupView
    assert takes(environ("/api/create-account"), ROUTES) is CreateAccountView
    assert takes(environ(content_type="application/json; charset=utf-8"), ROUTES) is SignupView
    assert takes(environ(accept="*/*"), ROUTES) is SignupView
    assert takes(environ(accept="application/json"), ROUTES) is SignupView
    assert takes(environ(length=str(SIGNUP_MAX_BODY_BYTES)), ROUTES) is SignupView
    full_stack = [
        environ("/api/signup/"),
        environ("/api/schema"),
        environ(method="GET"),
        environ(method="OPTIONS"),
        environ(content_type="application/x-www-form-urlencoded"),
        environ(content_type="text/plain"),
        environ(query="format=json"),
        environ(accept="text/html"),
        environ(accept="application/json; indent=4"),
        environ(length=""),
        environ(length="0"),
        environ(length="many"),
        environ(length=str(SIGNUP_MAX_BODY_BYTES + 1)),
    ]
    assert [takes(env, ROUTES) for env in full_stack] == [None] * len(full_stack)


def test_the_chain_is_the_projects_middleware_less_the_inert_ones():
    assert set(INERT_FOR_SIGNUP) <= set(django_settings.MIDDLEWARE)  # the list has not rotted
    assert fast_path_middleware() == [
        "fpdjango.logs.RequestIdMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ]


class StampMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response["X-Stamp"] = "seen"
        return response


@pytest.mark.django_db
def test_a_middleware_added_later_runs_on_the_fast_path(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.StampMiddleware"]
    answers = []
    body = b"".join(SignupHandler()(environ(), lambda status, headers: answers.append(headers)))
    assert json.loads(body)["code"] == "invalid_input"
    assert ("X-Stamp", "seen") in answers[0]


def test_off_leaves_the_project_application_alone(settings):
    app = WSGIHandler()
    settings.SIGNUP_FAST_PATH = False
    assert with_signup_fast_path(app) is app
    settings.SIGNUP_FAST_PATH = True
    assert with_signup_fast_path(app) is not app


def call(app, env) -> tuple[int, dict, bytes]:
    seen = []
    out = app(env, lambda status, headers, exc_info=None: seen.append((status, headers)))
    try:
        body = b"".join(out)
    finally:
        if hasattr(out, "close"):
            out.close()
    status, headers = seen[0]
    return int(status.split()[0]), dict(headers), body


def comparable(status: int, headers: dict, body: bytes) -> tuple:
    headers = {k: v for k, v in headers.items() if k not in ("X-Request-ID", "Content-Length")}
    if headers.get("Content-Type") == "application/json":
        data = json.loads(body)
        if isinstance(data, dict) and "reference" in data:
            data["reference"] = "<reference>"
        if isinstance(data, dict) and isinstance(data.get("account"), dict):
            data["account"] = sorted(data["account"])
        return status, headers, data
    return status, headers, body


@pytest.mark.django_db(transaction=True)
def test_the_wsgi_application_answers_as_the_full_stack(sandbox, caplog):
    """Each request goes to fpdjango.wsgi's application and to Django's own handler (the same
    state on both sides: a fresh event or username each time)."""
    from fpdjango.wsgi import application as project_app

    full_app = WSGIHandler()

    # Every signup comes from an address of its own, so neither side's signups count
    # against the other's in the rules that watch new devices per IP.
    addresses = (f"203.0.113.{n}" for n in range(1, 255))

    def signup(profile: str, username: str, path="/api/signup", field="event_id", **extra):
        ip = next(addresses)
        event = sandbox.create_event(profile=profile, ip=ip)
        fields = {field: event["event_id"], "username": username, "password": PASSWORD, **extra}
        env = environ(path, json.dumps(fields).encode())
        env["REMOTE_ADDR"] = ip
        return env

    cases = {
        # name: (makes the environ for one side, whether the fast path takes it)
        "bot refused": (lambda side: signup("bad_bot", f"bot{side}"), True),
        "human created": (lambda side: signup("human", f"human{side}", email="h@e.com"), True),
        "create-account": (
            lambda side: signup("human", f"seed{side}", "/api/create-account", "requestId"),
            True,
        ),
        "invalid input": (lambda side: environ(body=b'{"event_id": "x", "username": 5}'), True),
        "not JSON": (lambda side: environ(body=b'{"event_id": '), True),
        "a JSON list": (lambda side: environ(body=b"[1, 2]"), True),
        "bad UTF-8": (lambda side: environ(body=b'{"username": "\xff"}'), True),
        "form post": (
            lambda side: environ(body=b"a=1", content_type="application/x-www-form-urlencoded"),
            False,
        ),
        "GET": (lambda side: environ(method="GET", body=b""), False),
        "HTML only": (lambda side: environ(accept="text/html"), False),
        "?format": (lambda side: environ(query="format=xml"), False),
        "over the cap": (lambda side: environ(length=str(SIGNUP_MAX_BODY_BYTES + 1)), False),
        "empty body": (lambda side: environ(body=b""), False),
        "host not allowed": (lambda side: environ(host="evil.example"), True),
    }
    routes = SignupHandler().routes
    for name, (make, fast) in cases.items():
        fast_env, full_env = make("a"), make("b")
        assert (takes(fast_env, routes) is not None) == fast, name
        with caplog.at_level(logging.WARNING, logger="django"):
            caplog.clear()
            through_project = comparable(*call(project_app, fast_env))
            project_logs = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
            caplog.clear()
            through_django = comparable(*call(full_app, full_env))
            django_logs = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
        assert through_project == through_django, name
        assert project_logs == django_logs, name
    # And the answers are the ones the API promises (docs/api.md), not two equal mistakes.
    answers = {name: call(project_app, make("c"))[0] for name, (make, _) in cases.items()}
    assert answers == {
        "bot refused": 403,
        "human created": 201,
        "create-account": 201,
        "invalid input": 400,
        "not JSON": 400,
        "a JSON list": 400,
        "bad UTF-8": 400,
        "form post": 415,
        "GET": 405,
        "HTML only": 406,
        "?format": 404,
        "over the cap": 413,
        "empty body": 400,
        "host not allowed": 400,
    }


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_error_is_djangos_500_on_both(sandbox, monkeypatch, caplog):
    from accounts import services
    from fpdjango.wsgi import application as project_app

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(services, "account_signup", broken)
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    body = json.dumps({"event_id": event["event_id"], "username": "user1", "password": PASSWORD})
    answers = []
    for app in (project_app, WSGIHandler()):
        caplog.clear()
        status, headers, _ = call(app, environ(body=body.encode()))
        errors = [r for r in caplog.records if r.name == "django.request"]
        answers.append((status, [(r.levelname, r.exc_info[0]) for r in errors]))
        assert "X-Request-ID" in headers
    assert answers[0] == answers[1] == (500, [("ERROR", RuntimeError)])


@pytest.mark.django_db
def test_the_test_client_reaches_the_fast_path(sandbox):
    """The `both_stacks` runs would prove nothing if the fast path never answered them."""
    api = FastPathAPIClient(REMOTE_ADDR="127.0.0.1")
    event = sandbox.create_event(profile="bad_bot", ip="127.0.0.1")
    body = {"event_id": event["event_id"], "username": "bot", "password": PASSWORD}
    assert api.post("/api/signup", body, format="json").status_code == 403
    assert api.fast_answers == 1
    assert api.get("/api/signup").status_code == 405
    assert api.fast_answers == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("both_stacks")
def test_the_live_server_serves_the_fast_path_in_its_run(request, live_server, monkeypatch):
    """Likewise for the `both_stacks` runs on the live server (concurrency, schema fuzz)."""
    from accounts import fast_path

    answered = []
    original = fast_path.signup_view

    def counting(req, view_class):
        answered.append(view_class)
        return original(req, view_class)

    monkeypatch.setattr(fast_path, "signup_view", counting)
    post = urllib.request.Request(
        f"{live_server.url}/api/signup", b"{}", {"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(post, timeout=10)
    assert answer.value.code == 400
    expected = [SignupView] if request.getfixturevalue("both_stacks") == "fast_path" else []
    assert answered == expected
