"""The signup page's server side: which agent it loads, CSRF cookie, methods."""

import json
import re

import pytest

pytestmark = pytest.mark.django_db


def agent_config(response) -> dict:
    match = re.search(rb'<script id="agent-config" type="application/json">(.*?)</script>',
                      response.content)  # fmt: skip
    assert match, "agent config missing"
    return json.loads(match.group(1))


def test_without_public_key_the_page_loads_the_sandbox_agent(client, settings):
    settings.FINGERPRINT_PUBLIC_API_KEY = ""
    settings.FINGERPRINT_SECRET_API_KEY = ""
    settings.FINGERPRINT_API_URL = ""
    settings.FINGERPRINT_SANDBOX_URL = "http://127.0.0.1:8123/"
    response = client.get("/signup")
    assert response.status_code == 200
    assert agent_config(response) == {
        "kind": "sandbox",
        "url": "http://127.0.0.1:8123/agent.js",
        "apiKey": "sandbox-public-key",
    }
    assert "csrftoken" in response.cookies  # the form's POST carries the token
    assert b'name="csrfmiddlewaretoken"' in response.content
    assert b"fpjscdn" not in response.content  # no CDN at run time in sandbox mode


def test_with_public_key_the_page_loads_fingerprints_v4_agent(client, settings):
    settings.FINGERPRINT_PUBLIC_API_KEY = "pk_live_abc123"
    settings.FINGERPRINT_SECRET_API_KEY = "sk_live_xyz"
    settings.FINGERPRINT_REGION = "eu"
    response = client.get("/signup")
    assert agent_config(response) == {
        "kind": "fingerprint",
        "url": "https://fpjscdn.net/v4/pk_live_abc123",
        "apiKey": "pk_live_abc123",
        "region": "eu",
    }
    assert b"sk_live_xyz" not in response.content  # the secret key never reaches the page


def test_signup_page_only_answers_get_and_head(client):
    assert client.post("/signup").status_code == 405
    assert client.head("/signup").status_code == 200
