"""Schemathesis fuzzes the API from its own OpenAPI schema (`/api/schema`) on a live server, with
Fingerprint as the sandbox over real HTTP: no 5xx, every answer documented and matching the
schema, and a request the schema calls valid is refused only for what no schema can say."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

# 400 codes a schema-valid body may still get: the password validators (common, numeric,
# similar to the username), a taken username, and e-mail rules stricter than `format: email`.
CONTEXT_DEPENDENT = {
    "password_too_common",
    "password_entirely_numeric",
    "password_too_similar",
    "username_taken",
}
EXAMPLES = 30


OPERATIONS = [
    ("POST", "/api/signup"),
    ("POST", "/api/create-account"),
    ("POST", "/api/fingerprint/webhook"),
]


@pytest.fixture
def api_schema(live_server, sandbox, transactional_db, settings):
    settings.FINGERPRINT_WEBHOOK_SECRET = "whsec-fuzz"
    # The schema as the running server publishes it (not as this process would generate it).
    return schemathesis.openapi.from_url(f"{live_server.url}/api/schema")


def test_every_operation_is_fuzzed(api_schema):
    published = {
        (result.ok().method.upper(), result.ok().path) for result in api_schema.get_all_operations()
    }
    assert published == set(OPERATIONS)


def _check_refusal(case, response) -> None:
    """A schema-valid signup is refused only for what the schema cannot state."""
    if case.path not in ("/api/signup", "/api/create-account") or response.status_code != 400:
        return
    errors = response.json().get("errors", {})
    unexpected = {
        (field, error["code"])
        for field, items in errors.items()
        for error in items
        if error["code"] not in CONTEXT_DEPENDENT
    }
    assert not unexpected, f"schema-valid body refused: {unexpected} for {case.body!r}"


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_api_conforms_to_its_schema(api_schema, live_server, method, path):
    operation = api_schema[path][method]
    statuses = []

    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case):
        response = case.call(base_url=live_server.url, timeout=30)
        case.validate_response(
            response,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ],
        )
        _check_refusal(case, response)
        statuses.append(response.status_code)

    run()
    # The run reached past input validation (made-up ids denied, webhooks checked).
    assert {403, 401} & set(statuses), statuses


@pytest.mark.parametrize(
    ("path", "id_field"), [("/api/signup", "event_id"), ("/api/create-account", "requestId")]
)
def test_created_and_held_answers_match_the_schema(
    api_schema, live_server, sandbox, path, id_field
):
    """Generated ids are never real events; the 201 shapes are checked with real ones."""
    operation = api_schema[path]["POST"]
    for number, profile in enumerate(("human", "vpn")):
        event = sandbox.create_event(profile=profile, ip="127.0.0.1")
        body = {
            id_field: event["event_id"],
            "username": f"fuzz{id_field}{number}",
            "password": "correct-horse-battery-9",
            "email": "",
        }
        case = operation.Case(body=body, media_type="application/json")
        response = case.call(base_url=live_server.url, timeout=30)
        assert response.status_code == 201, response.text
        case.validate_response(
            response, checks=[status_code_conformance, response_schema_conformance]
        )
