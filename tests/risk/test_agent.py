"""risk/agent.py: which JS agent a page loads: Fingerprint's CDN, the site's own proxy
integration, the sandbox's stand-in in development, or none."""

import pytest

from risk.agent import agent_config


@pytest.fixture
def sandboxed(settings):
    """No keys, a local sandbox: development's setup."""
    settings.FINGERPRINT_PUBLIC_API_KEY = ""
    settings.FINGERPRINT_SECRET_API_KEY = ""
    settings.FINGERPRINT_API_URL = ""
    settings.FINGERPRINT_SANDBOX_URL = "http://127.0.0.1:8100"
    settings.FINGERPRINT_SANDBOX_IN_PRODUCTION = False
    return settings


def test_a_public_key_loads_the_agent_from_fingerprints_cdn_in_its_region(settings):
    settings.FINGERPRINT_PUBLIC_API_KEY = "pk_abc"
    settings.FINGERPRINT_SECRET_API_KEY = "sk_xyz"
    settings.FINGERPRINT_AGENT_ENDPOINT = ""
    settings.FINGERPRINT_REGION = "EU"
    assert agent_config() == {
        "kind": "fingerprint",
        "url": "https://fpjscdn.net/v4/pk_abc",
        "options": {"apiKey": "pk_abc", "region": "eu"},
    }


def test_a_proxy_integration_serves_the_agent_from_the_sites_own_domain(settings):
    settings.FINGERPRINT_PUBLIC_API_KEY = "pk_abc"
    settings.FINGERPRINT_SECRET_API_KEY = "sk_xyz"
    settings.FINGERPRINT_AGENT_ENDPOINT = "https://metrics.shop.example/fp/"
    config = agent_config()
    assert config["url"] == "https://metrics.shop.example/fp/web/v4/pk_abc"
    assert config["options"]["endpoints"] == "https://metrics.shop.example/fp"


def test_development_without_keys_loads_the_sandboxs_agent(sandboxed):
    sandboxed.DEBUG = True
    assert agent_config() == {
        "kind": "sandbox",
        "url": "http://127.0.0.1:8100/agent.js",
        "options": {"apiKey": "sandbox-public-key"},
    }


def test_production_without_keys_loads_nothing_unless_the_sandbox_is_opted_in(sandboxed):
    sandboxed.DEBUG = False
    assert agent_config() is None  # a production page names no sandbox address
    sandboxed.FINGERPRINT_SANDBOX_IN_PRODUCTION = True  # a benchmark against the sandbox
    assert agent_config()["kind"] == "sandbox"
