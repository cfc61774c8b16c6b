"""The OpenAPI schema is generated from the views without warnings and validates."""

import io

import yaml
from django.core.management import call_command


def test_schema_is_valid_and_lists_every_endpoint():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    paths = yaml.safe_load(out.getvalue())["paths"]
    assert {"/api/signup", "/api/create-account", "/api/fingerprint/webhook"} <= set(paths)
