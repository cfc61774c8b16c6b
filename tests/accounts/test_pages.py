"""accounts/pages.py: the signup page's server side: which agent it loads (risk.agent), the
CSRF cookie, the methods; a production page never names an API or sandbox address."""

import json
import re

import pytest

pytestmark = pytest.mark.django_db


def agent_config(response) -> dict | None:
    match = re.search(rb'<script id="agent-config" type="application/json">(.*?)</script>',
                      response.content)  # fmt: skip
    assert match, "agent config missing"
    return json.loads(match.group(1))


def test_in_development_without_a_public_key_the_page_loads_the_sandbox_agent(client, settings):
    settings.DEBUG = True
    settings.FINGERPRINT_SANDBOX_IN_PRODUCTION = False
    settings.FINGERPRINT_PUBLIC_API_KEY = ""
    settings.FINGERPRINT_SECRET_API_KEY = ""
    settings.FINGERPRINT_API_URL = ""
    settings.FINGERPRINT_SANDBOX_URL = "http://127.0.0.1:8123/"
    response = client.get("/signup")
    assert response.status_code == 200
    assert agent_config(response) == {
        "kind": "sandbox",
        "url": "http://127.0.0.1:8123/agent.js",
        "options": {"apiKey": "sandbox-public-key"},
    }
    assert "csrftoken" in response.cookies  # the form's POST carries the token
    assert b'name="csrfmiddlewaretoken"' in response.content
    assert b"fpjscdn" not in response.content  # no CDN at run time in sandbox mode


def test_with_a_public_key_the_page_loads_fingerprints_v4_agent(client, settings):
    settings.FINGERPRINT_PUBLIC_API_KEY = "pk_live_abc123"
    settings.FINGERPRINT_SECRET_API_KEY = "sk_live_xyz"
    settings.FINGERPRINT_REGION = "eu"
    response = client.get("/signup")
    assert agent_config(response) == {
        "kind": "fingerprint",
        "url": "https://fpjscdn.net/v4/pk_live_abc123",
        "options": {"apiKey": "pk_live_abc123", "region": "eu"},
    }
    assert b"sk_live_xyz" not in response.content  # the secret key never reaches the page


def test_through_a_proxy_integration_the_agent_comes_from_the_sites_own_domain(client, settings):
    settings.FINGERPRINT_PUBLIC_API_KEY = "pk_live_abc123"
    settings.FINGERPRINT_AGENT_ENDPOINT = "https://fp.example.com/"
    response = client.get("/signup")
    assert agent_config(response) == {
        "kind": "fingerprint",
        "url": "https://fp.example.com/web/v4/pk_live_abc123",
        "options": {
            "apiKey": "pk_live_abc123",
            "region": "us",
            "endpoints": "https://fp.example.com",
        },
    }


def test_a_production_page_never_shows_an_api_address(client, settings):
    """Production (DEBUG off) with no public key: no agent, no URL of the Server API or of a
    sandbox, and the page says sign-ups are closed."""
    settings.FINGERPRINT_SANDBOX_IN_PRODUCTION = False
    settings.FINGERPRINT_PUBLIC_API_KEY = ""
    settings.FINGERPRINT_SECRET_API_KEY = ""
    settings.FINGERPRINT_SANDBOX_URL = "http://10.0.0.7:8100"
    settings.FINGERPRINT_API_URL = "http://10.0.0.7:8100"
    response = client.get("/signup")
    assert agent_config(response) is None
    assert b"10.0.0.7" not in response.content and b"fpjs.io" not in response.content
    assert b'id="agent-missing"' in response.content


def test_signup_page_only_answers_get_and_head(client):
    assert client.post("/signup").status_code == 405
    assert client.head("/signup").status_code == 200
